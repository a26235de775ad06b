"""App tokens follow the provider: the role is confirmed on use, a removal revokes them."""

import base64
import json
import logging
import time
from datetime import timedelta

import pytest
import requests
import time_machine
from django.test import Client
from django.utils import timezone

from accounts.models import Identity, Role, SignInEvent, User
from accounts.oidc import sealed
from devices import client_tokens as tokens
from devices.models import ClientToken, Device
from tests.conftest import configure, sign_in
from tests.fakeidp import logout_token

pytestmark = pytest.mark.django_db

INTERVAL = 60
GONE = "The identity provider no longer confirms your account"
ENDED = "The identity provider no longer confirms your sign-in"


@pytest.fixture
def rechecked(idp, settings):
    """Both profiles, with the recheck every minute and the default grace of an hour."""
    configure(settings, idp, OIDC_SESSION_RECHECK_SECONDS=str(INTERVAL))
    return idp


def later(seconds):
    return time_machine.travel(time.time() + seconds, tick=True)


def bearer(raw):
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def me(raw):
    return Client().get("/api/users/me", **bearer(raw))


def role_of(raw):
    response = me(raw)
    assert response.status_code == 200, response.content
    return response.json()["role"]


def new_platform(raw, name):
    body = json.dumps({"name": name})
    return Client().post("/api/platforms", body, content_type="application/json", **bearer(raw)).status_code


def app_person(fake, person, logout=True):
    """``person`` signs in through the provider, makes an app token and a device, and (by default)
    logs out: from then on only apps act for them. Returns the browser and the two raw tokens."""
    browser = Client()
    sign_in(browser, fake, person)
    user = User.objects.get(username=person)
    scopes = ["me.read", "platforms.read", "platforms.write"]
    raw, _ = tokens.create(user, "script", scopes, None)
    device = Device.objects.create(user=user, client_device_identifier="deck", name="Deck", client="grout")
    device_raw, _ = tokens.create(user, "Deck", scopes, None, device=device)
    if logout:
        assert browser.post("/logout").status_code == 302
    return browser, raw, device_raw


def live_tokens(person):
    return ClientToken.objects.filter(user__username=person, revoked=False).count()


# --- the role follows the provider ------------------------------------------------------------------
def test_an_app_only_person_demoted_at_the_provider_is_demoted_at_the_next_use_after_the_interval(rechecked):
    _, raw, device_raw = app_person(rechecked, "bob")
    rechecked.change("bob", groups=["romm-viewers"])
    assert role_of(raw) == "editor" and new_platform(raw, "SNES") == 201  # within the interval
    with later(INTERVAL + 1):
        assert new_platform(device_raw, "Game Boy") == 403
        assert role_of(raw) == "viewer"
    assert len(rechecked.refreshes()) == 1
    change = SignInEvent.objects.get(method=SignInEvent.Method.ROLE)
    assert (change.reason, change.detail) == ("provider_groups", "editor -> viewer")
    assert live_tokens("bob") == 2  # demoted, not removed: the tokens stay, narrowed


def test_a_promotion_at_the_provider_reaches_the_token(rechecked):
    _, raw, _ = app_person(rechecked, "carol")
    assert new_platform(raw, "SNES") == 403
    rechecked.change("carol", groups=["romm-editors"])
    with later(INTERVAL + 1):
        assert new_platform(raw, "SNES") == 201


def test_before_the_interval_a_token_use_asks_nothing_and_costs_no_query(rechecked, django_assert_num_queries):
    _, raw, _ = app_person(rechecked, "bob")
    me(raw)
    with django_assert_num_queries(2):  # the token with its owner, device and due time; the identities
        assert me(raw).status_code == 200
    assert rechecked.refreshes() == []


def test_rotated_refresh_tokens_are_kept_encrypted_and_never_presented_twice(rechecked):
    _, raw, _ = app_person(rechecked, "carol")
    with later(INTERVAL + 1) as traveller:
        for _ in range(3):
            assert me(raw).status_code == 200
            traveller.shift(INTERVAL + 1)
    presented = [r.text for r in rechecked.refreshes()]
    assert len(presented) == len(set(presented)) == 3 and rechecked.reused_refresh_tokens == []
    (live,) = rechecked.refresh_tokens
    stored = Identity.objects.get().refresh_token
    assert live not in stored and sealed.unseal(stored) == live


