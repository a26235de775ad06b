"""What a provider signs, and whether to trust it: ID tokens, logout tokens, signed userinfo.

Plain functions of a ``Provider`` and a token (OpenID Connect Core 3.1.3.7, Back-Channel Logout
1.0 section 2.6). Keys come from the provider's JWKS (``accounts.oidc.discovery``), refetched when a
token names a key id the cached copy lacks. A token that cannot be trusted raises ``SignInError``
with reason ``invalid_token``.
"""

import hmac
import json
from functools import lru_cache

import jwt
from django.conf import settings

from accounts.errors import SignInError
from accounts.oidc import discovery

HMAC_ALGORITHMS = {"HS256", "HS384", "HS512"}
# Which key fits which algorithm: (kty, crv). Anything not listed is refused.
KEY_TYPES = {
    "RS256": ("RSA", None), "RS384": ("RSA", None), "RS512": ("RSA", None),
    "PS256": ("RSA", None), "PS384": ("RSA", None), "PS512": ("RSA", None),
    "ES256": ("EC", "P-256"), "ES384": ("EC", "P-384"), "ES512": ("EC", "P-521"),
    "EdDSA": ("OKP", None),
}  # fmt: skip
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
ID_TOKEN_CLAIMS = ["iss", "sub", "aud", "exp", "iat"]


def validate_id_token(provider, id_token, nonce):
    """Claims of a fully validated ID token (OpenID Connect Core 3.1.3.7)."""
    claims = decode(provider, id_token, require=ID_TOKEN_CLAIMS)
    if not hmac.compare_digest(str(claims.get("nonce", "")).encode(), (nonce or "\0").encode()):
        raise SignInError("invalid_token", "nonce does not match the one sent")
    return claims


def validate_refreshed_id_token(provider, id_token, subject):
    """Claims of an ID token from a refresh: validated as a login's, no nonce, same ``sub``."""
    claims = decode(provider, id_token, require=ID_TOKEN_CLAIMS)
    if not hmac.compare_digest(claims["sub"].encode(), subject.encode()):
        raise SignInError("invalid_token", "refreshed ID token names another sub")
    return claims


def validate_logout_token(provider, logout_token):
    """Claims of a valid Back-Channel Logout token (OpenID Back-Channel Logout 1.0, 2.6)."""
    claims = decode(
        provider, logout_token, require=["iss", "aud", "iat", "exp", "jti"],
        types=("logout+jwt", "application/logout+jwt"),
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


def validate_userinfo_jwt(provider, token):
    """Claims of a signed userinfo answer: its ``iss`` and ``aud`` are checked when present."""
    return decode(
        provider, token, require=["sub"], optional_iss_aud=True,
        algorithms_key="userinfo_signing_alg_values_supported",
    )


def readable(claims, reason="bad_response"):
    """``claims``, unless a string in them is no text: half of a UTF-16 surrogate pair (``"\\ud800"``),
    which JSON's escapes can spell and Python decodes, but which UTF-8 cannot encode, so no database
    stores it (SQLite's driver and PostgreSQL refuse the write: a crash, not a refusal)."""
    pending = [claims]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending += [*value.keys(), *value.values()]
        elif isinstance(value, list):
            pending += value
        elif isinstance(value, str) and not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise SignInError(reason, "a claim holds an unpaired surrogate (\\ud800-\\udfff)") from None
    return claims


def decode(provider, token, require, optional_iss_aud=False, types=("jwt", "application/jwt"),
           algorithms_key="id_token_signing_alg_values_supported"):
    """The claims of ``token`` once its algorithm, type, signature, issuer, audience and times pass."""
    document = provider.metadata()
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
    key = verification_key(provider, alg, header)
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
            audience=provider.client_id,
            issuer=document["issuer"],
            leeway=settings.OIDC_LEEWAY_SECONDS,
            options=options,
        )
    except jwt.PyJWTError as exc:
        raise SignInError("invalid_token", f"{type(exc).__name__}: {exc}") from None
    readable(claims)
    _check_audience(provider, claims)
    subject = claims.get("sub")
    if "sub" in require and (
        not isinstance(subject, str) or not subject or len(subject) > 255 or not subject.isprintable()
    ):
        raise SignInError("invalid_token", "sub is missing, empty, too long or has control characters")
    return claims


def _check_audience(provider, claims):
    audience = claims.get("aud")
    if audience is None:
        return
    audiences = [audience] if isinstance(audience, str) else audience
    extra = [a for a in audiences if a != provider.client_id]
    if extra:
        raise SignInError("invalid_token", f"untrusted extra audiences {extra!r}")
    if "azp" in claims and claims["azp"] != provider.client_id:
        raise SignInError("invalid_token", f"azp {claims['azp']!r} is not this client")


def verification_key(provider, alg, header):
    """The key that must have signed a token with this header, or ``SignInError``."""
    if alg in HMAC_ALGORITHMS:
        # Authentik without a signing key signs with the client secret. A provider that
        # publishes signing keys signs with them: then an HMAC token only proves someone
        # knows the client secret, which is not enough.
        if not provider.client_secret:
            raise SignInError("invalid_token", f"{alg} needs the client secret, which is not set")
        if discovery.jwks(provider).get("keys"):
            raise SignInError("invalid_token", f"{alg} token while the provider publishes signing keys")
        return provider.client_secret.encode()
    kid = header.get("kid")
    key = _find_key(discovery.jwks(provider), alg, kid)
    if key is None:
        # An unknown key id may mean the provider rotated its keys, at any moment: refetch,
        # once per window for all processes; the others read the copy the winner stored.
        refetch = discovery.may_refetch_jwks(provider)
        key = _find_key(discovery.jwks(provider, refresh=refetch, kept=False), alg, kid)
    if key is None:
        raise SignInError("invalid_token", f"no {alg} key with kid {kid!r} in the provider's JWKS")
    return key


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


@lru_cache(maxsize=64)
def _public_key(jwk_json, alg):
    """The key object of a JWK (built once per process: parsing an RSA key is not free), or None."""
    try:
        return jwt.PyJWK(json.loads(jwk_json), algorithm=alg).key
    except jwt.PyJWTError:
        return None
