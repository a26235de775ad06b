"""An OpenID provider as data, and the protocol facts about it.

Discovery, JWKS (both cached in Django's cache, so several processes share them), the
token endpoint, userinfo and ID token validation. Nothing here knows about accounts:
it answers "what did the provider say, and can it be trusted", and raises ``SignInError``
when it cannot.
"""

import base64
import hmac
import logging
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit, urlunsplit

import requests
from django.conf import settings
from django.core.cache import cache

from accounts.errors import SignInError
from accounts.jwtcheck import (  # noqa: F401  (names other modules import from here)
    BACKCHANNEL_EVENT,
    HMAC_ALGORITHMS,
    JWKS_REFETCH_SECONDS,
    KEY_TYPES,
    TokenChecks,
    _cache_key,
)

logger = logging.getLogger(__name__)

WELL_KNOWN = "/.well-known/openid-configuration"
DEFAULT_SCOPES = ("openid", "email", "profile")
# A failed discovery or JWKS fetch is remembered this long, so a hung or broken provider costs
# one timeout per window instead of one per request (each would hold a worker).
FETCH_FAILURE_SECONDS = 15
# One request at a time fetches a document the cache lacks; the others wait this long for it.
FETCH_WAIT_SECONDS = 1.0
# Claims only the ID token may state; userinfo never overrides them.
PROTOCOL_CLAIMS = {"iss", "sub", "aud", "azp", "exp", "iat", "nbf", "nonce", "sid", "auth_time", "at_hash", "c_hash", "jti"}


