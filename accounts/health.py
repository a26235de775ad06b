"""``/healthz``: can this process reach its database and its cache? For orchestrators.

The answer names each dependency with ``ok`` or ``error`` and nothing else; the reason goes
to the log, since connection errors can carry host names and user names.
"""

import logging
import uuid

from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)


def _database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _cache():
    key, value = "healthz", uuid.uuid4().hex
    cache.set(key, value, 30)
    if cache.get(key) != value:
        raise RuntimeError("the value just written was not read back")


def _probe(name, probe):
    try:
        probe()
    except Exception as exc:  # noqa: BLE001 - any failure means "not healthy"
        logger.warning("healthz: %s unreachable: %s: %.200s", name, type(exc).__name__, exc)
        return "error"
    return "ok"


@never_cache
@require_safe
def healthz(request):
    checks = {"database": _probe("database", _database), "cache": _probe("cache", _cache)}
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse({"status": "ok" if healthy else "error", **checks}, status=200 if healthy else 503)
