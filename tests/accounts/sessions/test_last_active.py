"""A session's last_active: written at sign-in, then by one conditional UPDATE at most once a
minute, and by no statement at all on the other requests of that minute."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Session
from accounts.sessions.engine import SessionStore
from tests.accounts.helpers import whoami
from tests.accounts.sessions.conftest import key_of

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 12, 7, 10, 0, 0, tzinfo=UTC)
WRITES = ("INSERT", "UPDATE", "DELETE")


def last_active(browser):
    return Session.objects.get(session_key=key_of(browser)).last_active


def writes_of(browser, path="/profile"):
    """The write statements of one request of ``browser``."""
    with CaptureQueriesContext(connection) as queries:
        assert browser.get(path).status_code == 200
    return [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith(WRITES)]


def at(seconds):
    return time_machine.travel(T0 + timedelta(seconds=seconds), tick=False)


def test_the_sign_in_sets_last_active(browser_of):
    with at(0):
        laptop = browser_of("alice")
    assert last_active(laptop) == T0


def test_requests_within_the_minute_write_nothing(browser_of):
    with at(0):
        laptop = browser_of("alice")
    for seconds in (1, 30, 59):
        with at(seconds):
            assert writes_of(laptop) == [] and writes_of(laptop, "/api/users/me") == []
    assert last_active(laptop) == T0


def test_the_first_request_a_minute_later_writes_it_once(browser_of):
    with at(0):
        laptop = browser_of("alice")
    with at(61):
        (update,) = writes_of(laptop)
    assert "last_active" in update and last_active(laptop) == T0 + timedelta(seconds=61)
    with at(90):
        assert writes_of(laptop) == []
    with at(121):
        assert len(writes_of(laptop)) == 1
    assert last_active(laptop) == T0 + timedelta(seconds=121)


def test_two_workers_serving_the_session_at_once_write_it_once(browser_of):
    with at(0):
        laptop = browser_of("alice")
    with at(70):
        first, second = SessionStore(key_of(laptop)), SessionStore(key_of(laptop))
        first.items(), second.items()  # both read a last_active 70 s old
        first.mark_active()
    with at(75):
        second.mark_active()  # its UPDATE's condition no longer holds: nothing is written
    assert last_active(laptop) == T0 + timedelta(seconds=70)


def test_marking_a_session_ended_meanwhile_does_not_bring_it_back(browser_of):
    with at(0):
        laptop = browser_of("alice")
    with at(70):
        store = SessionStore(key_of(laptop))
        store.items()
        Session.objects.filter(session_key=key_of(laptop)).delete()
        store.mark_active()
    assert not Session.objects.filter(session_key=key_of(laptop)).exists()
    assert whoami(laptop) is None


def test_a_save_of_the_session_carries_a_stale_last_active_forward_with_its_own_write(browser_of):
    with at(0):
        laptop = browser_of("alice")
    with at(70):
        store = SessionStore(key_of(laptop))
        store["seen"] = 1
        with CaptureQueriesContext(connection) as queries:
            store.save()
        assert len([q for q in queries.captured_queries if q["sql"].startswith("UPDATE")]) == 1
    assert last_active(laptop) == T0 + timedelta(seconds=70)
    with at(100):
        store["seen"] = 2
        store.save()
    assert last_active(laptop) == T0 + timedelta(seconds=70)  # still fresh: kept as it was
