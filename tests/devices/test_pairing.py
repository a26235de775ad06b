"""Pairing codes: make, status, exchange once, rotation, expiry, rate limit."""

import logging
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import SignInEvent, User
from devices.codes import ALPHABET
from devices.models import ClientToken, PairingCode
from tests.devices.helpers import bearer, make_token, post_json, signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(frank):
    client = signed_in(frank)
    body = post_json(
        client, "/api/client-tokens", {"name": "Deck", "scopes": ["me.read", "roms.read"]}
    ).json()
    return client, body


def make_code(client, token_id):
    response = client.post(f"/api/client-tokens/{token_id}/pair")
    assert response.status_code == 200, response.content
    return response.json()


def exchange(code, address="10.0.0.1"):
    return post_json(Client(REMOTE_ADDR=address), "/api/client-tokens/exchange", {"code": code})


def me(raw):
    return Client().get("/api/users/me", **bearer(raw))


def test_pair_then_exchange_hands_over_a_rotated_token_once(owner, caplog):
    client, token = owner
    body = make_code(client, token["id"])
    assert body["expires_in"] == 60 and len(body["code"]) == 8 and set(body["code"]) <= set(ALPHABET)
    assert client.get(f"/api/client-tokens/pair/{body['code']}/status").json()["status"] == "pending"
    typed = f"{body['code'][:4].lower()}-{body['code'][4:]}"  # dash and case ignored
    with caplog.at_level(logging.INFO):
        response = exchange(typed)
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    raw = response.json()["raw_token"]
    assert response.json()["id"] == token["id"] and raw != token["raw_token"]
    assert me(raw).status_code == 200
    assert me(token["raw_token"]).status_code == 401  # the copy shown at creation stops working
    assert exchange(body["code"]).status_code == 404  # once
    assert client.get(f"/api/client-tokens/pair/{body['code']}/status").status_code == 404
    event = SignInEvent.objects.get(method="pairing")
    assert (event.reason, event.detail) == ("pairing_exchanged", f"token {token['id']}")
    ours = " ".join(r.getMessage() for r in caplog.records if r.name.startswith(("accounts", "devices")))
    assert raw not in caplog.text and body["code"] not in ours
    assert body["code"] not in str(list(PairingCode.objects.values()))


def test_expired_code_is_refused_and_changes_nothing(owner):
    client, token = owner
    code = make_code(client, token["id"])["code"]
    PairingCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = exchange(code)
    assert response.status_code == 404 and "expired" in response.json()["detail"]
    assert me(token["raw_token"]).status_code == 200
    assert client.get(f"/api/client-tokens/pair/{code}/status").status_code == 404


@pytest.mark.parametrize(
    "typed,status", [("ABCD-EFGH", 404), ("short", 404), ("", 400), ("IIII0000", 404), ("x" * 21, 400)]
)
def test_wrong_codes_are_refused(owner, typed, status):
    """An unknown code is RomM's 404; no code, or one too long, is a bad body (400)."""
    client, token = owner
    make_code(client, token["id"])
    response = exchange(typed)
    assert response.status_code == status and response.json()["detail"]
    assert me(token["raw_token"]).status_code == 200


def test_a_new_code_replaces_the_earlier_one(owner):
    client, token = owner
    first = make_code(client, token["id"])["code"]
    second = make_code(client, token["id"])["code"]
    assert exchange(first).status_code == 404
    assert exchange(second).status_code == 200


def test_code_of_a_revoked_token_gives_nothing(owner):
    client, token = owner
    code = make_code(client, token["id"])["code"]
    ClientToken.objects.update(revoked=True)
    assert exchange(code).status_code == 404


def test_code_of_a_deactivated_owner_gives_nothing(owner, frank):
    client, token = owner
    code = make_code(client, token["id"])["code"]
    User.objects.filter(pk=frank.pk).update(is_active=False)
    assert exchange(code).status_code == 404


def test_five_exchanges_a_minute_per_address(owner, caplog):
    client, token = owner
    for _ in range(5):
        assert exchange("ABCD-EFGH").status_code == 404
    code = make_code(client, token["id"])["code"]
    with caplog.at_level(logging.WARNING, logger="devices"):
        response = exchange(code)
    assert response.status_code == 429 and "Wait a minute" in response.json()["detail"]
    assert "rate limited" in caplog.text
    assert me(token["raw_token"]).status_code == 200  # the refused try changed nothing
    assert exchange(code, address="10.0.0.2").status_code == 200  # another address has its own count


def test_status_is_only_for_the_owner(owner, vera):
    client, token = owner
    code = make_code(client, token["id"])["code"]
    assert signed_in(vera).get(f"/api/client-tokens/pair/{code}/status").status_code == 404
    assert Client().get(f"/api/client-tokens/pair/{code}/status").status_code == 401


def test_exchange_needs_no_csrf_and_no_credentials(owner):
    client, token = owner
    code = make_code(client, token["id"])["code"]
    response = post_json(Client(enforce_csrf_checks=True), "/api/client-tokens/exchange", {"code": code})
    assert response.status_code == 200


def test_exchange_is_post_only(db):
    assert Client().get("/api/client-tokens/exchange").status_code == 405


def test_pair_page_shows_the_code_without_spending_it(owner):
    client, token = owner
    code = make_code(client, token["id"])["code"]
    page = Client().get(f"/pair?code={code}")
    assert page.status_code == 200 and f"{code[:4]}-{code[4:]}" in page.content.decode()
    assert exchange(code).status_code == 200


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
    assert exchanged.status_code == 404


def test_pair_status_of_someone_elses_code_is_404(frank, vera):
    raw, token = make_token(frank, ["me.read", "me.write"])
    code = post_json(Client(), f"/api/client-tokens/{token.pk}/pair", {}, **bearer(raw)).json()["code"]
    mine, _ = make_token(vera, ["me.read"])
    assert Client().get(f"/api/client-tokens/pair/{code}/status", **bearer(mine)).status_code == 404
    assert Client().get(f"/api/client-tokens/pair/{code}/status", **bearer(raw)).status_code == 200


def test_a_pairing_code_differing_in_case_and_dashes_is_the_same_single_use_code(frank):
    raw, token = make_token(frank, ["me.read", "me.write"])
    code = post_json(Client(), f"/api/client-tokens/{token.pk}/pair", {}, **bearer(raw)).json()["code"]
    variant = f" {code[:4].lower()}-{code[4:]} "
    first = post_json(Client(REMOTE_ADDR="10.8.8.8"), "/api/client-tokens/exchange", {"code": variant})
    second = post_json(Client(REMOTE_ADDR="10.8.8.9"), "/api/client-tokens/exchange", {"code": code})
    assert first.status_code == 200 and second.status_code == 404
    assert Client().get("/api/client-tokens", **bearer(raw)).status_code == 401  # rotated


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
    assert statuses[:5] == [404] * 5 and statuses[5:] == [429, 429]


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
