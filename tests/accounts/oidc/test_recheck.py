"""Sessions that follow the provider: the refresh-token recheck before the view, for pages, the
JSON API and app tokens alike."""

import hashlib
import logging
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import time_machine
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import Role, Session, SignInEvent, User
from accounts.oidc import sealed
from devices import client_tokens as tokens
from romm_site.envvars import EnvReader, read_providers
from tests.conftest import BASE_URL, configure, messages_of, sign_in, start
from tests.devices.helpers import bearer

INTERVAL = 60
ENDED = "The identity provider no longer confirms your sign-in"


@pytest.fixture
def rechecked(idp, settings):
    """Both profiles, with the recheck every minute and the default grace of an hour."""
    configure(settings, idp, OIDC_SESSION_RECHECK_SECONDS=str(INTERVAL))
    return idp


def later(seconds):
    return time_machine.travel(time.time() + seconds, tick=True)


def role_on_home(client):
    html = client.get("/").content.decode()
    return html.split('data-testid="role">')[1].split("<")[0]


def ends_on_login(client, path="/"):
    """The next page ends the session: /login with the sentence (returned)."""
    response = client.get(path)
    assert response.status_code == 302 and response["Location"] == "/login?local=1", response
    page = client.get(response["Location"])
    assert client.get("/api/users/me").status_code == 401
    return " ".join(messages_of(page))


# --- configuration --------------------------------------------------------------------------
def test_settings_default_off_and_read_per_provider():
    base = {"OIDC_CLIENT_ID": "x", "OIDC_SERVER_APPLICATION_URL": "https://a.example"}
    (single,) = read_providers(EnvReader(base), BASE_URL)
    assert (single["session_recheck_seconds"], single["session_recheck_grace_seconds"]) == (0, 3600)
    env = {**base, "OIDC_PROVIDERS": "one,two", "OIDC_SESSION_RECHECK_SECONDS": "300",
           "OIDC_TWO_SESSION_RECHECK_SECONDS": "2", "OIDC_TWO_SESSION_RECHECK_GRACE_SECONDS": "0"}
    one, two = read_providers(EnvReader(env), BASE_URL)
    assert (one["session_recheck_seconds"], one["session_recheck_grace_seconds"]) == (300, 3600)
    assert (two["session_recheck_seconds"], two["session_recheck_grace_seconds"]) == (2, 0)


@pytest.mark.parametrize("value", ["-1", "soon", "1.5"])
def test_a_bad_interval_stops_start_up_naming_the_variable(value):
    env = {"OIDC_CLIENT_ID": "x", "OIDC_SESSION_RECHECK_SECONDS": value}
    with pytest.raises(ImproperlyConfigured, match="OIDC_SESSION_RECHECK_SECONDS"):
        read_providers(EnvReader(env), BASE_URL)


@pytest.mark.django_db
def test_recheck_off_asks_for_no_offline_access_and_keeps_no_refresh_token(client, idp):
    assert "offline_access" not in parse_qs(urlsplit(start(client)).query)["scope"][0].split()
    sign_in(client, idp, "alice")
    assert Session.objects.signed_in().get().refresh_token == ""
    assert idp.refresh_tokens == {}


@pytest.mark.django_db
def test_recheck_on_asks_for_offline_access(client, rechecked):
    assert parse_qs(urlsplit(start(client)).query)["scope"][0].split()[-1] == "offline_access"


# --- pages that need no refresh ---------------------------------------------------------------
@pytest.mark.django_db
def test_a_page_before_the_interval_asks_nothing_and_costs_no_query(idp, settings, django_assert_num_queries):
    def queries_of_a_page(person):
        browser = Client()
        sign_in(browser, idp, person)
        browser.get("/api/users/me")
        with CaptureQueriesContext(connection) as queries:
            assert browser.get("/api/users/me").status_code == 200
        return len(queries)

    without = queries_of_a_page("bob")
    configure(settings, idp, OIDC_SESSION_RECHECK_SECONDS=str(INTERVAL))
    assert queries_of_a_page("alice") == without
    assert idp.refreshes() == []


