"""RFC 8628 on RomM's paths: init, the approval page, polling, and every refusal."""

import logging
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from accounts.models import Identity, Role, SignInEvent, User
from devices import client_tokens as tokens
from devices import pairing
from devices.models import ClientToken, Device, DeviceAuthorization
from tests.conftest import sign_in
from tests.devices.helpers import bearer, make_token, post_json, signed_in, start_device

pytestmark = pytest.mark.django_db
GRANT = "urn:ietf:params:oauth:grant-type:device_code"
DEVICE = {
    "client_device_identifier": "deck-42",
    "name": "Steam Deck",
    "client": "grout",
    "platform": "linux",
    "client_version": "1.2.0",
    "requested_scopes": ["me.read", "roms.read", "roms.write"],
}


def init(address="10.0.0.1", **changes):
    body = {k: v for k, v in {**DEVICE, **changes}.items() if v is not None}
    return post_json(Client(REMOTE_ADDR=address), "/api/auth/device/init", body)


def poll(device_code, form=False, address="10.0.0.1", **extra):
    client = Client(REMOTE_ADDR=address)
    if form:
        return client.post(
            "/api/auth/device/token", {"grant_type": GRANT, "device_code": device_code, **extra}
        )
    return post_json(client, "/api/auth/device/token", {"device_code": device_code, **extra})


def wait_interval():
    """As if the device waited its interval since the last poll."""
    DeviceAuthorization.objects.update(last_poll_at=timezone.now() - timedelta(seconds=3600))


def approve(user, user_code, decision="approve"):
    return signed_in(user).post("/pair/device", {"user_code": user_code, "decision": decision})


def test_init_answers_romms_fields(settings):
    settings.ROMM_BASE_URL = "https://romm.example.com"
    response = init()
    assert response.status_code == 201 and response["Cache-Control"] == "no-store"
    body = response.json()
    code = body["user_code"]
    assert len(code) == 9 and code[4] == "-"
    assert len(body["device_code"]) == 64 and int(body["device_code"], 16) >= 0
    assert body["verification_path"] == "/pair/device"
    assert body["verification_path_complete"] == "/pair/device?" + urlencode({"user_code": code})
    assert body["verification_uri"] == "https://romm.example.com/pair/device"
    assert (
        body["verification_uri_complete"] == "https://romm.example.com" + body["verification_path_complete"]
    )
    assert (body["expires_in"], body["interval"]) == (600, 5)
    row = DeviceAuthorization.objects.get()
    assert body["device_code"] not in str(list(DeviceAuthorization.objects.values()))
    assert row.status == "pending" and row.requested_scopes == ["me.read", "roms.read", "roms.write"]


@pytest.mark.parametrize(
    "changes,sentence",
    [
        ({"client_device_identifier": None}, "client_device_identifier is required."),
        ({"name": ""}, "name is required."),
        ({"client": 3}, "client must be a string."),
        ({"requested_scopes": None}, "requested_scopes must be a non-empty list"),
        ({"requested_scopes": ["roms.read", "root"]}, "'root' is not a scope"),
        ({"name": "n" * 101}, "name is longer than 100 characters."),
    ],
)
def test_init_refuses_bad_bodies_naming_the_field(db, changes, sentence):
    response = init(**changes)
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    assert sentence in response.json()["error_description"]
    assert not DeviceAuthorization.objects.exists()


def test_init_ten_a_minute_per_address(db):
    for _ in range(10):
        assert init().status_code == 201
    response = init()
    assert response.status_code == 429 and "Wait a minute" in response.json()["detail"]
    assert DeviceAuthorization.objects.count() == 10
    assert init(address="10.0.0.9").status_code == 201


