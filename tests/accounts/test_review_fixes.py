"""Findings of the second attack review (issue 17), each told from the attacker's side."""

import base64

import pytest
from django.conf import settings as django_settings
from django.contrib.sessions.models import Session
from django.test import Client

from accounts import profile
from accounts.models import OIDCSession, Role, User
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-staple"


def whoami(browser):
    response = browser.get("/api/users/me")
    return response.json()["username"] if response.status_code == 200 else None


def password_session(username="mallory", role=Role.EDITOR):
    user = User.objects.create_user(username, email=f"{username}@example.com", password=PASSWORD, role=role)
    browser = Client()
    assert browser.post("/login", {"username": username, "password": PASSWORD})["Location"] == "/"
    return browser, user


# --- 1. a profile save must not undo an administrator ------------------------------------------
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


# --- 5. non-ASCII HTTP Basic --------------------------------------------------------------------
@pytest.mark.parametrize("path,method", [("/api/users/me", "get"), ("/api/login", "post")])
def test_non_ascii_basic_credentials_are_a_401_with_the_sentence(client, path, method):
    response = getattr(client, method)(path, HTTP_AUTHORIZATION="Basic \u00e9\u00e9\u00e9\u00e9")
    assert response.status_code == 401
    assert "not valid HTTP Basic" in response.json()["detail"]


# --- 6. password sessions end when password sign-in is turned off -------------------------------
def test_a_password_session_ends_when_password_sign_in_is_turned_off(settings):
    browser, mallory = password_session()
    api = Client()
    api.post("/api/login", HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"mallory:{PASSWORD}".encode()).decode())
    assert whoami(browser) == "mallory" and whoami(api) == "mallory"
    settings.DISABLE_USERPASS_LOGIN = True
    page = browser.get("/library/")
    assert page.status_code == 302 and page["Location"] == "/login?local=1"
    assert "session your password opened has ended" in browser.get(page["Location"]).content.decode()
    refused = api.get("/api/users/me")
    assert refused.status_code == 401 and "DISABLE_USERPASS_LOGIN" in refused.json()["detail"]
    assert whoami(browser) is None
    assert not OIDCSession.objects.filter(user=mallory).exists()


def test_break_glass_and_provider_sessions_survive_password_sign_in_being_turned_off(settings, authentik):
    from io import StringIO
    from urllib.parse import urlsplit

    from django.core.management import call_command

    User.objects.create_user("root", password=PASSWORD, role=Role.ADMIN)
    out = StringIO()
    call_command("signin_link", "root", stdout=out, stderr=StringIO())
    glass = Client()
    glass.post("/login/link", {"token": urlsplit(out.getvalue().strip()).fragment})
    sso = Client()
    sign_in(sso, authentik, "carol")
    settings.DISABLE_USERPASS_LOGIN = True
    assert whoami(glass) == "root"
    assert whoami(sso) == "carol"


# --- 7. a cycled session key stays in the session index -----------------------------------------
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
    assert list(OIDCSession.objects.filter(user=alice).values_list("session_key", flat=True)) == [new_key]
    # Unlinking (or deactivation, or back-channel logout) now reaches the live session.
    alice.identities.get().delete()
    assert whoami(browser) is None
    assert not Session.objects.filter(session_key=new_key).exists()
