"""``/api/client-tokens``: create, list, revoke, regenerate, and every refusal."""

import hashlib
import logging
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Role, SignInEvent, User
from devices.models import ClientToken
from tests.devices.helpers import (
    HUGE,
    bearer,
    make_token,
    post_json,
    put_json,
    quiet,
    signed_in,
    start_device,
)

pytestmark = pytest.mark.django_db


def create(client, headers=None, **fields):
    body = {"name": "Phone", "scopes": ["me.read", "roms.read"], "expires_in": "30d", **fields}
    return post_json(
        client, "/api/client-tokens", {k: v for k, v in body.items() if v is not None}, **(headers or {})
    )


def me(raw):
    return Client().get("/api/users/me", **bearer(raw))


def test_create_answers_the_raw_token_once_and_stores_only_its_hash(frank, caplog):
    client = signed_in(frank)
    with caplog.at_level(logging.INFO):
        response = create(client)
    assert response.status_code == 201 and response["Cache-Control"] == "no-store"
    body = response.json()
    raw = body["raw_token"]
    assert raw.startswith("rmm_") and len(raw) == 68 and int(raw[4:], 16) >= 0
    assert set(body) == {
        "id",
        "name",
        "scopes",
        "expires_at",
        "last_used_at",
        "created_at",
        "user_id",
        "device_id",
        "raw_token",
    }
    assert body["scopes"] == ["me.read", "roms.read"] and body["device_id"] is None
    token = ClientToken.objects.get()
    assert token.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in str(list(ClientToken.objects.values()))
    assert abs((token.expires_at - timezone.now() - timedelta(days=30)).total_seconds()) < 5
    assert me(raw).json()["username"] == "frank"
    listed = client.get("/api/client-tokens").json()
    assert [t["id"] for t in listed] == [token.pk] and "raw_token" not in listed[0]
    event = SignInEvent.objects.get()
    assert (event.method, event.reason, event.user) == ("app_token", "token_created", frank)
    assert raw not in event.detail and raw not in caplog.text and f"token {token.pk}" in event.detail


@pytest.mark.parametrize("choice,days", [("30d", 30), ("90d", 90), ("1y", 365), ("never", None)])
def test_expiry_choices(frank, choice, days):
    create(signed_in(frank), expires_in=choice)
    expires_at = ClientToken.objects.get().expires_at
    if days is None:
        assert expires_at is None
    else:
        assert abs((expires_at - timezone.now() - timedelta(days=days)).total_seconds()) < 5


@pytest.mark.parametrize(
    "fields,sentence",
    [
        ({"name": None}, "name is required."),
        ({"name": "   "}, "name is required."),
        ({"name": 5}, "name must be a string."),
        ({"name": "x" * 101}, "name is longer than 100 characters."),
        ({"scopes": None}, "scopes must be a non-empty list"),
        ({"scopes": []}, "scopes must be a non-empty list"),
        ({"scopes": "roms.read"}, "scopes must be a non-empty list"),
        ({"scopes": ["roms.delete"]}, "'roms.delete' is not a scope"),
        ({"expires_in": "2d"}, "expires_in must be one of 30d, 90d, 1y, never."),
    ],
)
def test_bad_bodies_are_400_naming_the_field(frank, fields, sentence, caplog):
    with caplog.at_level(logging.WARNING, logger="devices"):
        response = create(signed_in(frank), **fields)
    assert response.status_code == 400 and sentence in response.json()["detail"]
    assert not ClientToken.objects.exists() and "client token refused" in caplog.text


def test_body_that_is_not_json_is_400(frank):
    response = signed_in(frank).post("/api/client-tokens", "{nope", content_type="application/json")
    assert response.status_code == 400 and "not valid JSON" in response.json()["detail"]


def test_scope_beyond_the_role_is_403_at_creation(vera):
    response = create(signed_in(vera), scopes=["roms.read", "roms.write"])
    assert response.status_code == 403
    assert response.json()["detail"] == (
        "You cannot give a token the roms.write scope: your viewer role does not grant it. Choose fewer scopes."
    )
    assert not ClientToken.objects.exists()


def test_a_token_cannot_mint_a_token_wider_than_itself(frank):
    raw = create(signed_in(frank), scopes=["me.read", "me.write"]).json()["raw_token"]
    response = create(Client(), scopes=["roms.write"], headers=bearer(raw))
    assert (
        response.status_code == 403
        and "the token making this request does not have it" in response.json()["detail"]
    )
    assert create(Client(), scopes=["me.read"], headers=bearer(raw)).status_code == 201


def test_a_read_only_token_cannot_create_or_revoke(frank):
    raw = create(signed_in(frank), scopes=["me.read"]).json()["raw_token"]
    response = create(Client(), scopes=["me.read"], headers=bearer(raw))
    assert response.status_code == 403 and "me.write" in response.json()["detail"]
    assert Client().get("/api/client-tokens", **bearer(raw)).status_code == 200


def test_twenty_five_tokens_per_person(frank, vera):
    client = signed_in(frank)
    for n in range(25):
        assert create(client, name=f"t{n}").status_code == 201
    response = create(client, name="one too many")
    assert response.status_code == 400 and "already have 25 app tokens" in response.json()["detail"]
    assert ClientToken.objects.filter(user=frank).count() == 25
    assert create(signed_in(vera)).status_code == 201  # the limit is per person
    token = ClientToken.objects.filter(user=frank).first()
    client.delete(f"/api/client-tokens/{token.pk}")
    assert create(client, name="after a revoke").status_code == 201


