"""What must hold whichever worker process serves a request (CI runs these under gunicorn too).

Under the default single process they pass trivially; with E2E_SERVER=gunicorn (several
workers, PostgreSQL, Redis) they fail when state lives in one process only: a session ended by
the provider that another worker still accepts, or a JWKS fetched once per worker.
"""

import secrets
import time
from pathlib import Path

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from accounts.oidc.discovery import JWKS_REFETCH_SECONDS
from tests.e2e.conftest import CLIENT_ID
from tests.e2e.test_concurrency import at_once
from tests.e2e.test_http_flow import sign_in

pytestmark = pytest.mark.e2e

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"


def provider_key(stack):
    """The local provider's signing key and the kid its JWKS gives it."""
    key = Path(stack.provider.devidp_tmpdir, "oidc-rsa.pem").read_bytes()
    discovery = requests.get(stack.issuer.rstrip("/") + "/.well-known/openid-configuration", timeout=10).json()
    kid = requests.get(discovery["jwks_uri"], timeout=10).json()["keys"][0]["kid"]
    return key, kid


def logout_token(stack, subject, key, kid):
    now = int(time.time())
    claims = {"iss": stack.issuer, "aud": CLIENT_ID, "iat": now, "exp": now + 120, "jti": secrets.token_urlsafe(12),
              "sub": subject, "events": {BACKCHANNEL_EVENT: {}}}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid, "typ": "logout+jwt"})


def every_worker_answers(stack, session, count=12):
    """Status codes of ``count`` simultaneous /api/users/me requests of this browser (spread over workers)."""
    cookies = session.cookies.get_dict()
    results = at_once([lambda: requests.get(f"{stack.url}/api/users/me", cookies=cookies, timeout=30)] * count)
    return sorted(r.status_code if isinstance(r, requests.Response) else repr(r) for r in results)


def jwks_requests(stack):
    return sum(1 for line in stack.provider.output if "jwks" in line.lower() and '"GET ' in line)


def test_back_channel_logout_ends_the_session_in_every_worker(stack):
    session, landed = sign_in(stack, "carol", next_path="/api/users/me")
    subject = landed.json()["identities"][0]["subject"]
    assert set(every_worker_answers(stack, session)) == {200}
    key, kid = provider_key(stack)
    response = requests.post(f"{stack.url}/api/oauth/backchannel-logout",
                             data={"logout_token": logout_token(stack, subject, key, kid)}, timeout=30)
    assert response.status_code == 200, response.text
    assert set(every_worker_answers(stack, session)) == {401}


def test_unknown_signing_keys_fetch_the_providers_keys_once_whichever_worker_checks(stack):
    # Keys this provider never published: each token makes the site look for the kid.
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    tokens = [logout_token(stack, "nobody", stranger, f"rotated-{secrets.token_hex(4)}") for _ in range(12)]
    before, began = jwks_requests(stack), time.time()
    results = at_once([lambda t=t: requests.post(f"{stack.url}/api/oauth/backchannel-logout",
                                                 data={"logout_token": t}, timeout=30) for t in tokens])
    ended = time.time()
    assert {r.status_code for r in results} == {400}
    time.sleep(0.5)  # the provider's log line follows its answer
    # One refetch per window for the whole site, however many workers see the unknown kid (and
    # the first fetch, when no earlier test of this stack made the site fetch the keys).
    windows = int(ended // JWKS_REFETCH_SECONDS) - int(began // JWKS_REFETCH_SECONDS) + 1
    assert jwks_requests(stack) - before <= windows + (before == 0)
