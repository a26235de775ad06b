"""/profile/sessions: every open session of the person, in words, with this browser marked."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from accounts.models import Role, Session
from accounts.sessions import listing
from tests.accounts.helpers import PASSWORD, basic, password_session
from tests.accounts.oidc.test_several_providers import configure_two, sign_in_with
from tests.accounts.sessions.conftest import EDGE_WINDOWS, SAFARI_IPHONE, key_of, rows_of, text
from tests.fakeidp import FakeProvider

pytestmark = pytest.mark.django_db

SIGNED_IN_AT = datetime(2026, 12, 7, 10, 15, 42, tzinfo=UTC)


def test_the_page_lists_every_open_session_of_the_person_with_this_browser_first(browser_of):
    with time_machine.travel(SIGNED_IN_AT, tick=False):
        laptop = browser_of("alice")
    with time_machine.travel(SIGNED_IN_AT + timedelta(minutes=5), tick=False):
        phone = browser_of("alice", SAFARI_IPHONE, "203.0.113.9")
        browser_of("bob", EDGE_WINDOWS, "192.0.2.1")
    with time_machine.travel(SIGNED_IN_AT + timedelta(minutes=9, seconds=59), tick=False):
        rows = rows_of(laptop.get("/profile/sessions"))
    assert [(r["browser"], r["address"], r["way_in"], r["started"], r["last_active"], r["this_browser"])
            for r in rows] == [
        ("Firefox on Linux this browser", "198.51.100.7", "Authentik", "2026-12-07 10:15", "2026-12-07 10:25",
         True),
        ("Mobile Safari on iOS", "203.0.113.9", "Authentik", "2026-12-07 10:20", "2026-12-07 10:20", False),
    ]
    # The phone sees the same two sessions, itself marked.
    assert [(r["browser"], r["this_browser"]) for r in rows_of(phone.get("/profile/sessions"))] == [
        ("Mobile Safari on iOS this browser", True),
        ("Firefox on Linux", False),
    ]


def test_this_browsers_button_is_the_ordinary_logout_and_the_others_name_their_session(browser_of):
    laptop, phone = browser_of("alice"), browser_of("alice", SAFARI_IPHONE)
    this, other = rows_of(laptop.get("/profile/sessions"))
    assert this["id"] is None and 'action="/logout"' in laptop.get("/profile/sessions").content.decode()
    assert other["id"] == Session.objects.get(session_key=key_of(phone)).public_id


def test_no_session_key_reaches_the_page(browser_of):
    laptop, phone = browser_of("alice"), browser_of("alice", SAFARI_IPHONE)
    html = laptop.get("/profile/sessions").content.decode()
    assert key_of(laptop) not in html and key_of(phone) not in html


def test_an_expired_session_is_not_listed(browser_of):
    laptop, phone = browser_of("alice"), browser_of("alice", SAFARI_IPHONE)
    Session.objects.filter(session_key=key_of(phone)).update(expire_date=timezone.now() - timedelta(seconds=1))
    assert [r["browser"] for r in rows_of(laptop.get("/profile/sessions"))] == ["Firefox on Linux this browser"]


def test_the_way_in_says_password_for_the_form_and_for_an_apps_api_login(db):
    browser, paula = password_session("paula", role=Role.VIEWER, HTTP_USER_AGENT=EDGE_WINDOWS)
    app = Client(HTTP_USER_AGENT="curl/8.5.0")
    assert app.post("/api/login", HTTP_AUTHORIZATION=basic("paula", PASSWORD)).status_code == 200
    rows = rows_of(browser.get("/profile/sessions"))
    assert [(r["browser"], r["way_in"]) for r in rows] == [
        ("Edge on Windows this browser", "Password"),
        ("curl", "Password, from an app (/api/login)"),
    ]


def test_the_way_in_names_each_provider_as_its_button_does(settings, requests_mock):
    authentik, authelia = FakeProvider(requests_mock, "authentik"), FakeProvider(requests_mock, "authelia")
    configure_two(settings, authentik, authelia)
    first, second = Client(), Client()
    sign_in_with(first, authentik, "carol")
    sign_in_with(second, authelia, "carol")  # linked to carol's account by her verified email
    assert second.get("/api/users/me").json()["username"] == "carol"
    assert [r["way_in"] for r in rows_of(first.get("/profile/sessions"))] == ["Authentik", "Authelia"]


def test_the_profile_links_to_the_page_and_strangers_are_sent_to_sign_in(browser_of):
    assert 'href="/profile/sessions"' in browser_of("alice").get("/profile").content.decode()
    response = Client().get("/profile/sessions")
    assert response.status_code == 302 and response["Location"].startswith("/login?next=/profile/sessions")


def test_many_sessions_are_listed_page_by_page_with_this_browser_on_each_and_all_can_be_signed_out(
        browser_of, monkeypatch):
    monkeypatch.setattr(listing, "SHOWN", 4)
    with time_machine.travel(SIGNED_IN_AT, tick=False):
        laptop = browser_of("alice")  # the least recently active of all
    others = []
    for minute in range(1, 7):
        with time_machine.travel(SIGNED_IN_AT + timedelta(minutes=minute), tick=False):
            others.append(browser_of("alice", SAFARI_IPHONE, f"203.0.113.{minute}"))
    with time_machine.travel(SIGNED_IN_AT + timedelta(minutes=8), tick=False):
        first, second = laptop.get("/profile/sessions"), laptop.get("/profile/sessions?page=2")
        beyond = laptop.get("/profile/sessions?page=99")
    addresses = [[r["address"] for r in rows_of(page)] for page in (first, second, beyond)]
    assert addresses == [["198.51.100.7", "203.0.113.6", "203.0.113.5", "203.0.113.4", "203.0.113.3"],
                         ["198.51.100.7", "203.0.113.2", "203.0.113.1"],
                         ["198.51.100.7", "203.0.113.2", "203.0.113.1"]]  # past the end: the last page
    assert all(rows_of(page)[0]["this_browser"] for page in (first, second))
    assert "Page 1 of 2: 6 other sessions · Older →" in text(first.content.decode())
    assert "← More recent · Page 2 of 2: 6 other sessions" in text(second.content.decode())
    response = laptop.post("/profile/sessions/sign-out-others", follow=True)
    assert "Signed out 6 other sessions" in response.content.decode()
    page = laptop.get("/profile/sessions")
    assert [r["address"] for r in rows_of(page)] == ["198.51.100.7"] and "Page 1 of" not in text(page.content.decode())
    assert all(other.get("/api/users/me").status_code == 401 for other in others)
