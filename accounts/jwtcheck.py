"""What a provider signs, and whether to trust it: ID tokens, logout tokens, the JWKS.

``TokenChecks`` is the part of ``accounts.provider.Provider`` that validates JWTs (OpenID
Connect Core 3.1.3.7, Back-Channel Logout 1.0 section 2.6) and keeps the provider's keys in the
shared cache, refetching them when a token names a key id the cached copy lacks. It uses the
provider's ``metadata()``, ``_fetch_json`` and ``_fetch_shared``.
"""

import hashlib
import hmac
import json
import time
from functools import lru_cache

import jwt
from django.conf import settings
from django.core.cache import cache

from accounts.errors import SignInError

HMAC_ALGORITHMS = {"HS256", "HS384", "HS512"}
# Which key fits which algorithm: (kty, crv). Anything not listed is refused.
KEY_TYPES = {
    "RS256": ("RSA", None), "RS384": ("RSA", None), "RS512": ("RSA", None),
    "PS256": ("RSA", None), "PS384": ("RSA", None), "PS512": ("RSA", None),
    "ES256": ("EC", "P-256"), "ES384": ("EC", "P-384"), "ES512": ("EC", "P-521"),
    "EdDSA": ("OKP", None),
}  # fmt: skip
# A JWKS refetch for an unknown key id happens at most this often per provider, across all
# processes: soon enough for a key rotated at any moment, never once per request.
JWKS_REFETCH_SECONDS = 5
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"


def _cache_key(kind, url):
    return f"oidc:{kind}:{hashlib.sha256(url.encode()).hexdigest()[:40]}"


@lru_cache(maxsize=64)
def _public_key(jwk_json, alg):
    """The key object of a JWK (built once per process: parsing an RSA key is not free), or None."""
    try:
        return jwt.PyJWK(json.loads(jwk_json), algorithm=alg).key
    except jwt.PyJWTError:
        return None