# --- refresh: roles follow the provider -------------------------------------------------------
@pytest.mark.django_db
def test_removal_from_the_admin_group_demotes_at_the_next_check(client, rechecked, caplog):
    sign_in(client, rechecked, "alice")
    rechecked.change("alice", groups=["romm-viewers"])
    assert role_on_home(client) == "admin"
    with later(INTERVAL + 1):
        assert role_on_home(client) == "viewer"
        assert client.get("/admin/").status_code == 302
    assert len(rechecked.refreshes()) == 1
    change = SignInEvent.objects.get(method=SignInEvent.Method.ROLE)
    assert (change.reason, change.detail, change.provider) == ("provider_groups", "admin -> viewer", rechecked.profile)
    assert User.objects.get(username="alice").identities.get().groups == ["romm-viewers"]
    if rechecked.profile == "authelia":
        # Authelia's refreshed ID token has no groups: they came from userinfo with the new access token.
        assert len(rechecked.requests_to("userinfo_endpoint")) == 2


@pytest.mark.django_db
def test_joining_the_admin_group_promotes_without_a_new_sign_in(client, rechecked):
    sign_in(client, rechecked, "carol")
    assert client.get("/admin/").status_code == 302
    rechecked.change("carol", groups=["romm-admins"])
    with later(INTERVAL + 1):
        assert client.get("/admin/").status_code == 200
    assert User.objects.get(username="carol").role == Role.ADMIN


@pytest.mark.django_db
def test_groups_that_now_grant_nothing_end_the_session(client, rechecked):
    sign_in(client, rechecked, "bob")
    rechecked.change("bob", groups=["staff"])
    with later(INTERVAL + 1):
        assert "groups at the identity provider no longer give you access" in ends_on_login(client)
    assert User.objects.get(username="bob").role == Role.EDITOR  # a refusal changes no data
    assert len(rechecked.revoked) == 1  # the refresh token just issued is not left behind


@pytest.mark.django_db
def test_rotated_refresh_tokens_are_stored_and_never_presented_twice(client, rechecked):
    sign_in(client, rechecked, "carol")
    with later(INTERVAL + 1) as traveller:
        for _ in range(3):
            assert client.get("/api/users/me").status_code == 200
            traveller.shift(INTERVAL + 1)
    presented = [parse_qs(r.text)["refresh_token"][0] for r in rechecked.refreshes()]
    assert len(presented) == len(set(presented)) == 3
    assert rechecked.reused_refresh_tokens == []
    (live,) = rechecked.refresh_tokens
    assert sealed.unseal(Session.objects.signed_in().get().refresh_token) == live


# --- refusals end the session ---------------------------------------------------------------------
@pytest.mark.django_db
def test_deactivated_at_the_provider_ends_the_session_with_a_sentence(client, rechecked, caplog):
    sign_in(client, rechecked, "alice")
    rechecked.deactivate("alice")
    with later(INTERVAL + 1), caplog.at_level(logging.WARNING, logger="accounts"):
        assert ENDED in ends_on_login(client)
    assert not Session.objects.signed_in().exists() and not Session.objects.exists()
    lines = [r.getMessage() for r in caplog.records if "session recheck" in r.getMessage()]
    assert len(lines) == 1 and "reason=code_rejected" in lines[0] and "invalid_grant" in lines[0]
    assert User.objects.get(username="alice").role == Role.ADMIN
    ended = SignInEvent.objects.get(outcome=SignInEvent.Outcome.REFUSED)  # the admin's history says why
    assert (ended.reason, ended.username, ended.subject) == ("provider_ended", "alice", rechecked.subject("alice"))


@pytest.mark.django_db
def test_api_call_after_a_refused_refresh_is_a_json_401_with_the_sentence(client, rechecked):
    sign_in(client, rechecked, "carol")
    rechecked.deactivate("carol")
    with later(INTERVAL + 1):
        response = client.get("/api/users/me")
    assert response.status_code == 401 and ENDED in response.json()["detail"]


