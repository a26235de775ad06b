"""The sign-in history: rows for OIDC sign-ins, refusals and role changes; the admin page; pruning."""

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from accounts.models import Role, SignInEvent, User
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db

HISTORY = "/admin/accounts/signinevent/"


def test_oidc_sign_in_is_recorded(client, idp):
    sign_in(client, idp, "bob")
    event = SignInEvent.objects.get()
    bob = User.objects.get(username="bob")
    assert (event.user, event.username, event.method, event.outcome) == (bob, "bob", "oidc", "success")
    assert (event.provider, event.subject, event.ip_address) == (idp.profile, idp.subject("bob"), "127.0.0.1")


def test_oidc_refusal_is_recorded_with_its_reason(client, idp):
    sign_in(client, idp, "dave")
    event = SignInEvent.objects.get()
    assert (event.user, event.method, event.outcome, event.reason) == (
        None,
        "oidc",
        "refused",
        "email_unverified",
    )
    assert event.provider == idp.profile and not User.objects.exists()


def test_role_change_at_sign_in_is_recorded(client, idp):
    sign_in(client, idp, "bob")
    assert not SignInEvent.objects.filter(method="role").exists()  # a new account is not a change
    client.logout()
    sign_in(client, idp, "bob", groups=["romm-admins"])
    change = SignInEvent.objects.get(method=SignInEvent.Method.ROLE)
    bob = User.objects.get(username="bob")
    assert (change.user, change.outcome, change.reason, change.detail) == (
        bob,
        "changed",
        "provider_groups",
        "editor -> admin",
    )
    assert (change.provider, change.subject) == (idp.profile, idp.subject("bob"))
    client.logout()
    sign_in(client, idp, "bob", groups=["romm-admins"])
    assert SignInEvent.objects.filter(method="role").count() == 1  # unchanged role, no new row


def test_role_from_groups_is_explained_in_the_admin(client, authentik):
    sign_in(client, authentik, "bob")
    client.logout()
    sign_in(client, authentik, "bob", groups=["romm-admins"])
    bob = User.objects.get(username="bob")
    html = client.get(f"/admin/accounts/user/{bob.pk}/change/").content.decode()
    assert "Set by the authentik groups at sign-in on" in html and "(editor -&gt; admin)" in html


# --- the admin page ---------------------------------------------------------------------------
@pytest.fixture
def alice(client):
    user = User.objects.create_user("alice", role=Role.ADMIN)
    client.force_login(user)
    return user


def event(**fields):
    values = {"username": "bob", "method": "password", "outcome": "refused", "reason": "invalid_credentials"}
    return SignInEvent.objects.create(**{**values, **fields})


def test_history_lists_filters_and_searches(client, alice):
    event(ip_address="192.0.2.7")
    event(
        method="oidc", outcome="success", reason="", provider="authelia", subject="sub-123", username="carol"
    )

    def listed(**query):
        response = client.get(HISTORY, query)
        assert response.status_code == 200
        return sorted(e.username for e in response.context["cl"].result_list)

    assert listed() == ["bob", "carol"]
    assert listed(method__exact="oidc") == ["carol"]
    assert listed(outcome__exact="refused") == ["bob"]
    assert listed(reason="invalid_credentials") == ["bob"]
    assert listed(provider="authelia") == ["carol"]
    assert listed(q="sub-123") == ["carol"]
    assert listed(q="192.0.2.7") == ["bob"]
    today = timezone.localdate()
    assert listed(created_at__year=today.year, created_at__month=today.month, created_at__day=today.day) == [
        "bob",
        "carol",
    ]


def test_history_is_read_only(client, alice):
    row = event()
    assert client.get(f"{HISTORY}add/").status_code == 403
    assert client.post(f"{HISTORY}{row.pk}/change/", {"username": "mallory"}).status_code == 403
    assert SignInEvent.objects.get().username == "bob"
    assert client.post(f"{HISTORY}{row.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not SignInEvent.objects.exists()


def test_history_rows_are_deleted_only_by_a_superuser(client):
    helper = User.objects.create_user("helper", role=Role.EDITOR)
    User.objects.filter(pk=helper.pk).update(is_staff=True)
    helper.user_permissions.set(Permission.objects.filter(content_type__model="signinevent"))
    client.force_login(helper)
    row = event()
    assert client.get(HISTORY).status_code == 200
    assert client.post(f"{HISTORY}{row.pk}/delete/", {"post": "yes"}).status_code == 403
    assert SignInEvent.objects.exists()


# --- pruning -------------------------------------------------------------------------------------
def aged(days):
    row = event()
    SignInEvent.objects.filter(pk=row.pk).update(created_at=timezone.now() - timedelta(days=days))
    return row


def prune(*args):
    out = StringIO()
    call_command("prune_signin_history", *args, stdout=out)
    return out.getvalue().strip()


def test_prune_deletes_rows_older_than_signin_history_days(settings):
    assert settings.SIGNIN_HISTORY_DAYS == 90
    aged(200), aged(91)
    kept = [aged(89), event()]
    assert prune() == "Deleted 2 sign-in history row(s) older than 90 days."
    assert sorted(SignInEvent.objects.values_list("pk", flat=True)) == sorted(row.pk for row in kept)


def test_prune_follows_the_setting_and_the_option(settings):
    settings.SIGNIN_HISTORY_DAYS = 30
    aged(45), aged(10)
    assert prune() == "Deleted 1 sign-in history row(s) older than 30 days."
    assert prune("--days", "5") == "Deleted 1 sign-in history row(s) older than 5 days."
    assert SignInEvent.objects.count() == 0
    with pytest.raises(CommandError, match="--days must be at least 1"):
        prune("--days", "0")