def test_the_whole_flow_json(frank, caplog):
    body = init().json()
    pending = poll(body["device_code"])
    assert pending.status_code == 400
    assert pending.json() == {
        "error": "authorization_pending",
        "detail": "authorization_pending",
        "error_description": "The person has not approved this device yet: keep polling.",
    }
    page = signed_in(frank).get("/pair/device", {"user_code": body["user_code"]})
    html = page.content.decode()
    assert page.status_code == 200 and "Steam Deck" in html and "grout" in html and "linux" in html
    assert approve(frank, body["user_code"]).status_code == 302
    wait_interval()
    with caplog.at_level(logging.INFO):
        response = poll(body["device_code"])
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    token = response.json()
    assert set(token) == {"access_token", "token_type", "device_id", "scopes", "expires_at"}
    assert token["token_type"] == "Bearer" and token["scopes"] == ["me.read", "roms.read", "roms.write"]
    device = Device.objects.get()
    assert token["device_id"] == str(device.pk)
    assert (device.user, device.name, device.client, device.platform, device.client_version) == (
        frank,
        "Steam Deck",
        "grout",
        "linux",
        "1.2.0",
    )
    me = Client().get("/api/users/me", **bearer(token["access_token"]))
    assert me.json()["username"] == "frank" and me.json()["current_device_id"] == str(device.pk)
    assert token["access_token"] not in caplog.text and body["device_code"] not in caplog.text
    wait_interval()
    again = poll(body["device_code"])  # a second success is impossible
    assert again.status_code == 400 and again.json()["error"] == "expired_token"
    assert ClientToken.objects.count() == 1
    event = SignInEvent.objects.get(method="device")
    assert (event.outcome, event.reason, event.user) == ("success", "device_approved", frank)


def test_the_rfc_form_encoding(frank):
    body = init().json()
    assert poll(body["device_code"], form=True).json()["error"] == "authorization_pending"
    approve(frank, body["user_code"])
    wait_interval()
    response = poll(body["device_code"], form=True)
    assert response.status_code == 200 and response.json()["access_token"].startswith("rmm_")


def test_form_with_another_grant_type_is_refused(db):
    body = init().json()
    response = Client().post(
        "/api/auth/device/token", {"grant_type": "password", "device_code": body["device_code"]}
    )
    assert response.status_code == 400 and response.json()["error"] == "unsupported_grant_type"


def test_missing_device_code_is_invalid_request(db):
    response = post_json(Client(), "/api/auth/device/token", {})
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    assert "device_code is required." in response.json()["error_description"]


def test_unknown_device_code_is_expired_token(db):
    """RomM's answer: its apps start again on expired_token, and know no invalid_grant."""
    response = poll("0" * 64)
    assert response.status_code == 400 and response.json()["detail"] == "expired_token"


def test_polling_too_fast_slows_down_and_the_interval_grows(db):
    body = init().json()
    assert poll(body["device_code"]).json()["error"] == "authorization_pending"
    fast = poll(body["device_code"])
    assert fast.status_code == 400 and fast.json()["detail"] == "slow_down"
    assert "wait 10 seconds" in fast.json()["error_description"]
    assert DeviceAuthorization.objects.get().interval == 10
    assert poll(body["device_code"]).json()["error"] == "slow_down"
    assert DeviceAuthorization.objects.get().interval == 15  # remembered and growing
    DeviceAuthorization.objects.update(last_poll_at=timezone.now() - timedelta(seconds=12))
    assert poll(body["device_code"]).json()["error"] == "slow_down"  # 12 s < 15 s
    DeviceAuthorization.objects.update(last_poll_at=timezone.now() - timedelta(seconds=21))
    assert poll(body["device_code"]).json()["error"] == "authorization_pending"  # 21 s >= 20 s


def test_denied_device_gets_access_denied_and_no_token(frank):
    body = init().json()
    assert approve(frank, body["user_code"], decision="deny").status_code == 302
    wait_interval()
    response = poll(body["device_code"])
    assert response.status_code == 400 and response.json()["detail"] == "access_denied"
    assert not ClientToken.objects.exists() and not Device.objects.exists()
    assert approve(frank, body["user_code"]).status_code == 400  # no change of heart afterwards
    event = SignInEvent.objects.get(method="device")
    assert (event.outcome, event.reason) == ("refused", "device_denied")