# --- the provider ends the grant ---------------------------------------------------------------------
def test_deactivated_at_the_provider_revokes_every_app_token_with_a_sentence(rechecked, caplog):
    _, raw, device_raw = app_person(rechecked, "alice")
    rechecked.deactivate("alice")
    with later(INTERVAL + 1), caplog.at_level(logging.INFO, logger="accounts"):
        response = me(raw)
        assert response.status_code == 401 and GONE in response.json()["detail"]
        assert "signed out" not in response.json()["detail"]
        assert "pair the app again" in response.json()["detail"]
        assert me(device_raw).status_code == 401
    assert live_tokens("alice") == 0
    assert User.objects.get(username="alice").role == Role.ADMIN  # a refusal changes no role
    event = SignInEvent.objects.get(method=SignInEvent.Method.APP_TOKEN, reason="provider_ended")
    assert event.detail.startswith("2 app token(s) revoked") and event.subject == rechecked.subject("alice")
    assert any("revoked 2 app token(s) of 'alice'" in r.getMessage() for r in caplog.records)
    assert Identity.objects.get().refresh_token == ""


def test_the_provider_ending_the_grant_takes_the_password_bearers_but_leaves_the_password(rechecked):
    _, raw, _ = app_person(rechecked, "bob")
    bob = User.objects.get(username="bob")
    bob.set_password("a-long-password-1")
    bob.save()
    basic = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(b"bob:a-long-password-1").decode()}
    grant = {"grant_type": "password", "username": "bob", "password": "a-long-password-1"}
    bearer_token = Client().post("/api/token", grant).json()["access_token"]
    assert role_of(bearer_token) == "editor"
    rechecked.deactivate("bob")
    with later(INTERVAL + 1):
        assert me(raw).status_code == 401
        assert me(bearer_token).status_code == 401
        assert Client().get("/api/users/me", **basic).status_code == 200  # this site's own credential


def test_groups_that_grant_nothing_revoke_the_app_tokens(rechecked):
    _, raw, _ = app_person(rechecked, "bob")
    rechecked.change("bob", groups=["staff"])
    with later(INTERVAL + 1):
        response = me(raw)
    assert response.status_code == 401 and "no longer give you access" in response.json()["detail"]
    assert live_tokens("bob") == 0
    assert len(rechecked.revoked) == 1  # the refresh token just issued is not left behind


def test_a_refused_session_check_revokes_the_app_tokens_of_its_chain(rechecked):
    browser, raw, _ = app_person(rechecked, "bob", logout=False)
    rechecked.deactivate("bob")
    with later(INTERVAL + 1):
        response = browser.get("/api/users/me")
        assert response.status_code == 401 and ENDED in response.json()["detail"]
    assert live_tokens("bob") == 0
    assert me(raw).status_code == 401


# --- the provider cannot be asked ------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["503", "timeout"])
def test_an_unreachable_provider_keeps_the_tokens_for_the_grace_period_then_refuses_without_revoking(
    rechecked, settings, requests_mock, how
):
    configure(settings, rechecked, OIDC_SESSION_RECHECK_SECONDS=str(INTERVAL), OIDC_SESSION_RECHECK_GRACE_SECONDS="120")
    _, raw, _ = app_person(rechecked, "bob")
    rechecked.change("bob", groups=["romm-viewers"])
    if how == "503":
        rechecked.refresh_error = (503, {})
    else:
        requests_mock.post(rechecked.metadata["token_endpoint"], exc=requests.exceptions.ConnectTimeout)
    with later(INTERVAL + 1) as traveller:
        assert role_of(raw) == "editor" and len(rechecked.refreshes()) == 1
        assert role_of(raw) == "editor" and len(rechecked.refreshes()) == 1  # the back-off: no retry yet
        traveller.shift(6)
        assert role_of(raw) == "editor" and len(rechecked.refreshes()) == 2
        traveller.shift(121)
        response = me(raw)
        assert response.status_code == 503 and "OIDC_SESSION_RECHECK_GRACE_SECONDS" in response.json()["detail"]
        assert "not revoked" in response.json()["detail"]
        assert me(raw).status_code == 503
        rechecked.refresh_error = None
        requests_mock.post(rechecked.metadata["token_endpoint"], json=rechecked._token)
        traveller.shift(INTERVAL + 1)
        assert role_of(raw) == "viewer"
    assert live_tokens("bob") == 2


