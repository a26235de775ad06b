"""App passwords: HTTP Basic with the username and one of the account's client tokens acts as that
token everywhere Basic is taken, and is attacked as a password is (wrong owner, revoked, expired,
deactivated, rate limit, constant-time owner check)."""

import base64
import hmac
import logging
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Role, SignInEvent, User
from devices import app_passwords
from devices import client_tokens as tokens
from devices.models import ClientToken, Device
from library.models import Platform, Rom
from tests.devices.conftest import PASSWORD
from tests.devices.helpers import post_json

pytestmark = pytest.mark.django_db
WRONG = "The username or password is incorrect."


def basic(username, password):
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def app_password(user, scopes=("me.read", "roms.read", "platforms.read"), **fields):
    raw, token = tokens.create(
        user, "LaunchBox", list(scopes), fields.get("expires_at"), fields.get("device")
    )
    return raw, token


@pytest.fixture
def shelf():
    snes = Platform.objects.create(name="Super Nintendo", slug="snes")
    Rom.objects.create(name="Chrono Trigger", platform=snes, file_name="chrono.sfc")


def me(**headers):
    return Client().get("/api/users/me", **headers)


# --- what it opens ------------------------------------------------------------------------------
def test_username_and_own_token_act_as_that_token(frank, shelf):
    raw, token = app_password(frank)
    response = me(**basic("frank", raw))
    assert response.status_code == 200 and response.json()["username"] == "frank"
    roms = Client().get("/api/roms?search_term=chrono", **basic("frank", raw))
    assert roms.status_code == 200 and roms.json()["total"] == 1
    assert ClientToken.objects.get(pk=token.pk).last_used_at is not None


def test_it_has_only_the_tokens_scopes(frank, shelf):
    raw, _ = app_password(frank, scopes=["me.read"])
    refused = Client().get("/api/roms", **basic("frank", raw))
    assert refused.status_code == 403
    assert refused.json()["detail"].startswith(
        "This needs the roms.read scope, which this token was not granted"
    )
    write = post_json(Client(), "/api/platforms", {"name": "Game Gear"}, **basic("frank", raw))
    assert write.status_code == 403 and not Platform.objects.filter(name="Game Gear").exists()


def test_it_works_with_password_login_turned_off(frank, settings):
    settings.DISABLE_USERPASS_LOGIN = True
    raw, _ = app_password(frank)
    assert me(**basic("frank", raw)).status_code == 200
    assert me(**basic("frank", PASSWORD)).status_code == 401  # the password itself does not


def test_a_device_token_as_app_password_carries_its_device(frank):
    device = Device.objects.create(user=frank, client_device_identifier="deck", name="Deck", client="decky")
    raw, _ = app_password(frank, device=device)
    assert me(**basic("frank", raw)).json()["current_device_id"] == str(device.pk)


def test_a_basic_only_app_makes_its_own_token_with_it(frank):
    """romm-tender's sign-in: Basic-authenticated POST /api/client-tokens."""
    raw, _ = app_password(frank, scopes=["me.read", "me.write", "roms.read", "platforms.read"])
    made = post_json(
        Client(), "/api/client-tokens", {"name": "Deck", "scopes": ["roms.read"]}, **basic("frank", raw)
    )
    assert (
        made.status_code == 201
        and Client().get("/api/roms", HTTP_AUTHORIZATION=f"Bearer {made.json()['raw_token']}").status_code
        == 200
    )
    wider = post_json(
        Client(), "/api/client-tokens", {"name": "x", "scopes": ["roms.write"]}, **basic("frank", raw)
    )
    assert wider.status_code == 403


# --- refused exactly as a wrong password ----------------------------------------------------------
def spoil_revoked(token, owner):
    ClientToken.objects.filter(pk=token.pk).update(revoked=True)


def spoil_expired(token, owner):
    ClientToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))


def spoil_deactivated(token, owner):
    User.objects.filter(pk=owner.pk).update(is_active=False)


@pytest.mark.parametrize("spoil", [spoil_revoked, spoil_expired, spoil_deactivated])
def test_a_dead_token_is_refused_as_a_wrong_password(frank, spoil, caplog):
    raw, token = app_password(frank)
    spoil(token, frank)
    with caplog.at_level(logging.WARNING):
        response = me(**basic("frank", raw))
    assert response.status_code == 401 and response.json()["detail"] == WRONG
    assert me(**basic("frank", "not-the-password")).json()["detail"] == WRONG  # the same answer
    assert raw not in caplog.text and raw[4:20] not in caplog.text
    assert ClientToken.objects.get(pk=token.pk).last_used_at is None


def test_another_accounts_token_is_refused_as_a_wrong_password(frank, vera, caplog):
    raw, token = app_password(vera)
    with caplog.at_level(logging.WARNING):
        response = me(**basic("frank", raw))
    assert response.status_code == 401 and response.json()["detail"] == WRONG
    assert ClientToken.objects.get(pk=token.pk).last_used_at is None  # not counted as vera's use
    row = SignInEvent.objects.get()
    assert (row.method, row.outcome, row.username, row.reason) == (
        "app_token",
        "refused",
        "frank",
        "invalid_credentials",
    )
    assert "app password refused: the token belongs to another account" in caplog.text


