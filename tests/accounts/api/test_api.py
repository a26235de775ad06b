"""The JSON API: /api/login, /api/logout, /api/token, bearer tokens, /api/users/me, /api/heartbeat."""

import base64
import hashlib
import logging
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import ApiToken, Identity, Role, Session, SignInEvent, User
from tests.conftest import configure, sign_in

PASSWORD = "correct-horse-battery-staple"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def frank(db):
    return User.objects.create_user("frank", email="frank@local.example", password=PASSWORD, role=Role.EDITOR)


def basic(username, password):
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def grant(client, **fields):
    data = {"grant_type": "password", "username": "frank", "password": PASSWORD, **fields}
    return client.post("/api/token", {k: v for k, v in data.items() if v is not None})


def bearer(raw):
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def me(client, **headers):
    return client.get("/api/users/me", **headers)


# --- /api/login and /api/logout ---------------------------------------------------------------
def test_api_login_with_basic_starts_a_session(client, frank):
    response = client.post("/api/login", HTTP_AUTHORIZATION=basic("frank", PASSWORD))
    assert response.status_code == 200
    assert response.json()["user"]["username"] == "frank" and response.json()["user"]["role"] == "editor"
    assert me(client).json()["username"] == "frank"
    event = SignInEvent.objects.get()
    assert (event.method, event.outcome, event.user_id) == ("api", "success", frank.pk)


@pytest.mark.parametrize(
    "header,sentence",
    [
        (None, "Send your username and password with HTTP Basic."),
        ("Basic !!!not-base64", "not valid HTTP Basic"),
        (basic("frank", "wrong"), "The username or password is incorrect."),
        (basic("nobody", PASSWORD), "The username or password is incorrect."),
    ],
)
def test_api_login_refusals(client, frank, header, sentence):
    response = client.post("/api/login", **({"HTTP_AUTHORIZATION": header} if header else {}))
    assert response.status_code == 401 and sentence in response.json()["detail"]
    assert response["WWW-Authenticate"].startswith("Bearer")  # never Basic: no browser prompt
    assert me(client).status_code == 401
    assert User.objects.get(pk=frank.pk).last_login is None


def test_api_login_refuses_inactive_account(client, frank):
    User.objects.filter(pk=frank.pk).update(is_active=False)
    assert client.post("/api/login", HTTP_AUTHORIZATION=basic("frank", PASSWORD)).status_code == 401


def test_api_login_is_post_only(client, frank):
    response = client.get("/api/login", HTTP_AUTHORIZATION=basic("frank", PASSWORD))
    assert response.status_code == 405 and response["Allow"] == "POST"
    assert me(client).status_code == 401


def test_api_login_needs_no_csrf_token(frank):
    browser = Client(enforce_csrf_checks=True)
    assert browser.post("/api/login", HTTP_AUTHORIZATION=basic("frank", PASSWORD)).status_code == 200


def test_api_logout_with_session_cookie_is_csrf_protected(frank):
    browser = Client(enforce_csrf_checks=True)
    browser.post("/api/login", HTTP_AUTHORIZATION=basic("frank", PASSWORD))
    response = browser.post("/api/logout")
    assert response.status_code == 403 and "CSRF" in response.json()["detail"]
    assert me(browser).status_code == 200
    response = browser.post("/api/logout", HTTP_X_CSRFTOKEN=browser.cookies["csrftoken"].value)
    assert response.status_code == 200 and response.json() == {"detail": "Signed out."}
    assert me(browser).status_code == 401


def test_api_logout_ends_an_oidc_session_and_its_row(client, authentik):
    sign_in(client, authentik, "carol")
    assert client.post("/api/logout").status_code == 200
    assert me(client).status_code == 401
    assert not Session.objects.signed_in().exists()


def test_api_logout_with_bearer_revokes_that_token_without_csrf(frank):
    raw = grant(Client()).json()["access_token"]
    other = grant(Client()).json()["access_token"]
    browser = Client(enforce_csrf_checks=True)
    response = browser.post("/api/logout", **bearer(raw))
    assert response.status_code == 200 and response.json() == {"detail": "Token revoked."}
    assert me(browser, **bearer(raw)).status_code == 401
    assert me(browser, **bearer(other)).status_code == 200


# --- /api/token -------------------------------------------------------------------------------
def test_token_grant_answers_rfc6749_and_stores_only_a_hash(client, frank, settings):
    settings.API_TOKEN_SECONDS = 3600
    response = grant(client)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store" and response["Pragma"] == "no-cache"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    token = ApiToken.objects.get()
    assert token.key_hash == hashlib.sha256(body["access_token"].encode()).hexdigest()
    assert body["access_token"] not in str(list(ApiToken.objects.values()))
    assert abs((token.expires_at - timezone.now()).total_seconds() - 3600) < 5
    assert me(Client(), **bearer(body["access_token"])).json()["username"] == "frank"
    assert SignInEvent.objects.get().method == SignInEvent.Method.TOKEN


