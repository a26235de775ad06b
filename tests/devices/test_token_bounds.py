"""What a token obtained with another credential may outlive: nothing.

A device's token manages only itself; a token minted with a password stops with the password;
a token minted by a token stops with it and expires no later. Each test is told from the side
of the person who notices: the status an app gets, the sentence, the list on the profile, the
operator's log line.
"""

import base64
import logging
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.models import ApiToken
from devices import client_tokens as tokens
from devices.client_tokens import TOKEN_INVALID
from devices.models import ClientToken, Device, PairingCode
from tests.devices.conftest import PASSWORD
from tests.devices.helpers import bearer, post_json, put_json, signed_in
from tests.devices.test_device_flow import DEVICE

pytestmark = pytest.mark.django_db
WRITER = ["me.read", "me.write", "roms.read", "roms.write"]


def basic(username="frank", password=PASSWORD):
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def mint(headers=None, client=None, expires_in="never", scopes=WRITER, name="app"):
    body = {"name": name, "scopes": scopes, "expires_in": expires_in}
    return post_json(client or Client(), "/api/client-tokens", body, **(headers or {}))


def me(raw):
    return Client().get("/api/users/me", **bearer(raw))


def listed(client, **headers):
    return {t["id"]: t for t in client.get("/api/client-tokens", **headers).json()}


def device_token(user, scopes=WRITER, identifier="deck-1"):
    device = Device.objects.create(
        user=user, client_device_identifier=identifier, name="Deck", client="argosy"
    )
    raw, token = tokens.create(user, "Deck (argosy)", scopes, None, device)
    return raw, token, device


def password_session(user):
    browser = Client()
    assert browser.post("/login", {"username": user.username, "password": PASSWORD}).status_code == 302
    return browser


def refusals(caplog, start="", logger="devices"):
    """The operator's WARNING lines from ``logger`` starting with ``start``."""
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and r.name.startswith(logger) and r.getMessage().startswith(start)
    ]


def same_instant(json_value, stored):
    """A JSON timestamp (milliseconds) and a stored one (microseconds) name the same moment."""
    return abs(parse_datetime(json_value) - stored) < timedelta(milliseconds=1)


# === a device's token manages nothing but itself ===================================================
@pytest.mark.parametrize("how", ["regenerate", "pair", "revoke"])
def test_a_device_token_cannot_act_on_a_sibling(frank, how, caplog):
    device_raw, _, _ = device_token(frank)
    sibling_raw, sibling = tokens.create(frank, "script", WRITER, None)
    caplog.set_level(logging.WARNING, logger="devices")
    path = f"/api/client-tokens/{sibling.pk}"
    if how == "regenerate":
        response = put_json(Client(), path + "/regenerate", **bearer(device_raw))
    elif how == "pair":
        response = post_json(Client(), path + "/pair", {}, **bearer(device_raw))
    else:
        response = Client().delete(path, **bearer(device_raw))
    assert response.status_code == 403
    assert response.json() == {
        "detail": "A device's token can manage only itself. Manage your other app tokens on your "
        "profile page (/profile)."
    }
    assert not PairingCode.objects.exists()
    assert me(sibling_raw).status_code == 200  # neither rotated nor revoked
    [line] = refusals(caplog, "")
    assert "may manage only itself" in line and f"token {sibling.pk}" in line and device_raw not in line


def test_a_device_token_still_manages_itself(frank):
    raw, token, _ = device_token(frank)
    again = put_json(Client(), f"/api/client-tokens/{token.pk}/regenerate", **bearer(raw))
    assert again.status_code == 200 and again.json()["device_id"] == str(token.device_id)
    new = again.json()["raw_token"]
    code = post_json(Client(), f"/api/client-tokens/{token.pk}/pair", {}, **bearer(new))
    assert code.status_code == 200
    exchanged = post_json(
        Client(REMOTE_ADDR="10.3.3.3"), "/api/client-tokens/exchange", {"code": code.json()["code"]}
    )
    assert exchanged.status_code == 200
    assert (
        Client().delete(f"/api/client-tokens/{token.pk}", **bearer(exchanged.json()["raw_token"])).status_code
        == 200
    )


