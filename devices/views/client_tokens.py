"""``/api/client-tokens…``: an app's own tokens and the pairing codes that hand them over."""

import logging

from django.http import JsonResponse
from django.utils import timezone

from accounts.api.access import SCOPES, api_view, scopes_for_role
from accounts.audit import history
from accounts.models import SignInEvent
from devices import bounds, limits, pairing
from devices import client_tokens as tokens
from devices.jsonbody import BadBody, detail, no_store, public_api, read, text
from devices.models import ClientToken

logger = logging.getLogger(__name__)

EXCHANGES_PER_MINUTE = 5
NOT_FOUND = "There is no such token of yours. List yours with GET /api/client-tokens."
LIMIT_REACHED = (
    f"You already have {tokens.MAX_PER_PERSON} app tokens. Revoke one you no longer use, then try again."
)
DEVICE_MANAGES_ITSELF = (
    "A device's token can manage only itself. Manage your other app tokens on your profile page "
    "(/profile)."
)
CODE_GONE = (
    "This pairing code was already used, has expired or is unknown. Make a new one on the profile page."
)
# RomM's sentence for the exchange: apps read a 404 with it as "make a new code".
EXCHANGE_CODE_GONE = "Invalid or expired pairing code. Make a new one on the profile page."


def token_json(token, raw=None):
    """RomM's ``ClientTokenSchema`` (with ``raw_token``: ``ClientTokenCreateSchema``)."""
    body = {
        "id": token.pk,
        "name": token.name,
        "scopes": token.scopes,
        "expires_at": token.expires_at,
        "last_used_at": token.last_used_at,
        "created_at": token.created_at,
        "user_id": token.user_id,
        "device_id": None if token.device_id is None else str(token.device_id),
    }
    if raw is not None:
        body["raw_token"] = raw
    return body


def listed_json(token):
    """A token as GET lists it: ``token_json`` plus what it is tied to."""
    return {
        **token_json(token),
        # Minted with a password: it stops when the password changes.
        "tied_to_password": bool(token.password_fingerprint),
        # The token that minted it: it stops when that one stops.
        "minted_by": token.minted_by_id,
    }


def requested_scopes(body):
    """The ``scopes`` list of a create request, or BadBody naming the field."""
    scopes = body.get("scopes")
    if not isinstance(scopes, list) or not scopes or not all(isinstance(s, str) for s in scopes):
        raise BadBody(f"scopes must be a non-empty list of scope names ({', '.join(SCOPES)}).")
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise BadBody(f"scopes: {unknown[0][:40]!r} is not a scope; use {', '.join(SCOPES)}.")
    return set(scopes)


def beyond(access, scopes):
    """The first requested scope this request may not hand out (the role's, or the token's), or None."""
    for scope in sorted(scopes):
        if scope not in scopes_for_role(access.user.role):
            return scope, f"your {access.user.role} role does not grant it"
        if scope not in access.scopes:
            return scope, "the token making this request does not have it"
    return None


@api_view("GET", "POST", scope={"GET": "me.read", "POST": "me.write"})
def client_tokens(request):
    """GET lists the caller's tokens; POST ``{name, scopes, expires_in}`` creates one (201)."""
    if request.method == "GET":
        return JsonResponse([listed_json(t) for t in tokens.live(request.user)], safe=False)
    if request.access.device is not None:
        # Removing the device must cut it off: a token it made would outlive it.
        logger.warning("client token refused for %r: requested by a device's token", request.user.username)
        return detail("A device's token cannot make app tokens. Make them on your profile page.", 403)
    try:
        body = read(request)
        name = text(body, "name", 100)
        scopes = requested_scopes(body)
        expires_in = body.get("expires_in") or "never"
        if expires_in not in tokens.EXPIRY_CHOICES:
            raise BadBody(f"expires_in must be one of {', '.join(tokens.EXPIRY_CHOICES)}.")
    except BadBody as error:
        logger.warning("client token refused for %r: %s", request.user.username, error)
        return detail(str(error), 400)
    refused = beyond(request.access, scopes)
    if refused is not None:
        logger.warning("client token refused for %r: scope %s beyond %s", request.user.username, *refused)
        return detail(
            f"You cannot give a token the {refused[0]} scope: {refused[1]}. Choose fewer scopes.", 403
        )
    made = tokens.create_limited(request, name, scopes, expires_in, bounds.of(request))
    if made is None:
        logger.warning(
            "client token refused for %r: %d tokens already", request.user.username, tokens.MAX_PER_PERSON
        )
        return detail(LIMIT_REACHED, 400)
    return no_store(JsonResponse(token_json(made[1], raw=made[0]), status=201))


def own_token(request, pk):
    return tokens.live(request.user).filter(pk=pk).first()


def wider_than_caller(request, token):
    """A 403 when an app token would manage a token with scopes it lacks itself, else None.

    Regenerating or pairing hands out the target's raw value, and revoking it is an act on it:
    a narrow token must not reach a wider sibling that way. A session may manage every token.
    """
    if request.access.credential == "session":
        return None
    refused = beyond(request.access, set(token.scopes))
    if refused is None:
        return None
    logger.warning("client token %s refused to %r's %s: scope %s beyond it", token.pk,
                   request.user.username, request.access.credential, refused[0])
    return detail(
        f"This token cannot manage a token with the {refused[0]} scope: {refused[1]}. "
        "Use the profile page, or a token with that scope.", 403,
    )


