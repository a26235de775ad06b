"""/setup: the first-boot wizard creates the first administrator, then is gone."""

import logging

import pytest
from django.core.cache import cache
from django.test import Client

from accounts.local import setup
from accounts.models import Role, User
from tests.accounts.helpers import SETUP_FORM
from tests.conftest import configure, sign_in

pytestmark = pytest.mark.django_db

FORM = {
    "username": "root",
    "email": "root@example.com",
    "password1": "a-long-and-unusual-passphrase",
    "password2": "a-long-and-unusual-passphrase",
}


@pytest.fixture(autouse=True)
def _fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_wizard_creates_the_first_admin_and_signs_them_in(client, caplog):
    page = client.get("/setup")
    assert page.status_code == 200 and "Create the first administrator" in page.content.decode()
    with caplog.at_level(logging.INFO, logger="accounts"):
        response = client.post("/setup", FORM)
    assert response.status_code == 302 and response["Location"] == "/"
    root = User.objects.get()
    assert (root.username, root.email, root.role) == ("root", "root@example.com", Role.ADMIN)
    assert root.is_staff and root.is_superuser and root.check_password(FORM["password1"])
    assert client.get("/api/users/me").json()["role"] == "admin"
    assert client.get("/admin/").status_code == 200
    assert "setup: first administrator 'root' created" in caplog.text


def test_wizard_is_gone_once_an_admin_exists(client):
    client.post("/setup", FORM)
    assert client.get("/setup").status_code == 404
    late = Client()
    assert late.get("/setup").status_code == 404
    assert late.post("/setup", dict(FORM, username="second", email="second@example.com")).status_code == 404
    assert list(User.objects.values_list("username", flat=True)) == ["root"]
    assert late.get("/api/users/me").status_code == 401


def test_a_form_opened_before_the_first_admin_cannot_make_a_second(client):
    assert Client().get("/setup").status_code == 200  # a second person opened the page too
    User.objects.create_user("first", role=Role.ADMIN)
    assert client.post("/setup", FORM).status_code == 404
    assert User.objects.filter(role=Role.ADMIN).count() == 1


def test_a_deactivated_admin_does_not_reopen_the_wizard(client):
    User.objects.create_user("old", role=Role.ADMIN, is_active=False)
    assert client.get("/setup").status_code == 404


def test_any_account_closes_the_wizard_for_good(client):
    # With role mapping off, provider sign-ins make viewers only; /setup must not stay open to
    # anyone who finds it.
    carol = User.objects.create_user("carol", role=Role.VIEWER)
    assert client.get("/setup").status_code == 404
    assert client.post("/setup", FORM).status_code == 404
    assert client.get("/api/heartbeat").json()["SYSTEM"]["SHOW_SETUP_WIZARD"] is False
    carol.delete()
    assert client.get("/setup").status_code == 404
    assert list(User.objects.all()) == []


def test_first_oidc_viewer_closes_the_wizard(client, authentik, settings):
    configure(settings, authentik, OIDC_CLAIM_ROLES=None, OIDC_ROLE_ADMIN=None,
              OIDC_ROLE_EDITOR=None, OIDC_ROLE_VIEWER=None)
    sign_in(Client(), authentik, "carol")
    assert User.objects.get().role == Role.VIEWER
    response = client.post("/setup", FORM)
    assert response.status_code == 404
    assert not User.objects.filter(role=Role.ADMIN).exists()


def test_password_sign_in_off_removes_the_wizard(client, settings):
    # The administrator it makes would have only a password, which the site then refuses.
    settings.DISABLE_USERPASS_LOGIN = True
    assert client.get("/setup").status_code == 404
    assert client.post("/setup", FORM).status_code == 404
    assert not User.objects.exists()
    assert client.get("/api/heartbeat").json()["SYSTEM"]["SHOW_SETUP_WIZARD"] is False


def test_disable_setup_wizard_removes_it(client, settings):
    settings.DISABLE_SETUP_WIZARD = True
    assert client.get("/setup").status_code == 404
    assert client.post("/setup", FORM).status_code == 404
    assert not User.objects.exists()
    assert client.get("/api/heartbeat").json()["SYSTEM"]["SHOW_SETUP_WIZARD"] is False


def test_heartbeat_shows_the_wizard_until_an_admin_exists(client):
    assert client.get("/api/heartbeat").json()["SYSTEM"]["SHOW_SETUP_WIZARD"] is True
    client.post("/setup", FORM)
    assert client.get("/api/heartbeat").json()["SYSTEM"]["SHOW_SETUP_WIZARD"] is False


@pytest.mark.parametrize(
    "changes,field,sentence",
    [
        ({"password1": "password", "password2": "password"}, "password2", "too common"),
        ({"password2": "something-else-entirely"}, "password2", "didn’t match"),
        ({"password1": "root", "password2": "root"}, "password2", "too short"),
        ({"email": ""}, "email", "This field is required."),
        ({"email": "not-an-address"}, "email", "Enter a valid email address."),
    ],
)
def test_wizard_refuses_bad_input(client, changes, field, sentence):
    response = client.post("/setup", dict(FORM, **changes))
    assert response.status_code == 200
    assert any(sentence in error for error in response.context["form"].errors[field])
    assert sentence in response.content.decode().replace("&#x27;", "'").replace("&quot;", '"')
    assert User.objects.count() == 0


def test_concurrent_submission_is_refused_while_another_holds_the_lock(client, caplog):
    cache.add(setup.LOCK_KEY, 1, 30)
    with caplog.at_level(logging.WARNING, logger="accounts"):
        response = client.post("/setup", FORM)
    assert response.status_code == 409
    assert "Another first-boot setup is being submitted right now" in response.content.decode()
    assert not User.objects.exists()
    assert "setup refused: another submission holds the lock" in caplog.text
    cache.delete(setup.LOCK_KEY)
    assert client.post("/setup", FORM).status_code == 302


def test_lock_is_released_after_a_submission(client):
    client.post("/setup", FORM)
    assert cache.get(setup.LOCK_KEY) is None


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
