"""Third attack review: ways around the fixes of issues 13 and 17, each told from the attacker's side.

A test that passes documents an attack the fixes defend. A test marked ``xfail(strict=True)``
is a hole found in this review, written as the site should behave: it fails today, and passes
(turning the strict xfail into a failure) once the hole is closed, so the marker then goes.
"""

import base64
import time

import pytest
from django.conf import settings as django_settings
from django.contrib.sessions.models import Session
from django.test import Client

from accounts.models import OIDCSession, Role, User
from tests.conftest import configure, sign_in
from tests.fakeidp import FakeProvider, logout_token

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-staple"
USERS = "/admin/accounts/user/"


def basic(username, password):
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def whoami(browser, **headers):
    response = browser.get("/api/users/me", **headers)
    return response.json()["username"] if response.status_code == 200 else None


def password_session(username="mallory", role=Role.EDITOR, **client_options):
    """A browser signed in with a password through the login form, as a person does it."""
    user = User.objects.create_user(username, email=f"{username}@example.com", password=PASSWORD, role=role)
    browser = Client(**client_options)
    assert browser.post("/login", {"username": username, "password": PASSWORD})["Location"] == "/"
    return browser, user


def grant(browser, username, password):
    return browser.post("/api/token", {"grant_type": "password", "username": username, "password": password})


# === the session policy under DISABLE_USERPASS_LOGIN ================================================
# The middleware skips its check whenever the request carries an Authorization header, of any value.
# The HTML pages ignore that header and use the session cookie, so a stolen (or simply old) password
# session keeps working after the operator turns password sign-in off, by adding one header.
AUTHORIZATION_HEADERS = {"empty": "", "junk": "x", "unknown scheme": "Negotiate abc"}


@pytest.mark.xfail(strict=True, reason="password session survives DISABLE_USERPASS_LOGIN on HTML pages when any Authorization header is sent")
@pytest.mark.parametrize("header", AUTHORIZATION_HEADERS.values(), ids=AUTHORIZATION_HEADERS.keys())
def test_an_authorization_header_does_not_keep_a_password_session_alive_on_pages(settings, header):
    browser, mallory = password_session()
    settings.DISABLE_USERPASS_LOGIN = True
    page = browser.get("/profile", HTTP_AUTHORIZATION=header)
    assert page.status_code == 302 and page["Location"] == "/login?local=1", "the password session opened /profile"
    assert not OIDCSession.objects.filter(user=mallory).exists()


@pytest.mark.xfail(strict=True, reason="an empty Authorization header lets a password session use the JSON API under DISABLE_USERPASS_LOGIN")
def test_an_empty_authorization_header_does_not_keep_a_password_session_alive_on_the_api(settings):
    browser, _ = password_session()
    settings.DISABLE_USERPASS_LOGIN = True
    response = browser.get("/api/users/me", HTTP_AUTHORIZATION="")
    assert response.status_code == 401 and "DISABLE_USERPASS_LOGIN" in response.json()["detail"]


def test_basic_or_bearer_on_the_api_does_not_keep_a_password_session_alive(settings):
    browser, _ = password_session()
    settings.DISABLE_USERPASS_LOGIN = True
    assert browser.get("/api/users/me", HTTP_AUTHORIZATION=basic("mallory", PASSWORD)).status_code == 401
    assert browser.get("/api/users/me", HTTP_AUTHORIZATION="Bearer whatever").status_code == 401
    # Without a header the session itself is ended.
    assert whoami(browser) is None


# === the password rate limiter ======================================================================
@pytest.mark.xfail(strict=True, reason="refused attempts still count toward the per-account ceiling: one address locks the owner out with 51 requests")
def test_one_address_cannot_push_the_owner_past_the_account_wide_ceiling(settings):
    # Issue 13.5: a stranger must not keep an administrator's password login locked. Refused
    # attempts (past the pair and address limits) must not keep feeding the account-wide ceiling.
    User.objects.create_user("alice", password=PASSWORD, role=Role.ADMIN)
    attacker = Client(REMOTE_ADDR="198.51.100.66")
    for _ in range(settings.LOGIN_FAILURES_PER_ACCOUNT_ALL_ADDRESSES + 1):
        grant(attacker, "alice", "guess")
    assert grant(attacker, "alice", PASSWORD).status_code == 429
    owner = Client(REMOTE_ADDR="192.0.2.10")
    assert grant(owner, "alice", PASSWORD).status_code == 200, "the owner is locked out by one address"


def test_the_account_wide_ceiling_still_stops_a_spread_out_campaign(settings):
    settings.LOGIN_FAILURES_PER_ACCOUNT_ALL_ADDRESSES = 12
    User.objects.create_user("alice", password=PASSWORD, role=Role.ADMIN)
    for n in range(4):  # four addresses, each under its own pair limit of 5
        for _ in range(3):
            grant(Client(REMOTE_ADDR=f"198.51.100.{n}"), "alice", "guess")
    assert grant(Client(REMOTE_ADDR="198.51.100.200"), "alice", PASSWORD).status_code == 429


