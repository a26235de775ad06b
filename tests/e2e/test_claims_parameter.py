"""What a sign-in costs at the provider, counted in the local provider's own request log: with the
claims parameter, an Authelia-like sign-in is one token request, no userinfo, as Authentik's is."""

import re
import time

import pytest
import requests

from tests.e2e.conftest import Stack
from tests.e2e.test_http_flow import sign_in

pytestmark = pytest.mark.e2e

AUTHORIZE = re.compile(r'"GET /(application/o/authorize/|api/oidc/authorization)\?(?P<query>\S*) ')
TOKEN = re.compile(r'"POST /(application/o/token/|api/oidc/token) ')
USERINFO = re.compile(r'"GET /(application/o/userinfo/|api/oidc/userinfo) ')


@pytest.fixture(scope="module")
def claims_off():
    """An Authelia-like provider with OIDC_CLAIMS_PARAMETER=false on the site."""
    started = Stack("authelia", {"OIDC_CLAIMS_PARAMETER": "false"})
    yield started
    started.stop()


def provider_log_during(stack, action):
    """The provider's request log lines written while ``action()`` ran (and its result)."""
    before = len(stack.provider.output)
    result = action()
    # The provider logs a request when its answer is done; a request made after the sign-in and
    # seen in the log means every earlier line is there too.
    marker = f"/.well-known/openid-configuration?after-sign-in={time.monotonic_ns()}"
    requests.get(stack.issuer.rstrip("/") + marker, timeout=10)
    deadline = time.monotonic() + 5
    while not any(marker in line for line in stack.provider.output[before:]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return stack.provider.output[before:], result


def count(pattern, lines):
    return sum(1 for line in lines if pattern.search(line))


def test_a_sign_in_makes_one_request_at_the_provider(stack):
    lines, (_, landed) = provider_log_during(stack, lambda: sign_in(stack, "carol", next_path="/api/users/me"))
    assert landed.json()["role"] == "viewer"
    authorizations = [AUTHORIZE.search(line).group("query") for line in lines if AUTHORIZE.search(line)]
    assert authorizations
    # Only a provider that advertises it (Authelia) is sent the claims parameter.
    assert all(("claims=" in query) == (stack.profile == "authelia") for query in authorizations)
    assert (count(TOKEN, lines), count(USERINFO, lines)) == (1, 0)


def test_without_the_claims_parameter_authelia_needs_userinfo_too(claims_off):
    lines, (_, landed) = provider_log_during(
        claims_off, lambda: sign_in(claims_off, "bob", next_path="/api/users/me"))
    assert landed.json()["role"] == "editor"
    assert not any("claims=" in AUTHORIZE.search(line).group("query") for line in lines if AUTHORIZE.search(line))
    assert (count(TOKEN, lines), count(USERINFO, lines)) == (1, 1)
