"""An administrator deactivates an account while its password or break-glass sign-in runs.

The deactivation commits after the credentials were checked and before the session exists
(``accounts.signin.sign_in`` then refuses to stamp the account). The person is told
the account is deactivated, stays signed out, and no session or index row is left behind; the
crash this used to be was a 500. Runs on SQLite and on PostgreSQL.
"""

from io import StringIO
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import SESSION_KEY
from django.core.management import call_command
from django.test import Client

from accounts.local import breakglass, ratelimit
from accounts.models import Session, SignInEvent, User
from tests.conftest import messages_of

PASSWORD = "a-long-enough-password"


@pytest.fixture
def dora(db):
    return User.objects.create_user("dora", password=PASSWORD)


@pytest.fixture
def browser():
    # A crash must show as the 500 a person would see, not as a re-raised exception.
    return Client(raise_request_exception=False)


def deactivate_after_the_password_check(monkeypatch):
    succeeded = ratelimit.succeeded

    def patched(request, username):
        # An administrator's save, committed while this request is between check and session.
        admin_copy = User.objects.get(username=username)
        admin_copy.is_active = False
        admin_copy.save()
        return succeeded(request, username)

    monkeypatch.setattr(ratelimit, "succeeded", patched)


def no_signed_in_session():
    """No stored session carries an account (a refused sign-in leaves none behind)."""
    return [s.session_key for s in Session.objects.all() if SESSION_KEY in s.get_decoded()] == []


@pytest.mark.django_db(transaction=True)
def test_login_form_tells_a_person_deactivated_meanwhile(dora, browser, monkeypatch):
    deactivate_after_the_password_check(monkeypatch)
    response = browser.post("/login?local=1", {"username": "dora", "password": PASSWORD})
    assert response.status_code == 200
    assert "Your account here is deactivated" in response.content.decode()
    assert browser.get("/api/users/me").status_code == 401
    assert no_signed_in_session() and Session.objects.signed_in().count() == 0
    # The history shows the attempt once, as refused: no success row for a session never opened.
    assert list(SignInEvent.objects.values_list("outcome", "reason")) == [("refused", "inactive")]


@pytest.mark.django_db(transaction=True)
def test_api_login_answers_401_json_for_an_account_deactivated_meanwhile(dora, browser, monkeypatch):
    deactivate_after_the_password_check(monkeypatch)
    response = browser.post("/api/login", HTTP_AUTHORIZATION="Basic ZG9yYTphLWxvbmctZW5vdWdoLXBhc3N3b3Jk")
    assert response.status_code == 401
    assert "Your account here is deactivated" in response.json()["detail"]
    assert browser.get("/api/users/me").status_code == 401
    assert no_signed_in_session() and Session.objects.signed_in().count() == 0
    assert list(SignInEvent.objects.values_list("outcome", "reason")) == [("refused", "inactive")]


@pytest.mark.django_db(transaction=True)
def test_break_glass_link_deactivated_meanwhile_is_refused_with_the_sentence(dora, browser, monkeypatch):
    out = StringIO()
    call_command("signin_link", "dora", stdout=out, stderr=StringIO())
    token = urlsplit(out.getvalue().strip()).fragment
    use = breakglass.use_sign_in_link

    def spent_then_deactivated(token):
        user = use(token)
        User.objects.filter(pk=user.pk).update(is_active=False)
        return user

    monkeypatch.setattr(breakglass, "use_sign_in_link", spent_then_deactivated)
    response = browser.post("/login/link", {"token": token})
    assert response.status_code == 302 and response["Location"] == "/login?local=1"
    assert "Your account here is deactivated" in " ".join(messages_of(response))
    assert browser.get("/api/users/me").status_code == 401
    assert no_signed_in_session() and Session.objects.signed_in().count() == 0
    assert list(SignInEvent.objects.filter(method="link").values_list("outcome", "reason")) == [
        ("refused", "inactive")
    ]


@pytest.mark.django_db(transaction=True)
def test_the_same_login_without_the_race_still_signs_in(dora, browser):
    # The refusal above is the race's, not the path's: the same form signs an active account in.
    response = browser.post("/login?local=1", {"username": "dora", "password": PASSWORD})
    assert response.status_code == 302
    assert browser.get("/api/users/me").json()["username"] == "dora"
    assert Session.objects.signed_in().filter(user=dora).count() == 1
    assert list(SignInEvent.objects.values_list("outcome", "method")) == [("success", "password")]