@pytest.mark.parametrize(
    "addresses",
    [
        ["2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:fffe", "2001:db8:1:2:abcd::9"],
        ["192.0.2.7", "::ffff:192.0.2.7", "::ffff:c000:207"],
    ],
    ids=["one IPv6 /64", "IPv4 and its IPv4-mapped forms"],
)
def test_address_forms_of_one_client_share_one_address_counter(settings, addresses):
    settings.LOGIN_FAILURES_PER_ADDRESS = 3
    settings.LOGIN_FAILURES_PER_ACCOUNT = 1000
    User.objects.create_user("frank", password=PASSWORD)
    for n, address in enumerate(addresses):
        grant(Client(REMOTE_ADDR=address), f"someone{n}", "guess")
    assert grant(Client(REMOTE_ADDR=addresses[0]), "frank", PASSWORD).status_code == 429


def test_own_successful_sign_ins_do_not_buy_more_guesses_from_an_address(settings):
    # The attacker holds an account of their own and signs into it between guesses at another's.
    settings.LOGIN_FAILURES_PER_ADDRESS = 6
    settings.LOGIN_FAILURES_PER_ACCOUNT = 1000
    User.objects.create_user("frank", password=PASSWORD)
    User.objects.create_user("mallory", password="mallorys-own-password")
    attacker = Client(REMOTE_ADDR="198.51.100.9")
    refused = 0
    for _ in range(12):
        assert grant(attacker, "mallory", "mallorys-own-password").status_code in (200, 429)
        refused += grant(attacker, "frank", "guess").status_code == 429
    assert refused >= 6, "successes reset the address counter"


# === lost updates outside the profile: the password change forms ===================================
class AdministratorActsMeanwhile:
    """A password validator: runs inside the password-change request, after the account was
    loaded and before it is saved, which is where another administrator's change can land."""

    action = None

    def validate(self, password, user=None):
        if AdministratorActsMeanwhile.action is not None:
            AdministratorActsMeanwhile.action(user)

    def get_help_text(self):
        return ""


def another_admin_deactivates(user):
    fresh = User.objects.get(pk=user.pk)
    fresh.is_active = False
    fresh.save(update_fields=["is_active"])  # as the admin's Deactivate action does: sessions end


def another_admin_demotes(user):
    fresh = User.objects.get(pk=user.pk)
    fresh.role = Role.VIEWER
    fresh.save(update_fields=["role"])


@pytest.fixture
def administrator_acts(settings):
    settings.AUTH_PASSWORD_VALIDATORS = [{"NAME": f"{__name__}.AdministratorActsMeanwhile"}]
    yield lambda action: setattr(AdministratorActsMeanwhile, "action", action)
    AdministratorActsMeanwhile.action = None


NEW_PASSWORD = "a-brand-new-passphrase-9"
PASSWORD_FORMS = {
    "admin's set-password page": lambda user: (
        f"{USERS}{user.pk}/password/", {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    ),
    "admin's change-password page": lambda user: (
        "/admin/password_change/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    ),
}


@pytest.mark.xfail(strict=True, reason="the admin password forms save the whole user row loaded at the start: a deactivation made meanwhile is undone and the session comes back unindexed")
@pytest.mark.parametrize("page", PASSWORD_FORMS.values(), ids=PASSWORD_FORMS.keys())
def test_a_deactivation_during_an_administrators_own_password_change_stands(administrator_acts, page):
    # A thief holding an administrator's session changes that account's password; the superuser
    # deactivates the account at that moment. Issue 17.1's rule: the administrator's change stands.
    browser, alice = password_session("alice", role=Role.ADMIN)
    administrator_acts(another_admin_deactivates)
    path, form = page(alice)
    browser.post(path, form)
    alice.refresh_from_db()
    assert alice.is_active is False, "the deactivation was undone"
    assert whoami(browser) is None, "the thief's session lives on"


@pytest.mark.xfail(strict=True, reason="the admin password forms save the whole user row: a demotion made meanwhile is undone")
@pytest.mark.parametrize("page", PASSWORD_FORMS.values(), ids=PASSWORD_FORMS.keys())
def test_a_demotion_during_an_administrators_own_password_change_stands(administrator_acts, page):
    browser, alice = password_session("alice", role=Role.ADMIN)
    administrator_acts(another_admin_demotes)
    path, form = page(alice)
    browser.post(path, form)
    alice.refresh_from_db()
    assert alice.role == Role.VIEWER and not alice.is_staff and not alice.is_superuser, "the demotion was undone"


def admin_unlinks_every_identity(user):
    for identity in list(User.objects.get(pk=user.pk).identities.all()):
        identity.delete()  # as the admin's inline and action do: the identity's sessions end


@pytest.mark.xfail(strict=True, reason="cycle_key (update_session_auth_hash) re-creates a session that was ended while the request ran, under a new key the index never sees")
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
    assert not Session.objects.filter(session_key=key).exists() or OIDCSession.objects.filter(session_key=key).exists()


def test_a_password_change_keeps_the_session_indexed_and_endable(authentik):
    browser = Client()
    sign_in(browser, authentik, "alice")
    alice = User.objects.get(username="alice")
    path, form = PASSWORD_FORMS["admin's set-password page"](alice)
    assert browser.post(path, form).status_code == 302
    key = browser.cookies[django_settings.SESSION_COOKIE_NAME].value
    row = OIDCSession.objects.get(session_key=key)
    assert row.issuer == authentik.issuer and row.sid == "sid-alice"
    # The provider's back-channel logout for that sid reaches the cycled session.
    response = Client().post("/api/oauth/backchannel-logout", {"logout_token": logout_token(authentik, "alice")})
    assert response.status_code == 200 and whoami(browser) is None
