"""Review (attack): the bound on refusals in the sign-in history (``accounts.refusals``) skips any
request that carries a signed-in session cookie, also where the refusal is not the person's own.

/api/token and HTTP Basic are csrf-exempt and name any username: an attacker with any account
(a viewer, or one self-registered through the provider) sends its session cookie with each
guess, and every refusal, under whichever username it names, is a history row again.

DEMONSTRATES A PROBLEM: fails on current code (40 rows instead of the bound's 5 + 1).
"""

import pytest
from django.test import Client

from accounts.models import Role, SignInEvent, User

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _bound(settings):
    settings.SIGNIN_HISTORY_REFUSALS_PER_MINUTE = 5


def test_a_session_cookie_does_not_lift_the_bound_on_others_refusals():
    User.objects.create_user("frank", password="a-long-password-1")
    guesser = Client(REMOTE_ADDR="192.0.2.66")
    guesser.force_login(User.objects.create_user("mallory", role=Role.VIEWER))
    for n in range(40):
        guesser.post("/api/token", {"grant_type": "password", "username": "frank", "password": f"wrong-{n}"})
    rows = SignInEvent.objects.filter(ip_address="192.0.2.66", outcome="refused")
    assert rows.count() <= 6, f"{rows.count()} refusal rows naming 'frank' from one signed-in client"


def test_anonymous_guesses_at_api_token_are_bounded():
    """HELD: the same guesses without the cookie are bounded (passes)."""
    User.objects.create_user("frank", password="a-long-password-1")
    guesser = Client(REMOTE_ADDR="192.0.2.67")
    for n in range(40):
        guesser.post("/api/token", {"grant_type": "password", "username": "frank", "password": f"wrong-{n}"})
    assert SignInEvent.objects.filter(ip_address="192.0.2.67", outcome="refused").count() == 6
