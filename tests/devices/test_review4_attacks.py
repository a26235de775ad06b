"""A reviewer's attacks on apps and devices (SPEC section 6): passing tests are defended attacks,
the tests of holes this review found failed before their fixes."""

import base64
import json
import logging
import time
from datetime import timedelta

import pytest
import time_machine
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from accounts import tokens as password_tokens
from accounts.models import OIDCSession, Role, SignInEvent, User
from devices import tokens
from devices.models import ClientToken, Device, DeviceAuthorization
from library.models import Platform, Rom
from tests.conftest import configure, sign_in
from tests.devices.helpers import bearer, post_json, put_json, signed_in

pytestmark = pytest.mark.django_db
DEVICE = {
    "client_device_identifier": "deck-7",
    "name": "Deck",
    "client": "grout",
    "requested_scopes": ["me.read", "me.write", "roms.read", "roms.write"],
}


def make_token(user, scopes, name="t"):
    """A live token of ``user`` made the way the API makes one; ``(raw, row)``."""
    return tokens.create(user, name, scopes, None)


def quiet():
    """A client that answers a server error with the 500 response instead of raising it."""
    return Client(raise_request_exception=False, REMOTE_ADDR="10.9.9.9")


# --- escalation from one token to a wider sibling -------------------------------------------
def test_a_narrow_token_cannot_regenerate_a_wider_sibling(frank):
    narrow, _ = make_token(frank, ["me.read", "me.write"], "narrow")
    _, wide = make_token(frank, ["me.read", "roms.read", "roms.write"], "wide")
    response = put_json(Client(), f"/api/client-tokens/{wide.pk}/regenerate", **bearer(narrow))
    assert response.status_code == 403
    assert "roms.read scope" in response.json()["detail"]  # the first scope the caller lacks
    assert "raw_token" not in response.json()


def test_a_narrow_token_cannot_pair_a_wider_sibling(frank):
    narrow, _ = make_token(frank, ["me.read", "me.write"], "narrow")
    _, wide = make_token(frank, ["me.read", "roms.read", "roms.write"], "wide")
    response = post_json(Client(), f"/api/client-tokens/{wide.pk}/pair", {}, **bearer(narrow))
    assert response.status_code == 403
    exchanged = post_json(
        Client(REMOTE_ADDR="10.1.1.1"),
        "/api/client-tokens/exchange",
        {"code": response.json().get("code", "AAAAAAAA")},
    )
    assert exchanged.status_code == 400


def test_a_narrow_token_cannot_create_a_wider_one(frank):
    narrow, _ = make_token(frank, ["me.read", "me.write"])
    response = post_json(
        Client(), "/api/client-tokens", {"name": "x", "scopes": ["roms.write"]}, **bearer(narrow)
    )
    assert response.status_code == 403 and "roms.write" in response.json()["detail"]
    assert ClientToken.objects.count() == 1


# --- one person's token against another's ----------------------------------------------------
@pytest.mark.parametrize("how", ["regenerate", "pair", "delete"])
def test_someone_elses_token_is_404_and_unchanged(frank, vera, how):
    mine, _ = make_token(vera, ["me.read", "me.write"])
    theirs_raw, theirs = make_token(frank, ["me.read", "roms.write"])
    client = Client()
    if how == "regenerate":
        response = put_json(client, f"/api/client-tokens/{theirs.pk}/regenerate", **bearer(mine))
    elif how == "pair":
        response = post_json(client, f"/api/client-tokens/{theirs.pk}/pair", {}, **bearer(mine))
    else:
        response = client.delete(f"/api/client-tokens/{theirs.pk}", **bearer(mine))
    assert response.status_code == 404 and "detail" in response.json()
    assert Client().get("/api/client-tokens", **bearer(theirs_raw)).status_code == 200


def test_pair_status_of_someone_elses_code_is_404(frank, vera):
    raw, token = make_token(frank, ["me.read", "me.write"])
    code = post_json(Client(), f"/api/client-tokens/{token.pk}/pair", {}, **bearer(raw)).json()["code"]
    mine, _ = make_token(vera, ["me.read"])
    assert Client().get(f"/api/client-tokens/pair/{code}/status", **bearer(mine)).status_code == 404
    assert Client().get(f"/api/client-tokens/pair/{code}/status", **bearer(raw)).status_code == 200


