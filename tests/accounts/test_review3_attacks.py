"""Third attack review: ways around the fixes of issues 13 and 17, each told from the attacker's side.

Each test is an attack the fixes defend; those that were holes when the review found them
(the Authorization-header skip, admin password forms, a session revived by cycle_key, refused
attempts that still counted account-wide, failure memory poisoned by the back-channel receiver,
simultaneous visitors each waiting on a hung provider) failed before their fix.
"""

import base64
import logging.config
import time

import jwt
import pytest
import requests
from django.conf import settings as django_settings
from django.core.cache import cache
from django.test import Client

from accounts.models import Role, Session, User
from tests.conftest import configure, sign_in
from tests.fakeidp import FakeProvider, logout_token, rsa_key

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


@pytest.mark.parametrize("header", AUTHORIZATION_HEADERS.values(), ids=AUTHORIZATION_HEADERS.keys())
def test_an_authorization_header_does_not_keep_a_password_session_alive_on_pages(settings, header):
    browser, mallory = password_session()
    settings.DISABLE_USERPASS_LOGIN = True
    page = browser.get("/profile", HTTP_AUTHORIZATION=header)
    assert page.status_code == 302 and page["Location"] == "/login?local=1", (
        "the password session opened /profile"
    )
    assert not Session.objects.signed_in().filter(user=mallory).exists()


def test_an_authorization_header_does_not_keep_a_password_administrator_in_the_admin(settings):
    browser, _ = password_session("root", role=Role.ADMIN)
    settings.DISABLE_USERPASS_LOGIN = True
    page = browser.get(USERS, HTTP_AUTHORIZATION="x")
    assert page.status_code == 302, "the password session still opens the user list in the admin"


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
        f"{USERS}{user.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    ),
    "admin's change-password page": lambda user: (
        "/admin/password_change/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    ),
}


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


@pytest.mark.parametrize("page", PASSWORD_FORMS.values(), ids=PASSWORD_FORMS.keys())
def test_a_demotion_during_an_administrators_own_password_change_stands(administrator_acts, page):
    browser, alice = password_session("alice", role=Role.ADMIN)
    administrator_acts(another_admin_demotes)
    path, form = page(alice)
    browser.post(path, form)
    alice.refresh_from_db()
    assert alice.role == Role.VIEWER and not alice.is_staff and not alice.is_superuser, (
        "the demotion was undone"
    )


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


# === the failure memory and the back-channel receiver ===============================================
def forged_logout_token(fake):
    """What anyone can POST: the configured issuer, a key id nobody has, a signature of nothing."""
    claims = {
        "iss": fake.issuer,
        "aud": fake.client_id,
        "iat": int(time.time()),
        "jti": "forged",
        "sid": "x",
        "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
    }
    return jwt.encode(
        claims, "an-attackers-own-secret-32-bytes-long!!", algorithm="HS256", headers={"kid": "nobody"}
    )


def answers_in(seconds, fake, url):
    """The provider at ``url`` answers, but only to a caller that waits ``seconds`` or more."""

    def respond(request, context):
        if (request.timeout or 0) < seconds:
            raise requests.exceptions.ReadTimeout(f"{url} answers after {seconds}s")
        return fake.metadata if url == fake.discovery_url else fake.jwks()

    fake.mocker.get(url, json=respond)


def test_an_anonymous_post_cannot_make_the_site_remember_a_failure_for_a_slow_but_working_provider(authentik):
    answers_in(1.5, authentik, authentik.discovery_url)  # slower than 1 s, well within OIDC_TIMEOUT
    attacker = Client()
    refused = attacker.post("/api/oauth/backchannel-logout", {"logout_token": forged_logout_token(authentik)})
    assert refused.status_code == 400
    person = Client()
    start = person.get("/api/login/openid")
    assert start.status_code == 302 and start["Location"].startswith(
        authentik.metadata["authorization_endpoint"]
    ), "the sign-in was refused because of the attacker's request"


