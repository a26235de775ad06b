"""One fake OpenID provider at the HTTP boundary, used by every unit test.

It answers discovery, JWKS, token and userinfo over requests-mock, signs real JWTs with a
test key, and behaves like Authentik or Authelia as ../shared/PROVIDERS.md describes:
issuer forms, where claims are placed, ``aud`` string vs array, client authentication,
RFC 9207 ``iss`` on the authorization response, and (``claims_parameter``) the claims request
parameter of OpenID Connect Core 5.5: advertised and honoured as Authelia 4.39 does, or
advertised and ignored.
"""

import base64
import hashlib
import json
import secrets
import time
import uuid
from functools import cache
from urllib.parse import parse_qs, unquote_plus, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

CLIENT_ID = "romm"
CLIENT_SECRET = "s3cret+with/odd:chars%-and-32-bytes-long"

# The cast: one person for every rule.
PEOPLE = {
    "alice": {"email": "alice@example.com", "email_verified": True, "groups": ["romm-admins"], "name": "Alice Admin"},
    "bob": {"email": "bob@example.com", "email_verified": True, "groups": ["romm-editors"], "name": "Bob Editor"},
    "carol": {"email": "carol@example.com", "email_verified": True, "groups": ["romm-viewers"], "name": "Carol Viewer"},
    "dave": {"email": "dave@example.com", "email_verified": False, "groups": ["romm-viewers"], "name": "Dave Unverified"},
    "erin": {"email": "erin@example.com", "email_verified": True, "groups": ["staff"], "name": "Erin Unmapped"},
    "frank": {"email": "Frank@Example.com", "email_verified": True, "groups": ["romm-viewers"], "name": "Frank Local"},
}

# Authelia 4.39 keeps these out of the code-flow ID token; they come only from userinfo.
HYDRATED_CLAIMS = {"email", "email_verified", "preferred_username", "name", "groups"}
# The scope that releases each claim (OpenID Connect Core 5.4; Authelia's own groups scope).
CLAIM_SCOPES = {"email": "email", "email_verified": "email", "name": "profile", "preferred_username": "profile",
                "nickname": "profile", "groups": "groups"}


@cache
def rsa_key(index=0):
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@cache
def ec_key():
    return ec.generate_private_key(ec.SECP256R1())


def public_jwk(private_key, kid, alg):
    jwk = jwt.algorithms.get_default_algorithms()[alg].to_jwk(private_key.public_key(), as_dict=True)
    return {**jwk, "kid": kid, "use": "sig", "alg": alg}


