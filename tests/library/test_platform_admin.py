"""Restricting a platform in the Django admin, and what the admin shows of who sees it.

The cast is ``tests/library/conftest.py``'s household.
"""

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Role, User
from library.models import Platform

pytestmark = pytest.mark.django_db

PLATFORMS = "/admin/library/platform/"
ROMS = "/admin/library/rom/"


def visible_names(client):
    return sorted(p["name"] for p in client.get("/api/platforms").json())


def test_the_platform_list_says_which_groups_see_each_platform(household):
    h = household
    page = h.client(h.alice).get(PLATFORMS)
    rows = {str(p): page.context["cl"].model_admin.seen_by(p) for p in page.context["cl"].result_list}
    assert rows == {"Game Boy": "Everyone", "Nintendo 64": "family", "Super Nintendo": "family, kids"}
    html = page.content.decode()
    assert "seen by" in html.lower() and "Everyone" in html and "family, kids" in html


@pytest.mark.parametrize("query,shown", [("groups__id__exact={kids}", ["Super Nintendo"]),
                                         ("groups__isnull=True", ["Game Boy"])])  # fmt: skip
def test_the_platform_list_filters_by_group_or_everyone(household, query, shown):
    h = household
    page = h.client(h.alice).get(f"{PLATFORMS}?{query.format(kids=h.kids.pk)}")
    assert [str(p) for p in page.context["cl"].result_list] == shown
    assert '">Everyone</a>' in page.content.decode()  # the filter's choice for no group


def queries_of(client, url):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_platform_list_costs_no_query_per_platform(household):
    h = household
    alice = h.client(h.alice)
    alice.get(PLATFORMS)
    few = queries_of(alice, PLATFORMS)
    for n in range(10):
        Platform.objects.create(name=f"Console {n}", slug=f"c{n}").groups.set([h.kids])
    assert queries_of(alice, PLATFORMS) == few


def test_an_administrator_restricts_a_platform_and_people_outside_the_group_stop_seeing_it(household):
    h = household
    alice, carol, kim = h.client(h.alice), h.client(h.carol), h.client(h.kim)
    form = alice.get(f"{PLATFORMS}{h.gb.pk}/change/").content.decode()
    assert 'class="selectfilter"' in form and 'name="groups"' in form  # the two-box group picker
    assert visible_names(carol) == ["Game Boy"]
    response = alice.post(f"{PLATFORMS}{h.gb.pk}/change/", {"name": "Game Boy", "slug": "gb", "groups": [h.kids.pk]})
    assert response.status_code == 302
    assert list(h.gb.groups.all()) == [h.kids]
    assert visible_names(carol) == []
    assert visible_names(kim) == ["Game Boy", "Super Nintendo"]
    assert carol.get(f"/api/roms/{h.tetris.pk}").status_code == 404
    # Emptying the groups opens it to everyone again.
    alice.post(f"{PLATFORMS}{h.gb.pk}/change/", {"name": "Game Boy", "slug": "gb"})
    assert visible_names(carol) == ["Game Boy"]


def test_the_administrator_sees_every_platform_and_rom_in_the_admin(household):
    h = household
    alice = h.client(h.alice)
    assert len(alice.get(PLATFORMS).context["cl"].result_list) == 3
    assert alice.get(ROMS).context["cl"].result_count == 6
    assert alice.get(f"{ROMS}{h.mario.pk}/change/").status_code == 200


@pytest.fixture
def helper(household):
    """A staff account that is not an administrator, in kids, allowed to change the library (a
    hand-made edge case: staff follows the admin role whenever an account is saved)."""
    user = User.objects.create_user("helper", role=Role.EDITOR)
    User.objects.filter(pk=user.pk).update(is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="library"))
    user.groups.add(household.kids)
    return User.objects.get(pk=user.pk)


def test_staff_who_is_not_an_administrator_sees_only_their_groups_platforms_in_the_admin(household, helper):
    h = household
    client = h.client(helper)
    platforms = client.get(PLATFORMS)
    assert sorted(str(p) for p in platforms.context["cl"].result_list) == ["Game Boy", "Super Nintendo"]
    roms = client.get(ROMS)
    assert roms.context["cl"].result_count == 5
    assert "Nintendo 64" not in roms.content.decode()  # not even as a filter choice
    assert client.get(f"{ROMS}{h.mario.pk}/change/").status_code == 302  # the admin's "does not exist"
    assert client.get(f"{PLATFORMS}{h.n64.pk}/change/").status_code == 302
    form = client.get(f"{ROMS}{h.tetris.pk}/change/").content.decode()
    assert "Super Nintendo" in form and "Nintendo 64" not in form
