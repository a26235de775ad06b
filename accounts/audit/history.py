"""The sign-in history: one row per attempt, written where the attempt ends.

Refusals, but for the signed-in person's own, are bounded per client (``accounts.audit.refusals``).
"""

from accounts.audit import refusals
from accounts.models import SignInEvent
from romm_site.addresses import client_address


def _text(value, limit):
    """``value`` cut to its column, without NUL (which PostgreSQL refuses in text) and with any
    half of a surrogate pair (which no database encodes) written as its escape."""
    text = (value or "").replace("\x00", "")
    if not text.isascii():
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text[:limit]


def record(request, method, outcome, *, user=None, username="", reason="", detail="", provider="", subject="",
           provider_ms=None):
    """Write one history row.

    ``provider_ms``: how long the provider took to answer the sign-in's token request.
    """
    if outcome == SignInEvent.Outcome.REFUSED and refusals.bounded(request, user, username):
        verdict = refusals.verdict(request)
        if verdict == refusals.DROP:
            return
        if verdict == refusals.SUMMARY:
            reason, detail = refusals.SUMMARY_REASON, refusals.summary(reason)
    SignInEvent.objects.create(
        user=user if user is not None and user.pk else None,
        username=_text(username or (user.username if user is not None else ""), 150),
        method=method,
        outcome=outcome,
        reason=_text(reason, 40),
        detail=_text(detail, 300),
        provider=_text(provider, 64),
        subject=_text(subject, 255),
        ip_address=client_address(request) if request is not None else None,
        user_agent=user_agent(request),
        provider_ms=provider_ms,
    )


def user_agent(request):
    """The request's User-Agent, cut to its column."""
    return _text(request.META.get("HTTP_USER_AGENT", "") if request is not None else "", 300)
