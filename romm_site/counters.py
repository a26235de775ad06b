"""Counters in Django's cache that several processes share (``CACHE_URL`` pointing at Redis)."""

from django.core.cache import cache


def increment(key, window):
    """Add one to ``key`` and return its count; the counter lives ``window`` seconds from its first count.

    ``cache.add`` and ``cache.incr`` are each atomic in Redis, so simultaneous requests never read
    the same count.
    """
    cache.add(key, 0, window)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, window)
        return 1
    if count == 1:
        # Redis creates a key that expired between Django's existence check and INCR without a
        # lifetime; give it the window, so no counter outlives it.
        cache.touch(key, window)
    return count
