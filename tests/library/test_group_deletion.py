"""A group that restricts a platform cannot be deleted, in the admin or in code: deleting it
would leave a platform restricted to it alone with no group, seen by everyone
(docs/platform-access.md).

The cast is ``tests/library/conftest.py``'s household: Super Nintendo for kids and family,
Nintendo 64 for family only; kim is in kids, carol in no group, alice is an administrator.
"""

import pytest
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from library.models import Platform, PlatformGroup

pytestmark = pytest.mark.django_db

GROUPS = "/admin/auth/group/"


def visible_names(client):
    return sorted(p["name"] for p in client.get("/api/platforms").json())


def restrictions():
    return sorted(PlatformGroup.objects.values_list("platform__name", "group__name"))


BEFORE = [("Nintendo 64", "family"), ("Super Nintendo", "family"), ("Super Nintendo", "kids")]


def test_deleting_a_group_that_restricts_a_platform_in_code_is_refused(household):
    h = household
    with pytest.raises(ProtectedError):
        h.family.delete()
    with pytest.raises(ProtectedError):
        Group.objects.filter(name="family").delete()
    assert Group.objects.filter(pk=h.family.pk).exists()
    assert restrictions() == BEFORE
    assert visible_names(h.client(h.carol)) == ["Game Boy"]


def test_the_admins_delete_page_names_the_platforms_and_deletes_nothing(household):
    h = household
    alice, carol = h.client(h.alice), h.client(h.carol)
    page = alice.get(f"{GROUPS}{h.family.pk}/delete/")
    html = page.content.decode()
    assert page.status_code == 200 and page.context["protected"]
    assert "would require deleting the following protected related objects" in html
    assert "Nintendo 64 restricted to family" in html and "Super Nintendo restricted to family" in html
    assert "Yes, I’m sure" not in html  # no button to confirm
    # The next step, with a link to the platforms to change.
    assert "Take it out of each platform" in html
    assert f'/admin/library/platform/?groups__id__exact={h.family.pk}"' in html

    # Posting the confirmation anyway changes nothing.
    response = alice.post(f"{GROUPS}{h.family.pk}/delete/", {"post": "yes"})
    assert response.status_code == 200 and response.context["protected"]
    assert Group.objects.filter(pk=h.family.pk).exists()
    assert restrictions() == BEFORE
    assert visible_names(carol) == ["Game Boy"]


def test_the_admins_delete_selected_action_names_the_platforms_and_deletes_nothing(household):
    h = household
    alice = h.client(h.alice)
    chosen = {"action": "delete_selected", "_selected_action": [h.kids.pk, h.family.pk]}
    page = alice.post(GROUPS, chosen)
    html = page.content.decode()
    assert page.status_code == 200 and page.context["protected"]
    assert "Nintendo 64 restricted to family" in html and "Super Nintendo restricted to kids" in html
    assert "Take the groups out of each platform" in html
    alice.post(GROUPS, {**chosen, "post": "yes"})
    assert Group.objects.count() == 2
    assert restrictions() == BEFORE
    assert visible_names(h.client(h.carol)) == ["Game Boy"]


def test_once_taken_out_of_its_platforms_a_group_is_deleted_and_its_members_leave_it(household):
    h = household
    alice = h.client(h.alice)
    alice.post(f"/admin/library/platform/{h.snes.pk}/change/", {"name": "Super Nintendo", "slug": "snes",
                                                               "groups": [h.family.pk]})  # fmt: skip
    page = alice.get(f"{GROUPS}{h.kids.pk}/delete/")
    assert not page.context["protected"] and "Yes, I’m sure" in page.content.decode()
    assert alice.post(f"{GROUPS}{h.kids.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not Group.objects.filter(name="kids").exists()
    assert list(h.kim.groups.all()) == []
    assert restrictions() == [("Nintendo 64", "family"), ("Super Nintendo", "family")]
    assert visible_names(h.client(h.kim)) == ["Game Boy"]  # Super Nintendo stays restricted to family


def test_deleting_a_platform_takes_its_restrictions_along_and_keeps_the_groups(household):
    h = household
    h.mario.delete()  # a platform with ROMs is not deleted (Rom.platform is protected too)
    h.n64.delete()
    assert restrictions() == [("Super Nintendo", "family"), ("Super Nintendo", "kids")]
    assert sorted(Group.objects.values_list("name", flat=True)) == ["family", "kids"]
    assert not Platform.objects.filter(name="Nintendo 64").exists()


def test_a_platform_is_restricted_to_a_group_once(household):
    h = household
    h.snes.groups.add(h.kids)  # already there: nothing added
    assert restrictions() == BEFORE
    with pytest.raises(IntegrityError), transaction.atomic():
        PlatformGroup.objects.create(platform=h.snes, group=h.kids)
