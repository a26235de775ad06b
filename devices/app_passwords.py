"""App passwords: HTTP Basic with the account's username and one of its client tokens (``rmm_…``).

Apps that can only send a username and a password (LaunchBox plugins, older Steam Deck plugins,
feed readers) then work for people who sign in through the provider and have no password here.
The token acts as it does as a bearer: its scopes AND its owner's current role, its expiry, its
last use; like a bearer it keeps working with DISABLE_USERPASS_LOGIN (it is not a password).
Every attempt counts toward the password rate limit (``accounts.local.ratelimit``), and a token that
is not this username's, or no longer works, is refused with the wrong password's answer.
"""

import hmac
import logging

from django.utils import timezone

from accounts.api import http as apiauth
from accounts.local import ratelimit
from accounts.local.passwords import refused
from accounts.models import SignInEvent
from devices import client_tokens as tokens

logger = logging.getLogger(__name__)

METHOD = SignInEvent.Method.APP_TOKEN


def resolve_basic(request, scheme, credentials):
    """API credential resolver (``settings.API_CREDENTIAL_RESOLVERS``): HTTP Basic whose password
    is shaped like a client token. None for anything else, so the password resolver may try it."""
    if scheme != "basic":
        return None
    pair = apiauth.basic_credentials(credentials)
    if pair is None or not tokens.looks_like_client_token(pair[1]):
        return None
    return authenticate(request, *pair)


def authenticate(request, username, raw):
    """The ``Access`` of ``username``'s token ``raw``, or the refusal a wrong password gets."""
    username = username.replace("\x00", "").strip()[:150]  # as a password sign-in reads it
    if not ratelimit.attempt(request, username):
        return apiauth.password_refusal(refused(request, "rate_limited", username, METHOD))
    token, why = tokens.find(raw, in_use=False)
    owner = token.user.username if token is not None else ""
    # Compared in constant time, also when no token matched.
    if not hmac.compare_digest(owner.encode(), username.encode()) or token is None:
        logger.warning("app password refused: %s", why or "the token belongs to another account")
        return apiauth.password_refusal(refused(request, "invalid_credentials", username, METHOD))
    ratelimit.succeeded(request, username)
    tokens.touch(token, timezone.now())
    return tokens.access(request, token, "app_password")