def test_expired_device_code(frank):
    body = init().json()
    DeviceAuthorization.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = poll(body["device_code"])
    assert response.status_code == 400 and response.json()["detail"] == "expired_token"
    page = signed_in(frank).get("/pair/device", {"user_code": body["user_code"]})
    assert page.status_code == 404 and "unknown, expired or was already answered" in page.content.decode()
    assert approve(frank, body["user_code"]).status_code == 400
    assert DeviceAuthorization.objects.get().status == "pending"


def test_sixty_polls_a_minute_per_address(db):
    body = init().json()
    for _ in range(60):
        poll(body["device_code"])
    response = poll(body["device_code"])
    assert response.status_code == 429 and response.json()["error"] == "slow_down"


def test_scopes_the_role_lacks_are_greyed_and_not_granted(vera):
    body = init().json()
    html = signed_in(vera).get("/pair/device", {"user_code": body["user_code"]}).content.decode()
    assert 'class="muted lacking" data-scope="roms.write"' in html
    assert 'class="" data-scope="roms.read"' in html
    approve(vera, body["user_code"])
    wait_interval()
    assert poll(body["device_code"]).json()["scopes"] == ["me.read", "roms.read"]


def test_role_granting_nothing_requested_cannot_approve(vera):
    body = init(requested_scopes=["users.read"]).json()
    html = signed_in(vera).get("/pair/device", {"user_code": body["user_code"]}).content.decode()
    assert "nothing to approve" in html and 'value="approve"' not in html
    approve(vera, body["user_code"])
    assert DeviceAuthorization.objects.get().status == "pending"


def test_device_token_narrows_when_the_owner_is_demoted(frank):
    body = init().json()
    approve(frank, body["user_code"])
    wait_interval()
    raw = poll(body["device_code"]).json()["access_token"]
    User.objects.filter(pk=frank.pk).update(role=Role.VIEWER)
    response = post_json(
        Client(), "/api/client-tokens", {"name": "x", "scopes": ["roms.write"]}, **bearer(raw)
    )
    assert response.status_code == 403


def test_approving_a_device_again_replaces_its_token(frank):
    raws = []
    for _ in range(2):
        body = init().json()
        approve(frank, body["user_code"])
        wait_interval()
        raws.append(poll(body["device_code"]).json()["access_token"])
    assert Device.objects.count() == 1
    assert Client().get("/api/users/me", **bearer(raws[0])).status_code == 401
    assert Client().get("/api/users/me", **bearer(raws[1])).status_code == 200


def test_removing_a_device_on_the_profile_revokes_its_token(frank):
    body = init().json()
    approve(frank, body["user_code"])
    wait_interval()
    token = poll(body["device_code"]).json()
    client = signed_in(frank)
    assert "Steam Deck" in client.get("/profile").content.decode()
    client.post(f"/profile/devices/{token['device_id']}/remove")
    assert not Device.objects.exists()
    assert Client().get("/api/users/me", **bearer(token["access_token"])).status_code == 401


def test_a_signed_out_person_signs_in_through_the_provider_and_lands_on_the_code(authentik):
    body = init().json()
    client = Client()
    response = client.get("/pair/device", {"user_code": body["user_code"]})
    target = "/pair/device?" + urlencode({"user_code": body["user_code"]})
    assert response.status_code == 302
    assert parse_qs(urlsplit(response["Location"]).query)["next"] == [target]
    login_page = client.get(response["Location"]).content.decode()
    assert "/api/login/openid?" + urlencode({"next": target}) in login_page.replace("&amp;", "&")
    callback = sign_in(client, authentik, "bob", next=target)
    assert callback.status_code == 302 and callback["Location"] == target
    assert "Steam Deck" in client.get(target).content.decode()


