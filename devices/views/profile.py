"""The profile page's apps and devices: client tokens, pairing codes, devices.

The views answer POSTs from the profile page (CSRF-protected forms) by rendering the profile
again, so a new raw token or pairing code is shown once and never travels in a URL. The tokens and
devices are on /profile/sessions too (``sessions_context``), whose revoke buttons lead back there.
"""

import logging

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.profile import render_profile
from devices import bounds, codes, pairing
from devices import client_tokens as tokens
from devices.forms import ClientTokenForm
from devices.models import ClientToken, Device

logger = logging.getLogger(__name__)


def qr_svg(url):
    """The URL as an inline SVG QR code (segno output: only our own URL goes in)."""
    return mark_safe(segno.make_qr(url, error="m").svg_inline(scale=5, dark="#111", light="#fff", border=2))


def apps_context(request, token_form=None, new_token=None, pairing_code=None, paired_token=None, **others):
    """The profile page's apps-and-devices section (``accounts.profile.add_section``)."""
    user = request.user
    context = {
        "token_form": token_form or ClientTokenForm(role=user.role),
        "client_tokens": list(tokens.live(user).select_related("device", "minted_by")),
        "devices": list(Device.objects.filter(user=user).order_by("-last_seen_at", "-created_at")),
        "new_token": new_token,
        "paired_token": paired_token,
        "pairing_code": None,
    }
    if pairing_code:
        url = f"{settings.ROMM_BASE_URL}/pair?{urlencode({'code': pairing_code})}"
        context["pairing_code"] = {
            "raw": pairing_code,
            "display": codes.display(pairing_code),
            "seconds": int(pairing.LIFETIME.total_seconds()),
            "qr": qr_svg(url),
            "url": url,
        }
    return context


def sessions_context(request):
    """/profile/sessions' apps-and-devices section (``accounts.sessions.page.add_section``)."""
    return {
        "client_tokens": list(tokens.live(request.user).select_related("device")),
        "devices": list(Device.objects.filter(user=request.user).order_by("-last_seen_at", "-created_at")),
    }


def _back(request):
    """Where a revoke button's page is: /profile/sessions when it came from there, else /profile."""
    return HttpResponseRedirect("/profile/sessions" if request.POST.get("back") == "sessions" else "/profile")


def _render(request, **apps):
    return render_profile(request, **apps)


@never_cache
@login_required
@require_POST
def create_token(request):
    """The profile's form: a new token, its raw value shown once on the page that answers."""
    form = ClientTokenForm(request.POST, role=request.user.role)
    if not form.is_valid():
        logger.warning(
            "profile: client token form refused for %r: %s", request.user.username, ",".join(form.errors)
        )
        return _render(request, token_form=form, status=400)
    made = tokens.create_limited(
        request,
        form.cleaned_data["name"],
        set(form.cleaned_data["scopes"]),
        form.cleaned_data["expires_in"],
        bounds.of_session(request),
    )
    if made is None:
        form.add_error(
            None, f"You already have {tokens.MAX_PER_PERSON} app tokens. Revoke one you no longer use first."
        )
        logger.warning("profile: client token refused for %r: limit reached", request.user.username)
        return _render(request, token_form=form, status=400)
    raw, token = made
    return _render(request, new_token={"raw": raw, "row": token})


def _own(request, pk):
    return tokens.live(request.user).filter(pk=pk).first()


@never_cache
@login_required
@require_POST
def pair_token(request, pk):
    """Show a 60-second pairing code (and its QR code) for one of the person's tokens."""
    token = _own(request, pk)
    if token is None:
        messages.error(request, "That token is revoked or expired. Create a new one.")
        return HttpResponseRedirect("/profile")
    why = bounds.escapes(bounds.of_session(request), token)
    if why is not None:
        messages.error(request, bounds.ESCAPES[why])
        logger.warning("profile: pairing code refused for %r: token %s would outlive the session (%s)",
                       request.user.username, token.pk, why)
        return HttpResponseRedirect("/profile")
    code = pairing.create(token)
    logger.info("profile: pairing code made for client token %s of %r", token.pk, request.user.username)
    return _render(request, pairing_code=code, paired_token=token)


@login_required
@require_POST
def revoke_token(request, pk):
    if ClientToken.objects.filter(pk=pk, user=request.user, revoked=False).update(revoked=True):
        logger.info("profile: client token %s revoked by %r", pk, request.user.username)
        messages.success(request, "The token is revoked: apps using it are signed out.")
    return _back(request)


@login_required
@require_POST
def remove_device(request, pk):
    """Forget a device and revoke its token."""
    device = Device.objects.filter(pk=pk, user=request.user).first()
    if device is not None:
        ClientToken.objects.filter(device=device, revoked=False).update(revoked=True)
        device.delete()
        logger.info("profile: device %s removed by %r", pk, request.user.username)
        messages.success(request, f"{device.name} is removed and its token revoked.")
    return _back(request)
