"""Review (attack): the admin's stale-form protection writes only the fields the page changed.

``email`` and ``email_confirmed`` belong together: an administrator who ticks "email confirmed"
confirms the address the page SHOWED. If the account changed its address on /profile after the
page was shown, the form writes ``email_confirmed`` alone and so confirms an address the
administrator never saw; OpenID sign-in then links a provider identity to that account by it.

DEMONSTRATES A PROBLEM: fails on current code (the new address ends up confirmed).
"""

import pytest
from django.test import Client

from accounts.models import Role, User
from tests.accounts.test_admin import USERS, shown_form, submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client():
    client = Client()
    client.force_login(User.objects.create_user("alice", email="alice@example.com", role=Role.ADMIN))
    return client


def test_confirming_a_shown_email_does_not_confirm_one_typed_after_the_page_was_shown(admin_client):
    mallory = User.objects.create_user("mallory", email="mallory@home.test", password="a-long-password-1")
    User.objects.filter(pk=mallory.pk).update(email_confirmed=False)
    path = f"{USERS}{mallory.pk}/change/"
    shown = shown_form(admin_client, path)  # the administrator checks mallory@home.test out of band
    assert ("email", "mallory@home.test") in shown and not any(n == "email_confirmed" for n, _ in shown)

    # Meanwhile mallory types somebody else's address on her profile (saved unconfirmed).
    attacker = Client()
    attacker.force_login(User.objects.get(pk=mallory.pk))
    attacker.post("/profile", {"email": "ceo@corp.test"})
    assert User.objects.get(pk=mallory.pk).email == "ceo@corp.test"

    submit(admin_client, path, shown + [("email_confirmed", "on")])
    mallory.refresh_from_db()
    # The administrator confirmed mallory@home.test, never ceo@corp.test.
    assert not (mallory.email == "ceo@corp.test" and mallory.email_confirmed), (
        "the admin's stale form confirmed an address it never showed"
    )