@pytest.mark.django_db
def test_a_refused_refresh_does_not_say_the_person_signed_out_at_the_provider(client, rechecked):
    """Signing out at Authentik leaves its refresh tokens valid: a refused refresh never means that."""
    sign_in(client, rechecked, "carol")
    rechecked.deactivate("carol")
    with later(INTERVAL + 1):
        message = ends_on_login(client)
    assert ENDED in message and "signed out" not in message and "deactivated or removed" in message


@pytest.mark.django_db
def test_invalid_client_ends_the_session_and_says_it_is_configuration(client, rechecked, caplog):
    sign_in(client, rechecked, "carol")
    rechecked.refresh_error = (401, {"error": "invalid_client", "error_description": "secret changed"})
    with later(INTERVAL + 1), caplog.at_level(logging.ERROR, logger="accounts"):
        sentence = ends_on_login(client)
    assert "configuration problem" in sentence and "OIDC_CLIENT_SECRET" in sentence
    assert any("a configuration error" in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)


@pytest.mark.django_db
@pytest.mark.parametrize("change", [{"sub": "someone-else"}, {"aud": "another-client"}, {"iss": "https://evil.example"}])
def test_a_refreshed_id_token_for_someone_else_ends_the_session(client, rechecked, change):
    sign_in(client, rechecked, "alice")
    rechecked.id_token_changes = change
    with later(INTERVAL + 1):
        assert "did not pass validation" in ends_on_login(client)
    assert User.objects.get(username="alice").role == Role.ADMIN


@pytest.mark.django_db
def test_no_refresh_token_granted_ends_the_session_at_the_first_check(client, rechecked, caplog):
    rechecked.grants_offline_access = False
    with caplog.at_level(logging.WARNING, logger="accounts"):
        sign_in(client, rechecked, "carol")
    assert any("issued no refresh token" in r.getMessage() for r in caplog.records)
    assert client.get("/api/users/me").status_code == 200
    with later(INTERVAL + 1):
        assert "offline_access" in ends_on_login(client)


# --- an unreachable provider ---------------------------------------------------------------------
def provider_down(fake, requests_mock, how):
    if how == "503":
        fake.refresh_error = (503, {})
    else:
        requests_mock.post(fake.metadata["token_endpoint"], exc=requests.exceptions.ConnectTimeout)


def provider_back(fake, requests_mock):
    fake.refresh_error = None
    requests_mock.post(fake.metadata["token_endpoint"], json=fake._token)


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["503", "timeout"])
def test_outage_keeps_the_session_and_retries_with_back_off(client, rechecked, requests_mock, how, caplog):
    sign_in(client, rechecked, "alice")
    rechecked.change("alice", groups=["romm-viewers"])
    provider_down(rechecked, requests_mock, how)
    def tries():
        return len(rechecked.refreshes())

    with later(INTERVAL + 1) as traveller, caplog.at_level(logging.WARNING, logger="accounts"):
        assert role_on_home(client) == "admin" and tries() == 1
        assert role_on_home(client) == "admin" and tries() == 1  # no retry before the back-off
        traveller.shift(6)
        assert role_on_home(client) == "admin" and tries() == 2  # 5 s, then 10 s, ...
        traveller.shift(6)
        assert tries() == 2 and client.get("/").status_code == 200 and tries() == 2
        row = Session.objects.signed_in().get()
        assert row.recheck_failures == 2 and row.recheck_failing_since is not None
        provider_back(rechecked, requests_mock)
        traveller.shift(5)
        assert role_on_home(client) == "viewer"
    assert Session.objects.signed_in().get().recheck_failing_since is None
    assert any("retry in 10s" in r.getMessage() for r in caplog.records)


