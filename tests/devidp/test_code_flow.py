import requests

from tests.devidp.flow import authorize, basic_auth, exchange, log_in, sign_in

HYDRATED = {"email", "email_verified", "preferred_username", "name", "groups"}


def test_code_flow_with_pkce_returns_code_and_state(devidp):
    query, context = authorize(devidp)
    assert query["code"]
    assert query["state"] == context["params"]["state"]


def test_authentik_sends_no_iss_in_the_authorization_response(authentik_idp):
    query, context = authorize(authentik_idp)
    assert "iss" not in query
    assert context["status"] == 302


def test_authelia_sends_iss_in_a_303_authorization_response(authelia_idp):
    query, context = authorize(authelia_idp)
    assert query["iss"] == authelia_idp.issuer
    assert context["status"] == 303


def test_authentik_id_token_and_userinfo_carry_the_claims(authentik_idp):
    _, claims, userinfo = sign_in(authentik_idp, "alice")
    assert claims["aud"] == authentik_idp.client_id
    assert "at_hash" not in claims
    expected = {
        "email": "alice@example.com",
        "email_verified": True,
        "name": "Alice Anders",
        "given_name": "Alice Anders",
        "preferred_username": "alice",
        "nickname": "alice",
        "groups": ["romm-admins"],
    }
    assert {k: claims[k] for k in expected} == expected
    assert {k: userinfo[k] for k in expected} == expected
    assert userinfo["sub"] == claims["sub"]
    assert len(claims["sub"]) == 64  # a hashed user id


def test_authelia_id_token_carries_no_hydrated_claims_userinfo_does(authelia_idp):
    _, claims, userinfo = sign_in(authelia_idp, "bob")
    assert claims["aud"] == [authelia_idp.client_id]
    assert claims["azp"] == authelia_idp.client_id
    assert not HYDRATED & set(claims)
    assert userinfo["sub"] == claims["sub"]
    assert {k: userinfo[k] for k in HYDRATED} == {
        "email": "bob@example.com",
        "email_verified": True,
        "preferred_username": "bob",
        "name": "Bob Berg",
        "groups": ["romm-editors"],
    }


def test_authelia_subject_is_a_uuid(authelia_idp):
    import uuid

    _, claims, _ = sign_in(authelia_idp, "carol")
    assert str(uuid.UUID(claims["sub"])) == claims["sub"]


def test_authelia_groups_need_the_groups_scope(authelia_idp):
    _, _, userinfo = sign_in(authelia_idp, "carol", scope="openid email profile")
    assert "groups" not in userinfo
    assert userinfo["email"] == "carol@example.com"


def test_dave_is_unverified_in_authentik(authentik_idp):
    _, claims, userinfo = sign_in(authentik_idp, "dave")
    assert claims["email_verified"] is False
    assert userinfo["email_verified"] is False


def test_dave_is_verified_in_authelia(authelia_idp):
    _, _, userinfo = sign_in(authelia_idp, "dave")
    assert userinfo["email_verified"] is True


def test_authelia_refuses_client_secret_post(authelia_idp):
    query, context = authorize(authelia_idp)
    response = exchange(authelia_idp, query["code"], context["verifier"], auth="post")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert "client_secret_post" in response.json()["error_description"]


def test_authelia_decodes_basic_credentials_as_form_urlencoded(authelia_idp):
    """The raw secret in Basic (not form-urlencoded first) does not authenticate."""
    query, context = authorize(authelia_idp)
    data = {
        "grant_type": "authorization_code",
        "code": query["code"],
        "redirect_uri": authelia_idp.redirect_uri,
        "code_verifier": context["verifier"],
    }
    raw = requests.post(
        authelia_idp.discovery["token_endpoint"],
        data=data,
        timeout=5,
        auth=(authelia_idp.client_id, authelia_idp.client_secret),
    )
    assert raw.status_code == 401
    encoded = requests.post(
        authelia_idp.discovery["token_endpoint"], data=data, timeout=5, auth=basic_auth(authelia_idp)
    )
    assert encoded.status_code == 200, encoded.text


