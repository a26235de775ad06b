"""romm_site.rows writes the rows the ORM would write, on SQLite and PostgreSQL."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Identity, OIDCSession, SignInEvent, User
from romm_site import rows
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def dana():
    return User.objects.create_user("dana", email="dana@example.com")


def test_insert_fills_defaults_and_auto_now_add_like_the_orm(dana):
    before = timezone.now()
    rows.insert(SignInEvent, {"user": dana.pk, "method": "oidc", "outcome": "success", "ip_address": "2001:db8::1"})
    event = SignInEvent.objects.get()
    assert (event.user, event.method, event.outcome, event.ip_address) == (dana, "oidc", "success", "2001:db8::1")
    assert (event.reason, event.detail, event.username) == ("", "", "")
    assert before <= event.created_at <= timezone.now()


def test_insert_on_conflict_updates_the_given_fields_and_keeps_the_first_created_at(dana):
    rows.insert(OIDCSession, {"session_key": "k" * 32, "user": dana.pk}, update_on_conflict="session_key")
    first = OIDCSession.objects.get()
    assert (first.provider, first.recheck_failures, first.recheck_due_at) == ("", 0, None)
    due = timezone.now() + timedelta(minutes=5)
    rows.insert(OIDCSession, {"session_key": "k" * 32, "user": dana.pk, "provider": "authentik", "recheck_due_at": due},
                update_on_conflict="session_key")
    again = OIDCSession.objects.get()
    assert (again.pk, again.provider, again.recheck_due_at, again.created_at) == (first.pk, "authentik", due, first.created_at)


def test_update_sets_json_and_datetimes_and_says_whether_the_row_exists(dana):
    identity = Identity.objects.create(user=dana, issuer="https://idp/", subject="s1")
    when = timezone.now()
    assert rows.update(Identity, identity.pk, {"groups": ["romm-admins", "ünïcode"], "last_used_at": when})
    identity.refresh_from_db()
    assert (identity.groups, identity.last_used_at) == (["romm-admins", "ünïcode"], when)
    identity.delete()
    assert not rows.update(Identity, identity.pk, {"last_used_at": when})


def test_sign_in_stamps_last_login_and_writes_its_rows(client, authentik):
    sign_in(client, authentik, "carol")
    carol = User.objects.get(username="carol")
    assert carol.last_login is not None and timezone.now() - carol.last_login < timedelta(seconds=10)
    row = OIDCSession.objects.get(user=carol)
    assert (row.provider, row.subject, row.session_key) == ("authentik", authentik.subject("carol"), client.session.session_key)
    assert SignInEvent.objects.filter(user=carol, method="oidc", outcome="success").count() == 1


def test_select_one_returns_what_select_related_returns(dana):
    dana.role = "admin"
    dana.email_confirmed = True
    dana.save()
    made = Identity.objects.create(user=dana, issuer="https://idp/", subject="s1", groups=["a", "b"],
                                   last_used_at=timezone.now(), email="dana@example.com")
    Identity.objects.create(user=User.objects.create_user("erin"), issuer="https://idp/", subject="s2")
    found = rows.select_one(Identity, "user", issuer="https://idp/", subject="s1")
    expected = Identity.objects.select_related("user").get(pk=made.pk)
    fields = [f.attname for f in Identity._meta.concrete_fields]
    assert [getattr(found, name) for name in fields] == [getattr(expected, name) for name in fields]
    user_fields = [f.attname for f in User._meta.concrete_fields]
    assert [getattr(found.user, name) for name in user_fields] == [getattr(expected.user, name) for name in user_fields]
    assert found.user.is_active is True and found.user.date_joined.tzinfo is not None
    assert not found._state.adding and found._state.db == expected._state.db
    found.user.save(update_fields=["role"])  # a loaded instance saves like any other
    assert rows.select_one(Identity, "user", issuer="https://idp/", subject="nobody") is None
