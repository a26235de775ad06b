"""Autologin, password login off, the admin's login and the break-glass link."""

import base64
import hashlib
import itertools
import logging
from datetime import timedelta
from io import StringIO
from urllib.parse import urlsplit

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from accounts.models import ApiToken, Role, SignInEvent, SignInLink, User
from tests.conftest import configure, sign_in

PASSWORD = "correct-horse-battery-staple"
DISABLED = "Password sign-in is turned off on this site (DISABLE_USERPASS_LOGIN)"


@pytest.fixture(autouse=True)
def _fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def local(username="frank", role=Role.VIEWER, password=PASSWORD, **fields):
    fields.setdefault("email", f"{username}@local.example")
    return User.objects.create_user(username, password=password, role=role, **fields)


def basic(username, password):
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def snapshot():
    return (
        sorted(User.objects.values_list("username", "email", "role", "is_active", "password", "last_login")),
        ApiToken.objects.count(),
        sorted(SignInLink.objects.values_list("token_hash", "used_at")),
    )


def refusal_lines(caplog, start="password sign-in refused"):
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith(start)]


# --- every combination of the three switches -------------------------------------------
COMBINATIONS = list(itertools.product([False, True], repeat=3))


@pytest.mark.django_db
@pytest.mark.parametrize(
    "autologin,password_off,registration_off",
    COMBINATIONS,
    ids=[f"autologin={a}-password_off={p}-registration_off={r}" for a, p, r in COMBINATIONS],
)
def test_access_mode_combination(client, authentik, settings, autologin, password_off, registration_off):
    configure(settings, authentik, OIDC_ALLOW_REGISTRATION="false" if registration_off else None)
    settings.OIDC_AUTOLOGIN, settings.DISABLE_USERPASS_LOGIN = autologin, password_off
    local()

    # /login redirects straight to the provider only with autologin; the escapes show the page.
    page = client.get("/login?next=/profile")
    if autologin:
        assert page.status_code == 302 and page["Location"] == "/api/login/openid?next=%2Fprofile"
    else:
        assert page.status_code == 200
    for escape in ("local=1", "bypass_autologin=true"):
        shown = client.get(f"/login?{escape}")
        assert shown.status_code == 200
        assert "Sign in with Authentik" in shown.content.decode()
        assert ('name="password"' in shown.content.decode()) is not password_off

    # The password form signs in unless password login is off.
    response = client.post("/login", {"username": "frank", "password": PASSWORD})
    assert response.status_code == 302
    signed_in = client.get("/api/users/me").status_code == 200
    assert signed_in is not password_off
    client.logout()

    # A newcomer through the provider gets an account unless registration is off; a refusal
    # lands on a page that shows the error instead of sending the browser round again.
    response = sign_in(client, authentik, "bob")
    if registration_off:
        assert response["Location"] == "/login?local=1"
        page = client.get(response["Location"])
        assert page.status_code == 200
        assert "new accounts cannot be created by signing in" in page.content.decode()
        assert not User.objects.filter(username="bob").exists()
    else:
        assert User.objects.filter(username="bob").exists()
        assert client.get("/api/users/me").json()["username"] == "bob"


@pytest.mark.django_db
def test_autologin_failure_shows_error_instead_of_looping(client, authentik, settings):
    settings.OIDC_AUTOLOGIN = True
    response = sign_in(client, authentik, "dave")
    assert response["Location"] == "/login?local=1"
    page = client.get(response["Location"])
    assert page.status_code == 200 and "is not verified" in page.content.decode()


@pytest.mark.django_db
def test_autologin_does_nothing_without_a_provider(client, settings):
    settings.OIDC_AUTOLOGIN = True
    settings.OIDC_ENABLED = False
    assert client.get("/login").status_code == 200


# --- DISABLE_USERPASS_LOGIN: every password path refuses ---------------------------------
@pytest.fixture
def password_off(settings, authentik):
    settings.DISABLE_USERPASS_LOGIN = True
    return local()