def test_what_a_device_obtained_for_itself_dies_with_the_device(frank):
    raw, token, device = device_token(frank)
    new = put_json(Client(), f"/api/client-tokens/{token.pk}/regenerate", **bearer(raw)).json()["raw_token"]
    code = post_json(Client(), f"/api/client-tokens/{token.pk}/pair", {}, **bearer(new)).json()["code"]
    paired = post_json(Client(REMOTE_ADDR="10.3.3.4"), "/api/client-tokens/exchange", {"code": code}).json()
    assert me(paired["raw_token"]).json()["current_device_id"] == str(device.pk)
    signed_in(frank).post(f"/profile/devices/{device.pk}/remove")
    assert me(paired["raw_token"]).status_code == 401
    assert not tokens.live(frank).exists()


def test_a_device_token_cannot_mint_or_reach_a_sibling_then_outlive_the_device(frank):
    device_raw, _, device = device_token(frank)
    _, sibling = tokens.create(frank, "script", WRITER, None)
    assert mint(bearer(device_raw)).status_code == 403
    assert (
        put_json(Client(), f"/api/client-tokens/{sibling.pk}/regenerate", **bearer(device_raw)).status_code
        == 403
    )
    signed_in(frank).post(f"/profile/devices/{device.pk}/remove")
    assert me(device_raw).status_code == 401


def test_an_ordinary_token_still_manages_a_sibling_within_its_scopes(frank):
    raw, _ = tokens.create(frank, "manager", WRITER, None)
    _, sibling = tokens.create(frank, "reader", ["me.read"], None)
    response = put_json(Client(), f"/api/client-tokens/{sibling.pk}/regenerate", **bearer(raw))
    assert response.status_code == 200 and me(response.json()["raw_token"]).status_code == 200


# === a token minted with a password stops with the password =========================================
def test_a_token_minted_over_basic_works_until_the_password_changes(frank, caplog):
    made = mint(basic())
    assert made.status_code == 201  # RomM's apps mint their token this way
    raw = made.json()["raw_token"]
    assert me(raw).status_code == 200
    assert listed(Client(), **bearer(raw))[made.json()["id"]]["tied_to_password"] is True
    frank.set_password("a-new-password-after-the-theft")
    frank.save()
    caplog.set_level(logging.WARNING, logger="devices")
    response = me(raw)
    assert response.status_code == 401 and response.json() == {"detail": TOKEN_INVALID}
    assert refusals(caplog, "API client token refused") == ["API client token refused: password_changed"]
    assert post_json(Client(), "/api/roms", {"name": "x"}, **bearer(raw)).status_code == 401


def test_a_token_minted_over_basic_stops_with_disable_userpass_login(frank, settings, caplog):
    raw = mint(basic()).json()["raw_token"]
    settings.DISABLE_USERPASS_LOGIN = True
    caplog.set_level(logging.WARNING, logger="devices")
    assert me(raw).status_code == 401
    assert refusals(caplog, "API client token refused") == ["API client token refused: password_disabled"]
    settings.DISABLE_USERPASS_LOGIN = False
    assert me(raw).status_code == 200  # switched back on, with the same password


def test_a_token_minted_by_a_password_grant_bearer_stops_with_the_password(frank):
    bearer_raw = (
        Client()
        .post("/api/token", {"grant_type": "password", "username": "frank", "password": PASSWORD})
        .json()["access_token"]
    )
    made = mint(bearer(bearer_raw))
    assert made.status_code == 201
    raw = made.json()["raw_token"]
    assert me(raw).status_code == 200
    frank.set_password("another-password-entirely")
    frank.save()
    assert me(raw).status_code == 401


def test_a_token_minted_by_a_password_minted_token_stops_with_the_password_too(frank):
    parent = mint(basic()).json()["raw_token"]
    child = mint(bearer(parent), name="child").json()
    assert child["expires_at"] is None
    assert listed(Client(), **bearer(parent))[child["id"]]["tied_to_password"] is True
    frank.set_password("another-password-entirely")
    frank.save()
    assert me(child["raw_token"]).status_code == 401


