"""What a provider publishes about itself: its discovery document and its signing keys (JWKS).

Both are kept in Django's cache, so several processes share them, and fetched by one request at a
time: a hung or broken provider costs one timeout per window, not one per request. Nothing here
knows about accounts; a document or key set that cannot be trusted raises ``SignInError``.
"""

import hashlib
import logging
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache

from accounts.audit import history
from accounts.errors import SignInError
from accounts.models import SignInEvent
from accounts.oidc import client as provider_client

logger = logging.getLogger(__name__)

# A failed discovery or JWKS fetch is remembered this long, so a hung or broken provider costs
# one timeout per window instead of one per request (each would hold a worker).
FETCH_FAILURE_SECONDS = 15
# One request at a time fetches a document the cache lacks; the others wait this long for it.
FETCH_WAIT_SECONDS = 1.0
# A JWKS refetch for an unknown key id happens at most this often per provider, across all
# processes: soon enough for a key rotated at any moment, never once per request.
JWKS_REFETCH_SECONDS = 5


def cache_key(kind, url):
    """The shared cache's key for ``kind`` (``meta``, ``jwks``, …) of the provider at ``url``."""
    return f"oidc:{kind}:{hashlib.sha256(url.encode()).hexdigest()[:40]}"


def metadata(provider):
    """The provider's discovery document, validated, from the shared cache when fresh.

    A ``Provider`` lives for one request (``get_provider`` builds it), so what it read is kept on
    it: a sign-in needs the document several times and the JWKS once, and reads both from the
    cache in one round trip.
    """
    memo = provider.__dict__.get("_metadata")
    if memo is not None:
        return memo
    key, jwks_key = cache_key("meta", provider.discovery_url), cache_key("jwks", provider.discovery_url)
    found = cache.get_many([key, jwks_key])
    document = found.get(key)
    if document is None:
        document = fetch_shared(provider, "meta", key, lambda: _fetch_metadata(provider, key))
    object.__setattr__(provider, "_metadata", document)  # a frozen dataclass: not a field
    if jwks_key in found:
        object.__setattr__(provider, "_jwks", found[jwks_key])
    return document


def cached_metadata(provider):
    """The discovery document if it is in the cache, else None; never calls the provider."""
    return cache.get(cache_key("meta", provider.discovery_url))


def _fetch_metadata(provider, key):
    document = provider_client.fetch_json(provider, "GET", provider.discovery_url, reason_if_bad="discovery_invalid")
    check_metadata(provider, document)
    cache.set(key, document, settings.OIDC_CACHE_SECONDS)
    return document


def check_metadata(provider, document):
    """Refuse a discovery document this site cannot rely on (``SignInError`` naming what is wrong)."""
    url = provider.discovery_url
    if not isinstance(document, dict):
        raise SignInError("discovery_invalid", f"{url} is not a JSON object")
    for name in ("issuer", "authorization_endpoint", "token_endpoint"):
        if not isinstance(document.get(name), str) or not document[name]:
            raise SignInError("discovery_invalid", f"{url} has no {name}")
    for name in ("id_token_signing_alg_values_supported", "userinfo_signing_alg_values_supported",
                 "token_endpoint_auth_methods_supported", "scopes_supported", "claims_supported"):
        values = document.get(name, [])
        if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
            raise SignInError("discovery_invalid", f"{url}: {name} is not a list of strings")
    issuer = document["issuer"]
    expected = provider.expected_issuer
    if expected is not None and issuer.rstrip("/") != expected.rstrip("/"):
        raise SignInError(
            "issuer_mismatch",
            f"configured {expected!r} but the provider's issuer is {issuer!r}: "
            f"set {provider.vars.get('SERVER_APPLICATION_URL', 'OIDC_SERVER_APPLICATION_URL')}={issuer}",
        )
    secure = issuer.startswith("https://")
    for name, value in document.items():
        if name.endswith("_endpoint") or name == "jwks_uri":
            scheme = urlsplit(value).scheme if isinstance(value, str) else ""
            if scheme not in ("https", "http") or (secure and scheme != "https"):
                raise SignInError("discovery_invalid", f"{name} {value!r} is not an https URL")


