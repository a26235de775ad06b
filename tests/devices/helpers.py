"""Small moves the apps-and-devices tests share."""

import json

from django.test import Client


def signed_in(user):
    client = Client()
    client.force_login(user, backend="accounts.backend.OIDCBackend")
    return client


def bearer(raw):
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def post_json(client, path, body, **headers):
    return client.post(path, json.dumps(body), content_type="application/json", **headers)


def put_json(client, path, body=None, **headers):
    return client.put(path, json.dumps(body or {}), content_type="application/json", **headers)