def test_the_username_must_match_exactly(frank):
    raw, _ = app_password(frank)
    assert me(**basic("FRANK", raw)).status_code == 401
    assert me(**basic("frank ", raw)).status_code == 200  # surrounding spaces go, as for passwords


def test_an_unknown_token_shaped_password_is_refused(frank):
    assert me(**basic("frank", "rmm_" + "0" * 64)).json()["detail"] == WRONG


# --- the rate limit -----------------------------------------------------------------------------
def test_wrong_app_passwords_and_wrong_passwords_share_the_limit(frank, vera, settings):
    settings.LOGIN_FAILURES_PER_ACCOUNT = 4
    stolen, _ = app_password(vera)
    own, _ = app_password(frank)
    for _ in range(2):
        assert me(**basic("frank", stolen)).status_code == 401
        assert me(**basic("frank", "guess")).status_code == 401
    # The limit is reached: even the right app password and the right password wait now.
    locked = me(**basic("frank", own))
    assert locked.status_code == 429 and locked.json()["detail"].startswith(
        "Too many failed sign-in attempts"
    )
    assert me(**basic("frank", PASSWORD)).status_code == 429


def test_a_right_app_password_forgives_the_pairs_failures(frank, settings):
    settings.LOGIN_FAILURES_PER_ACCOUNT = 3
    own, _ = app_password(frank)
    for _ in range(2):
        assert me(**basic("frank", "rmm_" + "1" * 64)).status_code == 401
    assert me(**basic("frank", own)).status_code == 200
    for _ in range(2):
        assert me(**basic("frank", "rmm_" + "1" * 64)).status_code == 401
    assert me(**basic("frank", own)).status_code == 200


def test_the_owner_is_compared_in_constant_time_whether_or_not_a_token_matched(frank, vera, monkeypatch):
    seen, compare = [], hmac.compare_digest

    def spy(a, b):
        seen.append((a, b))
        return compare(a, b)

    monkeypatch.setattr(app_passwords.hmac, "compare_digest", spy)
    theirs, _ = app_password(vera)
    me(**basic("frank", theirs))
    me(**basic("frank", "rmm_" + "2" * 64))
    assert seen == [(b"vera", b"frank"), (b"", b"frank")]


# --- /api/token and /api/login ---------------------------------------------------------------------
def grant(username, password):
    return Client().post("/api/token", {"grant_type": "password", "username": username, "password": password})


def test_api_token_answers_the_app_password_itself(frank, settings):
    settings.DISABLE_USERPASS_LOGIN = True
    raw, _ = app_password(frank)
    answer = grant("frank", raw)
    assert answer.status_code == 200 and answer["Cache-Control"] == "no-store"
    assert answer.json() == {"access_token": raw, "token_type": "Bearer"}
    assert me(HTTP_AUTHORIZATION=f"Bearer {answer.json()['access_token']}").status_code == 200


def test_api_token_gives_an_expiring_app_passwords_lifetime(frank):
    raw, _ = app_password(frank, expires_at=timezone.now() + timedelta(hours=1))
    assert 3590 <= grant("frank", raw).json()["expires_in"] <= 3600


def test_api_token_refuses_another_accounts_token_as_a_wrong_password(frank, vera, settings):
    settings.LOGIN_FAILURES_PER_ACCOUNT = 2
    raw, _ = app_password(vera)
    refused = grant("frank", raw)
    assert refused.status_code == 400 and refused.json() == {
        "error": "invalid_grant",
        "error_description": WRONG,
    }
    grant("frank", raw)
    assert grant("frank", raw).status_code == 429


def test_api_login_opens_no_session_for_an_app_password(frank):
    raw, _ = app_password(frank)
    client = Client()
    response = client.post("/api/login", **basic("frank", raw))
    assert response.status_code == 401 and response.json()["detail"].startswith(
        "An app password opens no session"
    )
    assert "romm_session" not in response.cookies and client.get("/api/users/me").status_code == 401


def test_a_malformed_basic_header_is_still_named(frank):
    response = me(HTTP_AUTHORIZATION="Basic not-base64!")
    assert response.status_code == 401 and "not valid HTTP Basic" in response.json()["detail"]


def test_a_password_that_merely_starts_with_rmm_is_a_password(frank):
    frank.set_password("rmm_not-a-token-shape")
    frank.save()
    assert me(**basic("frank", "rmm_not-a-token-shape")).status_code == 200


def test_roles_still_narrow_an_app_password(frank, shelf):
    raw, _ = app_password(frank, scopes=["roms.read", "roms.write"])
    User.objects.filter(pk=frank.pk).update(role=Role.VIEWER)
    refused = post_json(
        Client(), "/api/roms", {"platform_id": 1, "name": "x", "file_name": "x"}, **basic("frank", raw)
    )
    assert refused.status_code == 403 and "which the editor role grants" in refused.json()["detail"]
