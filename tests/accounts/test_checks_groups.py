"""System checks of OIDC_GROUPS, OIDC_ROLE_DEFAULT and OIDC_ALLOWED_EMAIL_DOMAINS (accounts.checks_groups)."""

import pytest

from tests.accounts.test_checks import problems

ROLES = {"OIDC_CLAIM_ROLES": "groups", "OIDC_ROLE_VIEWER": "*"}


def test_groups_with_the_roles_claim_are_fine(settings):
    assert problems(settings, **ROLES, OIDC_GROUPS="kids,family,romm-*") == {}


def test_groups_without_the_roles_claim_stop_start_up(settings):
    found = problems(settings, OIDC_GROUPS="kids")
    assert set(found) == {"accounts.E051"} and "OIDC_CLAIM_ROLES is empty" in found["accounts.E051"].msg
    assert "OIDC_CLAIM_ROLES=groups" in found["accounts.E051"].hint


@pytest.mark.parametrize(
    "pattern, words",
    [("romm-*-kids", "a * may only end a pattern"), ("*kids", "a * may only end a pattern"),
     ("x" * 151, "longer than a group name may be"), ("kids\x07", "control character")],
)
def test_a_pattern_that_cannot_be_used_stops_start_up(settings, pattern, words):
    found = problems(settings, **ROLES, OIDC_GROUPS=f"family,{pattern}")
    assert set(found) == {"accounts.E052"} and words in found["accounts.E052"].msg
    assert "romm-*" in found["accounts.E052"].hint


def test_a_lone_star_is_a_warning_that_hand_made_groups_would_be_left(settings):
    found = problems(settings, **ROLES, OIDC_GROUPS="*")
    assert set(found) == {"accounts.W052"} and "made by hand in the admin" in found["accounts.W052"].msg


def test_two_providers_mirroring_the_same_groups_are_warned_about(settings):
    two = {
        "OIDC_PROVIDERS": "one,two",
        "OIDC_ONE_SERVER_APPLICATION_URL": "https://one.example.com",
        "OIDC_TWO_SERVER_APPLICATION_URL": "https://two.example.com",
        "OIDC_SERVER_APPLICATION_URL": None,
        "OIDC_PROVIDER": None,
        **ROLES,
    }
    found = problems(settings, **two, OIDC_GROUPS="romm-*")  # the unprefixed value serves both
    assert set(found) == {"accounts.W051"}
    assert "OIDC_ONE_GROUPS and OIDC_TWO_GROUPS" in found["accounts.W051"].hint
    assert problems(settings, **two, OIDC_ONE_GROUPS="one-*", OIDC_TWO_GROUPS="two-*,kids") == {}
    assert set(problems(settings, **two, OIDC_ONE_GROUPS="romm-*", OIDC_TWO_GROUPS="romm-kids")) == {"accounts.W051"}