def test_removing_someone_elses_device_changes_nothing(frank, vera):
    device = Device.objects.create(user=frank, client_device_identifier="d", name="D", client="c")
    raw, _ = tokens.create(frank, "d", ["me.read"], None, device)
    signed_in(vera).post(f"/profile/devices/{device.pk}/remove")
    assert Device.objects.filter(pk=device.pk).exists()
    assert Client().get("/api/client-tokens", **bearer(raw)).status_code == 200


# --- role changes after the token was made ----------------------------------------------------
def test_device_token_approved_as_editor_loses_write_on_demotion(frank):
    raw, _ = make_token(frank, ["me.read", "roms.read", "roms.write"])
    User.objects.filter(pk=frank.pk).update(role=Role.VIEWER)
    response = post_json(Client(), "/api/roms", {"name": "x"}, **bearer(raw))
    assert response.status_code == 403 and "roms.write" in response.json()["detail"]


def test_deactivated_owner_token_stops_even_if_deactivated_by_update(frank):
    raw, _ = make_token(frank, ["me.read"])
    User.objects.filter(pk=frank.pk).update(is_active=False)  # no save signal
    assert Client().get("/api/client-tokens", **bearer(raw)).status_code == 401


# --- pairing-code brute force ----------------------------------------------------------------
def test_exchange_limit_ignores_a_forged_x_forwarded_for(settings, db):
    settings.TRUST_PROXY_HEADERS = False
    statuses = [
        post_json(
            Client(REMOTE_ADDR="10.2.2.2"),
            "/api/client-tokens/exchange",
            {"code": "AAAA-AAAA"},
            HTTP_X_FORWARDED_FOR=f"192.0.2.{i}",
        ).status_code
        for i in range(7)
    ]
    assert statuses[:5] == [400] * 5 and statuses[5:] == [429, 429]


def test_exchange_behind_proxy_counts_the_proxys_entry_not_the_clients(settings, db):
    settings.TRUST_PROXY_HEADERS = True
    statuses = [
        post_json(
            Client(REMOTE_ADDR="10.0.0.254"),
            "/api/client-tokens/exchange",
            {"code": "AAAAAAAA"},
            HTTP_X_FORWARDED_FOR=f"192.0.2.{i}, 203.0.113.5",
        ).status_code
        for i in range(6)
    ]
    assert statuses[-1] == 429


# --- device flow -------------------------------------------------------------------------------
def start_device(**changes):
    return post_json(Client(REMOTE_ADDR="10.3.3.3"), "/api/auth/device/init", {**DEVICE, **changes}).json()


def test_device_approval_needs_csrf(frank):
    started = start_device()
    client = Client(enforce_csrf_checks=True)
    client.force_login(frank, backend="accounts.backend.OIDCBackend")
    response = client.post("/pair/device", {"user_code": started["user_code"], "decision": "approve"})
    assert response.status_code == 403
    assert DeviceAuthorization.objects.get().status == "pending"


def test_a_device_code_answered_twice_keeps_the_first_answer(frank, vera):
    started = start_device()
    signed_in(vera).post("/pair/device", {"user_code": started["user_code"], "decision": "deny"})
    signed_in(frank).post("/pair/device", {"user_code": started["user_code"], "decision": "approve"})
    row = DeviceAuthorization.objects.get()
    assert row.status == "denied" and row.user == vera


def test_second_poller_after_redemption_gets_invalid_grant(frank):
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
    assert second.status_code == 400 and second.json()["error"] == "invalid_grant"
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


# --- legacy credentials under DISABLE_USERPASS_LOGIN -------------------------------------------
def test_basic_is_refused_when_passwords_are_off(settings, frank):
    settings.DISABLE_USERPASS_LOGIN = True
    header = "Basic " + base64.b64encode(b"frank:correct-horse-battery-staple").decode()
    response = Client().get("/api/roms", HTTP_AUTHORIZATION=header)
    assert response.status_code in (401, 403) and response.json()["detail"]


def test_cookie_session_json_write_needs_csrf(frank):
    client = Client(enforce_csrf_checks=True)
    client.force_login(frank, backend="accounts.backend.OIDCBackend")
    response = post_json(client, "/api/client-tokens", {"name": "x", "scopes": ["me.read"]})
    assert response.status_code == 403 and "CSRF" in response.json()["detail"]
    assert ClientToken.objects.count() == 0


# --- malformed input: JSON detail, never a 500 ------------------------------------------------
DEEP = "[" * 100000 + "]" * 100000