def test_approval_needs_csrf(frank):
    body = init().json()
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(frank, backend="accounts.oidc.backend.OIDCBackend")
    response = browser.post("/pair/device", {"user_code": body["user_code"], "decision": "approve"})
    assert response.status_code == 403
    assert DeviceAuthorization.objects.get().status == "pending"


def test_typing_the_code_on_the_page(frank):
    body = init().json()
    client = signed_in(frank)
    assert 'name="user_code"' in client.get("/pair/device").content.decode()
    typed = body["user_code"].replace("-", "").lower()
    assert "Steam Deck" in client.get("/pair/device", {"user_code": typed}).content.decode()
    wrong = client.get("/pair/device", {"user_code": "ZZZZ-ZZZZ"})
    assert wrong.status_code == 404 and "unknown, expired" in wrong.content.decode()


def test_a_token_cannot_approve_a_device(frank):
    """The approval page trusts only a signed-in browser, so no token can mint a wider device token."""
    raw = post_json(
        signed_in(frank), "/api/client-tokens", {"name": "t", "scopes": ["me.read", "me.write"]}
    ).json()
    body = init().json()
    response = Client().post(
        "/pair/device", {"user_code": body["user_code"], "decision": "approve"}, **bearer(raw["raw_token"])
    )
    assert response.status_code in (302, 403) and "/login" in response.get("Location", "/login")
    assert DeviceAuthorization.objects.get().status == "pending"


def test_old_authorizations_are_cleared_by_a_new_init(db):
    init()
    DeviceAuthorization.objects.update(expires_at=timezone.now() - timedelta(days=2))
    init()
    assert DeviceAuthorization.objects.count() == 1


# --- approvals: once, with CSRF, within the role and the token limit ------------------------------
def test_device_approval_needs_csrf(frank):
    started = start_device()
    client = Client(enforce_csrf_checks=True)
    client.force_login(frank, backend="accounts.oidc.backend.OIDCBackend")
    response = client.post("/pair/device", {"user_code": started["user_code"], "decision": "approve"})
    assert response.status_code == 403
    assert DeviceAuthorization.objects.get().status == "pending"


def test_a_device_code_answered_twice_keeps_the_first_answer(frank, vera):
    started = start_device()
    signed_in(vera).post("/pair/device", {"user_code": started["user_code"], "decision": "deny"})
    signed_in(frank).post("/pair/device", {"user_code": started["user_code"], "decision": "approve"})
    row = DeviceAuthorization.objects.get()
    assert row.status == "denied" and row.user == vera


def test_second_poller_after_redemption_gets_expired_token(frank):
    started = start_device()
    signed_in(frank).post("/pair/device", {"user_code": started["user_code"], "decision": "approve"})
    first = post_json(
        Client(REMOTE_ADDR="10.4.4.4"), "/api/auth/device/token", {"device_code": started["device_code"]}
    )
    assert first.status_code == 200
    DeviceAuthorization.objects.update(last_poll_at=timezone.now() - timedelta(hours=1))
    second = post_json(
        Client(REMOTE_ADDR="10.5.5.5"), "/api/auth/device/token", {"device_code": started["device_code"]}
    )
    assert second.status_code == 400 and second.json()["error"] == "expired_token"
    assert ClientToken.objects.count() == 1


def test_viewer_approval_grants_only_viewer_scopes(vera):
    started = start_device()
    signed_in(vera).post("/pair/device", {"user_code": started["user_code"], "decision": "approve"})
    body = post_json(Client(), "/api/auth/device/token", {"device_code": started["device_code"]}).json()
    assert "roms.write" not in body["scopes"] and "roms.read" in body["scopes"]


def test_device_approvals_cannot_exceed_twenty_five_tokens(frank):
    for i in range(24):
        tokens.create(frank, f"t{i}", ["me.read"], None)
    started = [start_device(client_device_identifier=f"dev-{i}") for i in range(3)]
    for s in started:
        signed_in(frank).post("/pair/device", {"user_code": s["user_code"], "decision": "approve"})
    for s in started:
        post_json(Client(REMOTE_ADDR="10.6.6.6"), "/api/auth/device/token", {"device_code": s["device_code"]})
    assert tokens.live(frank).count() <= tokens.MAX_PER_PERSON


