"""Ending an account's sessions when an administrator takes its access away.

``end_sessions(user)`` deletes every Django session that came from a provider, found through
the ``OIDCSession`` index. Password sessions are not indexed, and need not be: a
deactivated account is refused by the backends' ``get_user`` on its next request, and a
changed password ends them through Django's session auth hash.

The receivers make that hold wherever the change is made (admin form, action, shell):
saving an inactive account or deleting one ends its sessions, and deleting an identity
ends the sessions it signed in.
"""

import logging

from accounts.logout import end_session_keys
from accounts.models import OIDCSession

logger = logging.getLogger(__name__)


def end_sessions(user):
    """Delete the user's OIDC sessions here; returns how many were ended."""
    keys = list(OIDCSession.objects.filter(user=user).values_list("session_key", flat=True))
    if keys:
        logger.info("ended %d session(s) of account %r", len(keys), user.username)
    return end_session_keys(keys)


def end_identity_sessions(identity):
    """Delete the sessions this identity signed in; returns how many were ended."""
    sessions = OIDCSession.objects.filter(issuer=identity.issuer, subject=identity.subject)
    return end_session_keys(list(sessions.values_list("session_key", flat=True)))


def user_saved(sender, instance, **kwargs):
    """An account saved as inactive keeps no session."""
    if kwargs.get("raw") or instance.is_active:
        return
    end_sessions(instance)


def user_deleting(sender, instance, **kwargs):
    """A deleted account's sessions go first, while the index still finds them."""
    end_sessions(instance)


def identity_deleted(sender, instance, **kwargs):
    """An unlinked identity's sessions end with it."""
    end_identity_sessions(instance)
