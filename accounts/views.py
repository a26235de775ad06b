"""The login page, the OIDC start and callback, and the signed-in home page."""

import hashlib
import logging
import secrets
import time

from django.conf import settings
from django.contrib import auth, messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.contrib.sessions.backends.base import UpdateError
from django.core.cache import cache
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_GET, require_POST
from mozilla_django_oidc.utils import generate_code_challenge

from accounts import history, recheck
from accounts.errors import SignInError
from accounts.logout import logout_return_message
from accounts.models import SignInEvent
from accounts.passwords import PasswordForm, PasswordRefused, open_session
from accounts.provider import get_provider, providers
from accounts.sessions import commit_without_flush_wait

logger = logging.getLogger(__name__)

FLOWS = "oidc_flows"
PROFILE_URL = "/profile"
MAX_FLOWS = 10


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
    """``/api/login/openid``: remember state, nonce and PKCE verifier, then go to the provider."""
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
    """Store a new flow under a fresh state and send the browser to the provider."""
    state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
    try:
        url = provider.authorization_url(state, nonce, generate_code_challenge(verifier, "S256"))
    except SignInError as error:
        return refuse(request, error, provider, next_url)
    now = time.time()
    flows = {
        key: flow
        for key, flow in request.session.get(FLOWS, {}).items()
        if now - flow["created"] < settings.OIDC_STATE_SECONDS
    }
    # Several tabs may sign in at once; the oldest unfinished attempts make room.
    while len(flows) >= MAX_FLOWS:
        flows.pop(min(flows, key=lambda key: flows[key]["created"]))
    flows[state] = {
        "provider": provider.name,
        "nonce": nonce,
        "verifier": verifier,
        "next": next_url,
        "created": now,
        "link_user": link_user.pk if link_user else None,
    }
    request.session[FLOWS] = flows
    return HttpResponseRedirect(url)


def take_flow(request, state):
    """Remove and return the flow ``state`` began; None if it is unknown or already used."""
    if not state or len(state) > 200:
        return None
    if state not in request.session.get(FLOWS, {}):
        return None
    # Single use across processes, even if two requests read the session at the same moment.
    # Only the request that wins touches the session: a replay that lost must not write back a
    # session the winner's sign-in has just replaced (Django would answer it with a 400).
    used = "oidc:used-state:" + hashlib.sha256(state.encode()).hexdigest()
    if not cache.add(used, 1, settings.OIDC_STATE_SECONDS * 2):
        return None
    # The session row loses the flow with the response's session write (for a sign-in, the
    # old row goes when the new key is written).
    return drop_flow(request.session, state)


def drop_flow(session, state):
    """Remove the flow ``state`` began from ``session`` and return it (None if absent)."""
    flows = session.get(FLOWS, {})
    flow = flows.pop(state, None)
    if flow is not None:
        session[FLOWS] = flows
    return flow


def reread_session(request, session_key, state):
    """The session as it is now, less the flow just used: other tabs may have started flows
    while the provider answered, and the sign-in must not write over them."""
    request.session = request.session.__class__(session_key)
    drop_flow(request.session, state)