def test_a_device_name_is_escaped_on_the_approval_page(frank):
    started = start_device(name="<script>alert(1)</script>", client="<img src=x onerror=alert(1)>")
    page = signed_in(frank).get("/pair/device", {"user_code": started["user_code"]}).content.decode()
    assert "<script>alert(1)" not in page and "<img src=x" not in page
    assert "&lt;script&gt;" in page


def test_removing_a_device_cuts_off_tokens_the_device_minted(frank):
    started = start_device()  # asks for me.read, me.write, roms.read, roms.write
    signed_in(frank).post("/pair/device", {"user_code": started["user_code"], "decision": "approve"})
    device_raw = post_json(
        Client(), "/api/auth/device/token", {"device_code": started["device_code"]}
    ).json()["access_token"]
    minted = post_json(
        Client(),
        "/api/client-tokens",
        {"name": "spare", "scopes": ["roms.read", "roms.write"]},
        **bearer(device_raw),
    )
    # A device's token cannot make a token that would outlive the device.
    assert minted.status_code == 403 and "profile page" in minted.json()["detail"]
    assert ClientToken.objects.filter(user=frank).count() == 1
    device = Device.objects.get()
    signed_in(frank).post(f"/profile/devices/{device.pk}/remove")
    assert Client().get("/api/roms", **bearer(device_raw)).status_code == 401


# --- timing: slow_down, expiry, an approver deactivated meanwhile ---------------------------------
def test_slow_down_grows_the_interval_and_waiting_the_old_one_is_not_enough(frank):
    started = start_device()
    device_code = started["device_code"]
    with time_machine.travel(timezone.now(), tick=False) as clock:
        assert (
            post_json(Client(), "/api/auth/device/token", {"device_code": device_code}).json()["error"]
            == "authorization_pending"
        )
        fast = post_json(Client(), "/api/auth/device/token", {"device_code": device_code}).json()
        assert fast["error"] == "slow_down" and "10 seconds" in fast["error_description"]
        clock.shift(6)  # the old 5-second interval, not the new 10
        assert (
            post_json(Client(), "/api/auth/device/token", {"device_code": device_code}).json()["error"]
            == "slow_down"
        )
        clock.shift(16)
        assert (
            post_json(Client(), "/api/auth/device/token", {"device_code": device_code}).json()["error"]
            == "authorization_pending"
        )


def test_an_expired_user_code_cannot_be_approved(frank):
    started = start_device()
    DeviceAuthorization.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = signed_in(frank).post(
        "/pair/device", {"user_code": started["user_code"], "decision": "approve"}
    )
    assert response.status_code == 400
    assert DeviceAuthorization.objects.get().status == "pending"
    polled = post_json(Client(), "/api/auth/device/token", {"device_code": started["device_code"]}).json()
    assert polled["error"] == "expired_token"


def test_a_deactivated_approver_gets_no_token_from_an_earlier_approval(frank):
    started = start_device()
    signed_in(frank).post("/pair/device", {"user_code": started["user_code"], "decision": "approve"})
    User.objects.filter(pk=frank.pk).update(is_active=False)
    polled = post_json(Client(), "/api/auth/device/token", {"device_code": started["device_code"]})
    assert polled.status_code == 400 and polled.json()["error"] == "access_denied"
    assert not ClientToken.objects.exists()