class TokenChecks:
    """JWT validation and the JWKS, for a provider dataclass that has the fields it reads."""

    def validate_id_token(self, id_token, nonce):
        """Claims of a fully validated ID token (OpenID Connect Core 3.1.3.7)."""
        claims = self._decode(id_token, require=["iss", "sub", "aud", "exp", "iat"])
        if not hmac.compare_digest(str(claims.get("nonce", "")).encode(), (nonce or "\0").encode()):
            raise SignInError("invalid_token", "nonce does not match the one sent")
        return claims

    def validate_logout_token(self, logout_token):
        """Claims of a valid Back-Channel Logout token (OpenID Back-Channel Logout 1.0, 2.6)."""
        claims = self._decode(
            logout_token, require=["iss", "aud", "iat", "exp", "jti"], types=("logout+jwt", "application/logout+jwt")
        )
        events = claims.get("events")
        if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_EVENT), dict):
            raise SignInError("invalid_token", "logout token without the back-channel logout event")
        if "nonce" in claims:
            raise SignInError("invalid_token", "logout token carries a nonce")
        for name in ("sid", "sub"):
            if name in claims and (not isinstance(claims[name], str) or not claims[name]):
                raise SignInError("invalid_token", f"logout token {name} is not a non-empty string")
        if "sid" not in claims and "sub" not in claims:
            raise SignInError("invalid_token", "logout token names neither sid nor sub")
        return claims

    def _decode(self, token, require, optional_iss_aud=False, types=("jwt", "application/jwt"),
                algorithms_key="id_token_signing_alg_values_supported"):
        document = self.metadata()
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise SignInError("invalid_token", f"unreadable token header: {exc}") from None
        alg = header.get("alg")
        advertised = document.get(algorithms_key) or ["RS256"]
        if not isinstance(alg, str) or alg not in advertised or alg == "none":
            raise SignInError("invalid_token", f"alg {alg!r} is not among the provider's {advertised}")
        if alg not in HMAC_ALGORITHMS and alg not in KEY_TYPES:
            raise SignInError("invalid_token", f"alg {alg!r} is not supported")
        typ = header.get("typ")
        if typ is not None and str(typ).lower() not in types:
            # Explicit typing keeps an ID token, a logout token and an access token apart.
            raise SignInError("invalid_token", f"token typ {typ!r} is not one of {types}")
        key = self._verification_key(alg, header)
        issuer = document["issuer"]
        audience = self.client_id
        options = {"require": require, "verify_aud": True, "verify_iss": True}
        try:
            if optional_iss_aud:
                unverified = jwt.decode(token, options={"verify_signature": False})
                options["verify_aud"] = "aud" in unverified
                options["verify_iss"] = "iss" in unverified
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=audience,
                issuer=issuer,
                leeway=settings.OIDC_LEEWAY_SECONDS,
                options=options,
            )
        except jwt.PyJWTError as exc:
            raise SignInError("invalid_token", f"{type(exc).__name__}: {exc}") from None
        self._check_audience(claims)
        subject = claims.get("sub")
        if "sub" in require and (
            not isinstance(subject, str) or not subject or len(subject) > 255 or not subject.isprintable()
        ):
            raise SignInError("invalid_token", "sub is missing, empty, too long or has control characters")
        return claims

    def _check_audience(self, claims):
        audience = claims.get("aud")
        if audience is None:
            return
        audiences = [audience] if isinstance(audience, str) else audience
        extra = [a for a in audiences if a != self.client_id]
        if extra:
            raise SignInError("invalid_token", f"untrusted extra audiences {extra!r}")
        if "azp" in claims and claims["azp"] != self.client_id:
            raise SignInError("invalid_token", f"azp {claims['azp']!r} is not this client")

    def _verification_key(self, alg, header):
        if alg in HMAC_ALGORITHMS:
            # Authentik without a signing key signs with the client secret. A provider that
            # publishes signing keys signs with them: then an HMAC token only proves someone
            # knows the client secret, which is not enough.
            if not self.client_secret:
                raise SignInError("invalid_token", f"{alg} needs the client secret, which is not set")
            if self.jwks().get("keys"):
                raise SignInError("invalid_token", f"{alg} token while the provider publishes signing keys")
            return self.client_secret.encode()
        kid = header.get("kid")
        key = self._find_key(self.jwks(), alg, kid)
        if key is None:
            # An unknown key id may mean the provider rotated its keys, at any moment: refetch,
            # once per window for all processes; the others read the copy the winner stored.
            key = self._find_key(self.jwks(refresh=self._may_refetch_jwks(), kept=False), alg, kid)
        if key is None:
            raise SignInError("invalid_token", f"no {alg} key with kid {kid!r} in the provider's JWKS")
        return key

    @staticmethod
    def _find_key(jwks, alg, kid):
        kty, crv = KEY_TYPES[alg]
        matches = []
        for jwk in jwks.get("keys") or []:
            if not isinstance(jwk, dict) or jwk.get("kty") != kty:
                continue
            if crv and jwk.get("crv") != crv:
                continue
            if jwk.get("use", "sig") != "sig" or jwk.get("alg", alg) != alg:
                continue
            if kid is not None and jwk.get("kid") != kid:
                continue
            matches.append(jwk)
        # Without a kid the key must be unambiguous.
        if len(matches) != 1:
            return None
        return _public_key(json.dumps(matches[0], sort_keys=True), alg)

    def jwks(self, refresh=False, kept=True):
        """The provider's keys: read with the discovery document (``metadata``) when ``kept``,
        else from the shared cache, else (or with ``refresh``) from the provider."""
        if kept and not refresh:
            self.metadata()  # reads the JWKS from the cache with the document
            memo = self.__dict__.get("_jwks")
            if memo is not None:
                return memo
        key = _cache_key("jwks", self.discovery_url)
        cached = None if refresh else cache.get(key)
        if cached is None:
            uri = self.metadata().get("jwks_uri")
            if not uri:
                raise SignInError("discovery_invalid", "the provider has no jwks_uri")
            if refresh:
                cache.delete(key)  # waiting requests must not take the old copy for the new one
            cached = self._fetch_shared("jwks", key, lambda: self._fetch_jwks(uri, key))
        object.__setattr__(self, "_jwks", cached)
        return cached

    def _fetch_jwks(self, uri, key):
        keys = self._fetch_json("GET", uri)
        if not isinstance(keys, dict) or not isinstance(keys.get("keys", []), list):
            raise SignInError("bad_response", "the JWKS is not a JSON object with a list of keys")
        cached = {"keys": keys.get("keys") or [], "fetched_at": time.time()}
        cache.set(key, cached, settings.OIDC_CACHE_SECONDS)
        return cached

    def _may_refetch_jwks(self):
        """True for the first caller in each ``JWKS_REFETCH_SECONDS`` window, across all processes."""
        # One marker per time window: the first process to add it refetches, the others don't.
        window = int(time.time() // JWKS_REFETCH_SECONDS)
        return cache.add(_cache_key(f"jwks-refetch:{window}", self.discovery_url), 1, JWKS_REFETCH_SECONDS * 2)
