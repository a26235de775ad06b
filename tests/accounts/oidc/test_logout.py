"""Logout here, at the provider (RP-initiated), and from the provider (back-channel)."""

import logging
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from django.core.cache import cache
from django.test import Client

from accounts.models import Session, User
from tests.accounts.helpers import whoami
from tests.conftest import configure, sign_in
from tests.fakeidp import logout_token, rsa_key


def query_of(url):
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@pytest.mark.django_db
def test_get_asks_for_confirmation_and_keeps_the_session(client, idp):
    sign_in(client, idp, "carol")
    page = client.get("/logout")
    assert page.status_code == 200 and "Sign out?" in page.content.decode()
    assert client.get("/api/users/me").status_code == 200


@pytest.mark.django_db
def test_post_without_csrf_token_is_refused(idp):
    browser = Client(enforce_csrf_checks=True)
    sign_in(browser, idp, "carol")
    assert browser.post("/logout").status_code == 403
    assert browser.get("/api/users/me").status_code == 200


@pytest.mark.django_db
def test_password_session_logs_out_locally(client):
    User.objects.create_user("local", password="a-long-password-1")
    client.login(username="local", password="a-long-password-1")
    response = client.post("/logout")
    assert response["Location"] == "/login?local=1"
    assert "You are signed out." in client.get(response["Location"]).content.decode()
    assert client.get("/api/users/me").status_code == 401


@pytest.mark.django_db
def test_oidc_session_without_rp_logout_ends_only_here_and_keeps_no_id_token(client, idp):
    sign_in(client, idp, "carol")
    assert Session.objects.signed_in().get().id_token == ""
    response = client.post("/logout")
    assert response["Location"] == "/login?local=1"
    assert not Session.objects.signed_in().exists()


@pytest.mark.django_db
def test_rp_initiated_logout_redirects_to_end_session_with_hint_and_state(client, authentik, settings):
    configure(settings, authentik, OIDC_RP_INITIATED_LOGOUT="true")
    sign_in(client, authentik, "carol")
    stored = Session.objects.signed_in().get().id_token
    assert stored.count(".") == 2
    assert "id_token" not in str(dict(client.session))  # server-side only, never in the session data
    response = client.post("/logout")
    location = response["Location"]
    assert location.startswith("https://auth.example.com/application/o/romm/end-session/?")
    params = query_of(location)
    assert params["id_token_hint"] == stored
    assert params["client_id"] == authentik.client_id
    assert params["post_logout_redirect_uri"] == "http://testserver/login"
    assert len(params["state"]) >= 20
    assert client.get("/api/users/me").status_code == 401
    page = client.get("/login?state=" + params["state"]).content.decode()
    assert "You are signed out here and at Authentik." in page


@pytest.mark.django_db
def test_end_session_endpoint_override_keeps_its_query(client, authelia, settings):
    configure(
        settings,
        authelia,
        OIDC_RP_INITIATED_LOGOUT="true",
        OIDC_END_SESSION_ENDPOINT="https://auth.example.org/logout?rd=http://testserver/login",
        OIDC_POST_LOGOUT_REDIRECT_URI="http://testserver/login?bye=1",
    )
    sign_in(client, authelia, "carol")
    location = client.post("/logout")["Location"]
    assert location.startswith("https://auth.example.org/logout?rd=http%3A%2F%2Ftestserver%2Flogin&client_id=romm")
    assert query_of(location)["post_logout_redirect_uri"] == "http://testserver/login?bye=1"


@pytest.mark.django_db
def test_rp_logout_without_known_endpoint_logs_out_here_and_tells_operator(client, authelia, settings, caplog):
    configure(settings, authelia, OIDC_RP_INITIATED_LOGOUT="true")
    sign_in(client, authelia, "carol")
    with caplog.at_level(logging.WARNING, logger="accounts"):
        response = client.post("/logout")
    assert response["Location"] == "/login?local=1"
    assert "set OIDC_END_SESSION_ENDPOINT" in caplog.text


@pytest.mark.django_db
@pytest.mark.parametrize("state", ["unexpected", ""])
def test_return_with_unexpected_or_empty_state_is_graceful(client, authentik, settings, state):
    settings.OIDC_AUTOLOGIN = True
    page = client.get(f"/login?state={state}")
    assert page.status_code == 200  # no autologin loop back to the provider
    assert "You are signed out" in page.content.decode()


# --- back-channel logout ---------------------------------------------------------------


def post_token(client, token):
    return client.post("/api/oauth/backchannel-logout", {"logout_token": token})


@pytest.fixture
def two_browsers(idp):
    carol, bob = Client(), Client()
    sign_in(carol, idp, "carol")
    sign_in(bob, idp, "bob")
    return carol, bob


@pytest.mark.django_db
@pytest.mark.parametrize("by", ["sid", "sub", "both"])
def test_logout_token_ends_that_persons_sessions_only(client, idp, two_browsers, by):
    carol, bob = two_browsers
    token = logout_token(idp, "carol", sid=by in ("sid", "both"), sub=by in ("sub", "both"))
    response = post_token(client, token)
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    assert carol.get("/api/users/me").status_code == 401
    assert bob.get("/api/users/me").status_code == 200
    assert Session.objects.count() == 1


