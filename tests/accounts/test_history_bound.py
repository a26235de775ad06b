"""Refusals fill the sign-in history only up to a bound per client, but for the signed-in person's own.

Each refused password, forged callback or unknown link was a row: one client could write
hundreds a second (on SQLite each takes the writer lock). The first ones of a minute stay rows,
so the history still shows the attack; one row says the rest are counted in the log.
"""

import logging
import time
from base64 import b64encode

import pytest
from django.test import Client, RequestFactory

from accounts.audit import history, refusals
from accounts.models import Role, SignInEvent, User

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-password-1"


@pytest.fixture(autouse=True)
def _bound(settings):
    settings.SIGNIN_HISTORY_REFUSALS_PER_MINUTE = 5


def wrong_passwords(address, times, username="frank"):
    guesser = Client(REMOTE_ADDR=address)
    for n in range(times):
        guesser.post("/login", {"username": username, "password": f"wrong-{n}"})


def reasons(address):
    return list(SignInEvent.objects.filter(ip_address=address).order_by("pk").values_list("reason", flat=True))


def test_a_guessing_client_leaves_its_first_refusals_and_one_row_for_the_rest(caplog):
    User.objects.create_user("frank", password=PASSWORD)
    with caplog.at_level(logging.WARNING, logger="accounts"):
        wrong_passwords("192.0.2.7", 40)
    assert reasons("192.0.2.7") == ["invalid_credentials"] * 5 + ["too_many_refusals"]
    summary = SignInEvent.objects.get(reason="too_many_refusals")
    assert (summary.method, summary.outcome, summary.username) == ("password", "refused", "frank")
    assert "More than 5 refusals from this address within a minute (this one: rate_limited)" in summary.detail
    lines = [r.getMessage() for r in caplog.records if r.name == "accounts.audit.refusals"]
    assert lines == [
        (
            "sign-in history: more than 5 refusals from 192.0.2.7 within a minute; the rest of this "
            "minute's are in this log only"
        ),
        "sign-in history: 10 refusals from 192.0.2.7 this minute not recorded one by one",
    ]
    # The operator's log keeps a line for every attempt.
    assert sum("password sign-in refused" in r.getMessage() for r in caplog.records) == 40


def test_the_bound_is_per_client_and_an_ipv6_64_is_one_client():
    User.objects.create_user("frank", password=PASSWORD)
    wrong_passwords("2001:db8:5:5::1", 4, username="a")
    wrong_passwords("2001:db8:5:5:ffff::2", 4, username="b")  # the same /64
    wrong_passwords("198.51.100.3", 2, username="c")  # someone else
    assert SignInEvent.objects.filter(ip_address__startswith="2001:db8:5:5:").count() == 6
    assert reasons("198.51.100.3") == ["invalid_credentials"] * 2


def test_refused_sign_in_callbacks_are_bounded_too(authentik):
    forger = Client(REMOTE_ADDR="203.0.113.5")
    for n in range(30):
        assert forger.get("/api/oauth/openid", {"code": f"c{n}", "state": f"s{n}"}).status_code in (200, 302)
    assert reasons("203.0.113.5") == ["state_unknown"] * 5 + ["too_many_refusals"]


def test_refused_break_glass_links_are_bounded_too():
    prober = Client(REMOTE_ADDR="203.0.113.6")
    for n in range(12):
        prober.post("/login/link", {"token": f"guess-{n}"})
    assert reasons("203.0.113.6") == ["link_invalid"] * 5 + ["too_many_refusals"]


def test_a_new_minute_records_again(monkeypatch):
    monkeypatch.setattr(refusals, "WINDOW", 1)
    User.objects.create_user("frank", password=PASSWORD)
    wrong_passwords("192.0.2.8", 8, username="x")
    time.sleep(1.2)
    wrong_passwords("192.0.2.8", 1, username="y")
    assert reasons("192.0.2.8") == ["invalid_credentials"] * 5 + ["too_many_refusals", "invalid_credentials"]


def test_successes_and_refusals_of_people_signed_in_are_never_bounded():
    frank = User.objects.create_user("frank", password=PASSWORD, role=Role.EDITOR)
    for _ in range(8):
        request = RequestFactory().get("/", REMOTE_ADDR="192.0.2.9")
        request.user = frank
        history.record(request, SignInEvent.Method.DEVICE, SignInEvent.Outcome.REFUSED, user=frank,
                       reason="device_denied")
    owner = Client(REMOTE_ADDR="192.0.2.9")
    for _ in range(8):
        owner.post("/login", {"username": "frank", "password": PASSWORD})
        owner.logout()
    assert SignInEvent.objects.filter(reason="device_denied").count() == 8
    assert SignInEvent.objects.filter(outcome="success").count() == 8


def test_a_session_cookie_does_not_lift_the_bound_on_others_refusals():
    """Attack: /api/token and HTTP Basic are csrf-exempt and name any username. A viewer (or an
    account self-registered through the provider) sends its own session cookie with each guess
    naming a victim; every refusal must still count toward its address's bound."""
    User.objects.create_user("frank", password=PASSWORD)
    guesser = Client(REMOTE_ADDR="192.0.2.66")
    guesser.force_login(User.objects.create_user("mallory", role=Role.VIEWER))
    for n in range(40):
        guesser.post("/api/token", {"grant_type": "password", "username": "frank", "password": f"wrong-{n}"})
    rows = SignInEvent.objects.filter(ip_address="192.0.2.66", outcome="refused")
    assert rows.count() <= 6, f"{rows.count()} refusal rows naming 'frank' from one signed-in client"


def test_a_session_cookie_does_not_lift_the_bound_on_basic_or_login_guesses():
    User.objects.create_user("frank", password=PASSWORD)
    guesser = Client(REMOTE_ADDR="192.0.2.68")
    guesser.force_login(User.objects.create_user("mallory", role=Role.VIEWER))
    for n in range(20):
        guesser.get("/api/users/me", HTTP_AUTHORIZATION="Basic " + b64encode(f"frank:wrong-{n}".encode()).decode())
        guesser.post("/api/login", HTTP_AUTHORIZATION="Basic " + b64encode(f"frank:wrong-{n}".encode()).decode())
    assert SignInEvent.objects.filter(ip_address="192.0.2.68", outcome="refused").count() <= 6


def test_anonymous_guesses_at_api_token_are_bounded():
    """HELD: the same guesses without the cookie are bounded (passes)."""
    User.objects.create_user("frank", password=PASSWORD)
    guesser = Client(REMOTE_ADDR="192.0.2.67")
    for n in range(40):
        guesser.post("/api/token", {"grant_type": "password", "username": "frank", "password": f"wrong-{n}"})
    assert SignInEvent.objects.filter(ip_address="192.0.2.67", outcome="refused").count() == 6