def test_anonymous_gets_401(db):
    assert Client().get("/api/client-tokens").status_code == 401
    assert post_json(Client(), "/api/client-tokens", {}).status_code in (401, 403)


def test_session_create_needs_csrf(frank):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(frank, backend="accounts.oidc.backend.OIDCBackend")
    response = create(browser)
    assert response.status_code == 403 and "CSRF" in response.json()["detail"]
    assert not ClientToken.objects.exists()


def test_delete_revokes_and_the_token_stops(frank, vera):
    client = signed_in(frank)
    body = create(client).json()
    assert client.delete(f"/api/client-tokens/{body['id']}").json() == {"detail": "Token revoked."}
    assert me(body["raw_token"]).status_code == 401
    assert client.get("/api/client-tokens").json() == []
    assert client.delete(f"/api/client-tokens/{body['id']}").status_code == 404


def test_someone_elses_token_is_404_and_untouched(frank, vera):
    body = create(signed_in(frank)).json()
    other = signed_in(vera)
    assert other.delete(f"/api/client-tokens/{body['id']}").status_code == 404
    assert put_json(other, f"/api/client-tokens/{body['id']}/regenerate").status_code == 404
    assert other.post(f"/api/client-tokens/{body['id']}/pair").status_code == 404
    assert me(body["raw_token"]).status_code == 200


def test_regenerate_gives_a_new_value_and_the_old_one_stops(frank):
    client = signed_in(frank)
    body = create(client).json()
    response = put_json(client, f"/api/client-tokens/{body['id']}/regenerate")
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    new = response.json()["raw_token"]
    assert new != body["raw_token"] and response.json()["id"] == body["id"]
    assert me(body["raw_token"]).status_code == 401 and me(new).status_code == 200


def test_regenerate_of_a_revoked_or_expired_token_is_404(frank):
    client = signed_in(frank)
    body = create(client).json()
    ClientToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert put_json(client, f"/api/client-tokens/{body['id']}/regenerate").status_code == 404


def test_logout_with_a_client_token_revokes_it(frank):
    raw = create(signed_in(frank)).json()["raw_token"]
    assert Client().post("/api/logout", **bearer(raw)).json() == {"detail": "Token revoked."}
    assert me(raw).status_code == 401


def test_demoted_owner_lists_tokens_whose_scopes_narrowed(frank):
    raw = create(signed_in(frank), scopes=["me.read", "me.write", "roms.write"]).json()["raw_token"]
    User.objects.filter(pk=frank.pk).update(role=Role.VIEWER)
    response = create(Client(), scopes=["roms.write"], headers=bearer(raw))
    assert response.status_code == 403 and "viewer role does not grant it" in response.json()["detail"]


def test_wrong_methods_are_405(frank):
    client = signed_in(frank)
    assert client.put("/api/client-tokens").status_code == 405
    assert client.get("/api/client-tokens/1/regenerate").status_code == 405


# --- a token cannot widen itself through a sibling ------------------------------------------------
def test_a_narrow_token_cannot_regenerate_a_wider_sibling(frank):
    narrow, _ = make_token(frank, ["me.read", "me.write"], "narrow")
    _, wide = make_token(frank, ["me.read", "roms.read", "roms.write"], "wide")
    response = put_json(Client(), f"/api/client-tokens/{wide.pk}/regenerate", **bearer(narrow))
    assert response.status_code == 403
    assert "roms.read scope" in response.json()["detail"]  # the first scope the caller lacks
    assert "raw_token" not in response.json()


def test_a_narrow_token_cannot_create_a_wider_one(frank):
    narrow, _ = make_token(frank, ["me.read", "me.write"])
    response = post_json(
        Client(), "/api/client-tokens", {"name": "x", "scopes": ["roms.write"]}, **bearer(narrow)
    )
    assert response.status_code == 403 and "roms.write" in response.json()["detail"]
    assert ClientToken.objects.count() == 1


# --- one person's token against another's, and the owner's role and state -------------------------
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


def test_device_token_approved_as_editor_loses_write_on_demotion(frank):
    raw, _ = make_token(frank, ["me.read", "roms.read", "roms.write"])
    User.objects.filter(pk=frank.pk).update(role=Role.VIEWER)
    response = post_json(Client(), "/api/roms", {"name": "x"}, **bearer(raw))
    assert response.status_code == 403 and "roms.write" in response.json()["detail"]


def test_deactivated_owner_token_stops_even_if_deactivated_by_update(frank):
    raw, _ = make_token(frank, ["me.read"])
    User.objects.filter(pk=frank.pk).update(is_active=False)  # no save signal
    assert Client().get("/api/client-tokens", **bearer(raw)).status_code == 401


def test_cookie_session_json_write_needs_csrf(frank):
    client = Client(enforce_csrf_checks=True)
    client.force_login(frank, backend="accounts.oidc.backend.OIDCBackend")
    response = post_json(client, "/api/client-tokens", {"name": "x", "scopes": ["me.read"]})
    assert response.status_code == 403 and "CSRF" in response.json()["detail"]
    assert ClientToken.objects.count() == 0


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


# --- secrets in logs and history ------------------------------------------------------------------
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