def test_the_apps_retrying_an_unreachable_provider_do_not_stop_the_session_counting_its_own_grace(rechecked, settings):
    configure(settings, rechecked, OIDC_SESSION_RECHECK_SECONDS=str(INTERVAL), OIDC_SESSION_RECHECK_GRACE_SECONDS="120")
    browser, raw, _ = app_person(rechecked, "bob", logout=False)
    rechecked.refresh_error = (503, {})
    with later(INTERVAL + 1) as traveller:
        assert me(raw).status_code == 200 and len(rechecked.refreshes()) == 1  # the apps back off now
        assert browser.get("/api/users/me").status_code == 200
        assert len(rechecked.refreshes()) == 2  # the session asks on its own schedule
        traveller.shift(125)
        response = browser.get("/api/users/me")
        assert response.status_code == 401 and "OIDC_SESSION_RECHECK_GRACE_SECONDS" in response.json()["detail"]
        assert me(raw).status_code == 503
    assert live_tokens("bob") == 2


def test_a_request_finding_another_refreshing_waits_for_it_then_goes_on(rechecked, settings):
    _, raw, _ = app_person(rechecked, "bob")
    settings.OIDC_TIMEOUT = 1
    rechecked.change("bob", groups=["romm-viewers"])
    with later(INTERVAL + 1):
        Identity.objects.update(recheck_busy_until=timezone.now() + timedelta(seconds=30))
        assert role_of(raw) == "editor" and rechecked.refreshes() == []
        Identity.objects.update(recheck_busy_until=None)
        assert role_of(raw) == "viewer" and len(rechecked.refreshes()) == 1


# --- one refresh token, a session and the apps ---------------------------------------------------------
def test_a_session_and_the_apps_of_one_sign_in_never_spend_one_refresh_token_twice(rechecked):
    browser, raw, _ = app_person(rechecked, "carol", logout=False)
    with later(INTERVAL + 1) as traveller:
        assert me(raw).status_code == 200  # the app's check rotates the token the session holds too
        assert browser.get("/api/users/me").status_code == 200  # the session's check spends the newest
        traveller.shift(INTERVAL + 1)
        assert browser.get("/api/users/me").status_code == 200
        assert me(raw).status_code == 200
        traveller.shift(INTERVAL + 1)
        assert me(raw).status_code == 200
        assert browser.get("/api/users/me").status_code == 200
    assert rechecked.reused_refresh_tokens == [] and len(rechecked.refreshes()) == 5
    assert not SignInEvent.objects.filter(outcome=SignInEvent.Outcome.REFUSED).exists()


def test_a_newer_sign_in_hands_the_older_session_its_newest_token(rechecked):
    first, raw, _ = app_person(rechecked, "carol", logout=False)
    with later(INTERVAL + 1) as traveller:
        assert me(raw).status_code == 200  # moves the chain past the first session's copy
        second = Client()
        sign_in(second, rechecked, "carol")  # the identity now keeps this sign-in's chain
        traveller.shift(INTERVAL + 1)
        assert first.get("/api/users/me").status_code == 200
        assert second.get("/api/users/me").status_code == 200
        assert me(raw).status_code == 200
    assert rechecked.reused_refresh_tokens == []
    assert not SignInEvent.objects.filter(outcome=SignInEvent.Outcome.REFUSED).exists()


def test_logging_out_keeps_the_refresh_token_the_apps_are_confirmed_with(rechecked):
    _, raw, _ = app_person(rechecked, "bob")  # logs out
    assert rechecked.revoked == []
    rechecked.change("bob", groups=["romm-viewers"])
    with later(INTERVAL + 1):
        assert role_of(raw) == "viewer"


