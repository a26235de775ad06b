"""Reading an app's request body: deep nesting, lone surrogates, the wrong types and a multipart
body without its boundary are 400 sentences in JSON, never a 500."""

import json

import pytest

from tests.devices.helpers import DEVICE, bearer, make_token, quiet

pytestmark = pytest.mark.django_db

DEEP = "[" * 100000 + "]" * 100000


@pytest.mark.parametrize(
    "path", ["/api/client-tokens/exchange", "/api/auth/device/init", "/api/auth/device/token"]
)
def test_deeply_nested_json_is_a_400_sentence(db, path):
    response = quiet().post(path, DEEP, content_type="application/json")
    assert response.status_code == 400
    assert response.json().get("detail")


def test_lone_surrogate_in_device_name(db):
    response = quiet().post(
        "/api/auth/device/init", json.dumps({**DEVICE, "name": "\ud800x"}), content_type="application/json"
    )
    assert response.status_code == 400 and response.json()["detail"]


def test_lone_surrogate_in_token_name(frank):
    raw, _ = make_token(frank, ["me.read", "me.write"])
    response = quiet().post(
        "/api/client-tokens",
        json.dumps({"name": "\udfff", "scopes": ["me.read"]}),
        content_type="application/json",
        **bearer(raw),
    )
    assert response.status_code == 400 and response.json()["detail"]


def test_multipart_without_boundary_on_device_init(db):
    response = quiet().post("/api/auth/device/init", b"x", content_type="multipart/form-data")
    assert response.status_code == 400
    assert response.json().get("detail")


@pytest.mark.parametrize(
    "body", ['{"code": 12345678}', '{"code": ["AAAAAAAA"]}', '{"code": 1e999}', '"AAAAAAAA"', "\xff"]
)
def test_wrong_types_on_exchange_are_400(db, body):
    response = quiet().post("/api/client-tokens/exchange", body, content_type="application/json")
    assert response.status_code == 400 and response.json()["detail"]


@pytest.mark.parametrize("scopes", [{"me.read": 1}, "me.read", [1], None, ["me.read"] * 10000])
def test_wrong_scope_types_on_device_init(db, scopes):
    response = quiet().post(
        "/api/auth/device/init",
        json.dumps({**DEVICE, "requested_scopes": scopes}),
        content_type="application/json",
    )
    assert response.status_code in (201, 400)
    assert "detail" in response.json() or "device_code" in response.json()
