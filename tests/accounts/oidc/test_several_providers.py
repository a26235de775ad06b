"""Several providers at once (OIDC_PROVIDERS), mix-up defence, and linking from the profile."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.checks import run_checks
from django.test import Client

from accounts.models import Identity, Role, User
from romm_site.envvars import EnvReader, read_providers
from tests.conftest import BASE_URL, start
from tests.fakeidp import CLIENT_ID, CLIENT_SECRET, FakeProvider, logout_token


def configure_two(settings, authentik, authelia, **extra):
    env = {
        "OIDC_PROVIDERS": "authentik,authelia",
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_AUTHENTIK_PROVIDER": "authentik",
        "OIDC_AUTHENTIK_SERVER_APPLICATION_URL": authentik.server_url,
        "OIDC_AUTHELIA_PROVIDER": "authelia",
        "OIDC_AUTHELIA_SERVER_APPLICATION_URL": authelia.server_url,
        "OIDC_CLAIM_ROLES": "groups",
        "OIDC_ROLE_VIEWER": "romm-viewers",
        "OIDC_ROLE_EDITOR": "romm-editors",
        "OIDC_ROLE_ADMIN": "romm-admins",
        **extra,
    }
    settings.OIDC_ENABLED = True
    settings.OIDC_PROVIDER_CONFIGS = read_providers(EnvReader({k: v for k, v in env.items() if v is not None}), BASE_URL)


@pytest.fixture
def both(requests_mock, settings):
    authentik = FakeProvider(requests_mock, "authentik")
    authelia = FakeProvider(requests_mock, "authelia")
    configure_two(settings, authentik, authelia)
    return authentik, authelia


def finish(client, fake, location, person, **changes):
    return client.get(fake.authorize(location, person, **changes).replace(BASE_URL, ""))


def sign_in_with(client, fake, person, **changes):
    path = "/api/login/openid" if fake.profile == "authentik" else "/api/login/openid/authelia"
    return finish(client, fake, start(client, path), person, **changes)


@pytest.mark.django_db
def test_login_page_shows_one_button_per_provider_in_order(client, both):
    html = client.get("/login?next=/x").content.decode()
    first = html.index('href="/api/login/openid?next=%2Fx">Sign in with Authentik')
    second = html.index('href="/api/login/openid/authelia?next=%2Fx">Sign in with Authelia')
    assert first < second


@pytest.mark.django_db
def test_first_provider_also_answers_at_its_named_urls(client, both):
    authentik, _ = both
    location = start(client, "/api/login/openid/authentik")
    assert location.startswith(authentik.metadata["authorization_endpoint"])


@pytest.mark.django_db
def test_each_provider_signs_in_with_its_own_callback(client, both):
    authentik, authelia = both
    location = start(client, "/api/login/openid/authelia")
    redirect_uri = parse_qs(urlsplit(location).query)["redirect_uri"][0]
    assert redirect_uri == "http://testserver/api/oauth/openid/authelia"
    finish(client, authelia, location, "bob")
    assert client.get("/api/users/me").json()["identities"][0]["provider"] == "authelia"


@pytest.mark.django_db
def test_one_account_holds_identities_from_both_providers(client, both):
    authentik, authelia = both
    sign_in_with(client, authentik, "carol")
    client.logout()
    sign_in_with(client, authelia, "carol")
    me = client.get("/api/users/me").json()
    assert me["username"] == "carol"
    assert sorted(i["provider"] for i in me["identities"]) == ["authelia", "authentik"]
    assert User.objects.count() == 1


@pytest.mark.django_db
def test_callback_at_another_providers_url_is_a_mixup(client, both):
    authentik, authelia = both
    location = start(client, "/api/login/openid/authelia")
    callback = authelia.authorize(location, "carol").replace("/api/oauth/openid/authelia", "/api/oauth/openid")
    response = client.get(callback.replace(BASE_URL, ""))
    assert "different sign-in provider" in client.get(response["Location"]).content.decode()
    assert authelia.requests_to("token_endpoint") == [] and not User.objects.exists()


@pytest.mark.django_db
def test_rfc9207_iss_of_another_provider_is_a_mixup(client, both):
    authentik, authelia = both
    location = start(client, "/api/login/openid/authelia")
    callback = authelia.authorize(location, "carol").replace(
        "iss=https%3A%2F%2Fauth.example.org", "iss=https%3A%2F%2Fauth.example.com%2Fapplication%2Fo%2Fromm%2F"
    )
    response = client.get(callback.replace(BASE_URL, ""))
    assert "different sign-in provider" in client.get(response["Location"]).content.decode()
    assert not User.objects.exists()


@pytest.mark.django_db
def test_role_mapping_is_per_provider(client, requests_mock, settings):
    authentik = FakeProvider(requests_mock, "authentik")
    authelia = FakeProvider(requests_mock, "authelia")
    configure_two(settings, authentik, authelia, OIDC_AUTHELIA_ROLE_ADMIN="family-admins")
    sign_in_with(client, authelia, "bob", groups=["family-admins"])
    assert User.objects.get(username="bob").role == Role.ADMIN
    client.logout()
    response = sign_in_with(client, authentik, "bob", groups=["family-admins"])
    assert "do not give you access" in client.get(response["Location"]).content.decode()
    assert User.objects.get(username="bob").role == Role.ADMIN


@pytest.mark.django_db
def test_rp_logout_goes_to_the_provider_the_session_came_from(client, requests_mock, settings):
    authentik = FakeProvider(requests_mock, "authentik")
    authelia = FakeProvider(requests_mock, "authelia")
    configure_two(settings, authentik, authelia, OIDC_RP_INITIATED_LOGOUT="true",
                  OIDC_AUTHELIA_END_SESSION_ENDPOINT="https://auth.example.org/logout")
    sign_in_with(client, authelia, "carol")
    assert client.post("/logout")["Location"].startswith("https://auth.example.org/logout?")
    sign_in_with(client, authentik, "carol")
    assert client.post("/logout")["Location"].startswith(authentik.metadata["end_session_endpoint"])


@pytest.mark.django_db
def test_backchannel_token_is_matched_to_its_provider_by_iss(both):
    authentik, authelia = both
    via_authentik, via_authelia = Client(), Client()
    sign_in_with(via_authentik, authentik, "carol")
    sign_in_with(via_authelia, authelia, "carol")
    response = Client().post("/api/oauth/backchannel-logout", {"logout_token": logout_token(authelia, "carol")})
    assert response.status_code == 200
    assert via_authelia.get("/api/users/me").status_code == 401
    assert via_authentik.get("/api/users/me").status_code == 200


# --- linking from the profile ------------------------------------------------------------


@pytest.mark.django_db
def test_link_another_sign_in_from_the_profile(client, both):
    authentik, authelia = both
    sign_in_with(client, authentik, "carol")
    location = client.post("/profile/link/authelia")["Location"]
    # A different email at the second provider does not matter: linking is explicit.
    response = finish(client, authelia, location, "carol", email="carol@home.example")
    assert response["Location"] == "/profile"
    assert {i.provider for i in Identity.objects.filter(user__username="carol")} == {"authentik", "authelia"}
    assert client.get("/api/users/me").json()["username"] == "carol"
    client.logout()
    sign_in_with(client, authelia, "carol", email="carol@home.example")
    assert client.get("/api/users/me").json()["username"] == "carol"


@pytest.mark.django_db
def test_link_refused_when_identity_belongs_to_someone_else(client, both, caplog):
    authentik, authelia = both
    other = Client()
    sign_in_with(other, authelia, "bob")
    sign_in_with(client, authentik, "carol")
    before = sorted(Identity.objects.values_list("subject", "user__username"))
    location = client.post("/profile/link/authelia")["Location"]
    response = finish(client, authelia, location, "bob")
    assert response["Location"] == "/profile"
    assert "already belongs to another account" in str(list(response.wsgi_request._messages))
    assert sorted(Identity.objects.values_list("subject", "user__username")) == before
    assert client.get("/api/users/me").json()["username"] == "carol"


@pytest.mark.django_db
def test_link_needs_post_and_a_signed_in_person(client, both):
    assert client.get("/profile/link/authelia").status_code in (302, 405)
    response = client.post("/profile/link/authelia")
    assert response.status_code == 302 and response["Location"].startswith("/login")


@pytest.mark.django_db
def test_link_flow_finished_in_another_session_is_refused(client, both):
    authentik, authelia = both
    sign_in_with(client, authentik, "carol")
    location = client.post("/profile/link/authelia")["Location"]
    callback = authelia.authorize(location, "bob").replace(BASE_URL, "")
    client.cookies.clear()
    sign_in_with(client, authentik, "erin", groups=["romm-viewers"])
    client.get(callback)
    assert not Identity.objects.filter(provider="authelia").exists()


@pytest.mark.django_db
def test_autologin_with_several_providers_goes_to_the_first(client, both, settings):
    settings.OIDC_AUTOLOGIN = True
    assert client.get("/login")["Location"] == "/api/login/openid"
    assert client.get("/login?local=1").status_code == 200


@pytest.mark.django_db
def test_listed_provider_without_its_variables_is_a_check_error(requests_mock, settings):
    authentik = FakeProvider(requests_mock, "authentik")
    authelia = FakeProvider(requests_mock, "authelia")
    configure_two(settings, authentik, authelia, OIDC_AUTHELIA_SERVER_APPLICATION_URL=None)
    messages = [m.msg for m in run_checks() if m.id == "accounts.E002"]
    assert messages == ["OIDC_AUTHELIA_SERVER_APPLICATION_URL is required when OIDC_ENABLED is true."]
