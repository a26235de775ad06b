"""What the provider does when a person's provider session ends or their account is deactivated.

Authentik's worker POSTs a back-channel logout token (OpenID Connect Back-Channel Logout 1.0) to
each client's Logout URI, one per ended session, naming the session's ``sid`` (the value its ID
tokens carried) and the person's ``sub``. Authelia sends none. Deactivating a person deletes all
of their tokens in both products, so the client's next refresh is ``invalid_grant``.
"""

import hashlib
import json
import logging
import time
import uuid

import requests
from django.conf import settings
from django.contrib.sessions.models import Session
from django.utils import timezone
from jwcrypto import jwt as jose_jwt
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
)
from oauth2_provider.settings import oauth2_settings

logger = logging.getLogger(__name__)

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"


def session_sid(session_key):
    """The ``sid`` of the provider session with this key (stable, not the key itself)."""
    return hashlib.sha256(("devidp-sid:" + (session_key or "")).encode()).hexdigest()[:32]


def logout_token(request, application, user, sid):
    """A logout token as Authentik signs it: typ logout+jwt, the provider's key, exp = access token validity.

    ``sid`` None: the token names only the person (``sub``), as a provider does that ends all of
    a person's sessions at once (the specification allows either or both).
    """
    from devidp.oidc import issuer, subject

    now = int(time.time())
    claims = {
        "iss": issuer(request),
        "aud": application.client_id,
        "iat": now,
        "exp": now + oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS,
        "jti": uuid.uuid4().hex,
        "events": {BACKCHANNEL_EVENT: {}},
        "sub": subject(user.username),
    }
    if sid is not None:
        claims["sid"] = sid
    key = application.jwk_key
    header = {"typ": "logout+jwt", "alg": "RS256", "kid": key.thumbprint()}
    token = jose_jwt.JWT(header=json.dumps(header), claims=json.dumps(claims))
    token.make_signed_token(key)
    return token.serialize()


def session_ended(request, user, session_key):
    """Authentik profile with a Logout URI: tell the client this provider session ended."""
    send(request, user, session_sid(session_key))


def person_logged_out(request, user):
    """Tell the client that every session of ``user`` ended: one logout token naming only ``sub``."""
    send(request, user, None)


def send(request, user, sid):
    uri = settings.BACKCHANNEL_LOGOUT_URI
    if settings.AUTHELIA or not uri or user is None or not user.pk:
        return
    for application in get_application_model().objects.all():
        token = logout_token(request, application, user, sid)
        try:
            response = requests.post(uri, data={"logout_token": token}, timeout=5)
        except requests.RequestException as error:
            logger.warning("back-channel logout of %s to %s failed: %s", user.username, uri, type(error).__name__)
            continue
        logger.info("back-channel logout of %s (%s) to %s: HTTP %s", user.username,
                    f"sid {sid}" if sid else "by sub", uri, response.status_code)


def logged_out(sender, request, user, **kwargs):
    """``user_logged_out``: the person ended their provider session (portal or RP-initiated logout)."""
    if request is not None and getattr(request, "session", None) is not None:
        session_ended(request, user, request.session.session_key)


def end_sessions(request, user):
    """An administrator ends every provider session of ``user``; returns how many."""
    ended = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()):
        if session.get_decoded().get("_auth_user_id") == str(user.pk):
            session_ended(request, user, session.session_key)
            session.delete()
            ended += 1
    return ended


def delete_tokens(user):
    """Every access, refresh and ID token and pending code of ``user`` goes."""
    for model in (get_refresh_token_model(), get_access_token_model(), get_id_token_model(), get_grant_model()):
        model.objects.filter(user=user).delete()


def user_saved(sender, instance, **kwargs):
    """A deactivated person keeps no token (both products do this)."""
    if not instance.is_active and instance.pk:
        delete_tokens(instance)