def test_romms_whole_scope_list_is_accepted_and_shown_with_what_the_role_grants(vera):
    """The scopes RomM's apps ask for (argosy-launcher asks these sixteen) start a sign-in; the
    approval page names each, greys what a viewer lacks, and the device gets the rest."""
    asked = ["me.read", "me.write", "platforms.read", "platforms.write", "roms.read", "roms.write",
             "roms.user.read", "roms.user.write", "assets.read", "assets.write", "firmware.read",
             "firmware.write", "collections.read", "collections.write", "devices.read", "devices.write"]  # fmt: skip
    response = init(requested_scopes=asked)
    assert response.status_code == 201, response.content
    body = response.json()
    page = signed_in(vera).get("/pair/device", {"user_code": body["user_code"]}).content.decode()
    assert "download your saves, states and screenshots" in page and 'data-scope="firmware.write"' in page
    lacking = {s for s in asked if f'class="muted lacking" data-scope="{s}"' in page}
    assert lacking == {"platforms.write", "roms.write", "firmware.write"}
    approve(vera, body["user_code"])
    wait_interval()
    granted = poll(body["device_code"]).json()["scopes"]
    assert set(granted) == set(asked) - lacking


def test_an_unknown_scope_is_still_refused_naming_it(db):
    response = init(requested_scopes=["roms.read", "roms.delete"])
    assert (
        response.status_code == 400 and "'roms.delete' is not a scope" in response.json()["error_description"]
    )


# --- access withdrawn while a device sign-in is in flight ------------------------------------
@pytest.fixture
def linked_frank(frank):
    Identity.objects.create(user=frank, provider="authentik", issuer="https://idp.test/", subject="frank-sub")
    return frank


def test_an_approved_device_cannot_redeem_after_access_was_withdrawn(linked_frank, caplog):
    """Attack: when the person's access is withdrawn (``accounts.signals.access_withdrawn``:
    provider ended the grant, groups grant no role, back-channel logout by ``sub``, identity
    unlinked), every app and device token stops "even once access comes back". A device
    authorization approved but not yet redeemed by the device's poll would otherwise mint a
    fresh, live token afterwards."""
    device = start_device()
    approved = signed_in(linked_frank).post("/pair/device", {"user_code": device["user_code"], "decision": "approve"})
    assert approved.status_code in (200, 302)
    assert DeviceAuthorization.objects.get().status == "approved"

    # The person is removed from this site's access: the administrator unlinks the identity
    # (accounts.oidc.app_recheck.identity_unlinked withdraws every token of theirs).
    caplog.set_level(logging.INFO, logger="devices.client_tokens")
    Identity.objects.filter(user=linked_frank).delete()
    assert "1 device sign-in(s) of 'frank' not yet redeemed denied" in caplog.text

    DeviceAuthorization.objects.update(last_poll_at=timezone.now() - timedelta(seconds=3600))
    polled = post_json(Client(REMOTE_ADDR="10.3.3.3"), "/api/auth/device/token", {"device_code": device["device_code"]})
    if polled.status_code == 200:
        me = Client().get("/api/users/me", **bearer(polled.json()["access_token"]))
        assert me.status_code == 401, "a device approved before the withdrawal got a working token after it"
    assert polled.status_code == 400 and polled.json()["error"] == "access_denied"
    assert not ClientToken.objects.filter(revoked=False).exists()


def test_a_deactivation_denies_an_approved_device_not_yet_redeemed(frank):
    device = start_device()
    approve(frank, device["user_code"])
    frank.is_active = False
    frank.save(update_fields=["is_active"])
    assert DeviceAuthorization.objects.get().status == "denied"
    wait_interval()
    assert poll(device["device_code"]).json()["error"] == "access_denied"


def test_a_pending_pairing_code_dies_with_the_withdrawal(linked_frank):
    """HELD: a pairing code made before the withdrawal exchanges for nothing after it (the
    exchange checks ``tokens.stopped``)."""
    _, token = make_token(linked_frank, ["me.read"])
    code = pairing.create(token)
    Identity.objects.filter(user=linked_frank).delete()
    exchanged = post_json(Client(REMOTE_ADDR="10.4.4.4"), "/api/client-tokens/exchange", {"code": code})
    assert exchanged.status_code == 404
