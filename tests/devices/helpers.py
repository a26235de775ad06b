"""Small moves the apps-and-devices tests share."""

import json

from django.test import Client

from devices import client_tokens as tokens

DEVICE = {
    "client_device_identifier": "deck-7",
    "name": "Deck",
    "client": "grout",
    "requested_scopes": ["me.read", "me.write", "roms.read", "roms.write"],
}
HUGE = "9" * 30


def signed_in(user):
    client = Client()
    client.force_login(user, backend="accounts.oidc.backend.OIDCBackend")
    return client


def bearer(raw):
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def post_json(client, path, body, **headers):
    return client.post(path, json.dumps(body), content_type="application/json", **headers)


def put_json(client, path, body=None, **headers):
    return client.put(path, json.dumps(body or {}), content_type="application/json", **headers)


def make_token(user, scopes, name="t"):
    """A live token of ``user`` made the way the API makes one; ``(raw, row)``."""
    return tokens.create(user, name, scopes, None)


def quiet():
    """A client that answers a server error with the 500 response instead of raising it."""
    return Client(raise_request_exception=False, REMOTE_ADDR="10.9.9.9")


def start_device(**changes):
    """``/api/auth/device/init`` for ``DEVICE`` (with ``changes``): its JSON answer."""
    return post_json(Client(REMOTE_ADDR="10.3.3.3"), "/api/auth/device/init", {**DEVICE, **changes}).json()
