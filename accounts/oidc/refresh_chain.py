"""The identity's copy of the provider's refresh token: one token, two holders.

With ``OIDC_SESSION_RECHECK_SECONDS`` on, a sign-in's refresh token is kept by the browser
session it opened (``accounts.oidc.recheck``) and, here, by the identity, so that app tokens used
without any browser session can be confirmed at the provider too (``accounts.oidc.app_recheck``).
Both holders hold one chain: each refresh rotates the token and the provider honours only the
newest, and presenting a rotated-away one is refused (Authelia may then revoke the whole chain).
So the two never spend a token on their own:

- the identity remembers the SHA-256 of the session's copy (``refresh_token_shared``); when
  that session's check falls due it spends the identity's token instead, which is the same one
  or a newer one of the chain, under the identity's claim (``recheck_busy_until``), and both
  then hold the token the provider returned;
- a newer sign-in gives the identity its chain; if the identity had rotated the previous
  chain past the copy its session holds, the newest token of that chain is handed over
  (``refresh_token_handover``) to that session's next check. There is one such slot: a session
  two sign-ins behind, whose chain the apps also moved on, finds its token refused and ends.

Each function here is one step that ``accounts.oidc.recheck``, ``accounts.oidc.backend`` or
``accounts.oidc.app_recheck`` calls; each writes through the ORM with conditional UPDATEs, so
several processes agree without a lock held across a provider call.
"""

import hashlib
from datetime import timedelta

from django.conf import settings
from django.db.models import OuterRef, Q, Subquery
from django.db.models.functions import Coalesce, Least
from django.utils import timezone

from accounts.models import Identity
from accounts.oidc import sealed

# The identity is busy while a refresh runs: longer than the provider calls it guards can take.
BUSY_MARGIN_SECONDS = 5
# ``session_token``'s answer when another request is refreshing the shared chain: skip this check.
BUSY = object()
CLEARED = {
    "refresh_token": "",
    "refresh_token_shared": "",
    "recheck_due_at": None,
    "recheck_failing_since": None,
    "recheck_busy_until": None,
}


def fingerprint(token):
    return hashlib.sha256(token.encode()).hexdigest() if token else ""


def busy_until(now):
    return now + timedelta(seconds=2 * settings.OIDC_TIMEOUT + BUSY_MARGIN_SECONDS)


def owner_due():
    """For a query on a model with a ``user``: when a use of the owner's app tokens must first look
    at their identities (the earliest check due; at once while a provider is failing to answer)."""
    identities = Identity.objects.filter(user=OuterRef("user"), recheck_due_at__isnull=False)
    # Least() of a NULL is NULL on SQLite: a failure-free identity compares its due time with itself.
    look = Least("recheck_due_at", Coalesce("recheck_failing_since", "recheck_due_at"))
    return Subquery(identities.annotate(look=look).order_by("look").values("look")[:1])


# --- at sign-in ---------------------------------------------------------------------------------
def adopted(identity, provider, refresh_token, shared, now):
    """The identity's fields once it keeps this sign-in's ``refresh_token`` (an empty dict: nothing to keep).

    ``shared``: the sign-in's browser session keeps the same token (a sign-in; not a link from
    the profile, which opens no session).
    """
    if not provider.session_recheck_seconds or not refresh_token:
        return {}
    fields = {
        "refresh_token": sealed.seal(refresh_token),
        "refresh_token_shared": fingerprint(refresh_token) if shared else "",
        "recheck_due_at": now + timedelta(seconds=provider.session_recheck_seconds),
        "recheck_failing_since": None,
        "recheck_busy_until": None,
    }
    kept = sealed.unseal(identity.refresh_token)
    if kept and identity.refresh_token_shared and fingerprint(kept) != identity.refresh_token_shared:
        # The previous chain moved past its session's copy: that session gets the newest token.
        fields["refresh_token_handover"] = identity.refresh_token
        fields["refresh_token_handover_for"] = identity.refresh_token_shared
    for name, value in fields.items():
        setattr(identity, name, value)
    return fields