@dataclass(frozen=True)
class Provider(TokenChecks):
    """One configured OpenID provider (``settings.OIDC_PROVIDER_CONFIGS`` entry)."""

    name: str
    label: str
    client_id: str | None
    client_secret: str | None
    redirect_uri: str
    server_url: str | None
    metadata_url: str | None
    allow_registration: bool = True
    email_linking: bool = True
    username_attribute: str = "preferred_username"
    claim_roles: str | None = None
    role_values: dict = field(default_factory=dict)
    tls_cafile: str | None = None
    rp_initiated_logout: bool = False
    end_session_endpoint: str | None = None
    post_logout_redirect_uri: str | None = None
    scopes: str | None = None
    token_auth_method: str = "auto"
    session_recheck_seconds: int = 0
    session_recheck_grace_seconds: int = 3600
    vars: dict = field(default_factory=dict, compare=False, repr=False)
    # Seconds for each call to the provider; None: OIDC_TIMEOUT. The back-channel receiver,
    # which anyone can call, uses a short one.
    fetch_timeout: float | None = None
    prefix: str = "OIDC_"
    first: bool = False

    def own_var(self, key):
        """The variable to set for this provider alone (``OIDC_<NAME>_KEY`` with several)."""
        return self.prefix + key

    # --- what the person sees -------------------------------------------------------
    @property
    def display_name(self):
        label = self.label.strip()
        if not label:
            return "OIDC"
        return {"authentik": "Authentik", "authelia": "Authelia"}.get(label.lower(), label.title() if label.islower() else label)

    @property
    def button_text(self):
        return f"Sign in with {self.display_name}"

    @property
    def start_path(self):
        return "/api/login/openid" if self.first else f"/api/login/openid/{self.name}"

    @property
    def callback_path(self):
        return urlsplit(self.redirect_uri).path.rstrip("/") or "/"

    # --- discovery -------------------------------------------------------------------
    @property
    def discovery_url(self):
        if self.metadata_url:
            return self.metadata_url
        return (self.server_url or "").rstrip("/") + WELL_KNOWN

    @property
    def expected_issuer(self):
        """The issuer the configuration implies (compared without a trailing slash), if any."""
        if self.server_url:
            return self.server_url
        if self.metadata_url and self.metadata_url.rstrip("/").endswith(WELL_KNOWN):
            return self.metadata_url.rstrip("/")[: -len(WELL_KNOWN)]
        return None

    def metadata(self):
        """The provider's discovery document, validated, from the shared cache when fresh.

        A ``Provider`` lives for one request (``get_provider`` builds it), so what it read is
        kept on it: a sign-in needs the document several times and the JWKS once, and reads
        both from the cache in one round trip.
        """
        memo = self.__dict__.get("_metadata")
        if memo is not None:
            return memo
        key, jwks_key = _cache_key("meta", self.discovery_url), _cache_key("jwks", self.discovery_url)
        found = cache.get_many([key, jwks_key])
        document = found.get(key)
        if document is None:
            document = self._fetch_shared("meta", key, lambda: self._fetch_metadata(key))
        object.__setattr__(self, "_metadata", document)  # a frozen dataclass: not a field
        if jwks_key in found:
            object.__setattr__(self, "_jwks", found[jwks_key])
        return document

    def _fetch_metadata(self, key):
        document = self._fetch_json("GET", self.discovery_url, reason_if_bad="discovery_invalid")
        self._check_metadata(document)
        cache.set(key, document, settings.OIDC_CACHE_SECONDS)
        return document

    def cached_metadata(self):
        """The discovery document if it is in the cache, else None; never calls the provider."""
        return cache.get(_cache_key("meta", self.discovery_url))

    def _fetch_shared(self, kind, cache_key, fetch):
        """``fetch()`` (which stores its result at ``cache_key``), once at a time across processes.

        A failure is remembered for ``FETCH_FAILURE_SECONDS``; while one request waits on the
        provider the others wait ``FETCH_WAIT_SECONDS`` at most for its result, so a hung provider
        holds one worker, not every one. Failures of a short-timeout fetch (the back-channel
        receiver's, which anyone can trigger) are remembered apart, so they never refuse sign-ins.
        """
        failed_key = _cache_key(f"{kind}-failed{'-short' if self.fetch_timeout else ''}", self.discovery_url)
        busy_key = _cache_key(f"{kind}-fetching", self.discovery_url)
        self._raise_remembered(failed_key)
        if not cache.add(busy_key, 1, int(self.timeout) + 2):
            deadline = time.monotonic() + FETCH_WAIT_SECONDS
            while time.monotonic() < deadline:
                time.sleep(0.05)
                value = cache.get(cache_key)
                if value is not None:
                    return value
                self._raise_remembered(failed_key)
            raise SignInError("provider_timeout", f"{self.discovery_url}: another request is waiting on the provider")
        try:
            # Another request may have stored it between this one's cache miss and taking the lock.
            value = cache.get(cache_key)
            return value if value is not None else fetch()
        except SignInError as error:
            cache.set(failed_key, (error.reason, error.detail), FETCH_FAILURE_SECONDS)
            raise
        finally:
            cache.delete(busy_key)

    @staticmethod
    def _raise_remembered(failed_key):
        remembered = cache.get(failed_key)
        if remembered is not None:
            reason, detail = remembered
            raise SignInError(reason, f"{detail} (failed less than {FETCH_FAILURE_SECONDS}s ago; not retried yet)")

    def _check_metadata(self, document):
        if not isinstance(document, dict):
            raise SignInError("discovery_invalid", f"{self.discovery_url} is not a JSON object")
        for name in ("issuer", "authorization_endpoint", "token_endpoint"):
            if not isinstance(document.get(name), str) or not document[name]:
                raise SignInError("discovery_invalid", f"{self.discovery_url} has no {name}")
        for name in ("id_token_signing_alg_values_supported", "userinfo_signing_alg_values_supported",
                     "token_endpoint_auth_methods_supported", "scopes_supported", "claims_supported"):
            values = document.get(name, [])
            if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
                raise SignInError("discovery_invalid", f"{self.discovery_url}: {name} is not a list of strings")
        issuer = document["issuer"]
        expected = self.expected_issuer
        if expected is not None and issuer.rstrip("/") != expected.rstrip("/"):
            raise SignInError(
                "issuer_mismatch",
                f"configured {expected!r} but the provider's issuer is {issuer!r}: "
                f"set {self.vars.get('SERVER_APPLICATION_URL', 'OIDC_SERVER_APPLICATION_URL')}={issuer}",
            )
        secure = issuer.startswith("https://")
        for name, value in document.items():
            if name.endswith("_endpoint") or name == "jwks_uri":
                scheme = urlsplit(value).scheme if isinstance(value, str) else ""
                if scheme not in ("https", "http") or (secure and scheme != "https"):
                    raise SignInError("discovery_invalid", f"{name} {value!r} is not an https URL")

    # --- HTTP ------------------------------------------------------------------------
    @property
    def timeout(self):
        return self.fetch_timeout or settings.OIDC_TIMEOUT

    def _http(self, method, url, **kwargs):
        """One call to the provider, with the configured CA bundle and timeout."""
        kwargs.setdefault("allow_redirects", method == "GET")
        try:
            return requests.request(method, url, timeout=self.timeout, verify=self.tls_cafile or True, **kwargs)
        except requests.exceptions.SSLError as exc:
            raise SignInError("provider_tls", f"{method} {url}: {type(exc).__name__}") from None
        except requests.exceptions.Timeout:
            raise SignInError("provider_timeout", f"{method} {url} timed out after {self.timeout}s") from None
        except (requests.exceptions.RequestException, OSError) as exc:
            raise SignInError("provider_unreachable", f"{method} {url}: {type(exc).__name__}") from None

    def _fetch_json(self, method, url, reason_if_bad="bad_response", **kwargs):
        response = self._http(method, url, **kwargs)
        if response.status_code != 200:
            reason = "provider_unreachable" if response.status_code >= 500 else reason_if_bad
            raise SignInError(reason, f"{method} {url} answered HTTP {response.status_code}")
        try:
            return response.json()
        except ValueError:
            raise SignInError(reason_if_bad, f"{method} {url} did not answer JSON") from None

    # --- the authorization request ---------------------------------------------------
    def authorization_url(self, state, nonce, code_challenge):
        document = self.metadata()
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": self.scope_string(document),
            "state": state,
            "nonce": nonce,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
        }
        parts = urlsplit(document["authorization_endpoint"])
        query = urlencode([*parse_qsl(parts.query), *params.items()])
        return urlunsplit(parts._replace(query=query))

    def scope_string(self, document):
        if self.scopes:
            scopes = self.scopes.replace(",", " ").split()
            scopes = ["openid", *[s for s in scopes if s != "openid"]]
        else:
            scopes = list(DEFAULT_SCOPES)
            if "groups" in (document.get("scopes_supported") or []):
                scopes.append("groups")
        if self.session_recheck_seconds and "offline_access" not in scopes:
            # The recheck needs a refresh token, which both providers issue only for this scope.
            scopes.append("offline_access")
        return " ".join(scopes)

    def check_response_issuer(self, iss):
        """RFC 9207: the ``iss`` of the authorization response must be this provider's."""
        document = self.metadata()
        if iss is None:
            if document.get("authorization_response_iss_parameter_supported") is True:
                raise SignInError("mixup", "authorization response without the iss parameter")
            return
        if iss != document["issuer"]:
            raise SignInError("mixup", f"authorization response iss {iss[:200]!r} is not {document['issuer']!r}")

    # --- the token endpoint ------------------------------------------------------------
    def client_auth_method(self, document):
        """client_secret_basic unless configured otherwise or the provider only takes post."""
        if self.token_auth_method != "auto":
            return self.token_auth_method
        supported = document.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        if "client_secret_basic" not in supported and "client_secret_post" in supported:
            return "client_secret_post"
        return "client_secret_basic"

    def exchange_code(self, code, code_verifier):
        """Redeem the authorization code; returns the token response (with an ``id_token``)."""
        document = self.metadata()
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "code_verifier": code_verifier,
        }
        headers = {"Accept": "application/json"}
        if self.client_auth_method(document) == "client_secret_post":
            data.update(client_id=self.client_id, client_secret=self.client_secret)
        else:
            # RFC 6749 section 2.3.1: form-urlencode each part before base64.
            pair = f"{quote_plus(self.client_id or '')}:{quote_plus(self.client_secret or '')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        response = self._http("POST", document["token_endpoint"], data=data, headers=headers)
        if response.status_code != 200:
            raise self._token_error(response)
        try:
            tokens = response.json()
        except ValueError:
            raise SignInError("bad_response", "token endpoint did not answer JSON") from None
        if not isinstance(tokens, dict) or not isinstance(tokens.get("id_token"), str):
            raise SignInError("bad_response", "token response has no id_token")
        token_type = tokens.get("token_type")
        if token_type is not None and str(token_type).lower() != "bearer":
            raise SignInError("bad_response", f"token_type {token_type!r} is not Bearer")
        return tokens

    def _token_error(self, response):
        try:
            body = response.json()
        except ValueError:
            body = {}
        error = body.get("error") if isinstance(body, dict) else None
        error = error if isinstance(error, str) and error.isascii() and len(error) < 64 else "unknown_error"
        detail = f"token endpoint answered HTTP {response.status_code} error={error}"
        if isinstance(body, dict) and isinstance(body.get("error_description"), str):
            # repr() keeps the provider's text on one log line, control characters escaped.
            detail += f" {body['error_description'][:200]!r}"
        if response.status_code >= 500:
            return SignInError("provider_unreachable", detail)
        if error == "invalid_grant":
            return SignInError("code_rejected", detail)
        if error in ("invalid_client", "unauthorized_client") or response.status_code == 401:
            return SignInError("client_rejected", detail)
        return SignInError("token_refused", detail, error=error)

    # --- refresh and revocation (SPEC section 7) --------------------------------------
    def _client_request(self, url, data):
        """POST ``data`` to ``url`` with this client's authentication, as the token endpoint takes it."""
        headers = {"Accept": "application/json"}
        data = dict(data)
        if self.client_auth_method(self.metadata()) == "client_secret_post":
            data.update(client_id=self.client_id, client_secret=self.client_secret)
        else:
            pair = f"{quote_plus(self.client_id or '')}:{quote_plus(self.client_secret or '')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        return self._http("POST", url, data=data, headers=headers)

    def refresh(self, refresh_token):
        """Spend ``refresh_token`` once; returns the token response (a new ``refresh_token`` when rotated).

        No ``scope``: Authentik then keeps the granted ones, ``offline_access`` included.
        """
        response = self._client_request(
            self.metadata()["token_endpoint"], {"grant_type": "refresh_token", "refresh_token": refresh_token}
        )
        if response.status_code != 200:
            raise self._token_error(response)
        try:
            tokens = response.json()
        except ValueError:
            raise SignInError("bad_response", "token endpoint did not answer JSON to a refresh") from None
        if not isinstance(tokens, dict) or not isinstance(tokens.get("access_token"), str):
            raise SignInError("bad_response", "refresh response has no access_token")
        for name in ("id_token", "refresh_token"):
            if name in tokens and not isinstance(tokens[name], str):
                raise SignInError("bad_response", f"refresh response {name} is not a string")
        return tokens

    def validate_refreshed_id_token(self, id_token, subject):
        """Claims of an ID token from a refresh: validated as a login's, no nonce, same ``sub``."""
        claims = self._decode(id_token, require=["iss", "sub", "aud", "exp", "iat"])
        if not hmac.compare_digest(claims["sub"].encode(), subject.encode()):
            raise SignInError("invalid_token", "refreshed ID token names another sub")
        return claims

    def revoke(self, token, hint="refresh_token"):
        """RFC 7009: ask the provider to forget ``token``; False when it has no revocation endpoint."""
        endpoint = self.metadata().get("revocation_endpoint")
        if not isinstance(endpoint, str) or not endpoint:
            return False
        response = self._client_request(endpoint, {"token": token, "token_type_hint": hint})
        if response.status_code != 200:
            raise SignInError("provider_unreachable" if response.status_code >= 500 else "token_refused",
                              f"revocation endpoint answered HTTP {response.status_code}", error="revocation")
        return True

    # --- userinfo ----------------------------------------------------------------------
    def has_userinfo(self):
        return bool(self.metadata().get("userinfo_endpoint"))

    def fetch_userinfo(self, access_token):
        """Claims from the userinfo endpoint (JSON, or a signed JWT)."""
        endpoint = self.metadata()["userinfo_endpoint"]
        response = self._http("GET", endpoint, headers={"Authorization": f"Bearer {access_token}"})
        if response.status_code != 200:
            reason = "provider_unreachable" if response.status_code >= 500 else "bad_response"
            raise SignInError(reason, f"userinfo answered HTTP {response.status_code}")
        if response.headers.get("Content-Type", "").lower().startswith("application/jwt"):
            claims = self._decode(
                response.text.strip(), require=["sub"], optional_iss_aud=True,
                algorithms_key="userinfo_signing_alg_values_supported",
            )
        else:
            try:
                claims = response.json()
            except ValueError:
                raise SignInError("bad_response", "userinfo did not answer JSON") from None
        if not isinstance(claims, dict):
            raise SignInError("bad_response", "userinfo is not a JSON object")
        return claims


def providers():
    """Every configured provider, in the order of their buttons."""
    configs = settings.OIDC_PROVIDER_CONFIGS if settings.OIDC_ENABLED else []
    return [Provider(**config, first=index == 0) for index, config in enumerate(configs)]


def provider_for_issuer(issuer):
    """The configured provider that ``issuer`` names, or None, without calling any provider.

    The cached discovery document decides when there is one; otherwise the configured issuer
    (trailing slash aside). The token's ``iss`` is then checked exactly against the discovered
    issuer when it is validated.
    """
    for provider in providers():
        document = provider.cached_metadata()
        if document is not None:
            if document.get("issuer") == issuer:
                return provider
        elif provider.expected_issuer and provider.expected_issuer.rstrip("/") == issuer.rstrip("/"):
            return provider
    return None


def get_provider(name=None):
    """The provider called ``name`` (the first one when ``name`` is None), or None."""
    for provider in providers():
        if name is None or provider.name == name:
            return provider
    return None
