import pytest
from django.core.cache import cache

from romm_site.envvars import EnvReader, read_providers
from tests.fakeidp import CLIENT_ID, CLIENT_SECRET, FakeProvider

BASE_URL = "http://testserver"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2's deliberate slowness is for production, not for hundreds of test logins.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def configure(settings, fake=None, **env):
    """Point the site at ``fake`` through the same environment variables a user sets."""
    variables = {
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_CLAIM_ROLES": "groups",
        "OIDC_ROLE_ADMIN": "romm-admins",
        "OIDC_ROLE_EDITOR": "romm-editors",
        "OIDC_ROLE_VIEWER": "romm-viewers",
    }
    if fake is not None:
        variables["OIDC_PROVIDER"] = fake.profile
        variables["OIDC_SERVER_APPLICATION_URL"] = fake.server_url
    variables.update({k: v for k, v in env.items()})
    variables = {k: v for k, v in variables.items() if v is not None}
    settings.OIDC_ENABLED = True
    settings.ROMM_BASE_URL = BASE_URL
    settings.OIDC_PROVIDER_CONFIGS = read_providers(EnvReader(variables), BASE_URL)
    return variables


@pytest.fixture
def authentik(requests_mock, settings):
    fake = FakeProvider(requests_mock, "authentik")
    configure(settings, fake)
    return fake


@pytest.fixture
def authelia(requests_mock, settings):
    fake = FakeProvider(requests_mock, "authelia")
    configure(settings, fake)
    return fake


@pytest.fixture(params=["authentik", "authelia"])
def idp(request, requests_mock, settings):
    """Each test using this runs against both provider profiles."""
    fake = FakeProvider(requests_mock, request.param)
    configure(settings, fake)
    return fake


def start(client, path="/api/login/openid", **params):
    response = client.get(path, params)
    assert response.status_code == 302, response
    return response["Location"]


def sign_in(client, fake, person, next=None, start_path="/api/login/openid", **claim_changes):
    """The whole round trip as a browser makes it; returns the callback's response."""
    location = start(client, start_path, **({"next": next} if next else {}))
    callback = fake.authorize(location, person, **claim_changes)
    return client.get(callback.replace(BASE_URL, ""))


def anonymous_session(client, **data):
    """Give ``client`` a stored anonymous session (as a browser has after, say, a logout at the
    provider); returns its key. Starting a sign-in makes none."""
    from django.conf import settings as django_settings

    from accounts.sessions.engine import SessionStore

    store = SessionStore()
    store.update(data or {"seen": True})
    store.create()
    client.cookies[django_settings.SESSION_COOKIE_NAME] = store.session_key
    return store.session_key


def messages_of(response):
    return [str(m) for m in response.wsgi_request._messages]