# --- claiming the identity for a refresh ------------------------------------------------------
def claim(identity, now, due_only=True):
    """Take the identity for one refresh; False when another request has it (or, ``due_only``, not due)."""
    free = Q(recheck_busy_until__isnull=True) | Q(recheck_busy_until__lte=now)
    rows = Identity.objects.filter(free, pk=identity.pk).exclude(refresh_token="")
    if due_only:
        rows = rows.filter(recheck_due_at__lte=now)
    until = busy_until(now)
    if not rows.update(recheck_busy_until=until):
        return False
    identity.recheck_busy_until = until
    return True


def rotated(identity, token):
    """The provider answered a refresh with ``token`` (the only one it honours now): keep it at once."""
    identity.refresh_token = sealed.seal(token)
    Identity.objects.filter(pk=identity.pk).update(refresh_token=identity.refresh_token)


# --- the session recheck's turn (accounts.oidc.recheck) ----------------------------------------------
def session_token(issuer, subject, token):
    """The refresh token a session's check should spend, or ``BUSY`` to skip this check.

    ``token`` is the session's own copy: it is spent as it is unless the identity shares its
    chain, in which case the identity's (the same or newer) is spent under the identity's claim.
    """
    mark = fingerprint(token)
    if not mark:
        return token
    identity = Identity.objects.filter(issuer=issuer, subject=subject).first()
    if identity is None:
        return token
    if mark == identity.refresh_token_handover_for:
        handed = Identity.objects.filter(pk=identity.pk, refresh_token_handover_for=mark)
        if handed.update(refresh_token_handover="", refresh_token_handover_for=""):
            return sealed.unseal(identity.refresh_token_handover) or token
        return BUSY
    if mark != identity.refresh_token_shared:
        return token
    if not claim(identity, timezone.now(), due_only=False):
        return BUSY
    return sealed.unseal(identity.refresh_token) or token


def session_refreshed(issuer, subject, spent, token, due):
    """A session's check spent ``spent`` and received ``token``: the identity keeps it too, if it shares
    the chain."""
    identity = Identity.objects.filter(issuer=issuer, subject=subject).first()
    if identity is None or not identity.refresh_token:
        return
    mark = fingerprint(spent)
    if mark not in (identity.refresh_token_shared, fingerprint(sealed.unseal(identity.refresh_token))):
        return
    Identity.objects.filter(pk=identity.pk, refresh_token=identity.refresh_token).update(
        refresh_token=sealed.seal(token),
        refresh_token_shared=fingerprint(token),
        recheck_due_at=due,
        recheck_failing_since=None,
        recheck_busy_until=None,
    )


def session_failed(issuer, subject, spent):
    """A session's check could not spend ``spent``: if it was the identity's, the identity is free again."""
    identity = Identity.objects.filter(issuer=issuer, subject=subject).first()
    if identity is not None and fingerprint(sealed.unseal(identity.refresh_token)) == fingerprint(spent):
        claimed = Identity.objects.filter(pk=identity.pk, refresh_token=identity.refresh_token)
        claimed.update(recheck_busy_until=None)


def shares_chain(identity, token):
    """Whether the session holding ``token`` holds the identity's chain: ``"current"``,
    ``"handover"`` (the previous chain, handed over) or None."""
    mark = fingerprint(token)
    if identity is None or not mark:
        return None
    if mark == identity.refresh_token_shared and identity.refresh_token:
        return "current"
    if mark == identity.refresh_token_handover_for:
        return "handover"
    return None


def clear(identity):
    """The identity keeps no refresh token any more (its chain ended, or nothing needs it)."""
    Identity.objects.filter(pk=identity.pk).update(**CLEARED)
    for name, value in CLEARED.items():
        setattr(identity, name, value)
