"""The session engine: Django's database sessions whose rows carry their sign-in as columns."""

from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings as django_settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.base import UpdateError
from django.db import transaction
from django.utils import timezone

from accounts.models import Session, User
from accounts.oidc.flows import CALLBACK_COOKIE
from accounts.sessions.engine import SIGNIN, SessionStore
from tests.conftest import BASE_URL, start

pytestmark = pytest.mark.django_db

FACTS = {"method": "oidc", "provider": "authentik", "issuer": "https://idp/", "subject": "s-1", "sid": "sid-1"}


def signed_in_store(user, **facts):
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[SIGNIN] = {**FACTS, **facts}
    store.save()
    return store


def columns(key):
    row = Session.objects.get(session_key=key)
    return row.user_id, row.signin_method, row.provider, row.issuer, row.subject, row.sid


def test_sign_in_keeps_one_session_row_and_drops_the_used_flow(client, authentik):
    location = start(client)
    assert Session.objects.count() == 0  # a start writes no row
    response = client.get(authentik.authorize(location, "carol").replace(BASE_URL, ""))
    key = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    assert list(Session.objects.values_list("session_key", flat=True)) == [key]
    carol = User.objects.get(username="carol")
    assert columns(key) == (carol.pk, "oidc", "authentik", authentik.issuer, authentik.subject("carol"), "sid-carol")
    assert response.cookies[CALLBACK_COOKIE].value == ""  # the flow is used up: the cookie goes


def test_cycled_key_is_written_with_its_columns_and_the_old_row_gone():
    user = User.objects.create_user("dana")
    store = signed_in_store(user)
    old_key = store.session_key
    store.cycle_key()
    store.save()
    assert store.session_key != old_key
    assert list(Session.objects.values_list("session_key", flat=True)) == [store.session_key]
    assert columns(store.session_key) == (user.pk, "oidc", "authentik", "https://idp/", "s-1", "sid-1")
    assert SessionStore(old_key).load() == {}


def test_session_flushed_after_a_cycled_key_leaves_nothing_behind():
    user = User.objects.create_user("dana")
    store = signed_in_store(user)
    store.cycle_key()
    store.flush()
    assert not Session.objects.exists()


def test_an_anonymous_session_has_empty_columns():
    store = SessionStore()
    store["colour"] = "blue"
    store.save()
    row = Session.objects.get()
    assert (row.user, row.signin_method, row.provider, row.created_at, row.recheck_due_at) == (None, "", "", None, None)
    assert not Session.objects.signed_in().exists()


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


def test_the_data_is_djangos_own():
    store = SessionStore()
    store["colour"] = "blue"
    store.set_expiry(600)
    store.save()
    row = Session.objects.get(session_key=store.session_key)
    assert row.get_decoded() == {"colour": "blue", "_session_expiry": 600}
    assert 590 < (row.expire_date - timezone.now()).total_seconds() <= 600
    # Django's session manager API writes rows this engine reads.
    Session.objects.save("g" * 32, {"colour": "green"}, timezone.now() + timedelta(minutes=5))
    assert SessionStore("g" * 32).load() == {"colour": "green"}


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
    monkeypatch.setattr(SessionStore, "_get_new_session_key", lambda self: next(keys))
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


# --- the async methods write what the sync ones write ------------------------------------------
def test_async_save_and_cycle_key_write_the_columns_too():
    user = User.objects.create_user("dana")
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[SIGNIN] = FACTS
    async_to_sync(store.asave)()
    assert columns(store.session_key) == (user.pk, "oidc", "authentik", "https://idp/", "s-1", "sid-1")
    old_key = store.session_key
    async_to_sync(store.acycle_key)()
    async_to_sync(store.asave)()
    assert list(Session.objects.values_list("session_key", flat=True)) == [store.session_key] != [old_key]
    assert columns(store.session_key) == (user.pk, "oidc", "authentik", "https://idp/", "s-1", "sid-1")
    assert async_to_sync(SessionStore(store.session_key).aload)()[SIGNIN] == FACTS


def test_a_sync_save_after_an_async_one_writes_again(django_capture_on_commit_callbacks):
    store = SessionStore()
    store["answer"] = 42
    with django_capture_on_commit_callbacks(execute=True):
        store.save()
    store["answer"] = 43
    async_to_sync(store.asave)()
    store["answer"] = 42  # what the sync save wrote last, but no longer what the row holds
    store.save()
    assert SessionStore(store.session_key).load() == {"answer": 42}


def test_a_sync_save_after_a_delete_is_refused_not_skipped(django_capture_on_commit_callbacks):
    store = SessionStore()
    store["answer"] = 42
    with django_capture_on_commit_callbacks(execute=True):
        store.save()
    store.delete()
    with pytest.raises(UpdateError):
        store.save()
