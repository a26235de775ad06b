"""The login page, the OIDC start and callback, and the signed-in home page."""

import logging
import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_GET, require_POST
from mozilla_django_oidc.utils import generate_code_challenge

from accounts.audit import history
from accounts.errors import SignInError
from accounts.local.passwords import PasswordForm, PasswordRefused, open_session
from accounts.models import SignInEvent
from accounts.oidc import flows
from accounts.oidc.backend import OIDCBackend
from accounts.oidc.logout import logout_return_message
from accounts.oidc.provider import get_provider, providers
from accounts.signin import complete_sign_in

logger = logging.getLogger(__name__)

PROFILE_URL = "/profile"


def safe_next(value):
    """``value`` when it is a path on this site, else None (no open redirects)."""
    if value and url_has_allowed_host_and_scheme(value, allowed_hosts=None) and value.startswith("/"):
        return value
    return None


def login_url(next_url=None, local=False):
    query = {}
    if next_url:
        query["next"] = next_url
    if local:
        query["local"] = "1"
    return reverse("login") + (f"?{urlencode(query)}" if query else "")


class LoginPage(LoginView):
    """``/login``: a button per provider and, unless disabled, the password form."""

    template_name = "accounts/login.html"
    form_class = PasswordForm
    redirect_authenticated_user = True

    def dispatch(self, request, *args, **kwargs):
        wants_page = request.GET.get("local") == "1" or request.GET.get("bypass_autologin") == "true"
        if "state" in request.GET and request.method == "GET":
            # The provider sent the person back after RP-initiated logout.
            wants_page = True
            messages.info(request, logout_return_message(request) or "You are signed out.")
        first = get_provider()
        if settings.OIDC_AUTOLOGIN and first and request.method == "GET" and not wants_page:
            if not request.user.is_authenticated:
                next_url = safe_next(request.GET.get("next"))
                return redirect(first.start_path + (f"?{urlencode({'next': next_url})}" if next_url else ""))
        return super().dispatch(request, *args, **kwargs)

    def post(self, request, *args, **kwargs):
        if settings.DISABLE_USERPASS_LOGIN:
            messages.error(
                request,
                "Password sign-in is turned off on this site (DISABLE_USERPASS_LOGIN). "
                "Use the sign-in button above.",
            )
            logger.warning("password login refused: DISABLE_USERPASS_LOGIN is set")
            history.record(
                request,
                SignInEvent.Method.PASSWORD,
                SignInEvent.Outcome.REFUSED,
                username=request.POST.get("username", ""),
                reason="password_disabled",
            )
            return redirect(login_url(safe_next(request.POST.get("next")), local=True))
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        try:
            open_session(self.request, form.get_user(), SignInEvent.Method.PASSWORD)
        except PasswordRefused as refusal:
            form.add_error(None, refusal.message)
            return self.form_invalid(form)
        return HttpResponseRedirect(self.get_success_url())

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        next_url = safe_next(self.request.GET.get("next"))
        suffix = f"?{urlencode({'next': next_url})}" if next_url else ""
        context["providers"] = [
            {"label": p.button_text, "url": p.start_path + suffix} for p in providers()
        ]
        context["password_login"] = not settings.DISABLE_USERPASS_LOGIN
        return context


def refuse(request, error, provider=None, next_url=None, redirect_to=None):
    """Show the person why the sign-in failed, log one line, and go back to the login page."""
    label = provider.display_name if provider else "The sign-in provider"
    messages.error(request, error.message(label))
    logger.warning(
        "OIDC sign-in refused: reason=%s provider=%s %s",
        error.reason,
        provider.name if provider else "-",
        error.detail,
    )
    history.record(
        request,
        SignInEvent.Method.OIDC,
        SignInEvent.Outcome.REFUSED,
        reason=error.reason,
        detail=error.detail,
        provider=provider.name if provider else "",
        subject=error.context.get("subject", ""),
        provider_ms=error.provider_ms,
    )
    return HttpResponseRedirect(redirect_to or login_url(next_url, local=True))


@require_GET
def oidc_start(request, name=None):
    """``/api/login/openid``: begin a sign-in (``accounts.oidc.flows``) and send the browser to the provider."""
    provider = get_provider(name)
    if provider is None:
        messages.error(request, "Single sign-on is not configured on this site.")
        logger.warning("OIDC start refused: no provider %r configured", name)
        return HttpResponseRedirect(login_url(local=True))
    return begin_flow(request, provider, safe_next(request.GET.get("next")))


