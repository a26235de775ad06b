"""Failed password sign-ins, counted per account and per address in Django's cache.

Counters start at the first failure and expire ``LOGIN_FAILURE_WINDOW_SECONDS`` later; with
several processes the cache must be shared (``CACHE_URL`` pointing at Redis).
"""

import hashlib

from django.conf import settings
from django.core.cache import cache

from accounts.history import client_address


def _keys(request, username):
    account = hashlib.sha256((username or "").strip().lower().encode()).hexdigest()
    address = hashlib.sha256((client_address(request) or "-").encode()).hexdigest()
    return f"login-failures:account:{account}", f"login-failures:address:{address}"


def is_blocked(request, username):
    """True when this account or this address has used up its failures for the window."""
    account_key, address_key = _keys(request, username)
    counts = cache.get_many([account_key, address_key])
    return (
        counts.get(account_key, 0) >= settings.LOGIN_FAILURES_PER_ACCOUNT
        or counts.get(address_key, 0) >= settings.LOGIN_FAILURES_PER_ADDRESS
    )


def note_failure(request, username):
    """Count one failed attempt against the account and the address."""
    for key in _keys(request, username):
        cache.add(key, 0, settings.LOGIN_FAILURE_WINDOW_SECONDS)
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, settings.LOGIN_FAILURE_WINDOW_SECONDS)


def clear_account(request, username):
    """A successful sign-in forgives the account's failures (not the address's)."""
    cache.delete(_keys(request, username)[0])


def window_minutes():
    return max(1, settings.LOGIN_FAILURE_WINDOW_SECONDS // 60)
