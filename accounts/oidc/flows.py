"""Sign-ins under way: what the provider's callback needs to finish the one a start began.

A flow is ``{"state", "provider", "next", "created", "link_user"}``. The state is random and
travels to the provider and back; the nonce and the PKCE verifier are derived from it with an
HMAC keyed by SECRET_KEY (``salted_hmac``), so no secret is stored anywhere. A flow begun before
SECRET_KEY was rotated (the old key now in SECRET_KEY_FALLBACKS) is finished with the key that
began it (``key``: 0 for SECRET_KEY, then the fallbacks in order): the key that signed its cookie,
or for a link the key whose fingerprint (``key_id``, an HMAC that does not reveal it) it keeps.

A start keeps its flow in a signed cookie (HttpOnly, SameSite=Lax), not in a session, so a
start that never comes back writes nothing here. Two views read the flows, the start (to add
one) and the callback (to take one), and a cookie has one path: the same list is written under
two names, each scoped to its view's path and sent nowhere else. Linking an identity from the
profile, which only a signed-in person can do, keeps its flow in that person's session.

Each flow is used once: the callback claims its state in the shared cache (``cache.add``), so a
replayed callback (the same cookie again, in another worker) is refused.
"""

import hashlib
import secrets
import time

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.urls import reverse
from django.utils.crypto import salted_hmac

# In a signed-in person's session: {state: flow} of the identities being linked.
FLOWS = "oidc_flows"
# Several tabs may sign in at once; the oldest unfinished attempts make room.
MAX_FLOWS = 10
# The cookies (one per path that reads them) and what signs them.
CALLBACK_COOKIE, START_COOKIE = "oidc_flows", "oidc_flows_start"
SALT = "accounts.oidc.flows"
# Browsers keep a cookie of up to 4096 bytes; older flows make room beyond this, and a longer
# ``next`` is not kept (the sign-in lands on the home page).
MAX_COOKIE_BYTES = 3800
MAX_NEXT = 1000


def new_state():
    return secrets.token_urlsafe(32)


def _keys():
    return [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]


def key_id(secret):
    """A fingerprint of ``secret`` that tells the keys apart and reveals nothing of them."""
    return salted_hmac("accounts.oidc.flows.key-id", "", secret=secret, algorithm="sha256").hexdigest()[:16]


def _key_number(fingerprint):
    """The number of the key with this fingerprint (0, SECRET_KEY, when none has it)."""
    return next((n for n, secret in enumerate(_keys()) if key_id(secret) == fingerprint), 0)


def nonce(state, key=0):
    """The nonce the ID token of the flow ``state`` must carry (begun with key number ``key``)."""
    return salted_hmac("accounts.oidc.flows.nonce", state, secret=_keys()[key], algorithm="sha256").hexdigest()


def verifier(state, key=0):
    """The PKCE code verifier of the flow ``state`` (RFC 7636: 43 to 128 characters)."""
    return salted_hmac("accounts.oidc.flows.pkce", state, secret=_keys()[key], algorithm="sha256").hexdigest()


def keep(request, response, flow):
    """Remember ``flow`` (just begun) for the callback: in the session for a link, else the cookie."""
    if len(flow["next"] or "") > MAX_NEXT:
        flow = {**flow, "next": None}
    if flow["link_user"] is not None:
        flow = {**flow, "key_id": key_id(settings.SECRET_KEY)}
        flows = _live(request.session.get(FLOWS, {}).values())
        request.session[FLOWS] = {f["state"]: f for f in [*flows[-(MAX_FLOWS - 1):], flow]}
    else:
        _write(response, [*_live(_read(request, START_COOKIE)), flow])


def take(request, state):
    """Claim the flow ``state`` began in this browser; None if it is unknown or already used.

    The callback then drops it from the cookie with ``forget``; a link's flow leaves the session
    here.
    """
    if not state or len(state) > 200:
        return None
    flow = next((f for f in _read(request, CALLBACK_COOKIE) if f["state"] == state), None)
    if flow is None:
        flow = request.session.get(FLOWS, {}).get(state)
    if flow is None:
        return None
    # Single use across processes, even if two requests carry the same flow at the same moment.
    # Only the request that wins touches the session: a replay that lost must not write back a
    # session the winner's sign-in has just replaced (Django would answer it with a 400).
    used = "oidc:used-state:" + hashlib.sha256(state.encode()).hexdigest()
    if not cache.add(used, 1, settings.OIDC_STATE_SECONDS * 2):
        return None
    if flow.get("link_user") is not None:
        flows = request.session[FLOWS]
        flows.pop(state, None)
        request.session[FLOWS] = flows
        flow = {**flow, "key": _key_number(flow.get("key_id"))}
    return flow


def forget(request, response, state):
    """The callback's ``response`` drops the flow ``state`` (and expired ones) from the cookie."""
    flows = _read(request, CALLBACK_COOKIE)
    if flows:
        _write(response, [f for f in _live(flows) if f["state"] != state])


def _live(flows):
    """The flows not yet expired, oldest first."""
    now = time.time()
    return sorted((f for f in flows if now - f["created"] < settings.OIDC_STATE_SECONDS), key=lambda f: f["created"])


def _read(request, name):
    """The flows in the cookie ``name``, or [] when it is absent or not signed by this site."""
    value = request.COOKIES.get(name)
    if not value:
        return []
    for key, secret in enumerate(_keys()):
        try:
            flows = signing.loads(value, key=secret, fallback_keys=[], salt=SALT)
            return [{"state": s, "provider": p, "next": n, "created": c, "link_user": None, "key": key}
                    for s, p, n, c in flows]
        except signing.BadSignature:
            continue
        except (ValueError, TypeError):
            return []
    return []


def _write(response, flows):
    """Set both cookies to ``flows`` (at most ``MAX_FLOWS``, newest kept), or delete them."""
    flows = flows[-MAX_FLOWS:]
    while True:
        value = signing.dumps([[f["state"], f["provider"], f["next"], int(f["created"])] for f in flows],
                              salt=SALT, compress=True)
        if len(value) <= MAX_COOKIE_BYTES or len(flows) <= 1:
            break
        flows = flows[1:]
    for name, path in ((CALLBACK_COOKIE, reverse("oidc_callback")), (START_COOKIE, reverse("oidc_start"))):
        if flows:
            response.set_cookie(name, value, max_age=settings.OIDC_STATE_SECONDS, path=path,
                                secure=settings.SESSION_COOKIE_SECURE, httponly=True, samesite="Lax")
        else:
            response.delete_cookie(name, path=path, samesite="Lax")
