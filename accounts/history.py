"""The sign-in history: one row per attempt, written where the attempt ends."""

from accounts.models import SignInEvent


def client_address(request):
    """The address the request came from (REMOTE_ADDR, which a trusted proxy setup rewrites)."""
    return request.META.get("REMOTE_ADDR") or None


def record(request, method, outcome, *, user=None, username="", reason="", detail="", provider="", subject=""):
    """Write one history row; never raises into the sign-in it describes."""
    return SignInEvent.objects.create(
        user=user if user is not None and user.pk else None,
        username=(username or (user.username if user is not None else ""))[:150],
        method=method,
        outcome=outcome,
        reason=reason[:40],
        detail=detail[:300],
        provider=provider[:64],
        subject=subject[:255],
        ip_address=client_address(request) if request is not None else None,
        user_agent=(request.META.get("HTTP_USER_AGENT", "") if request is not None else "")[:300],
    )
