"""What accounts tells the apps built on it, so that they react without accounts importing them.

``access_withdrawn`` is sent when a person's access is taken away: the account was deactivated,
or the identity provider no longer grants it (a refused refresh, groups that grant no role, an
unlinked identity, a back-channel logout by ``sub``). Receivers end what their app issued to that
person (``devices`` revokes app and device tokens). Arguments: ``user`` and ``reason`` (a short
code: ``deactivated``, ``provider_ended``, ``recheck_no_role``, ``identity_unlinked`` …).
"""

from django.dispatch import Signal

access_withdrawn = Signal()
