"""What ``manage.py oidc_doctor`` says a person's groups would show them of the library.

The cast is ``tests/library/conftest.py``'s household: Game Boy (2 ROMs) for everyone, Super
Nintendo (3) for kids and family, Nintendo 64 (1) for family.
"""

import pytest

from accounts.group_reports import describe
from library.models import Platform
from library.visibility import group_report

pytestmark = pytest.mark.django_db


def test_the_library_registers_its_report_with_the_doctor(household):
    assert describe({"kids"}) == group_report(frozenset({"kids"}), False)


def test_someone_in_kids_sees_the_open_platform_and_super_nintendo_not_nintendo_64(household):
    assert group_report(frozenset({"kids", "romm-viewers"}), False) == [
        "Library: sees 2 of 3 platforms (5 ROMs); through their groups: Super Nintendo (family, kids).",
        "Library: does not see 1 restricted platform(s) (1 ROM): Nintendo 64 (family).",
    ]


def test_someone_in_no_group_sees_only_the_open_platforms(household):
    assert group_report(frozenset(), False) == [
        "Library: sees 1 of 3 platforms (2 ROMs); through their groups: none.",
        "Library: does not see 2 restricted platform(s) (4 ROMs): Nintendo 64 (family), Super Nintendo "
        "(family, kids).",
    ]


def test_someone_in_family_sees_everything_and_nothing_is_hidden(household):
    assert group_report(frozenset({"family"}), False) == [
        "Library: sees 3 of 3 platforms (6 ROMs); through their groups: Nintendo 64 (family), Super Nintendo "
        "(family, kids).",
    ]


def test_an_administrator_sees_everything_whatever_their_groups(household):
    assert group_report(frozenset(), True) == [
        "Library: an administrator sees every platform, 3 (6 ROMs), 2 of them restricted to groups."
    ]


def test_without_restricted_platforms_it_says_so(household):
    for platform in Platform.objects.all():
        platform.groups.clear()
    assert group_report(frozenset({"kids"}), False) == [
        "Library: no platform is restricted to groups; sees all 3 (6 ROMs)."
    ]


def test_a_long_list_is_cut_short(household):
    for n in range(9):
        Platform.objects.create(name=f"Console {n}", slug=f"c{n}").groups.set([household.family])
    hidden = group_report(frozenset(), False)[1]
    assert hidden.startswith("Library: does not see 11 restricted platform(s) (4 ROMs): Console 0 (family), ")
    assert hidden.endswith("Console 5 (family) and 5 more.")