@pytest.mark.parametrize("opened_by", ["/login", "/api/login"])
def test_a_session_a_password_opened_ties_the_tokens_it_mints(frank, opened_by, settings):
    if opened_by == "/login":
        browser = password_session(frank)
    else:
        browser = Client()
        assert browser.post("/api/login", **basic()).status_code == 200
    raw = mint(client=browser).json()["raw_token"]
    form = browser.post("/profile/client-tokens", {"name": "p", "scopes": ["me.read"], "expires_in": "never"})
    page = form.content.decode()
    assert "stops when your password changes" in page
    assert all(t.password_fingerprint for t in ClientToken.objects.all())
    settings.DISABLE_USERPASS_LOGIN = True
    assert me(raw).status_code == 401


def test_a_provider_session_ties_nothing_to_the_password(frank, settings):
    browser = signed_in(frank)  # a session the identity provider opened
    raw = mint(client=browser).json()["raw_token"]
    assert "stops when your password changes" not in browser.get("/profile").content.decode()
    frank.set_password("changed-but-irrelevant")
    frank.save()
    settings.DISABLE_USERPASS_LOGIN = True
    assert me(raw).status_code == 200
    # The password change ended the session (Django's session hash); the person signs in again.
    assert listed(signed_in(frank))[ClientToken.objects.get().pk]["tied_to_password"] is False


def test_a_device_approved_in_a_password_session_stops_with_the_password(frank):
    started = post_json(Client(REMOTE_ADDR="10.4.4.4"), "/api/auth/device/init", DEVICE).json()
    password_session(frank).post("/pair/device", {"user_code": started["user_code"], "decision": "approve"})
    raw = post_json(Client(), "/api/auth/device/token", {"device_code": started["device_code"]}).json()[
        "access_token"
    ]
    assert me(raw).status_code == 200
    frank.set_password("another-password-entirely")
    frank.save()
    assert me(raw).status_code == 401


def test_a_stopped_token_leaves_the_list_and_cannot_be_paired(frank):
    made = mint(basic()).json()
    code = post_json(Client(), f"/api/client-tokens/{made['id']}/pair", {}, **basic()).json()["code"]
    frank.set_password("another-password-entirely")
    frank.save()
    browser = signed_in(frank)
    assert listed(browser) == {}
    assert "No app tokens yet." in browser.get("/profile").content.decode()
    exchanged = post_json(Client(REMOTE_ADDR="10.5.5.5"), "/api/client-tokens/exchange", {"code": code})
    assert exchanged.status_code == 404 and "raw_token" not in exchanged.json()


@pytest.mark.parametrize("how", ["regenerate", "pair"])
def test_a_password_cannot_hand_out_a_token_that_outlives_it(frank, how, caplog):
    untied_raw, untied = tokens.create(frank, "made on the profile", WRITER, None)
    caplog.set_level(logging.WARNING, logger="devices")
    path = f"/api/client-tokens/{untied.pk}/" + how
    response = (
        put_json(Client(), path, **basic())
        if how == "regenerate"
        else post_json(Client(), path, {}, **basic())
    )
    assert response.status_code == 403
    assert "does not stop when your password changes" in response.json()["detail"]
    assert "raw_token" not in response.json() and not PairingCode.objects.exists()
    assert me(untied_raw).status_code == 200  # the owner's app is untouched
    [line] = refusals(caplog, "")
    assert "would outlive the basic" in line and "(password)" in line


def test_a_password_may_hand_out_a_token_tied_to_it(frank):
    made = mint(basic()).json()
    response = put_json(Client(), f"/api/client-tokens/{made['id']}/regenerate", **basic())
    assert response.status_code == 200 and me(response.json()["raw_token"]).status_code == 200


def test_the_profile_pairing_refuses_an_untied_token_in_a_password_session(frank):
    _, untied = tokens.create(frank, "made with the provider", WRITER, None)
    browser = password_session(frank)
    response = browser.post(f"/profile/client-tokens/{untied.pk}/pair", follow=True)
    assert "does not stop when your password changes" in response.content.decode()
    assert not PairingCode.objects.exists()
    tied = browser.post("/profile/client-tokens", {"name": "p", "scopes": ["me.read"], "expires_in": "never"})
    assert tied.status_code == 200
    pk = ClientToken.objects.get(name="p").pk
    assert 'data-testid="pairing-code"' in browser.post(f"/profile/client-tokens/{pk}/pair").content.decode()