def test_authentik_accepts_client_secret_post(authentik_idp):
    query, context = authorize(authentik_idp)
    response = exchange(authentik_idp, query["code"], context["verifier"], auth="post")
    assert response.status_code == 200, response.text


def test_authentik_token_errors_are_400_json(authentik_idp):
    query, _ = authorize(authentik_idp)
    response = requests.post(
        authentik_idp.discovery["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": query["code"],
            "redirect_uri": authentik_idp.redirect_uri,
        },
        auth=(authentik_idp.client_id, "wrong"),
        timeout=5,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client"


def test_a_code_works_once(devidp):
    query, context = authorize(devidp)
    assert exchange(devidp, query["code"], context["verifier"]).status_code == 200
    replay = exchange(devidp, query["code"], context["verifier"])
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"


def test_authentik_pkce_is_optional(authentik_idp):
    query, _ = authorize(authentik_idp, code_challenge=None, code_challenge_method=None)
    assert exchange(authentik_idp, query["code"], None).status_code == 200


def test_authelia_requires_pkce(authelia_idp):
    query, _ = authorize(authelia_idp, code_challenge=None, code_challenge_method=None)
    assert query["error"] == "invalid_request"


def test_authelia_refuses_plain_pkce(authelia_idp):
    query, _ = authorize(authelia_idp, code_challenge="x" * 43, code_challenge_method=None)
    assert query["error"] == "invalid_request"


def test_authelia_refuses_a_short_state(authelia_idp):
    query, _ = authorize(authelia_idp, state="short")
    assert query["error"] == "invalid_state"


def test_authelia_refuses_a_short_nonce(authelia_idp):
    query, _ = authorize(authelia_idp, nonce="short")
    assert query["error"] == "invalid_request"


def test_redirect_uri_must_match_exactly(devidp):
    session = requests.Session()
    authorize(devidp, session)  # signed in at the provider
    response = session.get(
        devidp.discovery["authorization_endpoint"],
        params={
            "client_id": devidp.client_id,
            "response_type": "code",
            "scope": "openid",
            "redirect_uri": devidp.redirect_uri + "/",
            "state": "state-123456",
        },
        allow_redirects=False,
        timeout=5,
    )
    assert response.status_code == 400
    assert "Location" not in response.headers


def test_wrong_password_shows_an_error(devidp):
    session = requests.Session()
    response = session.get(
        devidp.discovery["authorization_endpoint"],
        params={
            "client_id": devidp.client_id,
            "response_type": "code",
            "scope": "openid",
            "redirect_uri": devidp.redirect_uri,
            "state": "state-123456",
        },
        allow_redirects=False,
        timeout=5,
    )
    login_url = requests.compat.urljoin(response.url, response.headers["Location"])
    title = "Authelia (dev)" if devidp.profile == "authelia" else "Authentik (dev)"
    form = session.get(login_url, timeout=5)
    assert title in form.text
    assert ">Log in</button>" in form.text
    posted = log_in(session, login_url, "alice", "not-the-password")
    assert posted.status_code == 200
    assert "Incorrect username or password." in posted.text


def test_a_second_authorization_in_the_session_skips_the_password(devidp):
    _, context = authorize(devidp, username="carol")
    again = context["session"].get(
        devidp.discovery["authorization_endpoint"],
        params={**context["params"], "state": "second-state-123"},
        allow_redirects=False,
        timeout=5,
    )
    assert again.headers["Location"].startswith(devidp.redirect_uri + "?code=")


def test_authentik_ignores_scopes_it_has_no_mapping_for(authentik_idp):
    _, claims, _ = sign_in(authentik_idp, "alice", scope="openid email profile groups offline_access")
    assert claims["groups"] == ["romm-admins"]


def test_authelia_refuses_an_unknown_scope(authelia_idp):
    query, _ = authorize(authelia_idp, scope="openid email unknown-scope")
    assert query["error"] == "invalid_scope"


def test_authelia_errors_carry_iss_too(authelia_idp):
    query, context = authorize(authelia_idp, state="short")
    assert query["iss"] == authelia_idp.issuer
    assert context["status"] == 303