class FakeProvider:
    """A provider profile ("authentik" or "authelia") answering over requests-mock."""

    def __init__(self, mocker, profile="authentik", host=None, slug="romm", client_id=CLIENT_ID,
                 client_secret=CLIENT_SECRET, algs=("RS256",), claims_parameter=None):
        self.mocker, self.profile = mocker, profile
        # None: claims_parameter_supported not advertised; "honour": advertised, and the claims it
        # names are put in the ID token as far as the granted scopes allow (a refreshed ID token
        # repeats them with the sign-in's values, as Authelia's does); "ignore": advertised only.
        self.claims_parameter = claims_parameter
        self.client_id, self.client_secret = client_id, client_secret
        self.kid, self.key = "key-1", rsa_key(0)
        self.extra_keys = []
        self.codes = {}
        self.calls = []
        self.subjects = {}
        self.id_token_changes = {}
        self.header_changes = {}
        self.userinfo_changes = {}
        self.sign = None  # a function (claims, header) -> token replacing normal signing
        self.token_error = None  # (status, json) answered by the token endpoint
        # Refresh tokens, rotated on every use as Authentik (threshold 0) and Authelia do.
        self.refresh_tokens = {}  # live token -> grant
        self.spent_refresh_tokens = {}  # rotated-away token -> grant
        self.reused_refresh_tokens = []  # tokens presented after rotation (theft, per both providers)
        self.revoked = []  # tokens received by the revocation endpoint
        self.person_changes = {}  # person -> claims changed at the provider since sign-in
        self.refresh_error = None  # (status, json) answered to refresh requests only
        self.grants_offline_access = True  # False: Authentik without its offline_access scope mapping
        if profile == "authentik":
            host = host or "https://auth.example.com"
            self.issuer = f"{host}/application/o/{slug}/"
            self.server_url = f"{host}/application/o/{slug}/"
            endpoints = {
                "authorization_endpoint": f"{host}/application/o/authorize/",
                "token_endpoint": f"{host}/application/o/token/",
                "userinfo_endpoint": f"{host}/application/o/userinfo/",
                "jwks_uri": f"{host}/application/o/{slug}/jwks/",
                "end_session_endpoint": f"{host}/application/o/{slug}/end-session/",
                "revocation_endpoint": f"{host}/application/o/revoke/",
            }
            self.auth_methods = ["client_secret_post", "client_secret_basic"]
        else:
            host = host or "https://auth.example.org"
            self.issuer = host
            self.server_url = host
            endpoints = {
                "authorization_endpoint": f"{host}/api/oidc/authorization",
                "token_endpoint": f"{host}/api/oidc/token",
                "userinfo_endpoint": f"{host}/api/oidc/userinfo",
                "jwks_uri": f"{host}/jwks.json",
                "revocation_endpoint": f"{host}/api/oidc/revocation",
            }
            self.auth_methods = ["client_secret_basic"]
        self.discovery_url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        self.metadata = {
            "issuer": self.issuer,
            **endpoints,
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": list(algs),
            "token_endpoint_auth_methods_supported": list(self.auth_methods),
            "code_challenge_methods_supported": ["plain", "S256"] if profile == "authentik" else ["S256"],
            "scopes_supported": ["openid", "email", "profile", "offline_access"]
            + (["groups"] if profile == "authelia" else []),
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "email", "email_verified", "name",
                                 "preferred_username", "groups"],
        }
        if profile == "authelia":
            self.metadata["authorization_response_iss_parameter_supported"] = True
        if claims_parameter:
            self.metadata["claims_parameter_supported"] = True
        self.install()

    # --- HTTP ------------------------------------------------------------------------------
    def install(self):
        m = self.mocker
        m.get(self.discovery_url, json=lambda request, context: self.metadata)
        m.get(self.metadata["jwks_uri"], json=lambda request, context: self.jwks())
        m.post(self.metadata["token_endpoint"], json=self._token)
        m.get(self.metadata["userinfo_endpoint"], json=self._userinfo)
        m.post(self.metadata["revocation_endpoint"], json=self._revoke)

    def jwks(self):
        keys = [public_jwk(self.key, self.kid, "RS256")] + [public_jwk(k, kid, alg) for k, kid, alg in self.extra_keys]
        return {"keys": keys}

    def requests_to(self, endpoint):
        url = self.metadata[endpoint]
        return [r for r in self.mocker.request_history if r.url.split("?")[0] == url]

    # --- the browser's visit -----------------------------------------------------------
    def subject(self, person):
        if person not in self.subjects:
            self.subjects[person] = (
                str(uuid.uuid5(uuid.NAMESPACE_URL, self.issuer + person))
                if self.profile == "authelia"
                else hashlib.sha256((self.issuer + person).encode()).hexdigest()
            )
        return self.subjects[person]

    def authorize(self, authorization_url, person, **claim_changes):
        """What the provider does after the person signs in: the callback URL with a code."""
        params = {k: v[0] for k, v in parse_qs(urlsplit(authorization_url).query).items()}
        assert authorization_url.startswith(self.metadata["authorization_endpoint"])
        assert params["client_id"] == self.client_id and params["response_type"] == "code"
        assert params["code_challenge_method"] == "S256" and len(params["state"]) >= 8
        code = secrets.token_urlsafe(16)
        claims = {"preferred_username": person, "nickname": person, **PEOPLE[person], **claim_changes}
        claims = {name: value for name, value in claims.items() if value is not ...}  # ...: the claim is absent
        # The claims request parameter, kept apart from the person's claims.
        params["claims_request"] = params.pop("claims", None)
        self.codes[code] = {"person": person, "claims": claims, **params}
        query = {"code": code, "state": params["state"]}
        if self.profile == "authelia":
            query["iss"] = self.issuer
        return f"{params['redirect_uri']}?{urlencode(query)}"

    def _client_auth(self, request):
        header = request.headers.get("Authorization", "")
        form = parse_qs(request.text or "")
        if header.startswith("Basic "):
            raw = base64.b64decode(header[6:]).decode()
            client_id, _, secret = raw.partition(":")
            return "client_secret_basic", unquote_plus(client_id), unquote_plus(secret)
        return "client_secret_post", form.get("client_id", [None])[0], form.get("client_secret", [None])[0]

    def _token(self, request, context):
        if self.token_error:
            context.status_code = self.token_error[0]
            return self.token_error[1]
        method, client_id, secret = self._client_auth(request)
        if method not in self.auth_methods or client_id != self.client_id or secret != self.client_secret:
            context.status_code = 401 if self.profile == "authelia" else 400
            return {"error": "invalid_client", "error_description": f"client authentication failed ({method})"}
        form = {k: v[0] for k, v in parse_qs(request.text).items()}
        if form.get("grant_type") == "refresh_token":
            return self._refresh(form, context)
        grant = self.codes.pop(form.get("code"), None)
        if grant is None or form.get("redirect_uri") != grant["redirect_uri"]:
            context.status_code = 400
            return {"error": "invalid_grant", "error_description": "code invalid or redirect_uri mismatch"}
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if challenge != grant["code_challenge"]:
            context.status_code = 400
            return {"error": "invalid_grant", "error_description": "PKCE verification failed"}
        return self._tokens(grant, self.id_token(grant))

    def _tokens(self, grant, id_token):
        access_token = "at-" + secrets.token_urlsafe(16)
        self.codes["at:" + access_token] = grant
        tokens = {"access_token": access_token, "token_type": "Bearer", "expires_in": 300, "id_token": id_token}
        if self.grants_offline_access and "offline_access" in grant.get("scope", "").split():
            refresh_token = "rt-" + secrets.token_urlsafe(24)
            self.refresh_tokens[refresh_token] = grant
            tokens["refresh_token"] = refresh_token
        return tokens

    def _refresh(self, form, context):
        if self.refresh_error:
            context.status_code = self.refresh_error[0]
            return self.refresh_error[1]
        token = form.get("refresh_token")
        grant = self.refresh_tokens.pop(token, None)
        if grant is None:
            if token in self.spent_refresh_tokens:
                # Reuse of a rotated token: both providers revoke the whole family.
                self.reused_refresh_tokens.append(token)
                family = self.spent_refresh_tokens[token]
                for live, other in list(self.refresh_tokens.items()):
                    if other is family:
                        del self.refresh_tokens[live]
            context.status_code = 400
            return {"error": "invalid_grant", "error_description": "The refresh token is invalid or revoked."}
        self.spent_refresh_tokens[token] = grant
        grant["claims"] = {name: value for name, value in {**grant["claims"], **self.person_changes.get(
            grant["person"], {})}.items() if value is not ...}
        return self._tokens(grant, self.id_token(grant, refreshed=True))

    def _revoke(self, request, context):
        self.revoked.append({k: v[0] for k, v in parse_qs(request.text).items()}.get("token"))
        return {}

    # --- the provider's administrator ----------------------------------------------------
    def change(self, person, **claims):
        """The person's claims change at the provider (groups, email, ...)."""
        self.person_changes.setdefault(person, {}).update(claims)

    def deactivate(self, person):
        """Both providers delete a deactivated person's tokens: the next refresh is invalid_grant."""
        for token, grant in list(self.refresh_tokens.items()):
            if grant["person"] == person:
                del self.refresh_tokens[token]

    def refreshes(self):
        return [r for r in self.requests_to("token_endpoint") if "grant_type=refresh_token" in (r.text or "")]

    def _userinfo(self, request, context):
        grant = self.codes.get("at:" + request.headers.get("Authorization", "")[len("Bearer "):])
        if grant is None:
            context.status_code = 401
            return {"error": "invalid_token"}
        return {"sub": self.subject(grant["person"]), **grant["claims"], **self.userinfo_changes}

    # --- tokens ----------------------------------------------------------------------------
    def requested_claims(self, grant):
        """The person's claims the claims parameter names for the ID token, as far as the scopes allow."""
        if self.claims_parameter != "honour" or not grant.get("claims_request"):
            return {}
        wanted = json.loads(grant["claims_request"]).get("id_token") or {}
        scopes = grant.get("scope", "").split()
        scope_of = {**CLAIM_SCOPES, "groups": "groups" if self.profile == "authelia" else "profile"}
        return {name: value for name, value in grant["claims"].items()
                if name in wanted and scope_of.get(name, "openid") in scopes}

    def id_token(self, grant, refreshed=False):
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": self.subject(grant["person"]),
            "aud": [self.client_id] if self.profile == "authelia" else self.client_id,
            "exp": now + 300,
            "iat": now,
            "auth_time": now,
            "nonce": grant["nonce"],
            "sid": "sid-" + grant["person"],
        }
        if refreshed:
            del claims["nonce"]  # a refreshed ID token carries no nonce (OpenID Connect Core 12.2)
        if self.profile == "authelia":
            claims.update(azp=self.client_id, amr=["pwd"])
        else:
            claims.update(grant["claims"])
        if "requested" not in grant:
            # What the claims parameter added at sign-in; a refresh repeats it unchanged.
            grant["requested"] = self.requested_claims(grant)
        claims.update(grant["requested"])
        for name, value in self.id_token_changes.items():
            if value is ...:
                claims.pop(name, None)
            else:
                claims[name] = value
        header = {"kid": self.kid, **self.header_changes}
        if self.sign:
            return self.sign(claims, header)
        return jwt.encode(claims, self.key, algorithm="RS256", headers=header)


BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"


def logout_token(fake, person, sid=True, sub=True, key=None, **changes):
    """A back-channel logout token as Authentik sends it (typ logout+jwt, sid of the session)."""
    now = int(time.time())
    claims = {
        "iss": fake.issuer,
        "aud": fake.client_id,
        "iat": now,
        "exp": now + 300,
        "jti": secrets.token_urlsafe(12),
        "events": {BACKCHANNEL_EVENT: {}},
    }
    if sid:
        claims["sid"] = sid if isinstance(sid, str) else "sid-" + person
    if sub:
        claims["sub"] = sub if isinstance(sub, str) else fake.subject(person)
    for name, value in changes.items():
        if value is ...:
            claims.pop(name, None)
        else:
            claims[name] = value
    headers = {"kid": fake.kid, "typ": "logout+jwt"}
    return jwt.encode(claims, key or fake.key, algorithm="RS256", headers=headers)
