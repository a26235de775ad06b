"""``/pair`` and ``/pair/device``: the pages a person sees when an app asks to be connected."""

import functools
import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods

from accounts.api.access import SCOPES, scopes_for_role
from accounts.audit import history
from accounts.models import SignInEvent
from devices import bounds, codes
from devices import client_tokens as tokens
from devices import device_flow as flow

logger = logging.getLogger(__name__)

SCOPE_LABELS = {
    "me.read": "see your account",
    "me.write": "manage your app tokens",
    "platforms.read": "browse platforms",
    "platforms.write": "add, change and delete platforms",
    "roms.read": "browse ROMs",
    "roms.write": "add, change and delete ROMs",
    "users.read": "see every account",
    "users.write": "change accounts",
    # RomM's other scopes: what they would let an app do on RomM; nothing here uses them yet.
    "roms.user.read": "see your play data (ratings, status, notes)",
    "roms.user.write": "change your play data",
    "assets.read": "download your saves, states and screenshots",
    "assets.write": "upload your saves, states and screenshots",
    "devices.read": "see your registered devices",
    "devices.write": "register and change your devices",
    "firmware.read": "download firmware and BIOS files",
    "firmware.write": "add and delete firmware",
    "collections.read": "browse collections",
    "collections.write": "add and change your collections",
    "playlists.read": "browse playlists",
    "playlists.write": "add and change your playlists",
    "tasks.run": "run the server's tasks",
    "logs.read": "read the server's logs",
}
CODE_UNKNOWN = (
    "This code is unknown, expired or was already answered. Check it against the one your device "
    "shows, or start the sign-in on the device again."
)


def referrer_policy(policy):
    """Send ``Referrer-Policy: policy``: these pages carry a code in their query string, which the
    default policy would repeat in the Referer of every request the page makes."""

    def decorate(view):
        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            response = view(request, *args, **kwargs)
            response["Referrer-Policy"] = policy
            return response

        return wrapped

    return decorate


@referrer_policy("no-referrer")
@require_GET
def pair(request):
    """Where a pairing QR code leads: the code, and what to do with it. Showing it spends nothing."""
    code = codes.normalize(request.GET.get("code"))
    return render(request, "devices/pair.html", {"code": codes.display(code) if code else None})


def _scope_rows(row, user):
    allowed = scopes_for_role(user.role)
    return [
        {"name": s, "label": SCOPE_LABELS[s], "allowed": s in allowed}
        for s in SCOPES
        if s in row.requested_scopes
    ]


# Not no-referrer: under it a browser sends "Origin: null" with the page's own approval form,
# which Django's CSRF check refuses. strict-origin sends the origin alone, never the query.
@referrer_policy("strict-origin")
@login_required
@require_http_methods(["GET", "POST"])
def pair_device(request):
    """Type (or follow a link with) the device's user code, see what it asks for, approve or deny."""
    typed = request.POST.get("user_code") if request.method == "POST" else request.GET.get("user_code")
    row = flow.pending(typed) if typed else None
    if request.method == "GET" or row is None:
        status = 200
        if typed and row is None:
            logger.warning(
                "device approval page: user code unknown or no longer pending (account %r)",
                request.user.username,
            )
            messages.error(request, CODE_UNKNOWN)
            status = 404 if request.method == "GET" else 400
        context = {"row": row, "typed": typed or ""}
        if row is not None:
            context.update(
                user_code=codes.display(row.user_code),
                scopes=_scope_rows(row, request.user),
                grantable=flow.grantable(row, request.user),
            )
        return render(request, "devices/pair_device.html", context, status=status)
    return _answer(request, row, request.POST.get("decision"))


def _answer(request, row, decision):
    user = request.user
    if decision not in ("approve", "deny"):
        messages.error(request, "Choose Approve or Deny.")
        return HttpResponseRedirect(f"/pair/device?{urlencode({'user_code': codes.display(row.user_code)})}")
    approve = decision == "approve"
    if approve and not flow.grantable(row, user):
        messages.error(request, f"Your {user.role} role grants none of the scopes this device asks for.")
        logger.warning("device approval refused for %r: role grants no requested scope", user.username)
        return HttpResponseRedirect("/profile")
    if approve and tokens.live(user).count() >= tokens.MAX_PER_PERSON:
        messages.error(
            request,
            f"You already have {tokens.MAX_PER_PERSON} app tokens. Revoke one on this "
            "page, then start the sign-in on the device again.",
        )
        logger.warning("device approval refused for %r: token limit reached", user.username)
        return HttpResponseRedirect("/profile")
    if not flow.decide(row, user, approve, bounds.of_session(request).password_fingerprint):
        messages.error(request, CODE_UNKNOWN)
        logger.warning(
            "device approval refused for %r: authorization %s no longer pending", user.username, row.pk
        )
        return HttpResponseRedirect("/pair/device")
    history.record(
        request,
        SignInEvent.Method.DEVICE,
        SignInEvent.Outcome.SUCCESS if approve else SignInEvent.Outcome.REFUSED,
        user=user,
        reason="device_approved" if approve else "device_denied",
        detail=f"authorization {row.pk}: {row.name} ({row.client})",
    )
    logger.info(
        "device authorization %s %s by %r", row.pk, "approved" if approve else "denied", user.username
    )
    if approve:
        messages.success(request, f"{row.name} is connected. It signs in within a few seconds.")
    else:
        messages.info(request, f"{row.name} was denied: it gets no access.")
    return HttpResponseRedirect("/profile")
