"""Logging out: here, at the provider (RP-initiated), and when the provider says so (back-channel)."""

import hashlib
import logging
import secrets
from dataclasses import replace
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import jwt
from django.conf import settings
from django.contrib import auth, messages
from django.core.cache import cache
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from accounts.audit import history
from accounts.errors import SignInError
from accounts.models import Session, SignInEvent
from accounts.oidc import app_recheck, idtoken
from accounts.oidc.provider import get_provider, provider_for_issuer
from accounts.oidc.recheck import revoke_at_logout
from accounts.sessions.ending import end
from accounts.sessions.engine import facts_of

logger = logging.getLogger(__name__)

LOGOUT_STATE = "oidc_logout_state"
# The longest a back-channel request waits on the provider for a document it has not cached.
BACKCHANNEL_FETCH_SECONDS = 1


def with_query(url, params):
    """``url`` with ``params`` added to whatever query it already has."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query=urlencode([*parse_qsl(parts.query), *params.items()])))


def end_session_url(provider, id_token):
    """Where to send the browser to end the provider's session too, or None."""
    if provider is None or not provider.rp_initiated_logout:
        return None
    endpoint = provider.end_session_endpoint
    if not endpoint:
        try:
            endpoint = provider.metadata().get("end_session_endpoint")
        except SignInError as error:
            logger.warning("RP-initiated logout skipped: %s (%s)", error.reason, error.detail)
            return None
    if not endpoint:
        logger.warning(
            "RP-initiated logout skipped: %s has no end_session_endpoint; set %s",
            provider.name,
            provider.vars.get("END_SESSION_ENDPOINT", "OIDC_END_SESSION_ENDPOINT"),
        )
        return None
    state = secrets.token_urlsafe(24)
    params = {"client_id": provider.client_id}
    if id_token:
        params["id_token_hint"] = id_token
    params.update(post_logout_redirect_uri=provider.post_logout_redirect_uri, state=state)
    return with_query(endpoint, params), state


@never_cache
@require_http_methods(["GET", "POST"])
def logout(request):
    """POST ends the session (and the provider's, if enabled); GET asks for confirmation."""
    if request.method == "GET":
        return render(request, "accounts/logout.html")
    facts = facts_of(request.session)
    provider = get_provider(facts["provider"]) if facts.get("provider") else None
    target = end_session_url(provider, request.session.id_token)
    auth.logout(request)
    # RFC 7009, after the local logout: a slow or failing provider never keeps anyone signed in.
    revoke_at_logout(facts)
    if target is None:
        messages.info(request, "You are signed out.")
        return HttpResponseRedirect("/login?local=1")
    url, state = target
    request.session[LOGOUT_STATE] = {"state": state, "provider": provider.display_name}
    logger.info("RP-initiated logout at %s", provider.name)
    return HttpResponseRedirect(url)


def logout_return_message(request):
    """The sentence for someone the provider sent back after logout (``?state=`` on /login)."""
    expected = request.session.pop(LOGOUT_STATE, None)
    state = request.GET.get("state")
    if expected and secrets.compare_digest(expected["state"].encode(), (state or "").encode()):
        return f"You are signed out here and at {expected['provider']}."
    if expected or state:
        # Authentik before 2026.5 drops the state; a stale or foreign one changes nothing.
        return "You are signed out here."
    return None


def _bad_logout_token(description):
    response = JsonResponse({"error": "invalid_request", "error_description": description}, status=400)
    response["Cache-Control"] = "no-store"
    return response


@csrf_exempt
@require_POST
def backchannel_logout(request):
    """OpenID Connect Back-Channel Logout 1.0: the provider ends sessions here by POSTing a logout_token."""
    token = request.POST.get("logout_token")
    if not token or len(token) > 16384:
        logger.warning("back-channel logout refused: no logout_token")
        return _bad_logout_token("logout_token is required")
    try:
        # Only to pick the provider whose keys then verify the token.
        issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
    except (jwt.PyJWTError, AttributeError):
        issuer = None
    provider = provider_for_issuer(issuer) if isinstance(issuer, str) else None
    if provider is not None:
        # Anyone can POST here: a provider that hangs must not hold a worker for OIDC_TIMEOUT.
        provider = replace(provider, fetch_timeout=min(BACKCHANNEL_FETCH_SECONDS, settings.OIDC_TIMEOUT))
    if provider is None:
        logger.warning("back-channel logout refused: issuer %r is not a configured provider", str(issuer)[:200])
        return _bad_logout_token("unknown issuer")
    try:
        claims = idtoken.validate_logout_token(provider, token)
    except SignInError as error:
        logger.warning("back-channel logout refused from %s: %s", provider.name, error.detail)
        return _bad_logout_token("invalid logout_token")
    replay_key = "oidc:logout-jti:" + hashlib.sha256(f"{claims['iss']}\0{claims['jti']}".encode()).hexdigest()
    if not cache.add(replay_key, 1, 7 * 24 * 3600):
        logger.warning("back-channel logout refused from %s: jti replayed", provider.name)
        return _bad_logout_token("logout_token already used")
    sessions = Session.objects.filter(issuer=claims["iss"]).exclude(issuer="")
    if isinstance(claims.get("sid"), str):
        sessions = sessions.filter(sid=claims["sid"])
    if isinstance(claims.get("sub"), str):
        sessions = sessions.filter(subject=claims["sub"])
    sessions = list(sessions.select_related("user"))
    ended = end(Session.objects.filter(session_key__in=[session.session_key for session in sessions]))
    for session in sessions:
        history.record(request, SignInEvent.Method.OIDC, SignInEvent.Outcome.ENDED, user=session.user,
                       reason="backchannel_logout", detail=f"logout token from {provider.name}",
                       provider=session.provider, subject=session.subject)
    if isinstance(claims.get("sub"), str) and not isinstance(claims.get("sid"), str):
        app_recheck.logged_out_by_subject(request, claims["iss"], claims["sub"])  # not one session: the person
    logger.info("back-channel logout from %s ended %d session(s)", provider.name, ended)
    response = JsonResponse({}, status=200)
    response["Cache-Control"] = "no-store"
    return response