def jwks(provider, refresh=False, kept=True):
    """The provider's keys: read with the discovery document when ``kept``, else from the shared
    cache, else (or with ``refresh``) from the provider."""
    if kept and not refresh:
        provider.metadata()  # reads the JWKS from the cache with the document
        memo = provider.__dict__.get("_jwks")
        if memo is not None:
            return memo
    key = cache_key("jwks", provider.discovery_url)
    cached = None if refresh else cache.get(key)
    if cached is None:
        uri = provider.metadata().get("jwks_uri")
        if not uri:
            raise SignInError("discovery_invalid", "the provider has no jwks_uri")
        known = None
        if refresh:
            known = key_ids(provider.__dict__.get("_jwks") or cache.get(key))
            cache.delete(key)  # waiting requests must not take the old copy for the new one
        cached = fetch_shared(provider, "jwks", key, lambda: _fetch_jwks(provider, uri, key, known))
    object.__setattr__(provider, "_jwks", cached)
    return cached


def _fetch_jwks(provider, uri, key, known=None):
    """Fetch and cache the JWKS; with ``known`` (the key ids of the copy it replaces), a key id
    not among them is a key the provider rotated in: one sign-in history row says so."""
    keys = provider_client.fetch_json(provider, "GET", uri)
    if not isinstance(keys, dict) or not isinstance(keys.get("keys", []), list):
        raise SignInError("bad_response", "the JWKS is not a JSON object with a list of keys")
    cached = {"keys": keys.get("keys") or [], "fetched_at": time.time()}
    cache.set(key, cached, settings.OIDC_CACHE_SECONDS)
    if known is not None:
        new = sorted(key_ids(cached) - known)
        if new:
            logger.info("JWKS of %s has new key id(s): %s", provider.name, ", ".join(new))
            history.record(None, SignInEvent.Method.KEYS, SignInEvent.Outcome.CHANGED, reason="key_rotated",
                           provider=provider.name, detail="new key id(s): " + ", ".join(new))
    return cached


def key_ids(jwks):
    """The key ids a JWKS (as cached) names."""
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    return {
        str(jwk["kid"])[:64] for jwk in keys or [] if isinstance(jwk, dict) and jwk.get("kid") is not None
    }


def may_refetch_jwks(provider):
    """True for the first caller in each ``JWKS_REFETCH_SECONDS`` window, across all processes."""
    # One marker per time window: the first process to add it refetches, the others don't.
    window = int(time.time() // JWKS_REFETCH_SECONDS)
    return cache.add(cache_key(f"jwks-refetch:{window}", provider.discovery_url), 1, JWKS_REFETCH_SECONDS * 2)


def fetch_shared(provider, kind, key, fetch):
    """``fetch()`` (which stores its result at ``key``), once at a time across processes.

    A failure is remembered for ``FETCH_FAILURE_SECONDS``; while one request waits on the
    provider the others wait ``FETCH_WAIT_SECONDS`` at most for its result, so a hung provider
    holds one worker, not every one. Failures of a short-timeout fetch (the back-channel
    receiver's, which anyone can trigger) are remembered apart, so they never refuse sign-ins.
    """
    url = provider.discovery_url
    failed_key = cache_key(f"{kind}-failed{'-short' if provider.fetch_timeout else ''}", url)
    busy_key = cache_key(f"{kind}-fetching", url)
    _raise_remembered(failed_key)
    if not cache.add(busy_key, 1, int(provider.timeout) + 2):
        deadline = time.monotonic() + FETCH_WAIT_SECONDS
        while time.monotonic() < deadline:
            time.sleep(0.05)
            value = cache.get(key)
            if value is not None:
                return value
            _raise_remembered(failed_key)
        raise SignInError("provider_timeout", f"{url}: another request is waiting on the provider")
    try:
        # Another request may have stored it between this one's cache miss and taking the lock.
        value = cache.get(key)
        return value if value is not None else fetch()
    except SignInError as error:
        cache.set(failed_key, (error.reason, error.detail), FETCH_FAILURE_SECONDS)
        raise
    finally:
        cache.delete(busy_key)


def _raise_remembered(failed_key):
    remembered = cache.get(failed_key)
    if remembered is not None:
        reason, detail = remembered
        raise SignInError(reason, f"{detail} (failed less than {FETCH_FAILURE_SECONDS}s ago; not retried yet)")
