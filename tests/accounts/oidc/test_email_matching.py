"""Which account a provider's email reaches: one whose address matches as Python lower-cases it,
never by a database's case folding, never an administrator's, never one whose address was typed
in rather than confirmed, never across a look-alike domain.

These run on SQLite and, in CI's second pass, on PostgreSQL, whose UPPER() folds several
non-ASCII letters onto ASCII ones: the look-alikes below would reach the ASCII account there.
"""

import base64

import pytest
from django.db import IntegrityError, transaction
from django.test import Client

from accounts.models import Identity, Role, User, email_key
from tests.accounts.helpers import PASSWORD, SETUP_FORM
from tests.conftest import configure, sign_in
from tests.fakeidp import FakeProvider

pytestmark = pytest.mark.django_db

LOOK_ALIKES = {
    "dotless i": "\u0131ngrid@example.com",  # ı
    "dotted capital I": "\u0130ngrid@example.com",  # İ
    "combining dot": "i\u0307ngrid@example.com",  # i + U+0307
    "full-width": "\uff49ngrid@example.com",  # ｉ
    "kelvin sign": "\u212aingrid@example.com",  # K (U+212A), which str.lower() makes a plain k
    "long s": "\u017fingrid@example.com",  # ſ, which UPPER() makes S
    "angstrom sign": "\u212bsa@example.com",  # Å (U+212B), which str.lower() makes å (U+00E5)
}
ASCII_TARGETS = {
    "dotless i": "ingrid@example.com",
    "dotted capital I": "ingrid@example.com",
    "combining dot": "ingrid@example.com",
    "full-width": "ingrid@example.com",
    "kelvin sign": "kingrid@example.com",
    "long s": "singrid@example.com",
    "angstrom sign": "\u00e5sa@example.com",
}


def whoami(browser):
    response = browser.get("/api/users/me")
    return response.json()["username"] if response.status_code == 200 else None


@pytest.mark.parametrize("case", LOOK_ALIKES)
def test_a_look_alike_email_never_reaches_the_ascii_account(case, authentik):
    target = User.objects.create_user("ingrid-admin", email=ASCII_TARGETS[case], role=Role.EDITOR)
    browser = Client()
    sign_in(browser, authentik, "carol", email=LOOK_ALIKES[case], preferred_username="lookalike")
    assert whoami(browser) == "lookalike", f"{case}: the look-alike reached {whoami(browser)!r}"
    assert not target.identities.exists()
    # Addresses Django cannot validate (full-width, combining marks) are kept out entirely.
    assert User.objects.get(username="lookalike").email in (LOOK_ALIKES[case], "")


def test_sharp_s_does_not_match_double_s(authentik):
    User.objects.create_user("strasse", email="strasse@example.com", role=Role.EDITOR)
    browser = Client()
    sign_in(browser, authentik, "carol", email="stra\u00dfe@example.com", preferred_username="sharp")
    assert whoami(browser) == "sharp"
    assert not Identity.objects.filter(user__username="strasse").exists()


def test_an_ordinary_case_difference_still_links(authentik):
    carol = User.objects.create_user("carol-local", email="carol@example.com")
    browser = Client()
    sign_in(browser, authentik, "carol", email="Carol@Example.COM")
    assert whoami(browser) == "carol-local"
    assert carol.identities.count() == 1


def test_two_accounts_may_hold_look_alike_addresses_but_not_case_variants():
    User.objects.create_user("a", email="ingrid@example.com")
    User.objects.create_user("b", email="\u0131ngrid@example.com")  # a different address
    User.objects.create_user("c", email="\u212aate@example.com")
    User.objects.create_user("d", email="kate@example.com")  # not the Kelvin sign's
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user("e", email="INGRID@example.com")


def test_the_profile_keeps_a_case_variant_unconfirmed_and_accepts_a_look_alike():
    owner = User.objects.create_user("owner", email="ingrid@example.com")
    other = User.objects.create_user("other", email="other@example.com")
    browser = Client()
    browser.force_login(other)
    variant = browser.post("/profile", {"email": "Ingrid@Example.com"})
    assert variant.status_code == 302 and "Another account already uses" not in browser.get("/profile").content.decode()
    other.refresh_from_db()
    assert other.email_key == owner.email_key and other.email_confirmed is False  # it links nothing
    accepted = browser.post("/profile", {"email": "\u0131ngrid@example.com"})
    assert accepted.status_code == 302
    other.refresh_from_db()
    assert other.email == "\u0131ngrid@example.com" and other.email_key == email_key(other.email)


def test_email_key_follows_every_save():
    user = User.objects.create_user("k", email="Mixed@Example.COM")
    assert user.email_key == "mixed@example.com"
    user.email = "New@Example.com"
    user.save(update_fields=["email"])
    assert User.objects.get(pk=user.pk).email_key == "new@example.com"


def test_password_sign_in_usernames_are_exact(client):
    User.objects.create_user("ingrid", password="a-long-password-1")
    for lookalike in ("\u0131ngrid", "\uff49ngrid", "INGRID"):
        response = client.post("/api/login", HTTP_AUTHORIZATION=basic(lookalike, "a-long-password-1"))
        assert response.status_code == 401, lookalike


def basic(username, password):
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def test_the_admin_refuses_a_case_variant_of_another_accounts_email_with_a_sentence():
    admin = User.objects.create_user("root", email="root@example.com", role=Role.ADMIN)
    User.objects.create_user("owner", email="ingrid@example.com")
    browser = Client()
    browser.force_login(admin)
    response = browser.post(
        "/admin/accounts/user/add/",
        {"username": "dora", "email": "INGRID@example.com", "role": "viewer", "usable_password": "false"},
    )
    assert response.status_code == 200
    assert "Another account already uses this email address." in response.content.decode()
    assert not User.objects.filter(username="dora").exists()


# --- administrators, squatted addresses, look-alike domains ---------------------------------------
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
