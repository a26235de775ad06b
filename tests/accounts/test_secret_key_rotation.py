"""Rotating SECRET_KEY: with the old key in SECRET_KEY_FALLBACKS, nobody is signed out, a sign-in
under way finishes and tokens tied to a password keep working; once the old key is dropped, what
it signed stops working, as with no fallback at all (docs/security.md#rotating-secret_key)."""

import pytest
from django.test import Client

from accounts.api.bearer import password_fingerprint
from accounts.models import Identity, Role, User
from devices import client_tokens
from romm_site.envvars import EnvReader
from tests.accounts.helpers import PASSWORD, whoami
from tests.accounts.oidc.test_several_providers import configure_two, sign_in_with
from tests.conftest import BASE_URL, sign_in, start
from tests.fakeidp import FakeProvider

pytestmark = pytest.mark.django_db

OLD, NEW = "old-key-" + "o" * 50, "new-key-" + "n" * 50


@pytest.fixture
def old_key(settings):
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = OLD, []
    return settings


def rotate(settings, keep_old=True):
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = NEW, [OLD] if keep_old else []


@pytest.mark.parametrize("keep_old", [True, False])
def test_a_signed_in_browser_stays_signed_in_while_the_old_key_is_a_fallback(old_key, authentik, keep_old):
    browser = Client()
    sign_in(browser, authentik, "alice")
    rotate(old_key, keep_old)
    assert whoami(browser) == ("alice" if keep_old else None)


@pytest.mark.parametrize("keep_old", [True, False])
def test_a_sign_in_begun_before_the_rotation_finishes_after_it(old_key, authentik, keep_old):
    browser = Client()
    location = start(browser)
    callback = authentik.authorize(location, "alice")
    rotate(old_key, keep_old)  # between the provider's page and the callback
    response = browser.get(callback.replace(BASE_URL, ""))
    assert whoami(browser) == ("alice" if keep_old else None)
    if keep_old:  # the code went back to the provider with the verifier the old key made
        assert response.status_code == 302 and not response["Location"].startswith("/login")
        # The next sign-in is made under the new key alone.
        rotate(old_key, keep_old=False)
        other = Client()
        sign_in(other, authentik, "bob")
        assert whoami(other) == "bob"


@pytest.mark.parametrize("keep_old", [True, False])
def test_linking_an_identity_begun_before_the_rotation_finishes_after_it(old_key, requests_mock, keep_old):
    authentik, authelia = FakeProvider(requests_mock, "authentik"), FakeProvider(requests_mock, "authelia")
    configure_two(old_key, authentik, authelia)
    browser = Client()
    sign_in_with(browser, authentik, "carol")
    location = browser.post("/profile/link/authelia")["Location"]
    callback = authelia.authorize(location, "carol")
    rotate(old_key, keep_old)
    browser.get(callback.replace(BASE_URL, ""))
    linked = {i.provider for i in Identity.objects.filter(user__username="carol")}
    assert linked == ({"authentik", "authelia"} if keep_old else {"authentik"})


@pytest.mark.parametrize("keep_old", [True, False])
def test_tokens_tied_to_the_password_keep_working_while_the_old_key_is_a_fallback(old_key, keep_old):
    frank = User.objects.create_user("frank", password=PASSWORD, role=Role.EDITOR)
    api_token = Client().post("/api/token", {"grant_type": "password", "username": "frank",
                                             "password": PASSWORD}).json()["access_token"]
    app_token, _ = client_tokens.create(frank, "an app", ["me.read"], None,
                                        password_fingerprint=password_fingerprint(frank))
    rotate(old_key, keep_old)
    for raw in (api_token, app_token):
        assert whoami(Client(), HTTP_AUTHORIZATION=f"Bearer {raw}") == ("frank" if keep_old else None)
    assert client_tokens.live(frank).exists() == keep_old


def test_fallbacks_are_read_from_the_environment_or_a_file(tmp_path):
    read = lambda env: EnvReader(env).secrets("SECRET_KEY_FALLBACKS")  # noqa: E731
    assert read({"SECRET_KEY_FALLBACKS": "first-old, 'second-old' ,"}) == ["first-old", "second-old"]
    assert read({"SECRET_KEY_FALLBACKS": "a passphrase with spaces"}) == ["a passphrase with spaces"]
    # An old SECRET_KEY_FILE moved as it is: one key, its inner line break kept (openssl wraps at 64).
    old = tmp_path / "secret_key_old"
    old.write_text("A" * 64 + "\n" + "B" * 24 + "\n")
    assert read({"SECRET_KEY_FALLBACKS_FILE": str(old)}) == [EnvReader({"SECRET_KEY_FILE": str(old)}).secret(
        "SECRET_KEY")] == ["A" * 64 + "\n" + "B" * 24]
    assert read({}) == []
