"""OIDC_ROLE_DEFAULT: the role of a person whose roles claim is present but matches no OIDC_ROLE_* value."""

import time

import pytest
import time_machine
from django.test import Client

from accounts.errors import SignInError
from accounts.models import Role, User
from accounts.oidc.provider import get_provider
from accounts.oidc.roles import resolve_role
from romm_site.envvars import EnvReader, read_providers
from tests.accounts.test_checks import problems
from tests.conftest import BASE_URL, configure, messages_of, sign_in

INTERVAL = 60


def role_after_sign_in(fake, person, **claims):
    browser = Client()
    response = sign_in(browser, fake, person, **claims)
    assert response["Location"] == "/", messages_of(browser.get(response["Location"]))
    return User.objects.get(username=person).role


@pytest.mark.django_db
@pytest.mark.parametrize("default", ["viewer", "editor", "Editor"])
def test_unmatched_groups_get_the_default_role(idp, settings, default):
    configure(settings, idp, OIDC_ROLE_DEFAULT=default)
    assert role_after_sign_in(idp, "erin") == default.lower()  # erin is only in "staff"


@pytest.mark.django_db
def test_without_a_default_unmatched_groups_are_refused_as_before(client, idp):
    response = sign_in(client, idp, "erin")
    assert response["Location"].startswith("/login")
    assert "groups do not give you access" in " ".join(messages_of(client.get(response["Location"])))
    assert not User.objects.filter(username="erin").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("person, role", [("alice", "admin"), ("bob", "editor"), ("carol", "viewer")])
def test_a_matching_group_wins_over_the_default_even_a_lower_one(idp, settings, person, role):
    configure(settings, idp, OIDC_ROLE_DEFAULT="editor")
    assert role_after_sign_in(idp, person) == role


@pytest.mark.django_db
def test_an_absent_claim_keeps_the_account_role_and_gives_a_new_one_viewer(idp, settings):
    configure(settings, idp, OIDC_ROLE_DEFAULT="editor")
    assert role_after_sign_in(idp, "erin", groups=...) == "viewer"
    assert role_after_sign_in(idp, "bob") == "editor"
    assert role_after_sign_in(idp, "bob", groups=...) == "editor"


@pytest.mark.django_db
def test_a_demotion_to_unmatched_groups_gives_the_default_at_the_recheck(client, idp, settings):
    configure(settings, idp, OIDC_ROLE_DEFAULT="viewer", OIDC_SESSION_RECHECK_SECONDS=str(INTERVAL))
    sign_in(client, idp, "bob")
    idp.change("bob", groups=["staff"])
    with time_machine.travel(time.time() + INTERVAL + 1, tick=True):
        me = client.get("/api/users/me")
    assert me.status_code == 200 and me.json()["role"] == "viewer"  # not signed out: the default applies


def test_an_invalid_default_is_never_given_even_if_the_check_was_skipped(settings):
    """Fail closed: a start without the system checks must not turn OIDC_ROLE_DEFAULT=admin into admins."""
    configure(settings, None, OIDC_SERVER_APPLICATION_URL="https://a.example", OIDC_ROLE_DEFAULT="admin")
    with pytest.raises(SignInError) as refused:
        resolve_role(get_provider(), {"groups": ["staff"]})
    assert refused.value.reason == "no_role"


def test_the_default_is_read_per_provider():
    env = {"OIDC_CLIENT_ID": "x", "OIDC_PROVIDERS": "one,two", "OIDC_ROLE_DEFAULT": "viewer",
           "OIDC_TWO_ROLE_DEFAULT": "editor"}
    one, two = read_providers(EnvReader(env), BASE_URL)
    assert (one["role_default"], two["role_default"]) == (Role.VIEWER, Role.EDITOR)


# --- the start-up check ------------------------------------------------------------------------------
ROLES = {"OIDC_CLAIM_ROLES": "groups", "OIDC_ROLE_ADMIN": "romm-admins"}


@pytest.mark.parametrize("value", ["admin", "ADMIN", "owner", "viewer,editor"])
def test_a_default_other_than_viewer_or_editor_stops_start_up(settings, value):
    found = problems(settings, **ROLES, OIDC_ROLE_DEFAULT=value)
    assert set(found) == {"accounts.E050"}
    assert "is not a role a sign-in may be given by default" in found["accounts.E050"].msg
    assert "admin is never given by default" in found["accounts.E050"].hint


def test_a_default_without_the_roles_claim_is_a_warning(settings):
    found = problems(settings, OIDC_ROLE_DEFAULT="viewer")
    assert set(found) == {"accounts.W050"} and "does nothing" in found["accounts.W050"].msg


def test_a_default_makes_role_values_optional(settings):
    assert problems(settings, OIDC_CLAIM_ROLES="groups") != {}  # accounts.E008: everyone would be refused
    assert problems(settings, OIDC_CLAIM_ROLES="groups", OIDC_ROLE_DEFAULT="viewer") == {}
