"""What every app does against the site, as HTTP requests: the person's side of each sign-in
(create a token on the profile, make a pairing code, approve a device) and the app's requests
with its own headers. The contract modules decide what each app sends and decodes."""

import base64
import json
from datetime import timedelta

from django.test import Client
from django.utils import timezone

from devices.models import DeviceAuthorization


def person(user):
    """The person's browser, signed in (by the provider or a password: it makes no difference here)."""
    browser = Client()
    browser.force_login(user, backend="accounts.oidc.backend.OIDCBackend")
    return browser


def basic(username, password):
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def bearer(raw):
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def profile_token(user, scopes, name="app"):
    """A token the person creates on their profile (its JSON, with ``raw_token``)."""
    response = post(
        person(user), "/api/client-tokens", {"name": name, "scopes": scopes, "expires_in": "never"}
    )
    assert response.status_code == 201, response.content
    return response.json()


def pairing_code(user, scopes):
    """The person creates a token and asks for its pairing code, as on the profile page."""
    token = profile_token(user, scopes)
    response = post(person(user), f"/api/client-tokens/{token['id']}/pair", {})
    assert response.status_code == 200, response.content
    return response.json()["code"]


def approve_device(user, user_code):
    """The person opens the verification page and approves."""
    response = person(user).post("/pair/device", {"user_code": user_code, "decision": "approve"})
    assert response.status_code == 302, response.content


def interval_passes():
    """As if the device waited its interval before polling again."""
    DeviceAuthorization.objects.update(last_poll_at=timezone.now() - timedelta(hours=1))


class App:
    """An app's HTTP client: no cookies of the person's, its own Authorization header, and
    Django's CSRF check enforced as for any real client."""

    def __init__(self, address="203.0.113.7"):
        self.client = Client(enforce_csrf_checks=True, REMOTE_ADDR=address)
        self.auth = {}

    def sign_in_with(self, headers):
        self.auth = headers

    def get(self, path, query=None, authenticated=True):
        return self.client.get(path, query or {}, **(self.auth if authenticated else {}))

    def post(self, path, body, authenticated=True):
        return post(self.client, path, body, **(self.auth if authenticated else {}))

    def delete(self, path):
        return self.client.delete(path, **self.auth)

    def ok(self, response):
        assert 200 <= response.status_code < 300, (response.status_code, response.content[:500])
        return response.json()


def post(client, path, body, **headers):
    return client.post(path, json.dumps(body), content_type="application/json", **headers)
