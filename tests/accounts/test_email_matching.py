"""Emails match only as Python lower-cases them, never by a database's case folding (SPEC 4.3).

These run on SQLite and, in CI's second pass, on PostgreSQL, whose UPPER() folds several
non-ASCII letters onto ASCII ones: the look-alikes below would reach the ASCII account there.
"""

import base64

import pytest
from django.db import IntegrityError, transaction
from django.test import Client

from accounts.models import Identity, Role, User, email_key
from tests.conftest import sign_in

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