@login_required
@require_POST
def oidc_link(request, name):
    """``/profile/link/<name>``: sign in at a provider to join that identity to this account."""
    provider = get_provider(name)
    if provider is None:
        messages.error(request, "That sign-in provider is not configured on this site.")
        return HttpResponseRedirect(PROFILE_URL)
    return begin_flow(request, provider, PROFILE_URL, link_user=request.user)


def begin_flow(request, provider, next_url, link_user=None):
    """Begin a flow under a fresh state and send the browser to the provider."""
    state = flows.new_state()
    challenge = generate_code_challenge(flows.verifier(state), "S256")
    try:
        url = provider.authorization_url(state, flows.nonce(state), challenge)
    except SignInError as error:
        return refuse(request, error, provider, next_url)
    response = HttpResponseRedirect(url)
    flows.keep(request, response, {
        "state": state,
        "provider": provider.name,
        "next": next_url,
        "created": time.time(),
        "link_user": link_user.pk if link_user else None,
    })
    return response


@require_GET
def oidc_callback(request, name=None):
    """``/api/oauth/openid``: the provider sends the person back here with a code."""
    state = request.GET.get("state")
    flow = flows.take(request, state)
    response = finish_flow(request, flow, get_provider(flow["provider"]) if flow else get_provider(name))
    if flow is not None:
        flows.forget(request, response, state)
    return response


def finish_flow(request, flow, provider):
    """The callback's answer for ``flow`` (None: unknown or used): signed in, linked, or refused."""
    next_url = flow["next"] if flow else None
    try:
        if flow is None and not request.user.is_authenticated:
            # Without a flow of this browser, an ?error= is as unknown as a code.
            raise SignInError("state_unknown", "state missing, unknown or already used")
        if "error" in request.GET:
            error = request.GET["error"]
            error = error if error.isascii() and error.replace("_", "").isalnum() else "unknown_error"
            raise SignInError(
                "provider_denied",
                f"error={error} description={request.GET.get('error_description', '')[:200]!r}",
                error=error,
            )
        if flow is None:
            # A reloaded or double-submitted callback after a sign-in that worked.
            return HttpResponseRedirect(settings.LOGIN_REDIRECT_URL)
        if provider is None:
            raise SignInError("provider_gone", f"provider {flow['provider']!r} is no longer configured")
        if request.path.rstrip("/") != provider.callback_path:
            raise SignInError("mixup", f"callback for {provider.name} arrived at {request.path}")
        if time.time() - flow["created"] > settings.OIDC_STATE_SECONDS:
            raise SignInError("state_expired", "state older than OIDC_STATE_SECONDS")
        provider.check_response_issuer(request.GET.get("iss"))
        if not request.GET.get("code"):
            raise SignInError("code_missing", "callback without code")
        if flow["link_user"] is not None:
            return link(request, provider, flow)
        complete_sign_in(request, provider, flow, request.GET["code"])
    except SignInError as error:
        if flow and flow["link_user"] is not None and request.user.is_authenticated:
            return refuse(request, error, provider, redirect_to=PROFILE_URL)
        return refuse(request, error, provider, next_url)
    return HttpResponseRedirect(next_url or settings.LOGIN_REDIRECT_URL)


def link(request, provider, flow):
    """Join the identity the provider vouches for to the signed-in account that began ``flow``."""
    if request.user.pk != flow["link_user"]:
        raise SignInError("link_not_signed_in", "link flow finished outside the session that began it")
    backend = OIDCBackend(provider, request)
    oidc_login = backend.verify(request.GET["code"], flows.nonce(flow["state"], flow.get("key", 0)),
                                flows.verifier(flow["state"], flow.get("key", 0)))
    try:
        backend.link_identity(request.user, oidc_login)
    except SignInError as error:
        error.provider_ms = oidc_login.provider_ms
        raise
    messages.success(request, f"Your {provider.display_name} sign-in is now linked to this account.")
    history.record(request, SignInEvent.Method.OIDC, SignInEvent.Outcome.CHANGED, user=request.user,
                   reason="linked", provider=provider.name, subject=oidc_login.subject,
                   provider_ms=oidc_login.provider_ms)
    return HttpResponseRedirect(PROFILE_URL)


@login_required
def home(request):
    return render(request, "accounts/home.html", {"identities": request.user.identities.all()})