def _other_key_token(fake):
    return logout_token(fake, "carol", key=rsa_key(1))


BAD_TOKENS = {
    "bad signature": _other_key_token,
    "wrong audience": lambda f: logout_token(f, "carol", aud="someone-else"),
    "missing events": lambda f: logout_token(f, "carol", events=...),
    "wrong event": lambda f: logout_token(f, "carol", events={"http://example.com/other": {}}),
    "nonce present": lambda f: logout_token(f, "carol", nonce="n-123456"),
    "expired": lambda f: logout_token(f, "carol", exp=1, iat=0),
    "no sid nor sub": lambda f: logout_token(f, "carol", sid=False, sub=False),
    "no jti": lambda f: logout_token(f, "carol", jti=...),
    "unknown issuer": lambda f: logout_token(f, "carol", iss="https://evil.example"),
    "not a jwt": lambda f: "not-a-jwt",
    # Half of a UTF-16 surrogate pair: JSON spells it, Python decodes it, no database stores it.
    "sid no text": lambda f: logout_token(f, "carol", sid="sid-\ud800"),
    "sub no text": lambda f: logout_token(f, "carol", sid=False, sub="\udfff"),
    "jti no text": lambda f: logout_token(f, "carol", jti="j-\ud800"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", BAD_TOKENS)
def test_invalid_logout_token_ends_nothing(client, idp, two_browsers, case, caplog):
    carol, _ = two_browsers
    with caplog.at_level(logging.WARNING, logger="accounts"):
        response = post_token(client, BAD_TOKENS[case](idp))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert carol.get("/api/users/me").status_code == 200
    assert "back-channel logout refused" in caplog.text


@pytest.mark.django_db
def test_id_token_is_not_accepted_as_logout_token(client, idp, two_browsers):
    carol, _ = two_browsers
    import jwt

    token = jwt.encode(
        {"iss": idp.issuer, "aud": idp.client_id, "iat": 1, "exp": 2**33, "jti": "x", "sub": idp.subject("carol"),
         "events": {"http://schemas.openid.net/event/backchannel-logout": {}}},
        idp.key, algorithm="RS256", headers={"kid": idp.kid, "typ": "JWT"},
    )
    assert post_token(client, token).status_code == 400
    assert carol.get("/api/users/me").status_code == 200


@pytest.mark.django_db
def test_replayed_logout_token_is_refused(client, idp, two_browsers):
    carol, _ = two_browsers
    token = logout_token(idp, "carol")
    assert post_token(client, token).status_code == 200
    sign_in(carol, idp, "carol")
    assert post_token(client, token).status_code == 400
    assert carol.get("/api/users/me").status_code == 200


@pytest.mark.django_db
def test_logout_token_needs_post_and_a_token(client, idp):
    assert client.get("/api/oauth/backchannel-logout").status_code == 405
    assert post_token(client, "").status_code == 400


@pytest.mark.django_db
def test_session_lookup_uses_the_index_not_a_scan(client, idp, two_browsers, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        post_token(client, logout_token(idp, "carol"))


@pytest.mark.django_db
def test_admin_logout_goes_through_the_site_logout(client, idp):
    sign_in(client, idp, "alice")
    response = client.post("/admin/logout/")
    assert response.status_code == 302 and response["Location"] == "/logout"
    assert "Sign out?" in client.get(response["Location"]).content.decode()
    assert client.get("/api/users/me").status_code == 200


@pytest.mark.django_db
def test_a_forged_logout_token_with_an_unknown_kid_refetches_the_jwks_at_most_once_per_window(authentik):
    browser = Client()
    sign_in(browser, authentik, "carol")  # discovery and JWKS are cached now
    before = len(authentik.requests_to("jwks_uri"))
    for _ in range(30):
        token = logout_token(authentik, "carol")
        header_forged = jwt.encode(
            jwt.decode(token, options={"verify_signature": False}),
            rsa_key(3),
            algorithm="RS256",
            headers={"kid": "rotated-away", "typ": "logout+jwt"},
        )
        assert (
            Client().post("/api/oauth/backchannel-logout", {"logout_token": header_forged}).status_code == 400
        )
    assert len(authentik.requests_to("jwks_uri")) - before <= 2  # one window, or two if it ticked over
    assert whoami(browser) == "carol"


@pytest.mark.django_db
def test_the_issuer_fallback_of_a_cold_cache_does_not_loosen_the_exact_iss_check(authentik):
    # With nothing cached, the receiver picks the provider by its configured issuer, trailing slash
    # aside; the token's iss must still be exactly the discovered one (Authentik's ends in "/").
    browser = Client()
    sign_in(browser, authentik, "carol")
    cache.clear()
    token = logout_token(authentik, "carol", iss=authentik.issuer.rstrip("/"))
    response = Client().post("/api/oauth/backchannel-logout", {"logout_token": token})
    assert response.status_code == 400 and response.json()["error_description"] == "invalid logout_token"
    assert whoami(browser) == "carol"
