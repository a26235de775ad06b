"""What the sign-in history records for the health report: the provider's response time at each
sign-in, sessions back-channel logout and the recheck end, keys the provider rotated."""

import time

import pytest
import requests
import time_machine
from django.test import Client

from accounts.models import Session, SignInEvent, User
from accounts.oidc import recheck
from tests.conftest import configure, sign_in
from tests.fakeidp import logout_token, rsa_key

pytestmark = pytest.mark.django_db


def test_a_sign_in_records_how_long_the_token_request_took(client, idp):
    sign_in(client, idp, "bob")
    assert SignInEvent.objects.get().provider_ms > 0


@pytest.mark.parametrize(
    "person, token_error, reason",
    [
        ("dave", None, "email_unverified"),
        ("bob", (401, {"error": "invalid_client"}), "client_rejected"),
        ("bob", (400, {"error": "invalid_grant"}), "code_rejected"),
        ("bob", (503, {}), "provider_unreachable"),
    ],
)
def test_a_refusal_after_the_provider_answered_keeps_its_response_time(
    client, authentik, person, token_error, reason
):
    authentik.token_error = token_error
    sign_in(client, authentik, person)
    refused = SignInEvent.objects.get()
    assert refused.reason == reason and refused.provider_ms > 0


def test_no_answer_no_response_time(client, authentik, requests_mock):
    requests_mock.post(authentik.metadata["token_endpoint"], exc=requests.exceptions.ConnectTimeout)
    sign_in(client, authentik, "bob")
    Client().get("/api/oauth/openid?state=forged&code=x")
    assert sorted(SignInEvent.objects.values_list("reason", "provider_ms")) == [
        ("provider_timeout", None),
        ("state_unknown", None),
    ]


def test_back_channel_logout_records_each_session_it_ends(idp):
    carol_phone, carol_laptop, bob = Client(), Client(), Client()
    for browser, person in ((carol_phone, "carol"), (carol_laptop, "carol"), (bob, "bob")):
        sign_in(browser, idp, person)
    token = logout_token(idp, "carol")
    assert Client().post("/api/oauth/backchannel-logout", {"logout_token": token}).status_code == 200
    ended = SignInEvent.objects.filter(outcome=SignInEvent.Outcome.ENDED)
    carol = User.objects.get(username="carol")
    assert (
        sorted(ended.values_list("user", "method", "reason", "provider", "subject"))
        == [
            (carol.pk, "oidc", "backchannel_logout", idp.profile, idp.subject("carol")),
        ]
        * 2
    )
    # A replayed token, and one for nobody signed in here, end nothing and record nothing.
    Client().post("/api/oauth/backchannel-logout", {"logout_token": token})
    Client().post("/api/oauth/backchannel-logout", {"logout_token": logout_token(idp, "alice")})
    assert ended.count() == 2
    assert bob.get("/api/users/me").status_code == 200


def test_a_rotated_key_is_recorded_once(client, authentik):
    sign_in(client, authentik, "bob")
    authentik.kid, authentik.key = "key-2", rsa_key(1)
    sign_in(Client(), authentik, "carol")
    sign_in(Client(), authentik, "alice")  # key-2 is known now: no refetch
    rotation = SignInEvent.objects.get(method=SignInEvent.Method.KEYS)
    assert (rotation.outcome, rotation.reason, rotation.provider, rotation.detail, rotation.user) == (
        "changed",
        "key_rotated",
        authentik.profile,
        "new key id(s): key-2",
        None,
    )
    assert SignInEvent.objects.filter(outcome="success").count() == 3


def test_a_refetch_that_finds_no_new_key_records_none(client, authentik):
    sign_in(client, authentik, "bob")
    authentik.header_changes = {"kid": "ghost"}
    sign_in(Client(), authentik, "carol")
    assert SignInEvent.objects.filter(reason="invalid_token").count() == 1
    assert not SignInEvent.objects.filter(method=SignInEvent.Method.KEYS).exists()


def test_a_recheck_that_finds_its_session_gone_records_why(client, authentik, settings, monkeypatch):
    configure(settings, authentik, OIDC_SESSION_RECHECK_SECONDS="60")
    sign_in(client, authentik, "carol")
    acquire = recheck._acquire

    def ended_while_waiting(lock):
        # Another tab's logout (or a back-channel one) ends the session while this request,
        # which read it already, waits for the recheck's lock.
        Session.objects.all().delete()
        return acquire(lock)

    monkeypatch.setattr(recheck, "_acquire", ended_while_waiting)
    with time_machine.travel(time.time() + 120, tick=True):
        assert client.get("/")["Location"] == "/login?local=1"
    ended = SignInEvent.objects.get(reason="session_gone")
    assert (ended.user.username, ended.provider, ended.detail) == (
        "carol",
        authentik.profile,
        "the session is no longer indexed",
    )


def test_text_no_database_can_store_is_kept_as_its_escape(rf):
    """Whatever a provider or a client sends into a history row (a detail, a user agent) is stored,
    a half surrogate pair and a NUL included, instead of the write failing."""
    from accounts.audit import history

    request = rf.get("/", HTTP_USER_AGENT="Agent\ud800/1.0")
    history.record(request, SignInEvent.Method.OIDC, SignInEvent.Outcome.REFUSED, reason="bad_response",
                   detail="error_description \udfff\x00 from the provider", username="b\ud800b")
    row = SignInEvent.objects.get()
    assert row.detail == "error_description \\udfff from the provider"
    assert row.user_agent == "Agent\\ud800/1.0" and row.username == "b\\ud800b"
