"""Signing out from /profile/sessions: one session, or every other; never another person's."""

import logging

import pytest
import requests
from django.test import Client

from accounts.models import Session, SignInEvent
from tests.accounts.helpers import whoami
from tests.accounts.sessions.conftest import EDGE_WINDOWS, SAFARI_IPHONE, key_of, rows_of
from tests.conftest import configure, messages_of

pytestmark = pytest.mark.django_db


def public_id(browser):
    return Session.objects.get(session_key=key_of(browser)).public_id


def ended_rows():
    return list(SignInEvent.objects.filter(outcome=SignInEvent.Outcome.ENDED).values_list("username", "reason"))


def test_signing_out_another_session_makes_its_next_request_anonymous(browser_of, caplog):
    laptop, phone, bobs = browser_of("alice"), browser_of("alice", SAFARI_IPHONE, "203.0.113.9"), browser_of("bob")
    keys = [key_of(laptop), key_of(phone), key_of(bobs)]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="accounts"):
        response = laptop.post(f"/profile/sessions/{public_id(phone)}/sign-out")
    assert response.status_code == 302 and response["Location"] == "/profile/sessions"
    assert whoami(phone) is None
    assert (whoami(laptop), whoami(bobs)) == ("alice", "bob")
    page = laptop.get("/profile/sessions")
    assert "Mobile Safari on iOS at 203.0.113.9 is signed out." in messages_of(page)
    assert [r["browser"] for r in rows_of(page)] == ["Firefox on Linux this browser"]
    assert ended_rows() == [("alice", "signed_out_elsewhere")]
    lines = [r.getMessage() for r in caplog.records if r.name == "accounts.sessions.ending"]
    assert len(lines) == 1 and "signed_out_elsewhere" in lines[0]
    assert not any(key in r.getMessage() for r in caplog.records for key in keys)


def test_sign_out_everywhere_else_keeps_this_browser_and_other_people(browser_of):
    laptop, phone, desktop = browser_of("alice"), browser_of("alice", SAFARI_IPHONE), browser_of("alice", EDGE_WINDOWS)
    bobs = browser_of("bob")
    response = laptop.post("/profile/sessions/sign-out-others")
    assert response["Location"] == "/profile/sessions"
    assert "Signed out 2 other sessions; this browser stays signed in." in messages_of(laptop.get("/profile"))
    assert (whoami(phone), whoami(desktop)) == (None, None)
    assert (whoami(laptop), whoami(bobs)) == ("alice", "bob")
    assert sorted(ended_rows()) == [("alice", "signed_out_elsewhere")] * 2


def test_another_persons_session_is_a_404_and_ends_nothing(browser_of, caplog):
    laptop, bobs = browser_of("alice"), browser_of("bob")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="accounts"):
        response = laptop.post(f"/profile/sessions/{public_id(bobs)}/sign-out")
    assert response.status_code == 404
    assert "That session is already signed out, or it is not one of yours" in response.content.decode()
    assert (whoami(laptop), whoami(bobs)) == ("alice", "bob") and ended_rows() == []
    assert [r.name for r in caplog.records if r.name.startswith("accounts")] == ["accounts.sessions.page"]


@pytest.mark.parametrize("made_up", ["0" * 32, "x", "A" * 300, "%2e%2e", "%00", "sign-out-others"])
def test_an_unknown_id_is_a_404_and_ends_nothing(browser_of, made_up):
    laptop, phone = browser_of("alice"), browser_of("alice", SAFARI_IPHONE)
    assert laptop.post(f"/profile/sessions/{made_up}/sign-out").status_code == 404
    assert (whoami(laptop), whoami(phone)) == ("alice", "alice") and ended_rows() == []


def test_a_session_already_signed_out_is_a_404_the_second_time(browser_of):
    laptop, phone = browser_of("alice"), browser_of("alice", SAFARI_IPHONE)
    gone = public_id(phone)
    assert laptop.post(f"/profile/sessions/{gone}/sign-out").status_code == 302
    assert laptop.post(f"/profile/sessions/{gone}/sign-out").status_code == 404
    assert ended_rows() == [("alice", "signed_out_elsewhere")]


