"""Every policy refusal: the sentence shown, where the person lands, one log line, no data change."""

import logging
import time

import pytest

from accounts.models import Identity, User
from tests.conftest import BASE_URL, configure, sign_in, start


def snapshot():
    return (
        sorted(User.objects.values_list("username", "email", "role", "is_active")),
        sorted(Identity.objects.values_list("issuer", "subject", "user__username")),
    )


def setup_inactive(client, fake, settings):
    sign_in(client, fake, "carol")
    client.logout()
    User.objects.filter(username="carol").update(is_active=False)
    return "carol", {}


def setup_linked_elsewhere(client, fake, settings):
    # carol's account is linked to one subject; another subject presents carol's email.
    sign_in(client, fake, "carol")
    client.logout()
    fake.subjects["impostor"] = "impostor-subject"
    return "carol", {"_subject": "impostor-subject"}


def setup_registration_closed(client, fake, settings):
    configure(settings, fake, OIDC_ALLOW_REGISTRATION="false")
    return "bob", {}


def setup_create_user_alias(client, fake, settings):
    configure(settings, fake, OIDC_CREATE_USER="no")
    return "bob", {}


def setup_unverified(client, fake, settings):
    return "dave", {}


def setup_unverified_with_local_account(client, fake, settings):
    User.objects.create_user("dave", email="dave@example.com")
    return "dave", {}


def setup_verified_not_exactly_true(client, fake, settings):
    return "carol", {"email_verified": "true"}


def setup_no_role(client, fake, settings):
    return "erin", {}


def setup_no_role_for_linked_account(client, fake, settings):
    sign_in(client, fake, "bob")
    client.logout()
    return "bob", {"groups": ["staff"]}


def setup_administrator_with_the_email(client, fake, settings):
    # A local administrator has alice's address (confirmed or not): never joined by email.
    User.objects.create_user("root", email="Alice@Example.com", password="a-long-password-1", role="admin")
    return "alice", {}


def setup_staff_with_the_email(client, fake, settings):
    User.objects.create_user("ops", email="alice@example.com", is_staff=True)
    User.objects.filter(username="ops").update(is_staff=True)  # save() ties staff to the role
    return "alice", {}


def setup_email_linking_off(client, fake, settings):
    configure(settings, fake, OIDC_EMAIL_LINKING="false")
    User.objects.create_user("carol-local", email="carol@example.com")
    return "carol", {}


def setup_email_linking_off_self_typed(client, fake, settings):
    # With linking off, the provider's email does not take a self-typed address either.
    configure(settings, fake, OIDC_EMAIL_LINKING="false")
    User.objects.create_user("mallory", email="carol@example.com", email_confirmed=False)
    return "carol", {}


MATRIX = {
    "admin_email_link": (setup_administrator_with_the_email, "Administrator accounts are never joined"),
    "admin_email_link_staff": (setup_staff_with_the_email, "Administrator accounts are never joined"),
    "email_linking_off": (setup_email_linking_off, "does not join sign-ins to accounts by email"),
    "email_linking_off_self_typed": (setup_email_linking_off_self_typed, "does not join sign-ins to accounts by email"),
    "inactive": (setup_inactive, "Your account here is deactivated"),
    "account_linked_elsewhere": (setup_linked_elsewhere, "already linked to another"),
    "registration_closed": (setup_registration_closed, "new accounts cannot be created by signing in"),
    "registration_closed_alias": (setup_create_user_alias, "new accounts cannot be created by signing in"),
    "email_unverified": (setup_unverified, "must add a scope mapping for the"),
    "email_unverified_no_link": (setup_unverified_with_local_account, "is not verified"),
    "email_verified_string": (setup_verified_not_exactly_true, "is not verified"),
    "no_role": (setup_no_role, "groups do not give you access"),
    "no_role_demotes_nobody": (setup_no_role_for_linked_account, "groups do not give you access"),
}
REASONS = {
    "registration_closed_alias": "registration_closed",
    "admin_email_link_staff": "admin_email_link",
    "email_linking_off_self_typed": "email_linking_off",
    "email_unverified_no_link": "email_unverified",
    "email_verified_string": "email_unverified",
    "no_role_demotes_nobody": "no_role",
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", MATRIX)
def test_policy_refusal(case, client, authentik, settings, caplog):
    setup, sentence = MATRIX[case]
    person, changes = setup(client, authentik, settings)
    subject = changes.pop("_subject", None)
    if subject:
        authentik.subjects[person] = subject
    before = snapshot()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="accounts"):
        response = sign_in(client, authentik, person, next="/api/users/me", **changes)
    assert response.status_code == 302
    assert response["Location"] == "/login?next=%2Fapi%2Fusers%2Fme&local=1"
    page = client.get(response["Location"]).content.decode()
    assert sentence in page
    assert "Sign in with Authentik" in page  # the way to start again is on the same page
    assert snapshot() == before
    assert client.get("/api/users/me").status_code == 401
    refusals = [r for r in caplog.records if r.getMessage().startswith("OIDC sign-in refused")]
    assert len(refusals) == 1
    assert f"reason={REASONS.get(case, case)}" in refusals[0].getMessage()
    assert authentik.client_secret not in caplog.text


