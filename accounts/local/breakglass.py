"""``/login/link#<token>``: sign in with a link printed by ``manage.py signin_link``.

The secret is the URL's fragment, which a browser never sends: no server, proxy or access log
sees it, and neither does a link preview. GET shows a button (the page's script moves the
fragment into the form); the POST carries the secret in its body and spends it. It works
whatever DISABLE_USERPASS_LOGIN says, for active accounts only.
"""

import logging

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts.api.bearer import use_sign_in_link
from accounts.audit import history
from accounts.local.passwords import MESSAGES, PasswordRefused, open_session
from accounts.models import SignInEvent

logger = logging.getLogger(__name__)

REFUSALS = {
    "link_invalid": (
        "This sign-in link is unknown, already used or expired. An administrator can print a new one "
        "with: python manage.py signin_link <username>"
    ),
    "inactive": MESSAGES["inactive"],
}


@never_cache
@require_http_methods(["GET", "POST"])
def signin_link(request):
    """GET shows a confirm button; POST spends the link (``token`` in the body) and signs in."""
    if request.method == "GET":
        return render(request, "accounts/signin_link.html")
    user = use_sign_in_link(request.POST.get("token", "").strip())
    if user is None:
        return _refuse(request, "link_invalid")
    if not user.is_active:
        return _refuse(request, "inactive", user)
    try:
        # Recorded as a "link" session: the way in when the provider is down, it keeps working
        # under DISABLE_USERPASS_LOGIN.
        open_session(request, user, SignInEvent.Method.LINK)
    except PasswordRefused as refusal:  # deactivated after the check above (logged and recorded there)
        messages.error(request, refusal.message)
        return HttpResponseRedirect("/login?local=1")
    logger.warning("break-glass sign-in link used: account %r", user.username)
    return HttpResponseRedirect("/")


def _refuse(request, reason, user=None):
    messages.error(request, REFUSALS[reason])
    logger.warning("break-glass sign-in link refused: reason=%s", reason)
    history.record(request, SignInEvent.Method.LINK, SignInEvent.Outcome.REFUSED, user=user, reason=reason)
    return HttpResponseRedirect("/login?local=1")
