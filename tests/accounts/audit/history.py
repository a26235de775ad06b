"""A sign-in history made by real sign-ins, spread over past days, for the sign-in health tests.

Every row comes from a request the site answered (OpenID sign-ins and their refusals, passwords,
tokens, links, devices, a recheck and a back-channel logout, a key rotation); ``days_ago``
then moves the rows a block of requests wrote to an earlier day.
"""

import base64
import time
from contextlib import contextmanager
from datetime import timedelta
from io import StringIO
from urllib.parse import urlsplit

import time_machine
from django.core.management import call_command
from django.db.models import F
from django.test import Client

from accounts.models import Role, SignInEvent, User
from devices import client_tokens as tokens
from tests.conftest import configure, sign_in
from tests.devices.helpers import DEVICE, post_json, signed_in
from tests.fakeidp import logout_token, rsa_key

PASSWORD = "correct-horse-battery-staple"


@contextmanager
def days_ago(days):
    """The history rows written inside the block are dated ``days`` days earlier."""
    last = SignInEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    yield
    SignInEvent.objects.filter(pk__gt=last).update(created_at=F("created_at") - timedelta(days=days))


def basic(username, password):
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def signin_link(username):
    """The secret of a break-glass link (the fragment of ``/login/link#<token>``)."""
    out = StringIO()
    call_command("signin_link", username, stdout=out, stderr=StringIO())
    return urlsplit(out.getvalue().strip()).fragment


def device_decision(user, decision):
    body = post_json(Client(REMOTE_ADDR="10.3.3.3"), "/api/auth/device/init", DEVICE).json()
    signed_in(user).post("/pair/device", {"user_code": body["user_code"], "decision": decision})


def make_history(fake, settings):
    """Sign-ins over 40 days; returns what they were, for the tests' literal expectations."""
    pat = User.objects.create_user("pat", password=PASSWORD, role=Role.EDITOR)

    with days_ago(35):  # outside 30 days, inside 90
        sign_in(Client(), fake, "bob")
        Client().post("/login", {"username": "pat", "password": "wrong"})

    with days_ago(9):  # outside 7 days, inside 30
        sign_in(Client(), fake, "carol")
        sign_in(Client(), fake, "dave")  # email_unverified

    with days_ago(2):
        sign_in(Client(), fake, "bob")
        sign_in(Client(), fake, "dave")  # email_unverified
        sign_in(Client(), fake, "erin")  # no_role
        Client().post("/login", {"username": "pat", "password": PASSWORD})
        Client().post("/login", {"username": "pat", "password": "wrong"})
        Client().post("/api/token", {"grant_type": "password", "username": "pat", "password": PASSWORD})
        Client().post("/api/token", {"grant_type": "password", "username": "pat", "password": "nope"})
        Client().post("/api/login", **basic("pat", PASSWORD))
        Client().post("/login/link", {"token": "not-a-real-link"})  # link_invalid
        Client().post("/login/link", {"token": signin_link("pat")})

    # Today.
    sign_in(Client(), fake, "alice")
    Client().get("/api/oauth/openid?state=forged&code=x")  # state_unknown
    denied = Client()
    location = denied.get("/api/login/openid")["Location"]
    state = dict(part.split("=", 1) for part in urlsplit(location).query.split("&"))["state"]
    denied.get("/api/oauth/openid", {"state": state, "error": "access_denied"})  # provider_denied
    fake.token_error = (401, {"error": "invalid_client"})
    sign_in(Client(), fake, "carol")  # client_rejected, after the provider answered
    fake.token_error = None
    device_decision(pat, "approve")
    device_decision(pat, "deny")

    # The provider rotates its signing key: the next sign-in's token names a key id not cached.
    fake.kid, fake.key = "key-2", rsa_key(1)
    sign_in(Client(), fake, "carol")

    # Back-channel logout: bob signs out at the provider, which ends his three sessions here.
    sign_in(Client(), fake, "bob")
    Client().post("/api/oauth/backchannel-logout", {"logout_token": logout_token(fake, "bob")})

    # The recheck ends carol's session, and revokes her app token: deactivated at the provider.
    configure(settings, fake, OIDC_SESSION_RECHECK_SECONDS="60")
    carol = Client()
    sign_in(carol, fake, "carol")
    tokens.create(User.objects.get(username="carol"), "phone", ["roms.read"], None)
    fake.deactivate("carol")
    with time_machine.travel(time.time() + 120, tick=True):
        carol.get("/")

    settings.DISABLE_USERPASS_LOGIN = True
    Client().post("/login", {"username": "pat", "password": PASSWORD})  # password_disabled
    settings.DISABLE_USERPASS_LOGIN = False
    return pat
