"""Small moves the accounts tests share: a password session opened as a person opens it, who the
API says is signed in, and an administrator acting while another request is under way."""

import base64

from django.test import Client

from accounts.models import Role, User

PASSWORD = "correct-horse-battery-staple"
USERS = "/admin/accounts/user/"
SETUP_FORM = {
    "username": "root",
    "email": "root@example.com",
    "password1": "a-long-and-unusual-passphrase",
    "password2": "a-long-and-unusual-passphrase",
}


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


# --- an administrator acts while a password change is under way ---------------------------------
class AdministratorActsMeanwhile:
    """A password validator: runs inside the password-change request, after the account was
    loaded and before it is saved, which is where another administrator's change can land.
    The ``administrator_acts`` fixture (tests/accounts/conftest.py) installs it."""

    action = None

    def validate(self, password, user=None):
        if AdministratorActsMeanwhile.action is not None:
            AdministratorActsMeanwhile.action(user)

    def get_help_text(self):
        return ""


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
