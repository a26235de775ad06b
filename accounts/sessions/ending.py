"""Ending sessions: one a person signs out from another browser, an administrator's pick, and
every session of an account whose access an administrator takes away.

Every session someone is signed in to has its account, and a provider's session also its
issuer, subject and sid, as columns of its row (``accounts.models.Session``). A changed
password also ends sessions through Django's session auth hash.

The receivers make that hold wherever the change is made (admin form, action, shell):
saving an inactive account or deleting one ends its sessions, and deleting an identity
ends the sessions it signed in.

``sign_out`` ends chosen sessions as logging out ends one's own: the row goes (so the session's
next request, whichever process serves it, is anonymous: sessions are read from the database on
every request, never from a per-process cache), and the provider's refresh token is revoked
(RFC 7009) as at logout.
"""

import logging

from accounts.audit import history
from accounts.models import ApiToken, Session, SignInEvent
from accounts.oidc.recheck import revoke_at_logout
from accounts.sessions.browsers import in_words
from accounts.signals import access_withdrawn

logger = logging.getLogger(__name__)


def end(sessions):
    """Delete the sessions of this queryset; returns how many were ended."""
    ended, _ = sessions.delete()
    return ended


def sign_out(request, sessions, reason, by):
    """End each of these sessions (a queryset) as a logout would; returns the rows ended.

    Each one ended is one log line and one sign-in history row (outcome "ended", ``reason``, and
    the session's browser and address followed by ``by``, who ended it); a session that ended
    meanwhile is skipped. The refresh tokens are revoked once every row is gone: a slow or
    failing provider never keeps a session open, and one that does not answer a revocation is
    asked no more in this batch (one line in the log counts the tokens left).
    """
    ended = []
    for row in sessions.select_related("user"):
        if not end(Session.objects.filter(session_key=row.session_key)):
            continue
        ended.append(row)
        detail = f"{in_words(row.user_agent)} at {row.ip_address or 'an unknown address'}, {by}"
        logger.info("session %s of account %r ended: %s, %s", row.public_id, row.user.username, reason, detail)
        method = row.signin_method or (SignInEvent.Method.OIDC if row.issuer else SignInEvent.Method.PASSWORD)
        history.record(request, method, SignInEvent.Outcome.ENDED, user=row.user, reason=reason, detail=detail,
                       provider=row.provider, subject=row.subject)
    unanswered = {}
    for row in ended:
        revoke_at_logout({"refresh_token": row.refresh_token, "provider": row.provider, "issuer": row.issuer,
                          "subject": row.subject}, unanswered)
    for name, count in unanswered.items():
        if count:
            logger.warning("%d more refresh token%s of the sessions ended not revoked at %s: it did not answer "
                           "the first revocation (they expire there on their own)", count, "" if count == 1 else "s", name)
    return ended


def end_sessions(user):
    """Delete the account's sessions here; returns how many were ended."""
    ended = end(Session.objects.filter(user=user))
    if ended:
        logger.info("ended %d session(s) of account %r", ended, user.username)
    return ended


def end_identity_sessions(identity):
    """Delete the sessions this identity signed in; returns how many were ended."""
    return end(Session.objects.filter(issuer=identity.issuer, subject=identity.subject).exclude(issuer=""))


def user_saved(sender, instance, **kwargs):
    """An account saved as inactive keeps no session and no token, even once reactivated."""
    if kwargs.get("raw") or instance.is_active:
        return
    end_sessions(instance)
    access_withdrawn.send(sender=sender, user=instance, reason="deactivated")


def revoke_api_tokens(sender, user, reason, **kwargs):
    """Access taken away (``accounts.signals.access_withdrawn``): the password-grant tokens stop."""
    ApiToken.objects.filter(user=user, revoked=False).update(revoked=True)


def user_deleting(sender, instance, **kwargs):
    """A deleted account's sessions go first (its rows would go with it; this logs them)."""
    end_sessions(instance)


def identity_deleted(sender, instance, **kwargs):
    """An unlinked identity's sessions end with it."""
    end_identity_sessions(instance)
