"""The claims request parameter (OpenID Connect Core 5.5): the claims a sign-in needs, asked for in
the ID token of a provider that advertises it, so a sign-in needs no userinfo request."""

import json
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine

from accounts.models import Role, User
from tests.conftest import configure, sign_in, start
from tests.fakeidp import FakeProvider


def claims_parameter(location):
    """The authorization request's claims parameter, decoded; None when it has none."""
    values = parse_qs(urlsplit(location).query).get("claims")
    return json.loads(values[0]) if values else None


@pytest.fixture
def honouring(requests_mock, settings):
    """Authelia 4.39: advertises the parameter and puts the named claims in the ID token."""
    fake = FakeProvider(requests_mock, "authelia", claims_parameter="honour")
    configure(settings, fake)
    return fake


@pytest.fixture
def ignoring(requests_mock, settings):
    """A provider that advertises the parameter but keeps the ID token minimal anyway."""
    fake = FakeProvider(requests_mock, "authelia", claims_parameter="ignore")
    configure(settings, fake)
    return fake


# --- the authorization request --------------------------------------------------------------
@pytest.mark.django_db
def test_authorization_request_names_exactly_the_claims_a_sign_in_needs(client, honouring):
    assert claims_parameter(start(client)) == {"id_token": {
        "email": None, "email_verified": None, "preferred_username": None, "groups": None, "name": None,
    }}


@pytest.mark.django_db
@pytest.mark.parametrize("env, expected", [
    ({"OIDC_USERNAME_ATTRIBUTE": "nickname", "OIDC_CLAIM_ROLES": "realm_access.roles"},
     ["email", "email_verified", "nickname", "realm_access", "name"]),
    ({"OIDC_USERNAME_ATTRIBUTE": "email", "OIDC_CLAIM_ROLES": None}, ["email", "email_verified", "name"]),
    ({"OIDC_CLAIM_ROLES": "https://romm.example.com/roles"},
     ["email", "email_verified", "preferred_username", "https://romm.example.com/roles", "name"]),
    # Without the groups scope Authelia would refuse a request naming groups (invalid_request);
    # without the email scope the claims could not come from userinfo either.
    ({"OIDC_SCOPES": "openid email profile"}, ["email", "email_verified", "preferred_username", "name"]),
    ({"OIDC_SCOPES": "openid profile groups"}, ["preferred_username", "groups", "name"]),
])
def test_named_claims_follow_the_configuration(client, honouring, settings, env, expected):
    configure(settings, honouring, **env)
    assert list(claims_parameter(start(client))["id_token"]) == expected


@pytest.mark.django_db
def test_a_provider_that_does_not_advertise_it_never_gets_it(client, idp):
    assert "claims_parameter_supported" not in idp.metadata
    assert claims_parameter(start(client)) is None
    idp.metadata["claims_parameter_supported"] = "true"  # not JSON true: not advertised
    assert claims_parameter(start(client)) is None


@pytest.mark.django_db
@pytest.mark.parametrize("variable", ["OIDC_CLAIMS_PARAMETER", "OIDC_AUTHELIA_CLAIMS_PARAMETER"])
@pytest.mark.parametrize("value", ["false", "off", "OFF"])
def test_false_never_sends_it_and_signs_in_through_userinfo(client, honouring, settings, variable, value):
    env = {variable: value}
    if variable.startswith("OIDC_AUTHELIA_"):
        env["OIDC_PROVIDERS"] = "authelia"  # the unprefixed variables are every provider's defaults
    configure(settings, honouring, **env)
    assert claims_parameter(start(client)) is None
    sign_in(client, honouring, "alice")
    assert client.get("/api/users/me").json()["role"] == "admin"
    assert len(honouring.requests_to("userinfo_endpoint")) == 1


@pytest.mark.django_db
def test_auto_is_the_default_and_can_be_spelled(client, honouring, settings):
    configure(settings, honouring, OIDC_CLAIMS_PARAMETER=" 'Auto' ")
    assert claims_parameter(start(client)) is not None


# --- the sign-in ------------------------------------------------------------------------------
@pytest.mark.django_db
def test_honouring_provider_signs_in_with_the_token_request_alone(client, honouring):
    response = sign_in(client, honouring, "bob", next="/api/users/me")
    assert response["Location"] == "/api/users/me"
    me = client.get("/api/users/me").json()
    assert (me["username"], me["email"], me["role"]) == ("bob", "bob@example.com", "editor")
    assert len(honouring.requests_to("token_endpoint")) == 1
    assert honouring.requests_to("userinfo_endpoint") == []


@pytest.mark.django_db
def test_provider_that_advertises_it_but_ignores_it_still_signs_in_through_userinfo(client, ignoring):
    assert claims_parameter(start(client)) is not None
    sign_in(client, ignoring, "alice")
    user = User.objects.get(username="alice")
    assert (user.email, user.role) == ("alice@example.com", Role.ADMIN)
    assert len(ignoring.requests_to("userinfo_endpoint")) == 1


@pytest.mark.django_db
def test_a_claim_the_id_token_still_lacks_is_taken_from_userinfo(client, honouring):
    # The provider leaves groups out (not granted to this client, say): userinfo completes the rest.
    honouring.id_token_changes["groups"] = ...
    sign_in(client, honouring, "carol")
    assert User.objects.get(username="carol").role == Role.VIEWER
    assert len(honouring.requests_to("userinfo_endpoint")) == 1


@pytest.mark.django_db
def test_unverified_email_in_the_id_token_is_refused_as_from_userinfo(client, honouring):
    response = sign_in(client, honouring, "dave")
    assert response["Location"].startswith("/login")
    assert not User.objects.filter(username="dave").exists()
    assert honouring.requests_to("userinfo_endpoint") == []


# --- the session recheck --------------------------------------------------------------------
@pytest.mark.django_db
def test_recheck_asks_userinfo_because_a_refreshed_id_token_repeats_the_sign_ins_groups(
    client, honouring, settings
):
    configure(settings, honouring, OIDC_SESSION_RECHECK_SECONDS="60")
    sign_in(client, honouring, "alice")
    assert honouring.requests_to("userinfo_endpoint") == []
    honouring.change("alice", groups=["romm-viewers"])
    with time_machine.travel(time.time() + 61, tick=True):
        client.get("/")
    assert len(honouring.refreshes()) == 1
    assert User.objects.get(username="alice").role == Role.VIEWER
    assert len(honouring.requests_to("userinfo_endpoint")) == 1
