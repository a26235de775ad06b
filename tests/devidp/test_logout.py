from urllib.parse import parse_qs, urlsplit

import requests

from tests.devidp.flow import authorize, exchange


def _signed_in(idp):
    query, context = authorize(idp, username="alice")
    tokens = exchange(idp, query["code"], context["verifier"]).json()
    return context["session"], context["params"], tokens


def _asks_for_password(idp, session, params):
    response = session.get(
        idp.discovery["authorization_endpoint"],
        params={**params, "state": "after-logout-1"},
        allow_redirects=False,
        timeout=5,
    )
    return not response.headers["Location"].startswith(idp.redirect_uri)


def test_authentik_end_session_redirects_to_the_registered_uri_with_state(authentik_idp):
    session, params, tokens = _signed_in(authentik_idp)
    response = session.get(
        authentik_idp.discovery["end_session_endpoint"],
        params={
            "id_token_hint": tokens["id_token"],
            "client_id": authentik_idp.client_id,
            "post_logout_redirect_uri": authentik_idp.post_logout_redirect_uri,
            "state": "logout-state-1",
        },
        allow_redirects=False,
        timeout=5,
    )
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == authentik_idp.post_logout_redirect_uri
    assert parse_qs(location.query) == {"state": ["logout-state-1"]}
    assert _asks_for_password(authentik_idp, session, params)


def test_authentik_end_session_refuses_an_unregistered_uri(authentik_idp):
    session, params, tokens = _signed_in(authentik_idp)
    response = session.get(
        authentik_idp.discovery["end_session_endpoint"],
        params={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": "http://evil.example/"},
        allow_redirects=False,
        timeout=5,
    )
    assert response.status_code == 400
    assert not _asks_for_password(authentik_idp, session, params)


def test_authentik_end_session_without_redirect_shows_logged_out_page(authentik_idp):
    session, params, tokens = _signed_in(authentik_idp)
    response = session.get(
        authentik_idp.discovery["end_session_endpoint"],
        params={"id_token_hint": tokens["id_token"]},
        timeout=5,
    )
    assert response.status_code == 200
    assert "You have been logged out." in response.text
    assert _asks_for_password(authentik_idp, session, params)


def test_authelia_portal_logout_redirects_to_rd(authelia_idp):
    session, params, _ = _signed_in(authelia_idp)
    response = session.get(
        f"{authelia_idp.base_url}/logout",
        params={"rd": authelia_idp.post_logout_redirect_uri},
        allow_redirects=False,
        timeout=5,
    )
    assert response.headers["Location"] == authelia_idp.post_logout_redirect_uri
    assert _asks_for_password(authelia_idp, session, params)


def test_authelia_has_no_end_session_route(authelia_idp):
    for path in ("/api/oidc/logout", "/application/o/romm/end-session/"):
        assert requests.get(authelia_idp.base_url + path, timeout=5).status_code == 404