@pytest.mark.parametrize(
    "path", ["/api/client-tokens/exchange", "/api/auth/device/init", "/api/auth/device/token"]
)
def test_deeply_nested_json_is_a_400_sentence(db, path):
    response = quiet().post(path, DEEP, content_type="application/json")
    assert response.status_code == 400
    assert response.json().get("detail")


def test_deeply_nested_json_on_the_library_is_a_400_sentence(frank):
    raw, _ = make_token(frank, ["roms.write"])
    response = quiet().post("/api/roms", DEEP, content_type="application/json", **bearer(raw))
    assert response.status_code == 400 and response.json()["detail"]


def test_lone_surrogate_in_device_name(db):
    response = quiet().post(
        "/api/auth/device/init", json.dumps({**DEVICE, "name": "\ud800x"}), content_type="application/json"
    )
    assert response.status_code == 400 and response.json()["detail"]


def test_lone_surrogate_in_token_name(frank):
    raw, _ = make_token(frank, ["me.read", "me.write"])
    response = quiet().post(
        "/api/client-tokens",
        json.dumps({"name": "\udfff", "scopes": ["me.read"]}),
        content_type="application/json",
        **bearer(raw),
    )
    assert response.status_code == 400 and response.json()["detail"]


def test_multipart_without_boundary_on_device_init(db):
    response = quiet().post("/api/auth/device/init", b"x", content_type="multipart/form-data")
    assert response.status_code == 400
    assert response.json().get("detail")


@pytest.mark.parametrize(
    "body", ['{"code": 12345678}', '{"code": ["AAAAAAAA"]}', '{"code": 1e999}', '"AAAAAAAA"', "\xff"]
)
def test_wrong_types_on_exchange_are_400(db, body):
    response = quiet().post("/api/client-tokens/exchange", body, content_type="application/json")
    assert response.status_code == 400 and response.json()["detail"]


@pytest.mark.parametrize("scopes", [{"me.read": 1}, "me.read", [1], None, ["me.read"] * 10000])
def test_wrong_scope_types_on_device_init(db, scopes):
    response = quiet().post(
        "/api/auth/device/init",
        json.dumps({**DEVICE, "requested_scopes": scopes}),
        content_type="application/json",
    )
    assert response.status_code in (201, 400)
    assert "detail" in response.json() or "device_code" in response.json()


# --- the session recheck (SPEC section 7) -------------------------------------------------------
RECHECK = 60


def later(seconds):

    return time_machine.travel(time.time() + seconds, tick=True)


@pytest.fixture
def rechecked(idp, settings):
    configure(settings, idp, OIDC_SESSION_RECHECK_SECONDS=str(RECHECK))
    return idp


def test_an_api_request_with_only_the_session_cookie_is_rechecked(client, rechecked):
    sign_in(client, rechecked, "bob")
    rechecked.deactivate("bob")
    with later(RECHECK + 1):
        response = client.get("/api/roms")
    assert response.status_code == 401 and "identity provider no longer confirms your sign-in" in response.json()["detail"]
    assert len(rechecked.refreshes()) == 1


def test_a_bearer_request_carrying_an_ended_session_cookie_is_judged_by_its_token_alone(client, rechecked):
    sign_in(client, rechecked, "bob")
    raw, _ = tokens.create(User.objects.get(username="bob"), "app", ["me.read", "roms.read"], None)
    rechecked.deactivate("bob")
    with later(RECHECK + 1):
        response = client.post("/api/roms", "{}", content_type="application/json", **bearer(raw))
        assert response.status_code == 403 and "roms.write" in response.json()["detail"]
        assert client.get("/api/client-tokens").status_code == 401  # the session itself is gone


def test_the_session_row_and_the_session_data_never_hold_the_refresh_token(client, rechecked):
    sign_in(client, rechecked, "bob")
    (live,) = rechecked.refresh_tokens
    row = OIDCSession.objects.get()
    assert live not in row.refresh_token
    assert all(live not in s.session_data and live not in str(s.get_decoded()) for s in Session.objects.all())


def test_groups_that_grant_nothing_also_stop_the_persons_app_tokens(client, rechecked):
    sign_in(client, rechecked, "bob")  # an editor
    raw, _ = tokens.create(User.objects.get(username="bob"), "app", ["roms.read", "roms.write"], None)
    rechecked.change("bob", groups=["staff"])
    with later(RECHECK + 1):
        assert client.get("/").status_code == 302  # the session ended here
        response = Client().post("/api/roms", "{}", content_type="application/json", **bearer(raw))
    assert response.status_code in (401, 403)