@pytest.mark.django_db
def test_unverified_email_in_authelia_profile_is_refused_too(client, authelia):
    response = sign_in(client, authelia, "carol", email_verified=False)
    assert "is not verified" in client.get(response["Location"]).content.decode()
    assert not User.objects.exists()


@pytest.mark.django_db
def test_missing_email_verified_is_accepted_when_provider_does_not_list_it(client, idp):
    idp.metadata["claims_supported"].remove("email_verified")
    idp.id_token_changes["email_verified"] = ...
    sign_in(client, idp, "carol", email_verified=None)
    assert User.objects.filter(username="carol").exists()


@pytest.mark.django_db
def test_missing_email_verified_is_refused_when_provider_lists_it(client, authentik):
    authentik.id_token_changes["email_verified"] = ...
    response = sign_in(client, authentik, "carol", email_verified=None)
    assert "is not verified" in client.get(response["Location"]).content.decode()


@pytest.mark.django_db
def test_state_unknown_shows_start_again(client, idp, caplog):
    response = client.get("/api/oauth/openid?code=abc&state=never-issued-state")
    assert response["Location"] == "/login?local=1"
    page = client.get(response["Location"]).content.decode()
    assert "already used or does not belong to this browser" in page
    assert idp.requests_to("token_endpoint") == []


@pytest.mark.django_db
def test_callback_without_state_shows_start_again(client, idp):
    response = client.get("/api/oauth/openid?code=abc")
    assert "Start again" in client.get(response["Location"]).content.decode()


@pytest.mark.django_db
def test_expired_state_is_refused(client, idp, settings, monkeypatch):
    location = start(client)
    callback = idp.authorize(location, "carol").replace(BASE_URL, "")
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + settings.OIDC_STATE_SECONDS + 5)
    response = client.get(callback)
    assert "took too long and expired" in client.get(response["Location"]).content.decode()
    assert not User.objects.exists()


@pytest.mark.django_db
def test_provider_error_is_shown_without_its_description(client, idp):
    location = start(client)
    state = location.split("state=")[1].split("&")[0]
    response = client.get(
        f"/api/oauth/openid?error=access_denied&error_description=%3Cscript%3Ealert(1)%3C/script%3E&state={state}"
    )
    page = client.get(response["Location"]).content.decode()
    assert "did not complete the sign-in (access_denied)" in page
    assert "alert(1)" not in page
    # The state was used up by the error answer.
    callback = idp.authorize(location, "carol").replace(BASE_URL, "")
    assert "already used" in client.get(client.get(callback)["Location"]).content.decode()


@pytest.mark.django_db
def test_provider_unreachable_at_start_is_explained(client, idp, requests_mock):
    import requests

    requests_mock.get(idp.discovery_url, exc=requests.exceptions.ConnectionError)
    response = client.get("/api/login/openid")
    assert response.status_code == 302 and response["Location"] == "/login?local=1"
    assert "could not be reached" in client.get(response["Location"]).content.decode()


@pytest.mark.django_db
def test_start_with_oidc_disabled_explains(client, settings):
    settings.OIDC_ENABLED = False
    response = client.get("/api/login/openid")
    assert "Single sign-on is not configured" in client.get(response["Location"]).content.decode()
