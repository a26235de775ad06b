"""A provider that accepts connections and never answers must not hold the site's workers, and
nobody can make the site remember a failure of a provider that is slow but works."""

import socket
import threading
import time

import jwt
import pytest
import requests
from django.test import Client

from tests.conftest import configure

pytestmark = pytest.mark.django_db


class HungProvider:
    """A TCP listener on 127.0.0.1 that accepts every connection and never sends a byte."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(50)
        self.port = self.sock.getsockname()[1]
        self.accepted = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    @property
    def issuer(self):
        return f"http://127.0.0.1:{self.port}/application/o/romm/"

    def close(self):
        for conn in self.accepted:
            conn.close()
        self.sock.close()


@pytest.fixture
def hung(settings):
    provider = HungProvider()
    configure(settings, None, OIDC_PROVIDER="authentik", OIDC_SERVER_APPLICATION_URL=provider.issuer)
    settings.OIDC_TIMEOUT = 5
    yield provider
    provider.close()


def logout_token(issuer):
    claims = {"iss": issuer, "aud": "romm", "iat": int(time.time()), "jti": "j1", "sid": "s",
              "events": {"http://schemas.openid.net/event/backchannel-logout": {}}}
    return jwt.encode(claims, "not-the-secret-but-long-enough-for-hs256-32b", algorithm="HS256")


def test_back_channel_logout_answers_quickly_while_the_provider_hangs(client, hung, caplog):
    began = time.monotonic()
    first = client.post("/api/oauth/backchannel-logout", {"logout_token": logout_token(hung.issuer)})
    first_took = time.monotonic() - began
    began = time.monotonic()
    for _ in range(5):
        again = client.post("/api/oauth/backchannel-logout", {"logout_token": logout_token(hung.issuer)})
        assert again.status_code == 400
    rest_took = time.monotonic() - began
    assert first.status_code == 400 and first.json()["error"] == "invalid_request"
    # Not OIDC_TIMEOUT (5 s): the receiver waits one second at most for what it has not cached ...
    assert first_took < 2.5, first_took
    # ... and the failure is remembered, so the next requests do not knock on the provider again.
    assert rest_took < 1.0, rest_took
    assert len(hung.accepted) == 1
    assert "back-channel logout refused" in caplog.text


def test_a_back_channel_token_from_an_unconfigured_issuer_costs_no_provider_call(client, hung):
    response = client.post("/api/oauth/backchannel-logout", {"logout_token": logout_token("https://evil.example/")})
    assert response.status_code == 400 and response.json()["error_description"] == "unknown issuer"
    time.sleep(0.1)
    assert hung.accepted == []


def test_sign_in_starts_fail_fast_after_one_timeout(client, hung, settings):
    settings.OIDC_TIMEOUT = 1
    first = client.get("/api/login/openid")
    assert first.status_code == 302 and first["Location"] == "/login?local=1"
    began = time.monotonic()
    for _ in range(5):
        response = client.get("/api/login/openid")
        assert response["Location"] == "/login?local=1"
    assert time.monotonic() - began < 1.0
    assert len(hung.accepted) == 1
    page = client.get("/login?local=1").content.decode()
    assert "took too long to answer" in page


# --- a slow or hung provider and the failure the site remembers -------------------------------
def forged_logout_token(fake):
    """What anyone can POST: the configured issuer, a key id nobody has, a signature of nothing."""
    claims = {
        "iss": fake.issuer,
        "aud": fake.client_id,
        "iat": int(time.time()),
        "jti": "forged",
        "sid": "x",
        "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
    }
    return jwt.encode(
        claims, "an-attackers-own-secret-32-bytes-long!!", algorithm="HS256", headers={"kid": "nobody"}
    )


def answers_in(seconds, fake, url):
    """The provider at ``url`` answers, but only to a caller that waits ``seconds`` or more."""

    def respond(request, context):
        if (request.timeout or 0) < seconds:
            raise requests.exceptions.ReadTimeout(f"{url} answers after {seconds}s")
        return fake.metadata if url == fake.discovery_url else fake.jwks()

    fake.mocker.get(url, json=respond)


def test_an_anonymous_post_cannot_make_the_site_remember_a_failure_for_a_slow_but_working_provider(authentik):
    answers_in(1.5, authentik, authentik.discovery_url)  # slower than 1 s, well within OIDC_TIMEOUT
    attacker = Client()
    refused = attacker.post("/api/oauth/backchannel-logout", {"logout_token": forged_logout_token(authentik)})
    assert refused.status_code == 400
    person = Client()
    start = person.get("/api/login/openid")
    assert start.status_code == 302 and start["Location"].startswith(
        authentik.metadata["authorization_endpoint"]
    ), "the sign-in was refused because of the attacker's request"


def test_visitors_arriving_while_the_provider_hangs_do_not_each_wait_for_it(authentik):
    waited = []

    def hangs(request, context):
        waited.append(request.timeout)
        if len(waited) == 1:
            # A second visitor arrives while the first request is still waiting on the provider.
            second = Client().get("/api/login/openid")
            assert second.status_code == 302 and second["Location"] == "/login?local=1"
        raise requests.exceptions.ReadTimeout("the provider never answers")

    authentik.mocker.get(authentik.discovery_url, json=hangs)
    first = Client().get("/api/login/openid")
    assert first.status_code == 302 and first["Location"] == "/login?local=1"
    assert len(waited) == 1, f"{len(waited)} requests each waited {waited} seconds on the hung provider"