def test_a_session_of_a_provider_removed_from_the_configuration_ends(client, rechecked, settings):
    sign_in(client, rechecked, "alice")  # an admin
    settings.OIDC_PROVIDER_CONFIGS = [{**settings.OIDC_PROVIDER_CONFIGS[0], "name": "another"}]
    with later(RECHECK + 1):
        response = client.get("/api/client-tokens")
    assert response.status_code == 401


def test_a_session_from_before_the_recheck_was_turned_on_is_rechecked(client, idp, settings):
    configure(settings, idp)
    sign_in(client, idp, "alice")
    configure(settings, idp, OIDC_SESSION_RECHECK_SECONDS=str(RECHECK))
    idp.deactivate("alice")
    with later(RECHECK + 1):
        response = client.get("/api/client-tokens")
    assert response.status_code == 401


# --- secrets in logs, history, pages ----------------------------------------------------------------
def test_no_raw_token_code_or_device_code_reaches_logs_or_history(frank, caplog):
    secrets_seen = []
    with caplog.at_level(logging.DEBUG):
        client = signed_in(frank)
        made = post_json(
            client, "/api/client-tokens", {"name": "a", "scopes": ["me.read", "me.write"]}
        ).json()
        raw = made["raw_token"]
        again = put_json(Client(), f"/api/client-tokens/{made['id']}/regenerate", **bearer(raw)).json()[
            "raw_token"
        ]
        code = post_json(Client(), f"/api/client-tokens/{made['id']}/pair", {}, **bearer(again)).json()[
            "code"
        ]
        Client().get(f"/api/client-tokens/pair/{code}/status", **bearer(again))
        exchanged = post_json(Client(REMOTE_ADDR="10.7.7.7"), "/api/client-tokens/exchange", {"code": code})
        post_json(Client(REMOTE_ADDR="10.7.7.7"), "/api/client-tokens/exchange", {"code": code})  # refused
        started = start_device()
        client.post("/pair/device", {"user_code": started["user_code"], "decision": "approve"})
        polled = post_json(Client(), "/api/auth/device/token", {"device_code": started["device_code"]}).json()
        post_json(Client(), "/api/auth/device/token", {"device_code": started["device_code"]})  # refused
        secrets_seen = [
            raw,
            again,
            code,
            exchanged.json()["raw_token"],
            started["device_code"],
            polled["access_token"],
        ]
    text = "\n".join(r.getMessage() for r in caplog.records)
    history = "\n".join(f"{e.reason} {e.detail}" for e in SignInEvent.objects.all())
    for secret in secrets_seen:
        assert secret not in text and secret not in history
    assert {"token_created", "pairing_exchanged", "device_approved"} <= set(
        SignInEvent.objects.values_list("reason", flat=True)
    )


def test_the_page_showing_a_new_raw_token_is_not_stored(frank):
    response = signed_in(frank).post(
        "/profile/client-tokens", {"name": "a", "scopes": ["me.read"], "expires_in": "30d"}
    )
    assert response.status_code == 200 and b"rmm_" in response.content
    assert "no-store" in response.get("Cache-Control", "")


def test_a_device_name_is_escaped_on_the_approval_page(frank):
    started = start_device(name="<script>alert(1)</script>", client="<img src=x onerror=alert(1)>")
    page = signed_in(frank).get("/pair/device", {"user_code": started["user_code"]}).content.decode()
    assert "<script>alert(1)" not in page and "<img src=x" not in page
    assert "&lt;script&gt;" in page


def test_a_pairing_code_differing_in_case_and_dashes_is_the_same_single_use_code(frank):
    raw, token = make_token(frank, ["me.read", "me.write"])
    code = post_json(Client(), f"/api/client-tokens/{token.pk}/pair", {}, **bearer(raw)).json()["code"]
    variant = f" {code[:4].lower()}-{code[4:]} "
    first = post_json(Client(REMOTE_ADDR="10.8.8.8"), "/api/client-tokens/exchange", {"code": variant})
    second = post_json(Client(REMOTE_ADDR="10.8.8.9"), "/api/client-tokens/exchange", {"code": code})
    assert first.status_code == 200 and second.status_code == 400
    assert Client().get("/api/client-tokens", **bearer(raw)).status_code == 401  # rotated


