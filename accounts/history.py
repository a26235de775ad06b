"""The sign-in history: one row per attempt, written where the attempt ends."""

import ipaddress

from django.conf import settings

from accounts.models import SignInEvent
from romm_site import rows


def client_address(request):
    """The address the request came from.

    Behind a trusted proxy (``TRUST_PROXY_HEADERS``) that is the last X-Forwarded-For entry,
    the one the proxy itself appended; earlier entries are whatever the client sent.
    """
    if settings.TRUST_PROXY_HEADERS:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")[-1].strip()
        try:
            return str(ipaddress.ip_address(forwarded))
        except ValueError:
            pass
    return request.META.get("REMOTE_ADDR") or None


def _text(value, limit):
    """``value`` cut to its column, without NUL (which PostgreSQL refuses in text)."""
    return (value or "").replace("\x00", "")[:limit]


def record(request, method, outcome, *, user=None, username="", reason="", detail="", provider="", subject="",
           provider_ms=None):
    """Write one history row (nothing listens for it: ``romm_site.rows`` writes it).

    ``provider_ms``: how long the provider took to answer the sign-in's token request.
    """
    rows.insert(SignInEvent, {
        "user": user.pk if user is not None and user.pk else None,
        "username": _text(username or (user.username if user is not None else ""), 150),
        "method": method,
        "outcome": outcome,
        "reason": _text(reason, 40),
        "detail": _text(detail, 300),
        "provider": _text(provider, 64),
        "subject": _text(subject, 255),
        "ip_address": client_address(request) if request is not None else None,
        "user_agent": _text(request.META.get("HTTP_USER_AGENT", "") if request is not None else "", 300),
        "provider_ms": provider_ms,
    })
