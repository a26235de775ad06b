"""What a credential ties the tokens it mints or hands out to, so none outlives it.

- A password (HTTP Basic, a /api/token bearer, a session a password opened, or a token
  minted by one of those): the new token records the password's fingerprint
  (``accounts.api.bearer.password_fingerprint``, an HMAC of the stored hash) and stops when the
  password changes or DISABLE_USERPASS_LOGIN is set.
- A token or /api/token bearer: the new token records it as its minter, expires no later than
  it, and stops when it stops (``devices.client_tokens.stopped``).
- A session a provider (or a break-glass link) opened ties a token to nothing.

Handing out an existing token's raw value (regenerate, pairing code) is minting in all but
name, so ``escapes`` refuses it for a token the credential could not have minted.
"""

from dataclasses import dataclass
from datetime import datetime

from accounts.api.access import PASSWORD_METHODS, session_method
from accounts.api.bearer import password_fingerprint


@dataclass(frozen=True)
class Bounds:
    """The limits a credential passes on; the default, no limits, is a provider's session."""

    password_fingerprint: str = ""
    expires_at: datetime | None = None
    minted_by: object = None  # a ClientToken
    minted_by_api_token: object = None  # an accounts.models.ApiToken

    def cap(self, expires_at):
        """``expires_at`` (None: never), brought forward to the credential's own expiry."""
        if self.expires_at is None:
            return expires_at
        return self.expires_at if expires_at is None else min(expires_at, self.expires_at)

    def fields(self):
        """The new ``ClientToken``'s fields that record these bounds."""
        return {
            "password_fingerprint": self.password_fingerprint,
            "minted_by": self.minted_by,
            "minted_by_api_token": self.minted_by_api_token,
        }

    def describe(self):
        """For the operator's log line: what minted the token."""
        if self.minted_by is not None:
            return f"client token {self.minted_by.pk}"
        if self.minted_by_api_token is not None:
            return "an /api/token bearer"
        return "a password" if self.password_fingerprint else "a session"


def of_session(request):
    """The bounds of the request's signed-in session: its password, if a password opened it."""
    if session_method(request.session) in PASSWORD_METHODS:  # the password form or /api/login
        return Bounds(password_fingerprint=password_fingerprint(request.user))
    return Bounds()


def of(request):
    """The bounds of the credential an ``api_view`` request came with (``request.access``)."""
    access = request.access
    if access.credential == "session":
        return of_session(request)
    if access.credential == "basic":
        return Bounds(password_fingerprint=password_fingerprint(access.user))
    if access.credential == "legacy_bearer":
        token = access.token
        return Bounds(token.password_fingerprint, token.expires_at, minted_by_api_token=token)
    token = access.token  # a client token (a device's token mints nothing: devices/views/client_tokens.py)
    return Bounds(token.password_fingerprint, token.expires_at, minted_by=token)


# Why a credential may not hand out a token's raw value, and what to do instead.
ESCAPES = {
    "expiry": (
        "This token would outlive the credential making this request, which expires. Use a "
        "credential that does not expire, or the profile page (/profile)."
    ),
    "password": (
        "You signed in with a password here, and this token does not stop when your password "
        "changes. Sign in through the identity provider to hand it out, or create a new token."
    ),
}


def escapes(bounds, token, caller_token=None):
    """The ``ESCAPES`` key when handing out ``token``'s raw value would let it outlive ``bounds``.

    None when it would not; a token may always hand out its own value.
    """
    if caller_token is not None and token.pk == caller_token.pk:
        return None
    if bounds.expires_at is not None and (token.expires_at is None or token.expires_at > bounds.expires_at):
        return "expiry"
    if bounds.password_fingerprint and token.password_fingerprint != bounds.password_fingerprint:
        return "password"
    return None
