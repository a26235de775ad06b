"""Upgrading to the protected through model (library/migrations/0004) keeps every platform's
groups, and from then on refuses to delete a group that restricts one; downgrading keeps them too."""

import pytest
from django.contrib.auth.models import Group
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.models import ProtectedError

from accounts.models import Role, User
from library.models import Platform, PlatformGroup
from library.visibility import visible_platforms

BEFORE = [("library", "0003_platform_groups")]
AFTER = [("library", "0004_platform_group_protect")]
RESTRICTED = [("Nintendo 64", "family"), ("Super Nintendo", "family"), ("Super Nintendo", "kids")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def restrictions_before(apps):
    """The rows of the relation as Django made it before the through model."""
    through = apps.get_model("library", "Platform").groups.through
    return sorted(through.objects.values_list("platform__name", "group__name"))


def restrictions():
    return sorted(PlatformGroup.objects.values_list("platform__name", "group__name"))


@pytest.mark.django_db(transaction=True)
def test_upgrade_keeps_every_platforms_groups_and_then_protects_them():
    apps = migrate(BEFORE)
    try:
        groups = {name: apps.get_model("auth", "Group").objects.create(name=name) for name in ("kids", "family")}
        platform = apps.get_model("library", "Platform").objects
        platform.create(name="Game Boy", slug="gb")
        platform.create(name="Super Nintendo", slug="snes").groups.set([groups["kids"], groups["family"]])
        platform.create(name="Nintendo 64", slug="n64").groups.set([groups["family"]])
        assert restrictions_before(apps) == RESTRICTED
    finally:
        migrate(AFTER)

    assert restrictions() == RESTRICTED
    kim = User.objects.create_user("kim", role=Role.VIEWER)
    kim.groups.add(Group.objects.get(name="kids"))
    assert sorted(p.name for p in visible_platforms(kim)) == ["Game Boy", "Super Nintendo"]
    with pytest.raises(ProtectedError):
        Group.objects.get(name="family").delete()
    assert restrictions() == RESTRICTED
    with pytest.raises(IntegrityError), transaction.atomic():
        PlatformGroup.objects.create(platform=Platform.objects.get(slug="n64"), group=Group.objects.get(name="family"))
    # The adopted table takes new rows, numbered on from the old ones.
    Platform.objects.get(slug="gb").groups.add(Group.objects.get(name="kids"))
    assert restrictions() == sorted([*RESTRICTED, ("Game Boy", "kids")])


@pytest.mark.django_db(transaction=True)
def test_downgrade_keeps_every_platforms_groups():
    kids, family = Group.objects.create(name="kids"), Group.objects.create(name="family")
    Platform.objects.create(name="Super Nintendo", slug="snes").groups.set([kids, family])
    Platform.objects.create(name="Nintendo 64", slug="n64").groups.set([family])
    try:
        assert restrictions_before(migrate(BEFORE)) == RESTRICTED
    finally:
        migrate(AFTER)
    assert restrictions() == RESTRICTED