def refused_form(client):
    response = client.post("/login", {"username": "frank", "password": PASSWORD, "next": "/profile"})
    assert response.status_code == 302 and response["Location"] == "/login?next=%2Fprofile&local=1"
    assert DISABLED in client.get(response["Location"]).content.decode()
    return "password login refused: DISABLE_USERPASS_LOGIN is set"


def refused_api_login(client):
    response = client.post("/api/login", HTTP_AUTHORIZATION=basic("frank", PASSWORD))
    assert response.status_code == 401 and DISABLED in response.json()["detail"]
    assert "Basic" not in response.get("WWW-Authenticate", "")
    return "password sign-in refused: reason=password_disabled method=api"


def refused_token(client):
    response = client.post(
        "/api/token", {"grant_type": "password", "username": "frank", "password": PASSWORD}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"
    assert DISABLED in response.json()["error_description"]
    assert response["Cache-Control"] == "no-store"
    return "password sign-in refused: reason=password_disabled method=token"


def refused_basic_on_api_call(client):
    response = client.get("/api/users/me", HTTP_AUTHORIZATION=basic("frank", PASSWORD))
    assert response.status_code == 401 and DISABLED in response.json()["detail"]
    return "password sign-in refused: reason=password_disabled method=api"


REFUSED_PATHS = {
    "login_form": refused_form,
    "api_login": refused_api_login,
    "api_token": refused_token,
    "basic_on_api_call": refused_basic_on_api_call,
}


@pytest.mark.django_db
@pytest.mark.parametrize("path", REFUSED_PATHS)
def test_password_off_refuses(path, client, password_off, caplog):
    before = snapshot()
    with caplog.at_level(logging.WARNING, logger="accounts"):
        line = REFUSED_PATHS[path](client)
    assert snapshot() == before
    assert client.get("/api/users/me").status_code == 401
    assert [m for m in (r.getMessage() for r in caplog.records) if m.startswith(line)] != []
    assert len([r for r in caplog.records if "refused" in r.getMessage()]) == 1
    event = SignInEvent.objects.get()
    assert (event.outcome, event.reason, event.username) == ("refused", "password_disabled", "frank")
    assert PASSWORD not in caplog.text


@pytest.mark.django_db
def test_password_off_refuses_tokens_issued_before(client, settings, authentik):
    local()
    raw = client.post(
        "/api/token", {"grant_type": "password", "username": "frank", "password": PASSWORD}
    ).json()["access_token"]
    settings.DISABLE_USERPASS_LOGIN = True
    response = client.get("/api/users/me", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 401 and DISABLED in response.json()["detail"]


@pytest.mark.django_db
def test_password_off_hides_the_form_but_keeps_the_button(client, password_off):
    html = client.get("/login").content.decode()
    assert 'name="password"' not in html and "Sign in with Authentik" in html


# --- the Django admin's login is the site's login ----------------------------------------
@pytest.mark.django_db
def test_admin_login_goes_to_the_site_login_with_next(client, authentik):
    response = client.get("/admin/")
    assert response["Location"] == "/admin/login/?next=/admin/"
    response = client.get(response["Location"])
    assert response.status_code == 302 and response["Location"] == "/login?next=%2Fadmin%2F"
    page = client.get(response["Location"]).content.decode()
    assert 'href="/api/login/openid?next=%2Fadmin%2F"' in page


@pytest.mark.django_db
def test_admin_login_post_cannot_bypass_password_off(client, password_off):
    local("root", role=Role.ADMIN)
    response = client.post("/admin/login/?next=/admin/", {"username": "root", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"].startswith("/login?")
    assert client.get("/admin/").status_code == 302


@pytest.mark.django_db
def test_admin_login_refuses_offsite_next(client):
    response = client.get("/admin/login/?next=https://evil.example/")
    assert response["Location"] == "/login?next=%2Fadmin%2F"


@pytest.mark.django_db
def test_admin_sign_in_with_provider_reaches_admin(client, authentik):
    response = sign_in(client, authentik, "alice", next="/admin/")
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/login/?next=/admin/")["Location"] == "/admin/"


@pytest.mark.django_db
def test_signed_in_viewer_at_admin_login_is_told_not_looped(client, authentik):
    sign_in(client, authentik, "carol")
    response = client.get("/admin/login/?next=/admin/")
    assert response["Location"] == "/"
    assert "need the admin role; your account has the viewer role" in client.get("/").content.decode()


# --- break-glass sign-in link --------------------------------------------------------------
def make_link(username, *args):
    """The link's secret: the fragment of ``/login/link#<token>``, which a browser's page posts."""
    out = StringIO()
    call_command("signin_link", username, *args, stdout=out, stderr=StringIO())
    url = urlsplit(out.getvalue().strip())
    assert url.scheme == "http" and url.path == "/login/link" and not url.query
    return url.fragment


def post_link(client, token):
    return client.post("/login/link", {"token": token})


@pytest.mark.django_db
def test_link_signs_in_once_even_with_password_off(client, password_off, caplog):
    raw = make_link("frank")
    assert SignInLink.objects.get().token_hash == hashlib.sha256(raw.encode()).hexdigest()
    page = client.get("/login/link")
    assert page.status_code == 200 and "Sign in" in page.content.decode()
    assert SignInLink.objects.get().used_at is None  # a GET (a link preview) does not spend it
    response = post_link(client, raw)
    assert response["Location"] == "/"
    assert client.get("/api/users/me").json()["username"] == "frank"
    assert SignInEvent.objects.get().method == SignInEvent.Method.LINK

    other = Client()
    with caplog.at_level(logging.WARNING, logger="accounts"):
        response = post_link(other, raw)
    assert response["Location"] == "/login?local=1"
    assert "unknown, already used or expired" in other.get(response["Location"]).content.decode()
    assert other.get("/api/users/me").status_code == 401
    assert refusal_lines(caplog, "break-glass sign-in link refused") == [
        "break-glass sign-in link refused: reason=link_invalid"
    ]


@pytest.mark.django_db
def test_link_expires(client):
    local()
    raw = make_link("frank", "--minutes", "1")
    SignInLink.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = post_link(client, raw)
    assert "unknown, already used or expired" in client.get(response["Location"]).content.decode()
    assert client.get("/api/users/me").status_code == 401


@pytest.mark.django_db
def test_link_refused_when_account_deactivated_after_printing(client):
    user = local()
    raw = make_link("frank")
    User.objects.filter(pk=user.pk).update(is_active=False)
    response = post_link(client, raw)
    assert "deactivated" in client.get(response["Location"]).content.decode()
    assert client.get("/api/users/me").status_code == 401


@pytest.mark.django_db
def test_link_command_refuses_inactive_and_unknown_accounts():
    local(is_active=False)
    with pytest.raises(CommandError, match="deactivated"):
        make_link("frank")
    with pytest.raises(CommandError, match="no account named"):
        make_link("nobody")
    with pytest.raises(CommandError, match="between 1 and 60"):
        local("root", role=Role.ADMIN)
        make_link("root", "--minutes", "0")
    assert not SignInLink.objects.exists()


@pytest.mark.django_db
def test_unknown_link_is_refused(client):
    response = post_link(client, "not-a-real-token")
    assert response["Location"] == "/login?local=1"
    assert SignInEvent.objects.get().reason == "link_invalid"


@pytest.mark.django_db
def test_password_sign_in_is_recorded(client):
    user = local()
    client.post("/login", {"username": "frank", "password": "wrong"})
    client.post("/login", {"username": "frank", "password": PASSWORD})
    events = list(
        SignInEvent.objects.order_by("created_at", "pk").values_list("method", "outcome", "reason", "user")
    )
    assert events == [
        ("password", "refused", "invalid_credentials", None),
        ("password", "success", "", user.pk),
    ]