@pytest.mark.parametrize(
    "fields,status,error",
    [
        ({"grant_type": None}, 400, "invalid_request"),
        ({"grant_type": "client_credentials"}, 400, "unsupported_grant_type"),
        ({"grant_type": "authorization_code"}, 400, "unsupported_grant_type"),
        ({"password": None}, 400, "invalid_request"),
        ({"username": ""}, 400, "invalid_request"),
        ({"password": "wrong"}, 400, "invalid_grant"),
        ({"username": "nobody"}, 400, "invalid_grant"),
    ],
)
def test_token_grant_errors(client, frank, fields, status, error):
    response = grant(client, **fields)
    assert response.status_code == status
    assert response.json()["error"] == error and response.json()["error_description"]
    assert response["Cache-Control"] == "no-store"
    assert not ApiToken.objects.exists()


def test_token_grant_is_post_only(client, frank):
    response = client.get("/api/token", {"grant_type": "password", "username": "frank", "password": PASSWORD})
    assert response.status_code == 405 and response.json()["error"] == "invalid_request"
    assert not ApiToken.objects.exists()


# --- bearer tokens ----------------------------------------------------------------------------
@pytest.fixture
def token(client, frank):
    return grant(client).json()["access_token"]


def test_bearer_token_dies_when_it_expires(token):
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = me(Client(), **bearer(token))
    assert response.status_code == 401 and "unknown, expired or revoked" in response.json()["detail"]
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


def test_bearer_token_dies_when_the_password_changes(token, frank):
    frank.set_password("another-long-password")
    frank.save()
    assert me(Client(), **bearer(token)).status_code == 401


def test_bearer_token_dies_when_the_account_is_deactivated(token, frank):
    User.objects.filter(pk=frank.pk).update(is_active=False)
    assert me(Client(), **bearer(token)).status_code == 401


def test_bearer_token_dies_when_revoked(token):
    ApiToken.objects.update(revoked=True)
    assert me(Client(), **bearer(token)).status_code == 401


def test_unknown_bearer_token_and_scheme_are_refused(db, caplog):
    with caplog.at_level(logging.WARNING, logger="accounts"):
        assert me(Client(), **bearer("made-up")).status_code == 401
        assert me(Client(), HTTP_AUTHORIZATION="Digest abc").status_code == 401
    assert "API bearer token refused" in caplog.text


def test_bearer_use_updates_last_used(token):
    assert ApiToken.objects.get().last_used_at is None
    me(Client(), **bearer(token))
    assert ApiToken.objects.get().last_used_at is not None


def test_bearer_wins_over_session_cookie(client, token, authentik):
    sign_in(client, authentik, "carol")
    assert me(client).json()["username"] == "carol"
    assert me(client, **bearer(token)).json()["username"] == "frank"


# --- /api/users/me ------------------------------------------------------------------------------
def test_users_me_with_basic_on_each_call(client, frank):
    response = me(client, HTTP_AUTHORIZATION=basic("frank", PASSWORD))
    assert response.status_code == 200 and response.json()["username"] == "frank"
    assert me(client).status_code == 401  # no session was started
    assert me(client, HTTP_AUTHORIZATION=basic("frank", "wrong")).status_code == 401


def test_users_me_anonymous_is_401_json(client, db):
    response = me(client)
    assert response.status_code == 401 and response.json() == {"detail": "Not signed in."}


def test_users_me_lists_identities(client, authentik):
    sign_in(client, authentik, "bob")
    assert me(client).json()["identities"] == [
        {"provider": "authentik", "issuer": authentik.issuer, "subject": authentik.subject("bob")}
    ]
    assert Identity.objects.count() == 1


# --- /api/heartbeat -----------------------------------------------------------------------------
def test_heartbeat_without_oidc(client, db, settings):
    settings.OIDC_ENABLED = False
    body = client.get("/api/heartbeat").json()
    assert body["SYSTEM"] == {"VERSION": "5.0.0", "SHOW_SETUP_WIZARD": True}
    assert body["FRONTEND"] == {
        "DISABLE_USERPASS_LOGIN": False,
        "DISABLE_LOGS_VIEWER": True,
        "YOUTUBE_BASE_URL": "https://www.youtube.com",
        "UPLOAD_TIMEOUT": 600,
    }
    assert body["OIDC"] == {
        "ENABLED": False,
        "PROVIDER": "",
        "AUTOLOGIN": False,
        "RP_INITIATED_LOGOUT": False,
    }
    assert body["providers"] == []


def test_heartbeat_with_oidc_uses_romm_key_names(client, authentik, settings):
    configure(settings, authentik, OIDC_RP_INITIATED_LOGOUT="true")
    settings.OIDC_AUTOLOGIN = settings.DISABLE_USERPASS_LOGIN = True
    User.objects.create_user("root", role=Role.ADMIN)
    body = client.get("/api/heartbeat").json()
    assert body["SYSTEM"] == {"VERSION": "5.0.0", "SHOW_SETUP_WIZARD": False}
    assert body["FRONTEND"]["DISABLE_USERPASS_LOGIN"] is True
    assert body["OIDC"] == {
        "ENABLED": True,
        "PROVIDER": "authentik",
        "AUTOLOGIN": True,
        "RP_INITIATED_LOGOUT": True,
    }
    assert body["providers"] == [
        {
            "name": "authentik",
            "label": "Authentik",
            "button": "Sign in with Authentik",
            "url": "/api/login/openid",
        }
    ]