def start_session(request, provider, user, session_key, state):
    """Sign ``user`` in on this browser: the session (new key, old row gone), its index row
    with the provider, subject and sid (back-channel and RP logout find it there), the account's
    last_login and the history row. Runs inside the backend's transaction, so a sign-in writes
    all of it with the account and identity in one commit, and the response has nothing left
    to write. Run again from the start if that transaction is retried."""
    commit_without_flush_wait(SignInEvent)
    reread_session(request, session_key, state)
    login = user.oidc_login
    # What the session's index row records beyond the account; accounts.sessions.session_started
    # writes the row with these when auth.login has made the session this person's.
    request.session_index_fields = lambda: {
        "provider": provider.name,
        "issuer": login["issuer"],
        "subject": login["sub"],
        "sid": str(login["sid"] or "")[:255],
        # The ID token is kept server-side, and only when RP-initiated logout needs it.
        "id_token": login["id_token"] if provider.rp_initiated_logout else "",
        # With OIDC_SESSION_RECHECK_SECONDS: the refresh token, encrypted, and the first check.
        **recheck.started(request, provider, login.get("refresh_token")),
    }
    auth.login(request, user, backend="accounts.backend.OIDCBackend")
    history.record(
        request,
        SignInEvent.Method.OIDC,
        SignInEvent.Outcome.SUCCESS,
        user=user,
        provider=provider.name,
        subject=login["sub"],
        provider_ms=login["provider_ms"],
    )
    try:
        request.session.save()
    except UpdateError:
        # Signing in again in a signed-in session (same account: the key stays) while a logout
        # (back-channel, another tab) ended that session: refused, not a 500.
        raise SignInError("conflict", "the session ended while this sign-in wrote it") from None


@require_GET
def oidc_callback(request, name=None):
    """``/api/oauth/openid``: the provider sends the person back here with a code."""
    flow = take_flow(request, request.GET.get("state"))
    provider = get_provider(flow["provider"]) if flow else get_provider(name)
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
            if request.user.is_authenticated:
                # A reloaded or double-submitted callback after a sign-in that worked.
                return HttpResponseRedirect(settings.LOGIN_REDIRECT_URL)
            raise SignInError("state_unknown", "state missing, unknown or already used")
        if provider is None:
            raise SignInError("provider_gone", f"provider {flow['provider']!r} is no longer configured")
        if request.path.rstrip("/") != provider.callback_path:
            raise SignInError("mixup", f"callback for {provider.name} arrived at {request.path}")
        if time.time() - flow["created"] > settings.OIDC_STATE_SECONDS:
            raise SignInError("state_expired", "state older than OIDC_STATE_SECONDS")
        provider.check_response_issuer(request.GET.get("iss"))
        if not request.GET.get("code"):
            raise SignInError("code_missing", "callback without code")
        link_to = None
        if flow.get("link_user"):
            if request.user.pk != flow["link_user"]:
                raise SignInError("link_not_signed_in", "link flow finished outside the session that began it")
            link_to = request.user
        state, session_key = request.GET["state"], request.session.session_key
        user = auth.authenticate(
            request,
            provider=provider,
            code=request.GET["code"],
            nonce=flow["nonce"],
            code_verifier=flow["verifier"],
            link_to=link_to,
            finish=None if link_to else (lambda user: start_session(request, provider, user, session_key, state)),
        )
    except SignInError as error:
        if hasattr(request, "session_index_fields"):
            # The sign-in's transaction rolled back after start_session signed the session in
            # (in memory only): the person goes back to the login page with the session as it was.
            reread_session(request, session_key, state)
        if flow and flow.get("link_user") and request.user.is_authenticated:
            return refuse(request, error, provider, redirect_to=PROFILE_URL)
        return refuse(request, error, provider, next_url)
    if link_to is not None:
        reread_session(request, session_key, state)
        messages.success(request, f"Your {provider.display_name} sign-in is now linked to this account.")
        history.record(request, SignInEvent.Method.OIDC, SignInEvent.Outcome.CHANGED, user=user,
                       reason="linked", provider=provider.name, subject=user.oidc_login["sub"],
                       provider_ms=user.oidc_login["provider_ms"])
        return HttpResponseRedirect(PROFILE_URL)
    if user is None:
        return refuse(request, SignInError("bad_response", "no account returned"), provider, next_url)
    login = user.oidc_login
    logger.info("OIDC sign-in: account %r via %s (sub %s)", user.username, provider.name, login["sub"])
    return HttpResponseRedirect(next_url or settings.LOGIN_REDIRECT_URL)


@login_required
def home(request):
    return render(request, "accounts/home.html", {"identities": request.user.identities.all()})


