"""The people and small moves the apps-and-devices tests share."""

import json

import pytest
from django.test import Client

from accounts.models import Role, User

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def frank(db):
    """An editor with a password."""
    return User.objects.create_user("frank", email="frank@local.example", password=PASSWORD, role=Role.EDITOR)


@pytest.fixture
def vera(db):
    """A viewer with a password."""
    return User.objects.create_user("vera", email="vera@local.example", password=PASSWORD, role=Role.VIEWER)


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