def test_heartbeat_is_public_and_get_only(client, db):
    assert client.get("/api/heartbeat").status_code == 200
    assert client.post("/api/heartbeat").status_code == 405


@pytest.mark.parametrize("path,method", [("/api/users/me", "get"), ("/api/login", "post")])
def test_non_ascii_basic_credentials_are_a_401_with_the_sentence(client, path, method):
    response = getattr(client, method)(path, HTTP_AUTHORIZATION="Basic \u00e9\u00e9\u00e9\u00e9")
    assert response.status_code == 401
    assert "not valid HTTP Basic" in response.json()["detail"]


# --- RomM 5's shapes -----------------------------------------------------------------------------
HEARTBEAT_TYPES = {  # RomM 5.0's backend/endpoints/responses/heartbeat.py: every key always present
    "SYSTEM": {"VERSION": str, "SHOW_SETUP_WIZARD": bool},
    "METADATA_SOURCES": {
        f"{key}_ENABLED": bool
        for key in [
            "ANY_SOURCE",
            "IGDB_API",
            "SS_API",
            "MOBY_API",
            "STEAMGRIDDB_API",
            "RA_API",
            "LAUNCHBOX_API",
            "HASHEOUS_API",
            "PLAYMATCH_API",
            "TGDB_API",
            "FLASHPOINT_API",
            "HLTB_API",
            "LIBRETRO_API",
        ]
    },
    "FILESYSTEM": {"FS_PLATFORMS": list},
    "EMULATION": {"DISABLE_EMULATOR_JS": bool, "DISABLE_RUFFLE_RS": bool},
    # UPLOAD_TIMEOUT is RomM 4's, which older romm-ios-app builds require.
    "FRONTEND": {
        "DISABLE_USERPASS_LOGIN": bool,
        "DISABLE_LOGS_VIEWER": bool,
        "YOUTUBE_BASE_URL": str,
        "UPLOAD_TIMEOUT": int,
    },
    "OIDC": {"ENABLED": bool, "AUTOLOGIN": bool, "PROVIDER": str, "RP_INITIATED_LOGOUT": bool},
    "TASKS": {
        key: kind
        for task in ("RESCAN", "UPDATE_SWITCH_TITLEDB", "UPDATE_LAUNCHBOX_METADATA", "CONVERT_IMAGES_TO_WEBP")
        for key, kind in ((f"ENABLE_SCHEDULED_{task}", bool), (f"SCHEDULED_{task}_CRON", str))
    },
}


def test_heartbeat_has_every_section_of_romms_with_its_types(client):
    body = client.get("/api/heartbeat").json()
    assert set(body) == set(HEARTBEAT_TYPES) | {"providers"}
    for section, keys in HEARTBEAT_TYPES.items():
        assert {key: type(value) for key, value in body[section].items()} == keys, section
    # Apps offer device sign-in from RomM 5.0 on.
    assert body["SYSTEM"]["VERSION"] == "5.0.0"


def test_heartbeat_does_not_show_the_library_to_anyone(client):
    from library.models import Platform

    Platform.objects.create(name="Super Nintendo", slug="snes")
    assert client.get("/api/heartbeat").json()["FILESYSTEM"]["FS_PLATFORMS"] == []


def test_users_me_carries_romms_user_fields(frank):
    frank.last_login = timezone.now()
    frank.save()
    body = Client().get("/api/users/me", HTTP_AUTHORIZATION=basic("frank", PASSWORD)).json()
    assert (body["enabled"], body["avatar_path"], body["ra_progression"], body["current_device_id"]) == (
        True,
        "",
        None,
        None,
    )
    assert (
        body["created_at"].startswith(str(frank.date_joined.year))
        and body["updated_at"] >= body["created_at"]
    )
    assert "roms.write" in body["oauth_scopes"] and "users.write" not in body["oauth_scopes"]
    assert body["role"] == "editor" and body["is_active"] is True and body["identities"] == []


@pytest.mark.parametrize("method", ["get", "post", "put", "delete"])
@pytest.mark.parametrize(
    "path", ["/api/nothing-here", "/api/roms/", "/api/client-tokens/abc", "/api/saves?rom_id=1", "/api/v2/"]
)
def test_unknown_api_path_is_romms_json_404(method, path):
    response = getattr(Client(enforce_csrf_checks=True), method)(path)
    assert response.status_code == 404 and response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not Found"}


def test_a_page_path_still_answers_the_html_404(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404 and "application/json" not in response["Content-Type"]


def test_session_cookie_is_romms_name(frank):
    client = Client()
    response = client.post("/api/login", HTTP_AUTHORIZATION=basic("frank", PASSWORD))
    assert response.status_code == 200 and "romm_session" in response.cookies
    assert "sessionid" not in response.cookies
    assert client.get("/api/users/me").json()["username"] == "frank"