def test_logging_out_without_app_tokens_revokes_the_refresh_token(rechecked):
    browser = Client()
    sign_in(browser, rechecked, "bob")
    (token,) = rechecked.refresh_tokens
    browser.post("/logout")
    assert rechecked.revoked == [token] and Identity.objects.get().refresh_token == ""


# --- removal by other ways -----------------------------------------------------------------------------
def test_back_channel_logout_naming_the_person_revokes_the_app_tokens(rechecked):
    _, raw, device_raw = app_person(rechecked, "bob")
    response = Client().post("/api/oauth/backchannel-logout", {"logout_token": logout_token(rechecked, "bob", sid=False)})
    assert response.status_code == 200
    assert me(raw).status_code == 401 and me(device_raw).status_code == 401
    event = SignInEvent.objects.get(method=SignInEvent.Method.APP_TOKEN, reason="backchannel_logout")
    assert event.detail.startswith("2 app token(s) revoked")


def test_back_channel_logout_of_one_session_leaves_the_app_tokens(rechecked):
    browser, raw, _ = app_person(rechecked, "bob", logout=False)
    token = logout_token(rechecked, "bob", sid=True, sub=True)
    assert Client().post("/api/oauth/backchannel-logout", {"logout_token": token}).status_code == 200
    assert browser.get("/api/users/me").status_code == 401
    assert me(raw).status_code == 200


def test_an_unlinked_identity_takes_the_app_tokens_with_it(rechecked):
    _, raw, _ = app_person(rechecked, "bob")
    Identity.objects.get().delete()
    assert me(raw).status_code == 401
    assert SignInEvent.objects.filter(method=SignInEvent.Method.APP_TOKEN, reason="identity_unlinked").exists()


def test_unlinking_from_the_profile_says_the_app_tokens_went_with_it(rechecked):
    browser, raw, _ = app_person(rechecked, "bob", logout=False)
    bob = User.objects.get(username="bob")
    bob.set_password("a-long-password-1")
    bob.save()
    browser.force_login(bob, backend="accounts.oidc.backend.PasswordBackend")  # a password change ended the session
    response = browser.post(f"/profile/identities/{Identity.objects.get().pk}/unlink", follow=True)
    assert "Any app and device tokens you had were revoked with it" in response.content.decode()
    assert me(raw).status_code == 401


def test_deleting_an_account_with_identities_and_tokens_works(rechecked):
    app_person(rechecked, "bob")
    User.objects.get(username="bob").delete()
    assert not ClientToken.objects.exists() and not Identity.objects.exists()


# --- where nothing changes ---------------------------------------------------------------------------------
def test_with_the_recheck_off_tokens_keep_the_role_last_seen_and_nothing_is_kept(idp):
    _, raw, _ = app_person(idp, "bob")
    assert Identity.objects.get().refresh_token == "" and idp.refresh_tokens == {}
    idp.change("bob", groups=["romm-viewers"])
    with later(INTERVAL + 1):
        assert role_of(raw) == "editor"
    assert idp.refreshes() == []


def test_a_password_account_without_an_identity_is_never_asked(rechecked):
    frank = User.objects.create_user("frank", password="a-long-password-1", role=Role.EDITOR)
    raw, _ = tokens.create(frank, "script", ["me.read"], None)
    with later(INTERVAL + 1):
        assert role_of(raw) == "editor"
    assert rechecked.refreshes() == []


def test_turning_the_recheck_off_drops_the_kept_refresh_token(rechecked, settings):
    _, raw, _ = app_person(rechecked, "bob")
    configure(settings, rechecked)
    with later(INTERVAL + 1):
        assert role_of(raw) == "editor"
    assert Identity.objects.get().refresh_token == "" and rechecked.refreshes() == []


def test_no_log_line_carries_a_refresh_token(rechecked, caplog):
    with caplog.at_level(logging.DEBUG):
        _, raw, _ = app_person(rechecked, "alice")
        (first,) = rechecked.refresh_tokens
        with later(INTERVAL + 1) as traveller:
            me(raw)
            (second,) = rechecked.refresh_tokens
            rechecked.deactivate("alice")
            traveller.shift(INTERVAL + 1)
            me(raw)
    assert first not in caplog.text and second not in caplog.text
