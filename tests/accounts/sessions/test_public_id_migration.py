"""Sessions open before public ids existed get theirs at the upgrade, so their person can sign
them out from /profile/sessions like any other."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from accounts.models import Session
from accounts.sessions.engine import public_id
from tests.accounts.helpers import whoami
from tests.accounts.sessions.conftest import SAFARI_IPHONE, key_of

BEFORE = [("accounts", "0011_session_model")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_sessions_open_before_the_upgrade_get_a_public_id_and_can_be_signed_out(browser_of):
    laptop, phone = browser_of("alice"), browser_of("alice", SAFARI_IPHONE)
    keys = sorted([key_of(laptop), key_of(phone)])
    rows = list(Session.objects.order_by("session_key").values("session_key", "session_data", "expire_date",
                                                                 "user_id", "signin_method", "created_at"))
    apps = migrate(BEFORE)
    try:
        old = apps.get_model("accounts", "Session")
        old.objects.all().delete()
        old.objects.bulk_create([old(**row) for row in rows])
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    assert [(row.session_key, row.public_id, row.last_active) for row in Session.objects.order_by("session_key")] == [
        (key, public_id(key), None) for key in keys
    ]
    response = laptop.post(f"/profile/sessions/{public_id(key_of(phone))}/sign-out")
    assert response.status_code == 302 and (whoami(laptop), whoami(phone)) == ("alice", None)
    assert Session.objects.get(session_key=key_of(laptop)).last_active > timezone.now() - timedelta(minutes=1)
