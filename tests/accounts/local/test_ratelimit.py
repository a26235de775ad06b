"""Password attempts are counted before the password is checked: per account and address, per
account across all addresses (a higher ceiling), per address; the form, /api/login, /api/token
and HTTP Basic share the counts, and a stranger cannot keep the owner locked out."""

import logging

import pytest
from django.test import Client

from accounts.models import ApiToken, Role, SignInEvent, User
from tests.accounts.helpers import PASSWORD, basic


def local(username="frank", role=Role.VIEWER, password=PASSWORD, **fields):
    fields.setdefault("email", f"{username}@local.example")
    return User.objects.create_user(username, password=password, role=role, **fields)


def refusal_lines(caplog, start="password sign-in refused"):
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith(start)]


def grant(browser, username, password):
    return browser.post("/api/token", {"grant_type": "password", "username": username, "password": password})


@pytest.mark.django_db
def test_password_form_is_rate_limited_per_account(client, caplog):
    local()
    for _ in range(5):
        page = client.post("/login", {"username": "frank", "password": "wrong"})
        assert page.status_code == 200 and "Please enter a correct" not in page.content.decode()
        assert "The username or password is incorrect." in page.content.decode()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="accounts"):
        page = client.post("/login", {"username": "frank", "password": PASSWORD})
    assert "Too many failed sign-in attempts" in page.content.decode()
    assert "Wait 15 minutes" in page.content.decode()
    assert client.get("/api/users/me").status_code == 401
    assert refusal_lines(caplog) == [
        "password sign-in refused: reason=rate_limited method=password username='frank'"
    ]
    assert SignInEvent.objects.filter(reason="rate_limited").count() == 1


@pytest.mark.django_db
def test_rate_limit_counts_form_api_login_and_token_together(client):
    local()
    client.post("/login", {"username": "frank", "password": "wrong"})
    client.post("/login", {"username": "FRANK", "password": "wrong"})
    client.post("/api/login", HTTP_AUTHORIZATION=basic("frank", "wrong"))
    client.post("/api/token", {"grant_type": "password", "username": "frank", "password": "wrong"})
    client.get("/api/users/me", HTTP_AUTHORIZATION=basic("frank", "wrong"))
    response = client.post(
        "/api/token", {"grant_type": "password", "username": "frank", "password": PASSWORD}
    )
    assert response.status_code == 429 and response.json()["error"] == "invalid_grant"
    assert "Too many failed" in response.json()["error_description"]
    response = client.post("/api/login", HTTP_AUTHORIZATION=basic("frank", PASSWORD))
    assert response.status_code == 429
    assert not ApiToken.objects.exists()


@pytest.mark.django_db
def test_rate_limit_per_address_covers_other_accounts(client, settings):
    settings.LOGIN_FAILURES_PER_ADDRESS = 3
    local()
    for name in ("a", "b", "c"):
        client.post("/login", {"username": name, "password": "wrong"})
    page = client.post("/login", {"username": "frank", "password": PASSWORD})
    assert "Too many failed sign-in attempts" in page.content.decode()
    elsewhere = Client(REMOTE_ADDR="10.0.0.9")
    assert elsewhere.post("/login", {"username": "frank", "password": PASSWORD}).status_code == 302


@pytest.mark.django_db
def test_the_account_has_a_higher_ceiling_across_all_addresses(settings):
    settings.LOGIN_FAILURES_PER_ACCOUNT_ALL_ADDRESSES = 8
    local()
    for n in range(4):
        guesser = Client(REMOTE_ADDR=f"198.51.100.{n}")
        guesser.post("/login", {"username": "frank", "password": "wrong"})
        guesser.post("/login", {"username": "frank", "password": "wrong"})
    owner = Client(REMOTE_ADDR="192.0.2.10")
    page = owner.post("/login", {"username": "frank", "password": PASSWORD})
    assert "Too many failed sign-in attempts" in page.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "second,shared",
    [("2001:db8:1:2::beef", True), ("2001:db8:1:2:ffff:ffff:ffff:1", True), ("2001:db8:1:3::1", False)],
)
def test_ipv6_clients_count_by_their_64(settings, second, shared):
    settings.LOGIN_FAILURES_PER_ADDRESS = 3
    local()
    first = Client(REMOTE_ADDR="2001:db8:1:2::1")
    for name in ("a", "b", "c"):
        first.post("/login", {"username": name, "password": "wrong"})
    page = Client(REMOTE_ADDR=second).post("/login", {"username": "frank", "password": PASSWORD})
    assert ("Too many failed sign-in attempts" in page.content.decode()) is shared
    assert (page.status_code == 302) is not shared


