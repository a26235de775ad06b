"""Upgrading from the separate session index (OIDCSession) keeps people signed in."""

import time
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.contrib.sessions.serializers import JSONSerializer
from django.core import signing
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.utils import timezone

from accounts.models import Session
from accounts.models import User as LiveUser
from accounts.oidc import sealed
from accounts.sessions.engine import SIGNIN, SessionStore

BEFORE = [("accounts", "0010_signin_health"), ("sessions", "0001_initial")]
AFTER = [("accounts", "0011_session_model")]


def latest():
    """Every app's newest migration: what the live models below are."""
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def old_session(apps, key, data, **expiry):
    encoded = signing.dumps(data, salt="django.contrib.sessions.SessionStore", serializer=JSONSerializer, compress=True)
    expire = timezone.now() + timedelta(**(expiry or {"days": 1}))
    apps.get_model("sessions", "Session").objects.create(session_key=key, session_data=encoded, expire_date=expire)


@pytest.mark.django_db(transaction=True)
def test_upgrade_moves_live_sessions_and_their_index_rows():
    apps = migrate(BEFORE)
    try:
        user = apps.get_model("accounts", "User").objects.create(username="carol", password="!unusable")
        signed_in = {
            "_auth_user_id": str(user.pk),
            "_auth_user_backend": "accounts.oidc.backend.OIDCBackend",
            "_auth_user_hash": LiveUser(password="!unusable").get_session_auth_hash(),
            "signin_method": "oidc",
            "oidc_recheck": {"provider": "authentik", "due": time.time() + 300},
            "oidc_flows": {"s": {"provider": "authentik", "nonce": "n", "created": time.time()}},
        }
        old_session(apps, "a" * 32, signed_in)
        apps.get_model("accounts", "OIDCSession").objects.create(
            session_key="a" * 32, user=user, provider="authentik", issuer="https://idp/", subject="sub-1",
            sid="sid-1", id_token="h.p.s", refresh_token=sealed.seal("rt-1"), recheck_failures=2,
            recheck_due_at=timezone.now() + timedelta(seconds=300),
        )
        old_session(apps, "b" * 32, {"oidc_logout_state": {"state": "x", "provider": "Authentik"}})
        old_session(apps, "c" * 32, signed_in)  # signed in but not indexed: not moved
        old_session(apps, "d" * 32, {"colour": "blue"}, seconds=-5)  # expired: not moved
    finally:
        migrate(AFTER)
        migrate(latest())

    assert sorted(Session.objects.values_list("session_key", flat=True)) == ["a" * 32, "b" * 32]
    row = Session.objects.get(session_key="a" * 32)
    assert (row.user_id, row.signin_method, row.provider, row.issuer, row.subject, row.sid, row.id_token) == (
        user.pk, "oidc", "authentik", "https://idp/", "sub-1", "sid-1", "h.p.s")
    assert sealed.unseal(row.refresh_token) == "rt-1" and row.recheck_failures == 2
    data = SessionStore("a" * 32).load()
    assert "oidc_flows" not in data and "signin_method" not in data and "id_token" not in str(data)
    assert data[SIGNIN]["method"] == "oidc" and sealed.unseal(data[SIGNIN]["refresh_token"]) == "rt-1"
    assert SessionStore("b" * 32).load() == {"oidc_logout_state": {"state": "x", "provider": "Authentik"}}
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM django_session")
        assert cursor.fetchone()[0] == 0
    # The browser holding the moved session is still signed in, and saving it keeps its columns.
    browser = Client()
    browser.cookies[django_settings.SESSION_COOKIE_NAME] = "a" * 32
    assert browser.get("/api/users/me").json()["username"] == "carol"
    store = SessionStore("a" * 32)
    store["seen"] = True
    store.save()
    assert Session.objects.get(session_key="a" * 32).sid == "sid-1"
