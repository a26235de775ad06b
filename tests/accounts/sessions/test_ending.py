"""A session stays endable when a password change cycles its key: unlinking, deactivation and
the provider's back-channel logout still reach it, and one ended meanwhile is not brought back."""

import pytest
from django.conf import settings as django_settings
from django.test import Client

from accounts.models import Session, User
from tests.accounts.helpers import PASSWORD_FORMS, whoami
from tests.conftest import sign_in
from tests.fakeidp import logout_token

pytestmark = pytest.mark.django_db


def test_an_administrators_own_password_change_keeps_the_session_findable(authentik):
    browser = Client()
    sign_in(browser, authentik, "alice")
    alice = User.objects.get(username="alice")
    old_key = browser.cookies[django_settings.SESSION_COOKIE_NAME].value
    form = {"password1": "a-brand-new-passphrase-9", "password2": "a-brand-new-passphrase-9"}
    response = browser.post(f"/admin/accounts/user/{alice.pk}/password/", form)
    assert response.status_code == 302
    new_key = browser.cookies[django_settings.SESSION_COOKIE_NAME].value
    assert new_key != old_key and whoami(browser) == "alice"
    assert list(Session.objects.signed_in().filter(user=alice).values_list("session_key", flat=True)) == [new_key]
    # Unlinking (or deactivation, or back-channel logout) now reaches the live session.
    alice.identities.get().delete()
    assert whoami(browser) is None
    assert not Session.objects.filter(session_key=new_key).exists()


def test_a_password_change_keeps_the_session_indexed_and_endable(authentik):
    browser = Client()
    sign_in(browser, authentik, "alice")
    alice = User.objects.get(username="alice")
    path, form = PASSWORD_FORMS["admin's set-password page"](alice)
    assert browser.post(path, form).status_code == 302
    key = browser.cookies[django_settings.SESSION_COOKIE_NAME].value
    row = Session.objects.signed_in().get(session_key=key)
    assert row.issuer == authentik.issuer and row.sid == "sid-alice"
    # The provider's back-channel logout for that sid reaches the cycled session.
    response = Client().post(
        "/api/oauth/backchannel-logout", {"logout_token": logout_token(authentik, "alice")}
    )
    assert response.status_code == 200 and whoami(browser) is None


def admin_unlinks_every_identity(user):
    for identity in list(User.objects.get(pk=user.pk).identities.all()):
        identity.delete()  # as the admin's inline and action do: the identity's sessions end


def test_a_session_ended_during_a_password_change_is_not_brought_back(administrator_acts, authentik):
    # The thief holds an administrator's provider session and sets a password in the admin; the
    # operator unlinks the stolen identity at that moment (back-channel logout and deactivation end
    # sessions the same way). Django then cycles the key of the session that no longer exists.
    browser = Client()
    sign_in(browser, authentik, "alice")
    alice = User.objects.get(username="alice")
    administrator_acts(admin_unlinks_every_identity)
    path, form = PASSWORD_FORMS["admin's set-password page"](alice)
    browser.post(path, form)
    administrator_acts(None)
    key = browser.cookies[django_settings.SESSION_COOKIE_NAME].value
    assert whoami(browser) is None, "the ended session is back"
    # Whatever the browser holds now is anonymous: no session signs anyone in outside the index.
    for session in Session.objects.filter(session_key=key):
        assert "_auth_user_id" not in session.get_decoded()
    assert not Session.objects.signed_in().filter(user=alice).exists()