def test_a_forged_logout_token_with_an_unknown_kid_refetches_the_jwks_at_most_once_per_window(authentik):
    browser = Client()
    sign_in(browser, authentik, "carol")  # discovery and JWKS are cached now
    before = len(authentik.requests_to("jwks_uri"))
    for _ in range(30):
        token = logout_token(authentik, "carol")
        header_forged = jwt.encode(
            jwt.decode(token, options={"verify_signature": False}),
            rsa_key(3),
            algorithm="RS256",
            headers={"kid": "rotated-away", "typ": "logout+jwt"},
        )
        assert (
            Client().post("/api/oauth/backchannel-logout", {"logout_token": header_forged}).status_code == 400
        )
    assert len(authentik.requests_to("jwks_uri")) - before <= 2  # one window, or two if it ticked over
    assert whoami(browser) == "carol"


def test_the_issuer_fallback_of_a_cold_cache_does_not_loosen_the_exact_iss_check(authentik):
    # With nothing cached, the receiver picks the provider by its configured issuer, trailing slash
    # aside; the token's iss must still be exactly the discovered one (Authentik's ends in "/").
    browser = Client()
    sign_in(browser, authentik, "carol")
    cache.clear()
    token = logout_token(authentik, "carol", iss=authentik.issuer.rstrip("/"))
    response = Client().post("/api/oauth/backchannel-logout", {"logout_token": token})
    assert response.status_code == 400 and response.json()["error_description"] == "invalid logout_token"
    assert whoami(browser) == "carol"


def test_visitors_arriving_while_the_provider_hangs_do_not_each_wait_for_it(authentik):
    waited = []

    def hangs(request, context):
        waited.append(request.timeout)
        if len(waited) == 1:
            # A second visitor arrives while the first request is still waiting on the provider.
            second = Client().get("/api/login/openid")
            assert second.status_code == 302 and second["Location"] == "/login?local=1"
        raise requests.exceptions.ReadTimeout("the provider never answers")

    authentik.mocker.get(authentik.discovery_url, json=hangs)
    first = Client().get("/api/login/openid")
    assert first.status_code == 302 and first["Location"] == "/login?local=1"
    assert len(waited) == 1, f"{len(waited)} requests each waited {waited} seconds on the hung provider"


# === email linking: administrators, squatted addresses, look-alikes =================================
SETUP_FORM = {
    "username": "root",
    "email": "root@example.com",
    "password1": "a-long-and-unusual-passphrase",
    "password2": "a-long-and-unusual-passphrase",
}


@pytest.mark.parametrize(
    "flags",
    [{"is_staff": True}, {"is_superuser": True}, {"role": Role.ADMIN}],
    ids=["staff", "superuser", "role"],
)
def test_an_account_made_administrator_behind_save_is_still_never_joined_by_email(flags, authentik):
    # A shell or a migration promotes with QuerySet.update(), which skips User.save()'s flag sync.
    victim = User.objects.create_user("ops", email="ops@example.com", password=PASSWORD, role=Role.VIEWER)
    User.objects.filter(pk=victim.pk).update(**flags)
    attacker = Client()
    response = sign_in(attacker, authentik, "erin", email="OPS@example.com", groups=["romm-viewers"])
    assert response["Location"].startswith("/login")
    assert whoami(attacker) is None and not victim.identities.exists()


def test_the_setup_administrators_unconfirmed_email_is_neither_joined_nor_stripped(authentik):
    # Its email is unconfirmed (typed into /setup): the squatter rule would clear it; the
    # administrator rule must come first.
    assert Client().post("/setup", SETUP_FORM).status_code == 302
    attacker = Client()
    sign_in(attacker, authentik, "erin", email="root@example.com", groups=["romm-viewers"])
    root = User.objects.get(username="root")
    assert whoami(attacker) is None and root.email == "root@example.com" and not root.identities.exists()
    assert not User.objects.filter(username="erin").exists()