# --- the library as JSON: malformed input is a 400 sentence -------------------------------------
@pytest.fixture
def editor_token(frank):
    platform = Platform.objects.create(name="SNES", slug="snes")
    raw = tokens.create(frank, "lib", ["platforms.read", "platforms.write", "roms.read", "roms.write"], None)[
        0
    ]
    return raw, platform.pk


@pytest.mark.parametrize(
    "body",
    [
        {"name": "a", "file_name": "a.sfc", "platform_id": 10**30},
        {"name": "a", "file_name": "a.sfc", "platform_id": 1, "size_bytes": 10**30},
        {"name": "a", "file_name": "a.sfc", "platform_id": 1, "size_bytes": -1},
        {"name": "a", "file_name": "a.sfc", "platform_id": True},
        {"name": "a", "file_name": "a.sfc", "platform_id": 1.5},
        {"name": "a" * 10000, "file_name": "a.sfc", "platform_id": 1},
        {"name": "a\x00b", "file_name": "a.sfc", "platform_id": 1, "notes": ["x"]},
    ],
)
def test_bad_rom_bodies_are_400_sentences(editor_token, body):
    raw, platform_id = editor_token
    body = (
        {**body, "platform_id": platform_id}
        if type(body["platform_id"]) is int and body["platform_id"] == 1
        else body
    )
    response = quiet().post("/api/roms", json.dumps(body), content_type="application/json", **bearer(raw))
    assert response.status_code == 400 and response.json()["detail"]
    assert Rom.objects.count() == 0


@pytest.mark.parametrize(
    "path",
    [
        "/api/roms?limit=1e9",
        "/api/roms?offset=99999999999999999999999999",
        "/api/roms?platform_id=-1",
        "/api/roms?limit=%00",
        "/api/roms/99999999999999999999999",
        "/api/roms/%D9%A3",  # an Arabic-Indic digit: isdigit() but not ASCII
        "/api/platforms/0",
    ],
)
def test_bad_library_queries_are_sentences_not_500(editor_token, path):
    response = quiet().get(path, **bearer(editor_token[0]))
    assert response.status_code in (400, 404) and response.json()["detail"]



def test_lone_surrogate_in_a_rom_name_is_a_400(editor_token):
    raw, platform_id = editor_token
    good = quiet().post(
        "/api/roms",
        json.dumps({"name": "ok", "file_name": "a.sfc", "platform_id": platform_id}),
        content_type="application/json",
        **bearer(raw),
    )
    assert good.status_code == 201
    body = json.dumps({"name": "\ud800", "file_name": "b.sfc", "platform_id": platform_id})
    response = quiet().post("/api/roms", body, content_type="application/json", **bearer(raw))
    assert response.status_code == 400 and response.json()["detail"]


# --- device flow timing ---------------------------------------------------------------------------
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


HUGE = "9" * 30


@pytest.mark.parametrize(
    "method, path",
    [
        ("delete", f"/api/client-tokens/{HUGE}"),
        ("put", f"/api/client-tokens/{HUGE}/regenerate"),
        ("post", f"/api/client-tokens/{HUGE}/pair"),
        ("get", f"/api/client-tokens/pair/{'A' * 5000}/status"),
    ],
)
def test_huge_ids_in_token_paths_are_404_sentences(frank, method, path):
    raw, _ = make_token(frank, ["me.read", "me.write"])
    response = getattr(quiet(), method)(path, **bearer(raw))
    assert response.status_code == 404 and response.json()["detail"]


@pytest.mark.parametrize(
    "path",
    [
        f"/profile/client-tokens/{HUGE}/pair",
        f"/profile/client-tokens/{HUGE}/revoke",
        f"/profile/devices/{HUGE}/remove",
    ],
)
def test_huge_ids_in_profile_forms_go_back_to_the_profile(frank, path):
    client = signed_in(frank)
    client.raise_request_exception = False
    response = client.post(path)
    assert response.status_code == 302 and response["Location"] == "/profile"


def test_a_legacy_bearer_from_before_passwords_were_turned_off_stops(settings, frank):
    raw, _ = password_tokens.issue(frank)
    assert Client().get("/api/users/me", **bearer(raw)).status_code == 200
    settings.DISABLE_USERPASS_LOGIN = True
    response = Client().get("/api/users/me", **bearer(raw))
    assert response.status_code == 401 and "DISABLE_USERPASS_LOGIN" in response.json()["detail"]
    # ... while a client token of the same person keeps working (it is not a password).
    client_raw, _ = make_token(frank, ["me.read"])
    assert Client().get("/api/users/me", **bearer(client_raw)).status_code == 200


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
