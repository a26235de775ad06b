"""``accounts.api.access.decide``: what a request may do, from each kind of credential, via real endpoints."""

import base64
import logging
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.api import bearer as password_tokens
from accounts.api.access import SCOPES, scopes_for_role
from accounts.models import Role, User
from devices import client_tokens as tokens
from devices.models import ClientToken, Device
from tests.conftest import sign_in
from tests.devices.helpers import make_token

PASSWORD = "correct-horse-battery-staple"
pytestmark = pytest.mark.django_db
ALL = list(SCOPES)


@pytest.fixture
def frank(db):
    return User.objects.create_user("frank", email="frank@local.example", password=PASSWORD, role=Role.EDITOR)


def bearer(raw):
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def me(client=None, **headers):
    return (client or Client()).get("/api/users/me", **headers)


def client_token(user, scopes=ALL, expires_at=None, device=None):
    raw, _ = tokens.create(user, "test app", scopes, expires_at, device=device)
    return raw


def test_role_scopes_follow_the_spec():
    """RomM's tiers: viewer READ and WRITE, editor adds EDIT, admin adds FULL (every scope)."""
    viewer = {"me.read", "me.write", "platforms.read", "roms.read", "roms.user.read", "roms.user.write",
              "assets.read", "assets.write", "devices.read", "devices.write", "firmware.read",
              "collections.read", "collections.write", "playlists.read", "playlists.write"}  # fmt: skip
    assert scopes_for_role(Role.VIEWER) == viewer
    assert scopes_for_role(Role.EDITOR) == viewer | {"platforms.write", "roms.write", "firmware.write"}
    assert scopes_for_role(Role.ADMIN) == set(SCOPES)
    admin_only = {"users.read", "users.write", "tasks.run", "logs.read"}
    assert set(SCOPES) - scopes_for_role(Role.EDITOR) == admin_only


def test_client_token_reaches_users_me(frank):
    response = me(**bearer(client_token(frank)))
    assert response.status_code == 200 and response.json()["username"] == "frank"
    assert response.json()["current_device_id"] is None


def test_device_token_adds_current_device_id(frank):
    device = Device.objects.create(user=frank, client_device_identifier="abc", name="Deck", client="grout")
    response = me(**bearer(client_token(frank, device=device)))
    assert response.status_code == 200 and response.json()["current_device_id"] == str(device.pk)


@pytest.mark.parametrize(
    "spoil",
    [
        lambda t: t.delete(),
        lambda t: ClientToken.objects.filter(pk=t.pk).update(revoked=True),
        lambda t: ClientToken.objects.filter(pk=t.pk).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        ),
        lambda t: User.objects.filter(pk=t.user_id).update(is_active=False),
    ],
    ids=["unknown", "revoked", "expired", "owner_deactivated"],
)
def test_dead_client_tokens_are_refused(frank, spoil, caplog):
    raw = client_token(frank)
    spoil(ClientToken.objects.get())
    with caplog.at_level(logging.WARNING, logger="accounts"):
        response = me(**bearer(raw))
    assert response.status_code == 401
    assert "unknown, expired or revoked" in response.json()["detail"]
    assert 'error="invalid_token"' in response["WWW-Authenticate"]
    assert "API client token refused" in caplog.text and raw not in caplog.text
    assert raw[4:] not in caplog.text


def test_deactivating_the_owner_revokes_every_token_for_good(frank):
    raws = [client_token(frank), client_token(frank)]
    frank.is_active = False
    frank.save()
    frank.is_active = True
    frank.save()
    assert [me(**bearer(raw)).status_code for raw in raws] == [401, 401]
    assert ClientToken.objects.filter(revoked=False).count() == 0


def test_malformed_rmm_values_are_refused_without_a_500(frank):
    for value in ["rmm_", "rmm_" + "g" * 64, "rmm_" + "a" * 65, "rmm_" + "A" * 64]:
        assert me(**bearer(value)).status_code == 401


@pytest.mark.urls("tests.accounts.api.scoped_urls")
def test_token_without_the_scope_gets_403_naming_it_and_the_token(frank, caplog):
    raw = client_token(frank, scopes=["me.read", "roms.read"])
    assert Client().get("/scoped/roms.read", **bearer(raw)).json()["via"] == "client_token"
    with caplog.at_level(logging.WARNING, logger="accounts"):
        response = Client().post("/scoped/roms.write", **bearer(raw))
    assert response.status_code == 403
    assert response.json()["detail"].startswith(
        "This needs the roms.write scope, which this token was not granted"
    )
    assert "scope roms.write missing (token lacks it)" in caplog.text


@pytest.mark.urls("tests.accounts.api.scoped_urls")
def test_demoting_the_owner_narrows_the_token_on_its_next_request(frank):
    raw = client_token(frank, scopes=ALL)
    assert Client().post("/scoped/roms.write", **bearer(raw)).status_code == 200
    assert Client().get("/scoped/users.read", **bearer(raw)).status_code == 403  # editor: never had it
    User.objects.filter(pk=frank.pk).update(role=Role.VIEWER)
    response = Client().post("/scoped/roms.write", **bearer(raw))
    assert response.status_code == 403
    assert response.json()["detail"] == (
        "This needs the roms.write scope, which the editor role grants; your account has the viewer role. "
        "Ask an administrator if you need more access."
    )
    assert Client().get("/scoped/roms.read", **bearer(raw)).status_code == 200
    User.objects.filter(pk=frank.pk).update(role=Role.ADMIN)
    assert Client().get("/scoped/users.read", **bearer(raw)).status_code == 200


