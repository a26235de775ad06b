"""The development provider, started once per profile as a subprocess and reached over HTTP."""

from dataclasses import dataclass, field

import pytest
import requests

from devidp.testing import start_devidp, stop_devidp

CLIENT_ID = "romm-test"
# Authelia decodes Basic credentials as form-urlencoded (RFC 6749 §2.3.1): odd characters prove it.
SECRETS = {"authentik": "authentik-test-secret", "authelia": "s3cret+with/odd:chars% and space"}
REDIRECT_URI = "http://127.0.0.1:8000/api/oauth/openid"
POST_LOGOUT_REDIRECT_URI = "http://127.0.0.1:8000/login"


@dataclass
class Provider:
    profile: str
    process: object
    base_url: str
    issuer: str
    client_id: str = CLIENT_ID
    redirect_uri: str = REDIRECT_URI
    post_logout_redirect_uri: str = POST_LOGOUT_REDIRECT_URI
    discovery: dict = field(default_factory=dict)

    @property
    def client_secret(self):
        return SECRETS[self.profile]

    @property
    def discovery_url(self):
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"


def _provider(profile, extra_args=()):
    process, base_url, issuer = start_devidp(
        profile, CLIENT_ID, SECRETS[profile], [REDIRECT_URI], [POST_LOGOUT_REDIRECT_URI], extra_args=extra_args
    )
    provider = Provider(profile, process, base_url, issuer)
    try:
        provider.discovery = requests.get(provider.discovery_url, timeout=5).json()
    except Exception:
        stop_devidp(process)
        raise
    return provider


@pytest.fixture(scope="session")
def authentik_idp():
    provider = _provider("authentik")
    yield provider
    stop_devidp(provider.process)


@pytest.fixture(scope="session")
def authelia_idp():
    provider = _provider("authelia")
    yield provider
    stop_devidp(provider.process)


@pytest.fixture(params=["authentik", "authelia"])
def devidp(request):
    """Each test using this runs against both profiles."""
    return request.getfixturevalue(f"{request.param}_idp")


@pytest.fixture(scope="session", params=["authentik", "authelia"])
def offline_idp(request):
    """Each profile with the client configured for refresh tokens (``--offline-access``)."""
    provider = _provider(request.param, ["--offline-access"])
    yield provider
    stop_devidp(provider.process)
