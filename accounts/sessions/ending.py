"""Ending an account's sessions when an administrator takes its access away.

Every session someone is signed in to has its account, and a provider's session also its
issuer, subject and sid, as columns of its row (``accounts.models.Session``). A changed
password also ends sessions through Django's session auth hash.

The receivers make that hold wherever the change is made (admin form, action, shell):
saving an inactive account or deleting one ends its sessions, and deleting an identity
ends the sessions it signed in.
"""

import logging

from accounts.models import ApiToken, Session
from accounts.signals import access_withdrawn

logger = logging.getLogger(__name__)


def end(sessions):
    """Delete the sessions of this queryset; returns how many were ended."""
    ended, _ = sessions.delete()
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