def beyond_device(request, token, action):
    """A 403 when a device's token would act on a token other than its own, else None.

    Removing a device must cut it off entirely: a sibling's raw value it obtained, or a
    sibling it revoked, would reach past the device.
    """
    access = request.access
    if access.device is None or token.pk == access.token.pk:
        return None
    logger.warning("%s refused for %r: device %s's token may manage only itself, not token %s",
                   action, request.user.username, access.device.pk, token.pk)
    return detail(DEVICE_MANAGES_ITSELF, 403)


def outlives_caller(request, token, action):
    """A 403 when handing out ``token``'s raw value would let it outlive the caller's credential."""
    why = bounds.escapes(bounds.of(request), token, request.access.token)
    if why is None:
        return None
    logger.warning("%s refused for %r: token %s would outlive the %s making the request (%s)",
                   action, request.user.username, token.pk, request.access.credential, why)
    return detail(bounds.ESCAPES[why], 403)


def token_to_manage(request, pk, action):
    """``(token, None)`` for one of the caller's live tokens whose raw value it may receive,
    else ``(None, refusal)``."""
    token = own_token(request, pk)
    if token is None:
        logger.warning("%s refused for %r: no token %s", action, request.user.username, pk)
        return None, detail(NOT_FOUND, 404)
    refused = (
        beyond_device(request, token, action)
        or wider_than_caller(request, token)
        or outlives_caller(request, token, action)
    )
    return token, refused


@api_view("DELETE", scope="me.write")
def client_token(request, pk):
    """DELETE revokes one of the caller's tokens."""
    token = ClientToken.objects.filter(pk=pk, user=request.user, revoked=False).first()
    refused = None
    if token is not None:
        refused = beyond_device(request, token, "client token revoke") or wider_than_caller(request, token)
    if refused is not None:
        return refused
    updated = ClientToken.objects.filter(pk=pk, user=request.user, revoked=False).update(revoked=True)
    if not updated:
        logger.warning("client token revoke refused for %r: no token %s", request.user.username, pk)
        return detail(NOT_FOUND, 404)
    logger.info("client token %s revoked by %r", pk, request.user.username)
    return JsonResponse({"detail": "Token revoked."})


@api_view("PUT", scope="me.write")
def regenerate(request, pk):
    """PUT gives the token a new raw value (shown once); the old value stops working."""
    token, refused = token_to_manage(request, pk, "client token regenerate")
    if refused is not None:
        return refused
    raw = tokens.rotate(token)
    logger.info("client token %s regenerated by %r", token.pk, request.user.username)
    return no_store(JsonResponse(token_json(token, raw=raw)))


@api_view("POST", scope="me.write")
def pair(request, pk):
    """POST makes a 60-second pairing code for one of the caller's tokens."""
    token, refused = token_to_manage(request, pk, "pairing code")
    if refused is not None:
        return refused
    code = pairing.create(token)
    logger.info("pairing code made for client token %s of %r", token.pk, request.user.username)
    return no_store(JsonResponse({"code": code, "expires_in": int(pairing.LIFETIME.total_seconds())}))


@api_view("GET", scope="me.read")
def pair_status(request, code):
    """GET: 200 while the caller's code is unclaimed, else 404 (used, expired, unknown)."""
    row = pairing.pending(request.user, code)
    if row is None:
        return detail(CODE_GONE, 404)
    seconds = max(0, int((row.expires_at - timezone.now()).total_seconds()))
    return JsonResponse({"status": "pending", "expires_in": seconds})


@api_view("GET", scope="me.read")
def token_pair_status(request, pk):
    """GET: 200 while the caller's token ``pk`` has an unclaimed pairing code, else 404.

    What the profile page polls: it names the token, not the code, so the code is in no URL
    (the RomM-shaped ``pair/<code>/status`` above puts it in the path, where access logs see it).
    """
    token = own_token(request, pk)
    row = pairing.pending_for_token(token) if token is not None else None
    if row is None:
        return detail(CODE_GONE, 404)
    seconds = max(0, int((row.expires_at - timezone.now()).total_seconds()))
    return JsonResponse({"status": "pending", "expires_in": seconds})


@public_api("POST")
def exchange(request):
    """POST ``{code}``: the app receives its token, once; 5 tries a minute per address."""
    if not limits.allow(request, "exchange", EXCHANGES_PER_MINUTE):
        logger.warning("pairing exchange refused: rate limited (address %s)", history.client_address(request))
        return detail("Too many pairing attempts from this address. Wait a minute and try again.", 429)
    try:
        code = text(read(request), "code", 20)
    except BadBody as error:
        logger.warning("pairing exchange refused: %s", error)
        return detail(str(error), 400)
    result = pairing.exchange(code)
    if result is None:
        logger.warning("pairing exchange refused: code unknown, used or expired")
        return detail(EXCHANGE_CODE_GONE, 404)
    raw, token = result
    history.record(
        request,
        SignInEvent.Method.PAIRING,
        SignInEvent.Outcome.SUCCESS,
        user=token.user,
        reason="pairing_exchanged",
        detail=f"token {token.pk}",
    )
    logger.info("pairing code exchanged for client token %s of %r", token.pk, token.user.username)
    return no_store(JsonResponse(token_json(token, raw=raw)))