@pytest.mark.django_db
def test_discovery_down_when_the_check_falls_due_is_an_outage_too(client, rechecked, requests_mock):
    sign_in(client, rechecked, "alice")
    requests_mock.get(rechecked.discovery_url, status_code=503)
    cache.clear()  # the discovery document expired from the cache
    with later(INTERVAL + 1):
        assert role_on_home(client) == "admin"
    assert Session.objects.signed_in().get().recheck_failures == 1 and rechecked.refreshes() == []


@pytest.mark.django_db
def test_outage_past_the_grace_period_ends_the_session(client, rechecked, settings, requests_mock):
    configure(settings, rechecked, OIDC_SESSION_RECHECK_SECONDS=str(INTERVAL), OIDC_SESSION_RECHECK_GRACE_SECONDS="120")
    sign_in(client, rechecked, "carol")
    provider_down(rechecked, requests_mock, "timeout")
    with later(INTERVAL + 1) as traveller:
        assert client.get("/").status_code == 200  # the first failure starts the grace period
        for _ in range(3):
            traveller.shift(30)
            assert client.get("/").status_code == 200
        traveller.shift(29)  # the next retry is due exactly when the grace period ends
        assert client.get("/").status_code == 200
        traveller.shift(2)
        assert "OIDC_SESSION_RECHECK_GRACE_SECONDS" in ends_on_login(client)
    assert Session.objects.signed_in().count() == 0


# --- one refresh at a time ---------------------------------------------------------------------------
@pytest.mark.django_db
def test_a_request_finding_the_lock_held_goes_on_without_refreshing(client, rechecked):
    sign_in(client, rechecked, "alice")
    rechecked.change("alice", groups=["romm-viewers"])
    key = "oidc:recheck-lock:" + hashlib.sha256(client.session.session_key.encode()).hexdigest()
    with later(INTERVAL + 1):
        cache.add(key, 1, 60)  # another request of this session is refreshing
        assert role_on_home(client) == "admin"
        assert rechecked.refreshes() == []
        cache.delete(key)
        assert role_on_home(client) == "viewer"
    assert len(rechecked.refreshes()) == 1


# --- the refresh token at rest ---------------------------------------------------------------------
@pytest.mark.django_db
def test_the_refresh_token_is_encrypted_in_the_database_and_absent_from_the_session(client, rechecked, settings):
    sign_in(client, rechecked, "carol")
    (token,) = rechecked.refresh_tokens
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_session")
        row = " ".join(str(value) for value in cursor.fetchone())
        cursor.execute("SELECT session_data FROM accounts_session")
        session_rows = " ".join(value for (value,) in cursor.fetchall())
    assert token not in row and token[3:] not in row
    assert token not in str(dict(client.session)) and token not in session_rows
    assert token not in str(client.cookies)
    assert sealed.unseal(Session.objects.signed_in().get().refresh_token) == token
    # Another SECRET_KEY cannot open it (so the check ends the session rather than guessing) ...
    settings.SECRET_KEY = "another-key"
    assert sealed.unseal(Session.objects.signed_in().get().refresh_token) is None
    # ... unless the old key is still listed as a fallback during a rotation.
    settings.SECRET_KEY_FALLBACKS = ["django-insecure-development-key-set-SECRET_KEY-in-production"]
    assert sealed.unseal(Session.objects.signed_in().get().refresh_token) == token


@pytest.mark.django_db
def test_no_log_line_carries_the_refresh_token(client, rechecked, caplog):
    with caplog.at_level(logging.DEBUG):
        sign_in(client, rechecked, "alice")
        (first,) = rechecked.refresh_tokens
        rechecked.deactivate("alice")
        with later(INTERVAL + 1):
            ends_on_login(client)
    assert first not in caplog.text


# --- logout ----------------------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/logout", "/api/logout"])
def test_logout_revokes_the_refresh_token_at_the_provider(client, rechecked, path):
    sign_in(client, rechecked, "carol")
    (token,) = rechecked.refresh_tokens
    assert client.post(path).status_code in (200, 302)
    assert rechecked.revoked == [token]
    assert client.get("/api/users/me").status_code == 401


