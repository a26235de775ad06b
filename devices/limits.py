"""Per-address request limits for the unauthenticated app endpoints, in the shared cache.

"Address" is ``romm_site.addresses.address_bucket``: an IPv4 address or an IPv6 /64, as the
password limits count it.

A counter per (endpoint, address, minute) made with ``cache.add`` and bumped with
``cache.incr``, both atomic in Redis, so several processes share one count (``CACHE_URL``).
"""

import hashlib
import time

from django.core.cache import cache

from romm_site.addresses import address_bucket

WINDOW = 60


def allow(request, name, per_minute):
    """Count this request; False once the address has made ``per_minute`` of them this minute."""
    address = hashlib.sha256(address_bucket(request).encode()).hexdigest()
    key = f"devices-limit:{name}:{address}:{int(time.time()) // WINDOW}"
    cache.add(key, 0, WINDOW * 2)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, WINDOW * 2)
        count = 1
    return count <= per_minute
