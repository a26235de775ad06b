"""What an OpenID Connect client does against the provider, step by step, with requests."""

import base64
import hashlib
import re
import secrets
from urllib.parse import parse_qs, quote_plus, urljoin, urlsplit

import jwt
import requests


def pkce_pair():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorization_params(idp, **overrides):
    params = {
        "client_id": idp.client_id,
        "response_type": "code",
        "redirect_uri": idp.redirect_uri,
        "scope": "openid email profile groups" if idp.profile == "authelia" else "openid email profile",
        "state": secrets.token_urlsafe(16),
        "nonce": secrets.token_urlsafe(16),
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


def log_in(session, login_url, username, password):
    """GET the login form, POST it with its CSRF token; return the POST's response (not followed)."""
    form = session.get(login_url, timeout=5)
    assert form.status_code == 200, form.text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
    next_url = parse_qs(urlsplit(login_url).query).get("next", [""])[0]
    return session.post(
        login_url,
        data={"csrfmiddlewaretoken": token, "username": username, "password": password, "next": next_url},
        allow_redirects=False,
        timeout=5,
    )


def authorize(idp, session=None, username="alice", password="demo", **overrides):
    """Browser part of the code flow; returns (redirect to the client as a dict of query values, context)."""
    session = session or requests.Session()
    verifier, challenge = pkce_pair()
    params = authorization_params(idp, code_challenge=challenge, code_challenge_method="S256")
    params.update(overrides)
    params = {k: v for k, v in params.items() if v is not None}
    response = session.get(
        idp.discovery["authorization_endpoint"], params=params, allow_redirects=False, timeout=5
    )
    location = response.headers.get("Location", "")
    if response.status_code == 302 and not location.startswith(idp.redirect_uri):
        # Not signed in at the provider yet: its login page, then back to the authorization endpoint.
        login_url = urljoin(response.url, location)
        posted = log_in(session, login_url, username, password)
        assert posted.status_code == 302, posted.text
        response = session.get(
            urljoin(login_url, posted.headers["Location"]), allow_redirects=False, timeout=5
        )
    assert response.status_code in (302, 303), response.text
    location = response.headers["Location"]
    assert location.startswith(idp.redirect_uri + "?"), location
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    return query, {"session": session, "verifier": verifier, "params": params, "status": response.status_code}


def basic_auth(idp):
    """Client credentials form-urlencoded, then Basic (RFC 6749 §2.3.1)."""
    return (quote_plus(idp.client_id), quote_plus(idp.client_secret))


def exchange(idp, code, verifier, auth="basic"):
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": idp.redirect_uri}
    if verifier:
        data["code_verifier"] = verifier
    kwargs = {}
    if auth == "basic":
        kwargs["auth"] = basic_auth(idp)
    elif auth == "post":
        data.update(client_id=idp.client_id, client_secret=idp.client_secret)
    return requests.post(idp.discovery["token_endpoint"], data=data, timeout=5, **kwargs)


def sign_in(idp, username="alice", **overrides):
    """The whole code flow; returns (token response JSON, verified ID token claims, userinfo JSON)."""
    query, context = authorize(idp, username=username, **overrides)
    response = exchange(idp, query["code"], context["verifier"])
    assert response.status_code == 200, response.text
    tokens = response.json()
    claims = verify_id_token(idp, tokens["id_token"], nonce=context["params"].get("nonce"))
    userinfo = requests.get(
        idp.discovery["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=5,
    )
    assert userinfo.status_code == 200, userinfo.text
    return tokens, claims, userinfo.json()


def verify_id_token(idp, id_token, nonce=None):
    jwks = jwt.PyJWKSet.from_dict(requests.get(idp.discovery["jwks_uri"], timeout=5).json())
    kid = jwt.get_unverified_header(id_token)["kid"]
    key = next(k for k in jwks.keys if k.key_id == kid)
    claims = jwt.decode(
        id_token,
        key.key,
        algorithms=idp.discovery["id_token_signing_alg_values_supported"],
        audience=idp.client_id,
        issuer=idp.issuer,
    )
    if nonce is not None:
        assert claims["nonce"] == nonce
    return claims