@pytest.mark.django_db
@pytest.mark.parametrize("failure", [{"status_code": 503}, {"exc": requests.exceptions.ConnectionError}])
def test_a_failing_revocation_never_blocks_the_local_logout(client, rechecked, requests_mock, failure, caplog):
    sign_in(client, rechecked, "carol")
    requests_mock.post(rechecked.metadata["revocation_endpoint"], **failure)
    with caplog.at_level(logging.WARNING, logger="accounts"):
        response = client.post("/logout")
    assert response["Location"] == "/login?local=1"
    assert client.get("/api/users/me").status_code == 401 and not Session.objects.signed_in().exists()
    assert any("revocation" in r.getMessage() and "failed" in r.getMessage() for r in caplog.records)


# --- the JSON API and app tokens under the recheck ----------------------------------------------
@pytest.mark.django_db
def test_an_api_request_with_only_the_session_cookie_is_rechecked(client, rechecked):
    sign_in(client, rechecked, "bob")
    rechecked.deactivate("bob")
    with later(INTERVAL + 1):
        response = client.get("/api/roms")
    assert response.status_code == 401 and "identity provider no longer confirms your sign-in" in response.json()["detail"]
    assert len(rechecked.refreshes()) == 1


@pytest.mark.django_db
def test_a_bearer_request_carrying_an_ended_session_cookie_is_judged_by_its_token_alone(client, rechecked):
    sign_in(client, rechecked, "bob")
    raw, _ = tokens.create(User.objects.get(username="bob"), "app", ["me.read", "roms.read"], None)
    # The check ends the session (a refused client); the app token, not revoked by that, still speaks.
    rechecked.refresh_error = (401, {"error": "invalid_client", "error_description": "secret changed"})
    with later(INTERVAL + 1):
        response = client.post("/api/roms", "{}", content_type="application/json", **bearer(raw))
        assert response.status_code == 403 and "roms.write" in response.json()["detail"]
        assert client.get("/api/client-tokens").status_code == 401  # the session itself is gone


@pytest.mark.django_db
def test_the_session_row_and_the_session_data_never_hold_the_refresh_token(client, rechecked):
    sign_in(client, rechecked, "bob")
    (live,) = rechecked.refresh_tokens
    row = Session.objects.signed_in().get()
    assert live not in row.refresh_token
    assert all(live not in s.session_data and live not in str(s.get_decoded()) for s in Session.objects.all())


@pytest.mark.django_db
def test_groups_that_grant_nothing_also_stop_the_persons_app_tokens(client, rechecked):
    sign_in(client, rechecked, "bob")  # an editor
    raw, _ = tokens.create(User.objects.get(username="bob"), "app", ["roms.read", "roms.write"], None)
    rechecked.change("bob", groups=["staff"])
    with later(INTERVAL + 1):
        assert client.get("/").status_code == 302  # the session ended here
        response = Client().post("/api/roms", "{}", content_type="application/json", **bearer(raw))
    assert response.status_code in (401, 403)


@pytest.mark.django_db
def test_a_session_of_a_provider_removed_from_the_configuration_ends(client, rechecked, settings):
    sign_in(client, rechecked, "alice")  # an admin
    settings.OIDC_PROVIDER_CONFIGS = [{**settings.OIDC_PROVIDER_CONFIGS[0], "name": "another"}]
    with later(INTERVAL + 1):
        response = client.get("/api/client-tokens")
    assert response.status_code == 401


@pytest.mark.django_db
def test_a_session_from_before_the_recheck_was_turned_on_is_rechecked(client, idp, settings):
    configure(settings, idp)
    sign_in(client, idp, "alice")
    configure(settings, idp, OIDC_SESSION_RECHECK_SECONDS=str(INTERVAL))
    idp.deactivate("alice")
    with later(INTERVAL + 1):
        response = client.get("/api/client-tokens")
    assert response.status_code == 401
