"""The profile's email form tells nobody which addresses have an account here.

It used to answer "Another account already uses this email address": any signed-in person
could test addresses one by one. Now an address typed on the profile is saved unconfirmed
whoever else has it. Unconfirmed addresses never link an OpenID sign-in (only a confirmed one,
unique among confirmed ones, does), and a provider-verified address takes them back.
These run on SQLite and PostgreSQL (the uniqueness is a partial index).
"""

import re

import pytest
from django.db import IntegrityError, transaction
from django.test import Client

from accounts.models import Role, SignInEvent, User
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db


def browser_of(user):
    browser = Client()
    browser.force_login(user)
    return browser


def answer(browser, email):
    """What the person sees after submitting ``email``: the response, then the page it leads to."""
    response = browser.post("/profile", {"email": email}, follow=True)
    return response.redirect_chain, response.status_code, response.content.decode()


def test_the_form_answers_a_taken_and_a_free_address_alike():
    User.objects.create_user("carol", email="carol@example.com")  # confirmed, as an administrator made it
    User.objects.create_user("dora", email="dora@example.com")
    User.objects.filter(username="dora").update(email_confirmed=False)  # typed in by dora
    asker = User.objects.create_user("mallory", email="m1@example.net")
    twin = User.objects.create_user("mallorx", email="m2@example.net")
    answers = {
        email: answer(browser_of(who), email)
        for who, email in [(asker, "carol@example.com"), (twin, "nobody@example.com")]
    }
    answers["DORA@example.com"] = answer(browser_of(asker), "DORA@example.com")

    def page(chain, status, html, email, username):
        return chain, status, re.sub(r"csrfmiddlewaretoken\" value=\"[^\"]+", "", html).replace(email, "E").replace(
            username, "U")

    taken = page(*answers["carol@example.com"], "carol@example.com", "mallory")
    free = page(*answers["nobody@example.com"], "nobody@example.com", "mallorx")
    typed_by_another = page(*answers["DORA@example.com"], "DORA@example.com", "mallory")
    assert taken == free == typed_by_another
    assert taken[:2] == ([("/profile", 302)], 200) and "Your email address is saved." in taken[2]


def test_an_unconfirmed_holder_never_gets_the_sign_in_and_gives_the_address_up(authentik):
    carol = User.objects.create_user("carol-local", email="carol@example.com")
    mallory = User.objects.create_user("mallory", email="m@example.net")
    browser_of(mallory).post("/profile", {"email": "Carol@Example.com"})
    owner = Client()
    sign_in(owner, authentik, "carol")
    assert owner.get("/api/users/me").json()["username"] == "carol-local"
    assert carol.identities.count() == 1 and not mallory.identities.exists()
    mallory.refresh_from_db()
    assert (mallory.email, mallory.email_key) == ("", "")
    released = SignInEvent.objects.get(reason="email_released")
    assert released.user == mallory


def test_several_unconfirmed_holders_give_it_up_to_the_new_account(authentik):
    squatters = [User.objects.create_user(name, email=f"{name}@example.net") for name in ("m1", "m2")]
    for squatter in squatters:
        assert browser_of(squatter).post("/profile", {"email": "carol@example.com"}).status_code == 302
    owner = Client()
    sign_in(owner, authentik, "carol")
    carol = User.objects.get(username="carol")
    assert (carol.email, carol.email_confirmed) == ("carol@example.com", True)
    assert sorted(User.objects.filter(email_key="carol@example.com").values_list("username", flat=True)) == ["carol"]
    assert SignInEvent.objects.filter(reason="email_released").count() == 2


def test_an_unconfirmed_administrator_address_still_refuses_rather_than_being_taken(authentik):
    root = User.objects.create_user("root", email="carol@example.com", role=Role.ADMIN)
    User.objects.filter(pk=root.pk).update(email_confirmed=False)  # typed into /setup
    mallory = User.objects.create_user("mallory", email="m@example.net")
    browser_of(mallory).post("/profile", {"email": "carol@example.com"})
    attacker = Client()
    response = sign_in(attacker, authentik, "carol")
    assert response["Location"].startswith("/login") and attacker.get("/api/users/me").status_code == 401
    root.refresh_from_db()
    assert root.email == "carol@example.com" and not root.identities.exists()


def test_only_confirmed_addresses_are_unique_in_the_database():
    User.objects.create_user("a", email="kim@example.com")
    for name in ("b", "c"):
        User.objects.create_user(name, email="KIM@example.com", email_confirmed=False)
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user("d", email="Kim@Example.com")
    assert User.objects.filter(email_key="kim@example.com").count() == 3


def test_an_administrator_confirming_a_taken_address_is_told(authentik):
    admin = User.objects.create_user("root", email="root@example.com", role=Role.ADMIN)
    User.objects.create_user("carol", email="carol@example.com")
    mallory = User.objects.create_user("mallory", email="m@example.net")
    browser_of(mallory).post("/profile", {"email": "carol@example.com"})
    page = browser_of(admin).get(f"/admin/accounts/user/{mallory.pk}/change/")
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if k in form.fields and v is not None and k != "password"}
    data.update({"email_confirmed": "on", "is_active": "on", "identities-TOTAL_FORMS": "0",
                 "identities-INITIAL_FORMS": "0", "last_login_0": "", "date_joined_0": ""})
    response = browser_of(admin).post(f"/admin/accounts/user/{mallory.pk}/change/", data)
    assert "Another account already uses this email address." in response.content.decode()
    mallory.refresh_from_db()
    assert mallory.email_confirmed is False