@pytest.mark.parametrize("path", ["/profile/sessions/{id}/sign-out", "/profile/sessions/sign-out-others"])
def test_signing_out_needs_the_csrf_token(browser_of, authentik, path):
    laptop, phone = browser_of("alice"), browser_of("alice", SAFARI_IPHONE)
    forged = Client(enforce_csrf_checks=True)
    forged.cookies = laptop.cookies  # the person's own cookie, sent by another site's form
    assert forged.post(path.format(id=public_id(phone))).status_code == 403
    assert (whoami(laptop), whoami(phone)) == ("alice", "alice") and ended_rows() == []


def test_signing_out_is_a_post(browser_of):
    laptop, phone = browser_of("alice"), browser_of("alice", SAFARI_IPHONE)
    assert laptop.get(f"/profile/sessions/{public_id(phone)}/sign-out").status_code == 405
    assert laptop.get("/profile/sessions/sign-out-others").status_code == 405
    assert whoami(phone) == "alice"


def test_this_browsers_own_id_signs_out_as_logout_does(browser_of):
    laptop, phone = browser_of("alice"), browser_of("alice", SAFARI_IPHONE)
    response = laptop.post(f"/profile/sessions/{public_id(laptop)}/sign-out")
    assert response.status_code == 302 and response["Location"] == "/login?local=1"
    assert (whoami(laptop), whoami(phone)) == (None, "alice")


def test_signing_out_another_session_revokes_its_refresh_token_at_the_provider(browser_of, authentik, settings):
    configure(settings, authentik, OIDC_SESSION_RECHECK_SECONDS="300")
    laptop, phone = browser_of("alice"), browser_of("alice", SAFARI_IPHONE)
    laptops_token, phones_token = authentik.refresh_tokens
    laptop.post(f"/profile/sessions/{public_id(phone)}/sign-out")
    assert authentik.revoked == [phones_token]
    laptop.post("/profile/sessions/sign-out-others")  # nothing else left to sign out
    assert authentik.revoked == [phones_token] and whoami(laptop) == "alice"
    assert laptops_token not in authentik.revoked


@pytest.mark.parametrize("failure", [requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError])
def test_a_provider_that_does_not_answer_is_asked_to_revoke_once_not_once_per_session(
        browser_of, authentik, settings, requests_mock, caplog, failure):
    configure(settings, authentik, OIDC_SESSION_RECHECK_SECONDS="300")
    laptop = browser_of("alice")
    others = [browser_of("alice", SAFARI_IPHONE, f"203.0.113.{n}") for n in range(1, 5)]
    revocations = requests_mock.post(authentik.metadata["revocation_endpoint"], exc=failure)
    with caplog.at_level(logging.INFO, logger="accounts"):
        laptop.post("/profile/sessions/sign-out-others")
    assert [whoami(other) for other in others] == [None] * 4 and whoami(laptop) == "alice"
    assert revocations.call_count == 1  # a hung provider costs one OIDC_TIMEOUT, not four
    assert "3 more refresh tokens of the sessions ended not revoked at authentik: it did not answer" in caplog.text


@pytest.mark.parametrize("status", [400, 500])
def test_a_refused_revocation_does_not_stop_the_others(browser_of, authentik, settings, requests_mock, status):
    configure(settings, authentik, OIDC_SESSION_RECHECK_SECONDS="300")
    laptop = browser_of("alice")
    for n in range(1, 4):
        browser_of("alice", SAFARI_IPHONE, f"203.0.113.{n}")
    revocations = requests_mock.post(authentik.metadata["revocation_endpoint"], [
        {"status_code": status, "json": {"error": "invalid_request"}}, {"status_code": 200, "json": {}}])
    laptop.post("/profile/sessions/sign-out-others")
    assert revocations.call_count == 3  # the provider answered: each token is its own question
