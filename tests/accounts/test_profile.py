"""/profile: email, role, linked identities (unlink only with another way in), API tokens."""

import logging

import pytest

from accounts import profile
from accounts.models import ApiToken, Identity, Role, SignInEvent, User
from tests.accounts.helpers import password_session
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-staple"
TAKEN = "Another account already uses this email address."


@pytest.fixture(autouse=True)
def _fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def frank(client):
    user = User.objects.create_user("frank", email="frank@local.example", password=PASSWORD, role=Role.EDITOR)
    client.force_login(user)
    return user


def second_identity(user):
    return Identity.objects.create(
        user=user, issuer="https://auth.other.example", subject="s-2", provider="authelia"
    )


def test_anonymous_is_sent_to_login(client):
    response = client.get("/profile")
    assert response.status_code == 302 and response["Location"].startswith("/login?next=/profile")


def test_profile_shows_email_role_and_identities(client, authentik):
    sign_in(client, authentik, "bob")
    html = client.get("/profile").content.decode()
    assert 'value="bob@example.com"' in html
    assert 'data-testid="role">editor<' in html
    assert authentik.subject("bob") in html
    assert 'href="/profile">Profile</a>' in html


def test_email_can_be_changed(client, frank):
    response = client.post("/profile", {"email": "frank@new.example"})
    assert response.status_code == 302 and response["Location"] == "/profile"
    assert User.objects.get(pk=frank.pk).email == "frank@new.example"
    assert "Your email address is saved." in client.get("/profile").content.decode()


def test_own_email_in_another_case_is_accepted(client, frank):
    assert client.post("/profile", {"email": "FRANK@local.example"}).status_code == 302
    assert User.objects.get(pk=frank.pk).email == "FRANK@local.example"


@pytest.mark.parametrize("email", ["carol@example.com", "Carol@Example.COM"])
def test_email_of_another_account_is_saved_unconfirmed_without_naming_it(client, frank, email):
    # Refusing it would tell anyone signed in that the address has an account here; unconfirmed,
    # it never links an OpenID sign-in, so carol's account stays the only one it reaches.
    carol = User.objects.create_user("carol", email="carol@example.com")
    response = client.post("/profile", {"email": email})
    assert response.status_code == 302 and response["Location"] == "/profile"
    assert TAKEN not in client.get("/profile").content.decode()
    frank.refresh_from_db()
    assert (frank.email, frank.email_confirmed) == (email, False)
    carol.refresh_from_db()
    assert (carol.email, carol.email_confirmed) == ("carol@example.com", True)


def test_invalid_email_is_refused(client, frank):
    response = client.post("/profile", {"email": "not-an-address"})
    assert response.status_code == 400 and "valid email address" in response.content.decode()
    assert User.objects.get(pk=frank.pk).email == "frank@local.example"


def test_oidc_only_account_cannot_unlink_its_only_identity(client, authentik, caplog):
    sign_in(client, authentik, "bob")
    identity = Identity.objects.get()
    with caplog.at_level(logging.WARNING, logger="accounts"):
        response = client.post(f"/profile/identities/{identity.pk}/unlink")
    assert response["Location"] == "/profile"
    assert "You cannot unlink your only way to sign in." in client.get("/profile").content.decode()
    assert Identity.objects.filter(pk=identity.pk).exists()
    assert "unlink refused for 'bob': last way in" in caplog.text


def test_identity_can_be_unlinked_when_another_identity_remains(client, authentik):
    sign_in(client, authentik, "bob")
    bob = User.objects.get(username="bob")
    other = second_identity(bob)
    identity = Identity.objects.get(provider="authentik")
    client.post(f"/profile/identities/{identity.pk}/unlink")
    assert list(bob.identities.all()) == [other]
    event = SignInEvent.objects.filter(outcome=SignInEvent.Outcome.CHANGED).get()
    assert (event.reason, event.provider, event.subject, event.user_id) == (
        "identity_unlinked",
        "authentik",
        identity.subject,
        bob.pk,
    )


def test_identity_can_be_unlinked_when_a_usable_password_remains(client, frank):
    identity = second_identity(frank)
    client.post(f"/profile/identities/{identity.pk}/unlink")
    assert not Identity.objects.exists()


def test_password_does_not_count_as_a_way_in_when_password_login_is_off(client, frank, settings):
    settings.DISABLE_USERPASS_LOGIN = True
    identity = second_identity(frank)
    client.post(f"/profile/identities/{identity.pk}/unlink")
    assert Identity.objects.filter(pk=identity.pk).exists()


def test_another_accounts_identity_cannot_be_unlinked(client, frank):
    carol = User.objects.create_user("carol", email="carol@example.com", password=PASSWORD)
    identity = second_identity(carol)
    assert client.post(f"/profile/identities/{identity.pk}/unlink").status_code == 404
    assert Identity.objects.filter(pk=identity.pk).exists()


def test_unlink_is_post_only(client, frank):
    identity = second_identity(frank)
    assert client.get(f"/profile/identities/{identity.pk}/unlink").status_code == 405
    assert Identity.objects.exists()


def test_tokens_can_be_revoked_from_the_profile(client, frank):
    for _ in range(2):
        client.post("/api/token", {"grant_type": "password", "username": "frank", "password": PASSWORD})
    assert "2 active tokens" in client.get("/profile").content.decode()
    client.post("/profile/tokens/revoke")
    assert ApiToken.objects.filter(revoked=False).count() == 0
    assert "Revoked 2 API token(s)." in client.get("/profile").content.decode()


# --- a profile save does not undo what an administrator changed meanwhile -----------------------
def admin_demotes(user):
    fresh = User.objects.get(pk=user.pk)
    fresh.role = Role.VIEWER
    fresh.save(update_fields=["role"])


def admin_deactivates(user):
    fresh = User.objects.get(pk=user.pk)
    fresh.is_active = False
    fresh.save(update_fields=["is_active"])


def admin_resets_password(user):
    fresh = User.objects.get(pk=user.pk)
    fresh.set_password("the-administrators-new-password")
    fresh.save()


def admin_deletes(user):
    User.objects.get(pk=user.pk).delete()


@pytest.mark.parametrize("action", [admin_demotes, admin_deactivates, admin_resets_password, admin_deletes])
def test_an_administrators_change_during_a_profile_save_stands(action, monkeypatch):
    browser, mallory = password_session()
    real_clean = profile.EmailForm.clean_email

    def clean_email_while_the_admin_acts(form):
        action(mallory)  # the administrator's request commits while the profile request runs
        return real_clean(form)

    monkeypatch.setattr(profile.EmailForm, "clean_email", clean_email_while_the_admin_acts)
    response = browser.post("/profile", {"email": "new-address@example.com"})
    assert response.status_code in (302, 400)
    after = User.objects.filter(pk=mallory.pk).first()
    if action is admin_deletes:
        assert after is None, "the deleted account was inserted again"
    elif action is admin_demotes:
        assert after.role == Role.VIEWER and not after.is_staff
        assert after.email == "new-address@example.com"
    elif action is admin_deactivates:
        assert after.is_active is False
    else:
        assert after.check_password("the-administrators-new-password")
        assert not after.check_password(PASSWORD)