def test_with_registration_closed_a_verified_email_does_not_strip_a_squatter_either(settings, requests_mock):
    fake = FakeProvider(requests_mock, "authentik")
    configure(settings, fake, OIDC_ALLOW_REGISTRATION="false")
    User.objects.create_user("mallory", email="carol@example.com", password=PASSWORD)
    User.objects.filter(username="mallory").update(email_confirmed=False)
    sign_in(Client(), fake, "carol")
    assert User.objects.get(username="mallory").email == "carol@example.com"
    assert not User.objects.filter(username="carol").exists()


DOMAIN_LOOK_ALIKES = {
    "dotless i in the domain": ("ingrid@example.com", "ingrid@examp\u0131e.com"),
    "kelvin sign in the domain": ("kate@kexample.com", "kate@\u212aexample.com"),
    "punycode of a non-ASCII domain": ("kate@b\u00fccher.example", "kate@xn--bcher-kva.example"),
    "no-break space inside": ("kate@example.com", "kate@exa\u00a0mple.com"),
    "trailing dot": ("kate@example.com", "kate@example.com."),
}


@pytest.mark.parametrize("stored,presented", DOMAIN_LOOK_ALIKES.values(), ids=DOMAIN_LOOK_ALIKES.keys())
def test_a_different_domain_string_never_reaches_the_account(stored, presented, authentik):
    target = User.objects.create_user("target", email=stored, role=Role.EDITOR)
    browser = Client()
    sign_in(browser, authentik, "carol", email=presented, preferred_username="outsider")
    assert whoami(browser) == "outsider" and not target.identities.exists()
    assert User.objects.get(pk=target.pk).email == stored


# === the setup wizard ===============================================================================
def test_setup_stays_closed_after_the_only_provider_account_is_deleted(client, authentik):
    browser = Client()
    sign_in(browser, authentik, "carol")
    User.objects.all().delete()
    assert client.get("/setup").status_code == 404
    client.post("/setup", SETUP_FORM)
    assert not User.objects.exists()
    assert client.get("/api/heartbeat").json()["SYSTEM"]["SHOW_SETUP_WIZARD"] is False


def test_setup_stays_closed_after_an_account_made_in_the_shell_is_deleted(client):
    User.objects.create_user("temp")
    User.objects.get(username="temp").delete()
    assert client.get("/setup").status_code == 404


# === log lines ======================================================================================
def configured_formatter():
    """The formatter the console handler uses, built from settings.LOGGING as Django builds it."""
    config = django_settings.LOGGING["formatters"]["plain"]
    factory = logging.config.DictConfigurator({}).resolve(config["()"])
    return factory(fmt=config["format"])


FORGED = " 2026-12-01 22:00:00,000 INFO accounts.views password sign-in: account 'root' via password"


def logged_lines(caplog, prefix):
    formatter = configured_formatter()
    return [formatter.format(record) for record in caplog.records if record.name.startswith(prefix)]


@pytest.mark.parametrize("separator", ["\n", "\r", "\u2028", "\x1b[2K\r"], ids=["LF", "CR", "LS", "ANSI"])
def test_a_provider_subject_cannot_start_a_log_line(separator, authentik, caplog):
    authentik.subjects["carol"] = "carol-sub" + separator + "x"
    caplog.set_level("INFO", logger="accounts")
    sign_in(Client(), authentik, "carol")
    lines = logged_lines(caplog, "accounts")
    assert lines and all(len(line.splitlines()) == 1 and "\x1b" not in line for line in lines), lines


@pytest.mark.parametrize(
    "separator", ["%0A", "%0D", "%E2%80%A8", "%1B%5B2K%0D"], ids=["LF", "CR", "LS", "ANSI"]
)
def test_an_anonymous_url_cannot_start_a_line_in_djangos_request_log(separator, client, caplog):
    # django.request logs every 404 with the decoded path: anyone can put text there (Django
    # escapes it itself since 5.2.2; the formatter is the second line of defence).
    caplog.set_level("WARNING", logger="django.request")
    assert client.get("/nope" + separator + FORGED.replace(" ", "%20")).status_code == 404
    lines = logged_lines(caplog, "django.request")
    assert lines and all(len(line.splitlines()) == 1 and "\x1b" not in line for line in lines), lines