# === a token's expiry bounds what it mints; a minted token stops with its minter =====================
def test_an_expiring_token_mints_children_capped_to_its_expiry(frank):
    with time_machine.travel(timezone.now() - timedelta(days=10)):
        parent = mint(client=signed_in(frank), expires_in="30d").json()
    parent_expiry = ClientToken.objects.get(pk=parent["id"]).expires_at
    for choice in ("never", "1y", "30d"):
        child = mint(bearer(parent["raw_token"]), expires_in=choice, name=choice)
        assert child.status_code == 201
        assert same_instant(child.json()["expires_at"], parent_expiry)  # the 201 says so
        assert ClientToken.objects.get(name=choice).expires_at == parent_expiry


def test_a_shorter_child_keeps_its_own_expiry(frank):
    parent = mint(client=signed_in(frank), expires_in="1y").json()
    child = mint(bearer(parent["raw_token"]), expires_in="30d").json()
    assert parse_datetime(child["expires_at"]) < parse_datetime(parent["expires_at"]) - timedelta(days=300)


def test_a_child_never_outlives_its_minters_expiry(frank):
    parent = mint(client=signed_in(frank), expires_in="30d").json()
    child = mint(bearer(parent["raw_token"])).json()["raw_token"]
    with time_machine.travel(timezone.now() + timedelta(days=31)):
        assert me(parent["raw_token"]).status_code == 401
        assert me(child).status_code == 401


def test_a_bearer_mints_children_no_longer_than_the_bearer(frank):
    bearer_raw = (
        Client()
        .post("/api/token", {"grant_type": "password", "username": "frank", "password": PASSWORD})
        .json()["access_token"]
    )
    child = mint(bearer(bearer_raw)).json()
    assert same_instant(child["expires_at"], ApiToken.objects.get().expires_at)
    assert Client().post("/api/logout", **bearer(bearer_raw)).status_code == 200
    assert me(child["raw_token"]).status_code == 401


def test_revoking_a_token_stops_every_token_it_minted(frank, caplog):
    browser = signed_in(frank)
    parent = mint(client=browser).json()
    child = mint(bearer(parent["raw_token"]), name="child").json()
    grandchild = mint(bearer(child["raw_token"]), name="grandchild").json()
    assert listed(browser)[grandchild["id"]]["minted_by"] == child["id"]
    assert me(grandchild["raw_token"]).status_code == 200
    assert browser.delete(f"/api/client-tokens/{parent['id']}").status_code == 200
    caplog.set_level(logging.WARNING, logger="devices")
    assert me(child["raw_token"]).status_code == 401
    assert me(grandchild["raw_token"]).status_code == 401
    assert refusals(caplog, "API client token refused") == ["API client token refused: minter_stopped"] * 2
    assert listed(browser) == {}


def test_the_profile_says_which_token_a_child_stops_with(frank):
    browser = signed_in(frank)
    parent = mint(client=browser, name="Laptop script").json()
    mint(bearer(parent["raw_token"]), name="child")
    assert 'stops with the token "Laptop script" that made it' in browser.get("/profile").content.decode()


@pytest.mark.parametrize("how", ["regenerate", "pair"])
def test_an_expiring_token_cannot_hand_out_a_longer_lived_sibling(frank, how):
    short_raw = mint(client=signed_in(frank), expires_in="30d").json()["raw_token"]
    long_raw, long_lived = tokens.create(frank, "never", WRITER, None)
    path = f"/api/client-tokens/{long_lived.pk}/" + how
    if how == "regenerate":
        response = put_json(Client(), path, **bearer(short_raw))
    else:
        response = post_json(Client(), path, {}, **bearer(short_raw))
    assert response.status_code == 403 and "would outlive the credential" in response.json()["detail"]
    assert me(long_raw).status_code == 200 and not PairingCode.objects.exists()


def test_an_expiring_token_still_regenerates_itself(frank):
    made = mint(client=signed_in(frank), expires_in="30d").json()
    response = put_json(Client(), f"/api/client-tokens/{made['id']}/regenerate", **bearer(made["raw_token"]))
    assert response.status_code == 200 and response.json()["expires_at"] == made["expires_at"]