@pytest.mark.urls("tests.accounts.api.scoped_urls")
def test_scope_per_method_and_401_without_credentials(frank):
    raw = client_token(frank, scopes=["roms.read"])
    assert Client().get("/scoped-per-method", **bearer(raw)).status_code == 200
    assert Client().delete("/scoped-per-method", **bearer(raw)).status_code == 403
    response = Client().get("/scoped-per-method")
    assert response.status_code == 401 and response.json() == {"detail": "Not signed in."}
    assert Client().put("/scoped-per-method", **bearer(raw)).status_code == 405


@pytest.mark.urls("tests.accounts.api.scoped_urls")
def test_session_gets_its_roles_scopes(client, authentik):
    sign_in(client, authentik, "carol")  # viewer
    assert client.get("/scoped/roms.read").json()["via"] == "session"
    assert client.get("/scoped/users.read").status_code == 403


@pytest.mark.urls("tests.accounts.api.scoped_urls")
def test_session_unsafe_method_needs_csrf_but_a_token_does_not(authentik, frank):
    browser = Client(enforce_csrf_checks=True)
    sign_in(browser, authentik, "bob")  # editor
    response = browser.post("/scoped/roms.write")
    assert response.status_code == 403 and "CSRF" in response.json()["detail"]
    assert (
        browser.post("/scoped/roms.write", HTTP_X_CSRFTOKEN=browser.cookies["csrftoken"].value).status_code
        == 200
    )
    assert (
        Client(enforce_csrf_checks=True).post("/scoped/roms.write", **bearer(client_token(frank))).status_code
        == 200
    )


@pytest.mark.urls("tests.accounts.api.scoped_urls")
def test_legacy_bearer_and_basic_carry_the_role(frank):
    raw = (
        Client()
        .post("/api/token", {"grant_type": "password", "username": "frank", "password": PASSWORD})
        .json()["access_token"]
    )
    assert Client().post("/scoped/roms.write", **bearer(raw)).json()["via"] == "legacy_bearer"
    basic = "Basic " + base64.b64encode(f"frank:{PASSWORD}".encode()).decode()
    response = Client().post("/scoped/roms.write", HTTP_AUTHORIZATION=basic)
    assert response.json()["via"] == "basic"
    assert Client().get("/scoped/users.read", HTTP_AUTHORIZATION=basic).status_code == 403


def test_client_tokens_work_with_password_login_off_while_legacy_ones_stop(frank, settings):
    legacy = (
        Client()
        .post("/api/token", {"grant_type": "password", "username": "frank", "password": PASSWORD})
        .json()["access_token"]
    )
    raw = client_token(frank)
    settings.DISABLE_USERPASS_LOGIN = True
    assert me(**bearer(raw)).status_code == 200
    response = me(**bearer(legacy))
    assert response.status_code == 401 and "DISABLE_USERPASS_LOGIN" in response.json()["detail"]


def test_token_use_writes_last_used_at_most_every_five_minutes(frank, django_assert_num_queries):
    device = Device.objects.create(user=frank, client_device_identifier="abc", name="Deck", client="grout")
    raw = client_token(frank, device=device)
    me(**bearer(raw))
    first = ClientToken.objects.get().last_used_at
    assert first is not None and Device.objects.get().last_seen_at is not None
    with django_assert_num_queries(2):  # the token with its owner and device; the identities
        me(**bearer(raw))
    assert ClientToken.objects.get().last_used_at == first
    old = timezone.now() - timedelta(minutes=6)
    ClientToken.objects.update(last_used_at=old)
    Device.objects.update(last_seen_at=old)
    me(**bearer(raw))
    assert ClientToken.objects.get().last_used_at > old and Device.objects.get().last_seen_at > old


def test_bearer_token_wins_over_the_session(client, authentik, frank):
    sign_in(client, authentik, "carol")
    assert me(client, **bearer(client_token(frank))).json()["username"] == "frank"


def test_password_off_ends_the_password_session_but_a_client_token_still_works(frank, settings):
    browser = Client()
    assert browser.post("/login", {"username": "frank", "password": PASSWORD}).status_code == 302
    raw = client_token(frank)
    settings.DISABLE_USERPASS_LOGIN = True
    assert me(browser, **bearer(raw)).json()["username"] == "frank"  # the token is not a password
    response = me(browser)
    assert response.status_code == 401 and "DISABLE_USERPASS_LOGIN" not in response.json()["detail"]
    assert browser.get("/profile").status_code == 302  # the password session is gone


# --- legacy credentials once password sign-in is turned off ---------------------------------------
def test_basic_is_refused_when_passwords_are_off(settings, frank):
    settings.DISABLE_USERPASS_LOGIN = True
    header = "Basic " + base64.b64encode(b"frank:correct-horse-battery-staple").decode()
    response = Client().get("/api/roms", HTTP_AUTHORIZATION=header)
    assert response.status_code in (401, 403) and response.json()["detail"]


def test_a_legacy_bearer_from_before_passwords_were_turned_off_stops(settings, frank):
    raw, _ = password_tokens.issue(frank)
    assert Client().get("/api/users/me", **bearer(raw)).status_code == 200
    settings.DISABLE_USERPASS_LOGIN = True
    response = Client().get("/api/users/me", **bearer(raw))
    assert response.status_code == 401 and "DISABLE_USERPASS_LOGIN" in response.json()["detail"]
    # ... while a client token of the same person keeps working (it is not a password).
    client_raw, _ = make_token(frank, ["me.read"])
    assert Client().get("/api/users/me", **bearer(client_raw)).status_code == 200
