"""``/profile/sessions``: where the signed-in person is signed in, and signing out elsewhere.

Every open session of the person, named on the page by its public id (never its key), with a
Sign out button on each and "Sign out everywhere else". This browser's button is the ordinary
logout. Apps built on accounts add their own parts with ``add_section`` (``devices``: the
person's app tokens and devices with their revoke buttons), so this module imports none of them.
"""

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts.oidc.logout import logout
from accounts.sessions.browsers import in_words
from accounts.sessions.ending import sign_out as end_sessions
from accounts.sessions.listing import PUBLIC_ID, open_sessions, page_of

logger = logging.getLogger(__name__)

# (template, context function) per part an app adds to the page, in the order apps added them.
SECTIONS = []

PAGE = "/profile/sessions"
# The sign-in history's reason for a session its own person signed out from another one.
SIGNED_OUT_ELSEWHERE = "signed_out_elsewhere"
BY_THE_PERSON = "signed out by its person from /profile/sessions"
NOT_YOURS = (
    "That session is already signed out, or it is not one of yours, so nothing was signed out. "
    "The list below shows where you are signed in now."
)


def add_section(template, context):
    """Show ``template`` on /profile/sessions, rendered with what ``context(request)`` returns."""
    if (template, context) not in SECTIONS:
        SECTIONS.append((template, context))


@never_cache
@login_required
@require_GET
def sessions(request):
    """Every open session of the person, this browser's marked."""
    return render_page(request)


def render_page(request, status=200):
    shown, page = page_of(open_sessions(request.user), request.session.session_key, request.GET.get("page"))
    context = {
        "sessions": shown,
        "page": page,
        "sections": [template for template, _ in SECTIONS],
    }
    for _, section in SECTIONS:
        context.update(section(request))
    return render(request, "accounts/sessions.html", context, status=status)


@never_cache
@login_required
@require_POST
def sign_out(request, public_id):
    """Sign out one of the person's sessions; this browser's own signs out as /logout does."""
    mine = open_sessions(request.user)
    row = mine.filter(public_id=public_id).first() if PUBLIC_ID.fullmatch(public_id) else None
    if row is None:
        # Another person's session, one already ended, or made up: the same answer for each.
        logger.warning("sessions page: %r asked to sign out a session that is not theirs or is gone",
                       request.user.username)
        messages.error(request, NOT_YOURS)
        return render_page(request, status=404)
    if row.session_key == request.session.session_key:
        return logout(request)
    ended = end_sessions(request, mine.filter(pk=row.pk), SIGNED_OUT_ELSEWHERE, BY_THE_PERSON)
    where = f"{in_words(row.user_agent)} at {row.ip_address or 'an unknown address'}"
    if ended:
        messages.success(request, f"{where} is signed out.")
    else:  # ended by something else since this request found it
        messages.info(request, f"{where} was already signed out.")
    return HttpResponseRedirect(PAGE)


@never_cache
@login_required
@require_POST
def sign_out_others(request):
    """Sign out every session of the person but this browser's."""
    others = open_sessions(request.user).exclude(session_key=request.session.session_key)
    ended = end_sessions(request, others, SIGNED_OUT_ELSEWHERE, BY_THE_PERSON)
    if ended:
        messages.success(request, f"Signed out {len(ended)} other session{'s' if len(ended) != 1 else ''}; "
                                  "this browser stays signed in.")
    else:
        messages.info(request, "You were signed in nowhere else; this browser stays signed in.")
    return HttpResponseRedirect(PAGE)
