"""The session engine: a sign-in writes its session once, and the index follows the key."""

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone

from accounts.models import OIDCSession, User
from accounts.session_store import SessionStore
from tests.conftest import BASE_URL, start

pytestmark = pytest.mark.django_db


def signed_in_store(user):
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store.save()
    OIDCSession.objects.create(session_key=store.session_key, user=user)
    return store


def test_sign_in_keeps_one_session_row_without_the_used_flow(client, authentik):
    location = start(client)
    anonymous_key = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    client.get(authentik.authorize(location, "carol").replace(BASE_URL, ""))
    key = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    assert key != anonymous_key
    assert list(Session.objects.values_list("session_key", flat=True)) == [key]
    assert Session.objects.get().get_decoded()["oidc_flows"] == {}
    assert list(OIDCSession.objects.values_list("session_key", flat=True)) == [key]


def test_cycled_key_is_written_with_the_old_row_gone_and_the_index_moved():
    user = User.objects.create_user("dana")
    store = signed_in_store(user)
    old_key = store.session_key
    store.cycle_key()
    store.save()
    assert store.session_key != old_key
    assert list(Session.objects.values_list("session_key", flat=True)) == [store.session_key]
    assert list(OIDCSession.objects.values_list("session_key", flat=True)) == [store.session_key]
    assert SessionStore(old_key).load() == {}


def test_session_flushed_after_a_cycled_key_leaves_nothing_behind():
    user = User.objects.create_user("dana")
    store = signed_in_store(user)
    store.cycle_key()
    store.flush()
    assert not Session.objects.exists() and not OIDCSession.objects.exists()


def test_saving_what_was_just_written_writes_nothing(django_assert_num_queries,
                                                    django_capture_on_commit_callbacks):
    store = SessionStore()
    store["answer"] = 42
    with django_capture_on_commit_callbacks(execute=True):
        store.save()
    with django_assert_num_queries(0):
        store.save()
    store["answer"] = 43
    store.save()
    assert SessionStore(store.session_key).load() == {"answer": 43}


def test_a_rolled_back_write_is_not_taken_as_written(django_capture_on_commit_callbacks):
    store = SessionStore()
    store["answer"] = 42
    with django_capture_on_commit_callbacks(execute=True):
        store.save()
    store["answer"] = 43
    with pytest.raises(RuntimeError), transaction.atomic():
        store.save()
        raise RuntimeError("the sign-in failed after the session was written")
    assert SessionStore(store.session_key).load() == {"answer": 42}
    store.save()
    assert SessionStore(store.session_key).load() == {"answer": 43}


# The table is read and written in plain SQL: the rows must stay what Django's own engine
# reads and writes, on SQLite and PostgreSQL alike.
def test_rows_are_those_of_djangos_database_engine():
    from django.contrib.sessions.backends.db import SessionStore as DjangoStore

    ours = SessionStore()
    ours["colour"] = "blue"
    ours.set_expiry(600)
    ours.save()
    row = Session.objects.get(session_key=ours.session_key)
    assert row.get_decoded() == {"colour": "blue", "_session_expiry": 600}
    assert 590 < (row.expire_date - timezone.now()).total_seconds() <= 600
    theirs = DjangoStore()
    theirs["colour"] = "green"
    theirs.save()
    assert SessionStore(theirs.session_key).load() == {"colour": "green"}


def test_an_expired_session_is_not_loaded_and_a_new_one_begins():
    store = SessionStore()
    store["colour"] = "blue"
    store.save()
    Session.objects.filter(session_key=store.session_key).update(expire_date=timezone.now() - timedelta(seconds=1))
    again = SessionStore(store.session_key)
    assert again.load() == {} and again.session_key is None


def test_a_taken_key_is_never_overwritten_a_new_one_is_picked(monkeypatch):
    first = SessionStore()
    first["owner"] = "first"
    first.save()
    keys = iter([first.session_key, "k" * 32])
    monkeypatch.setattr(SessionStore, "_random_key", staticmethod(lambda: next(keys)))
    second = SessionStore()
    second["owner"] = "second"
    second.save()
    assert second.session_key == "k" * 32
    assert SessionStore(first.session_key).load() == {"owner": "first"}


def test_saving_a_session_ended_meanwhile_is_refused_not_recreated(client):
    store = SessionStore()
    store["colour"] = "blue"
    store.save()
    SessionStore().delete(store.session_key)  # a logout in another tab
    store["colour"] = "red"
    with pytest.raises(UpdateError):
        store.save()
    assert not Session.objects.filter(session_key=store.session_key).exists()


def test_delete_and_exists():
    store = SessionStore()
    store["colour"] = "blue"
    store.save()
    assert store.exists(store.session_key)
    store.delete()
    assert not store.exists(store.session_key) and not Session.objects.exists()
