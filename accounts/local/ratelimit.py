"""Password attempts, counted in Django's cache before the password is checked.

Three counters, each starting at the first attempt and expiring ``LOGIN_FAILURE_WINDOW_SECONDS``
later: one per (account, address), so a stranger elsewhere cannot lock the owner out; one per
account across all addresses, a higher ceiling against a spread-out guessing campaign; and one per
address, whatever the account. IPv6 addresses count by their /64 (``romm_site.addresses``).
The counters are incremented atomically (``cache.add`` + ``cache.incr``) before the password is
checked, so simultaneous guesses cannot all slip under the limit. With several processes the cache
must be shared (``CACHE_URL`` pointing at Redis).
"""

import hashlib

from django.conf import settings
from django.core.cache import cache

from romm_site import counters
from romm_site.addresses import address_bucket


def _digest(value):
    return hashlib.sha256(value.encode()).hexdigest()


def _counters(request, username):
    """``[(key, limit), ...]``: the pair, the account and the address counters."""
    account = _digest((username or "").strip().lower())
    address = _digest(address_bucket(request))
    # In this order: an attempt refused by one counter is not added to the next, so one address
    # adds at most LOGIN_FAILURES_PER_ACCOUNT to the account-wide count.
    return [
        (f"login-attempts:pair:{account}:{address}", settings.LOGIN_FAILURES_PER_ACCOUNT),
        (f"login-attempts:address:{address}", settings.LOGIN_FAILURES_PER_ADDRESS),
        (f"login-attempts:account:{account}", settings.LOGIN_FAILURES_PER_ACCOUNT_ALL_ADDRESSES),
    ]


def _increment(key):
    return counters.increment(key, settings.LOGIN_FAILURE_WINDOW_SECONDS)


def attempt(request, username):
    """Count one attempt; False when a counter is past its limit (refuse without checking)."""
    for key, limit in _counters(request, username):
        if _increment(key) > limit:
            return False
    return True


def succeeded(request, username):
    """A correct password: it forgives its own (account, address) pair and was no failure."""
    pair, address, account = (key for key, _ in _counters(request, username))
    cache.delete(pair)
    for key in (address, account):
        try:
            cache.decr(key)
        except ValueError:
            pass


def window_minutes():
    return max(1, settings.LOGIN_FAILURE_WINDOW_SECONDS // 60)
