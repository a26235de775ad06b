"""Runs ``accounts.api.access.check_session`` before every view of a signed-in session, and
records that the session is in use (``last_active``, written at most once a minute)."""

import logging

from django.contrib import auth, messages
from django.http import HttpResponseRedirect, JsonResponse

from accounts.api import access

logger = logging.getLogger(__name__)


class SessionPolicyMiddleware:
    """Ends a session that may no longer be used and tells the person why; marks the others active."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            reason = access.check_session(request)
            if reason is not None:
                return self.end(request, reason)
            request.session.mark_active()
        return self.get_response(request)

    def end(self, request, reason):
        sentence = access.SESSION_REFUSALS[reason]
        logger.warning("session ended: reason=%s account=%r", reason, request.user.username)
        auth.logout(request)
        if request.path.startswith("/api/"):
            if request.META.get("HTTP_AUTHORIZATION", "").strip():
                # The request brings its own credentials: the API judges those, without the session.
                return self.get_response(request)
            return JsonResponse({"detail": sentence}, status=401)
        messages.error(request, sentence)
        return HttpResponseRedirect("/login?local=1")