@pytest.mark.django_db
def test_success_forgives_the_account_failures(client):
    local()
    for _ in range(4):
        client.post("/login", {"username": "frank", "password": "wrong"})
    assert client.post("/login", {"username": "frank", "password": PASSWORD}).status_code == 302
    client.logout()
    for _ in range(4):
        client.post("/login", {"username": "frank", "password": "wrong"})
    assert client.post("/login", {"username": "frank", "password": PASSWORD}).status_code == 302


# --- one address, one owner, one campaign ----------------------------------------------------------
@pytest.mark.django_db
def test_one_address_cannot_push_the_owner_past_the_account_wide_ceiling(settings):
    # A stranger must not keep an administrator's password login locked: refused attempts (past
    # the pair and address limits) must not keep feeding the account-wide ceiling.
    User.objects.create_user("alice", password=PASSWORD, role=Role.ADMIN)
    attacker = Client(REMOTE_ADDR="198.51.100.66")
    for _ in range(settings.LOGIN_FAILURES_PER_ACCOUNT_ALL_ADDRESSES + 1):
        grant(attacker, "alice", "guess")
    assert grant(attacker, "alice", PASSWORD).status_code == 429
    owner = Client(REMOTE_ADDR="192.0.2.10")
    assert grant(owner, "alice", PASSWORD).status_code == 200, "the owner is locked out by one address"


@pytest.mark.django_db
def test_the_account_wide_ceiling_still_stops_a_spread_out_campaign(settings):
    settings.LOGIN_FAILURES_PER_ACCOUNT_ALL_ADDRESSES = 12
    User.objects.create_user("alice", password=PASSWORD, role=Role.ADMIN)
    for n in range(4):  # four addresses, each under its own pair limit of 5
        for _ in range(3):
            grant(Client(REMOTE_ADDR=f"198.51.100.{n}"), "alice", "guess")
    assert grant(Client(REMOTE_ADDR="198.51.100.200"), "alice", PASSWORD).status_code == 429


@pytest.mark.django_db
@pytest.mark.parametrize(
    "addresses",
    [
        ["2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:fffe", "2001:db8:1:2:abcd::9"],
        ["192.0.2.7", "::ffff:192.0.2.7", "::ffff:c000:207"],
    ],
    ids=["one IPv6 /64", "IPv4 and its IPv4-mapped forms"],
)
def test_address_forms_of_one_client_share_one_address_counter(settings, addresses):
    settings.LOGIN_FAILURES_PER_ADDRESS = 3
    settings.LOGIN_FAILURES_PER_ACCOUNT = 1000
    User.objects.create_user("frank", password=PASSWORD)
    for n, address in enumerate(addresses):
        grant(Client(REMOTE_ADDR=address), f"someone{n}", "guess")
    assert grant(Client(REMOTE_ADDR=addresses[0]), "frank", PASSWORD).status_code == 429


@pytest.mark.django_db
def test_own_successful_sign_ins_do_not_buy_more_guesses_from_an_address(settings):
    # The attacker holds an account of their own and signs into it between guesses at another's.
    settings.LOGIN_FAILURES_PER_ADDRESS = 6
    settings.LOGIN_FAILURES_PER_ACCOUNT = 1000
    User.objects.create_user("frank", password=PASSWORD)
    User.objects.create_user("mallory", password="mallorys-own-password")
    attacker = Client(REMOTE_ADDR="198.51.100.9")
    refused = 0
    for _ in range(12):
        assert grant(attacker, "mallory", "mallorys-own-password").status_code in (200, 429)
        refused += grant(attacker, "frank", "guess").status_code == 429
    assert refused >= 6, "successes reset the address counter"
