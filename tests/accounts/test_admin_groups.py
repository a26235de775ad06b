"""The admin shows which groups a provider mirrors (OIDC_GROUPS), on the group list and the account page."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from accounts.models import Role, User
from tests.conftest import configure, sign_in

pytestmark = pytest.mark.django_db

GROUPS = "/admin/auth/group/"
USERS = "/admin/accounts/user/"


@pytest.fixture
def admin_browser():
    browser = Client()
    browser.force_login(User.objects.create_user("root", email="root@example.com", role=Role.ADMIN))
    return browser


@pytest.fixture
def mirrored(authentik, settings):
    configure(settings, authentik, OIDC_GROUPS="kids,romm-*", OIDC_ROLE_DEFAULT="viewer")
    return authentik


def test_the_group_list_says_which_groups_come_from_the_provider(admin_browser, mirrored):
    sign_in(Client(), mirrored, "carol", groups=["romm-viewers", "kids"])
    Group.objects.create(name="movie-night")
    page = admin_browser.get(GROUPS).content.decode()
    rows = {name: page.split(f">{name}</a>")[1].split("</tr>")[0] for name in ("kids", "movie-night")}
    assert "Mirrored from provider: Authentik" in rows["kids"]
    assert "No: managed here only." in rows["movie-night"]
    change = admin_browser.get(f"{GROUPS}{Group.objects.get(name='kids').pk}/change/").content.decode()
    assert "Mirrored from provider: Authentik" in change and "their next sign-in" in change


def test_the_account_page_says_which_of_its_groups_the_provider_manages(admin_browser, mirrored):
    sign_in(Client(), mirrored, "carol", groups=["romm-viewers", "kids"])
    carol = User.objects.get(username="carol")
    carol.groups.add(Group.objects.create(name="movie-night"))
    page = admin_browser.get(f"{USERS}{carol.pk}/change/").content.decode()
    shown = page.split("field-provider_groups")[1].split("</fieldset>")[0]
    assert "kids: from Authentik" in shown and "romm-viewers: from Authentik" in shown
    assert "movie-night" not in shown
    assert "adding or removing someone here lasts until their next sign-in" in shown


def test_without_oidc_groups_the_account_page_says_groups_are_managed_here(admin_browser, settings, authentik):
    carol = User.objects.create_user("carol", email="carol@example.com")
    page = admin_browser.get(f"{USERS}{carol.pk}/change/").content.decode()
    assert "No provider mirrors groups here (OIDC_GROUPS is not set)" in page


def test_a_hand_made_group_set_in_the_admin_survives_the_next_sign_in(admin_browser, mirrored):
    sign_in(Client(), mirrored, "carol", groups=["romm-viewers", "kids"])
    carol = User.objects.get(username="carol")
    movie_night, family = Group.objects.create(name="movie-night"), Group.objects.create(name="romm-family")
    page = admin_browser.get(f"{USERS}{carol.pk}/change/")
    form = page.context["adminform"].form
    data = {name: value for name, value in form.initial.items() if name in form.fields and value is not None}
    data.pop("password", None)
    data["is_active"] = "on"
    data["groups"] = [g.pk for g in Group.objects.filter(name__in=["kids", "romm-viewers"])] + [
        movie_night.pk, family.pk]
    data.update({"identities-TOTAL_FORMS": "1", "identities-INITIAL_FORMS": "1",
                 "identities-0-id": carol.identities.get().pk, "identities-0-user": carol.pk})
    saved = admin_browser.post(f"{USERS}{carol.pk}/change/", data)
    assert saved.status_code == 302, saved.content.decode()[:2000]
    assert set(carol.groups.values_list("name", flat=True)) == {"kids", "romm-viewers", "movie-night", "romm-family"}
    sign_in(Client(), mirrored, "carol", groups=["romm-viewers", "kids"])
    # The provider's groups are the provider's: the hand-added romm-family goes; movie-night stays.
    assert set(carol.groups.values_list("name", flat=True)) == {"kids", "romm-viewers", "movie-night"}
