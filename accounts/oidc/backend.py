"""Who a person is here: the identity policy, top to bottom.

Signing in with a provider is two steps. ``OIDCBackend.verify`` redeems the code and checks
what the provider answered (its HTTP calls; nothing is written): an ``OIDCLogin``, the login's
facts. ``authenticate`` (through Django's ``auth.authenticate``, inside the sign-in's
transaction) then decides the account: a known ``(issuer, sub)`` signs into its account;
otherwise a verified email links to the one account that has it; otherwise an account is
created if registration is allowed. Every refusal is a ``SignInError``; whatever was written
before it rolls back with the sign-in's transaction.

The backend is Django's ``BaseBackend``: a provider is data passed with each login (several
can be configured, ``accounts.oidc.provider``), not module settings read once, and the code flow,
its state and the token checks live in ``accounts.oidc.provider`` and ``accounts.signin``. The hook
names follow mozilla-django-oidc's (``get_userinfo``, ``filter_users_by_claims``,
``create_user``, ``update_user``) so the policy reads as that library's readers expect.
"""

import logging
import re
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import BaseBackend, ModelBackend
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.audit import history
from accounts.errors import SignInError
from accounts.models import Identity, Role, SignInEvent, email_key
from accounts.oidc import client as provider_client
from accounts.oidc import email_domains, groups, idtoken, refresh_chain, userinfo
from accounts.oidc.provider import PROTOCOL_CLAIMS, Provider
from accounts.oidc.roles import MISSING, claim_strings, claim_value, resolve_role

logger = logging.getLogger(__name__)

USERNAME_UNSAFE = re.compile(r"[^\w.@+-]+")
# Simultaneous first sign-ins that need one username: each INSERT that loses tries the next free name.
USERNAME_TRIES = 25


@dataclass(frozen=True)
class OIDCLogin:
    """What a provider's answer proved: who signed in there, and the tokens this site keeps."""

    provider: Provider
    payload: dict  # the validated ID token's claims
    claims: dict  # the same, completed from userinfo
    id_token: str
    refresh_token: str | None
    # How long the provider took to answer the token request, in milliseconds (for the sign-in
    # history: the sign-in health report's provider response times).
    provider_ms: float | None = None

    @property
    def issuer(self):
        return self.payload["iss"]

    @property
    def subject(self):
        return self.payload["sub"]

    @property
    def sid(self):
        return self.payload.get("sid")


class OIDCBackend(BaseBackend):
    """Signs a person in through an OpenID provider and decides which account they get."""

    def __init__(self, provider=None, request=None):
        self.UserModel = get_user_model()
        self.provider, self.request = provider, request

    def verify(self, code, nonce, code_verifier):
        """Redeem the code at ``self.provider`` and validate the answer; returns an ``OIDCLogin``.

        Only talks to the provider: run it before the sign-in's transaction opens, so no
        database lock waits on the provider.
        """
        tokens, provider_ms = provider_client.exchange_code(self.provider, code, code_verifier)
        try:
            payload = idtoken.validate_id_token(self.provider, tokens["id_token"], nonce)
            claims = self.get_userinfo(tokens.get("access_token"), tokens["id_token"], payload)
        except SignInError as error:
            error.provider_ms = provider_ms
            raise
        refresh_token = tokens.get("refresh_token")
        return OIDCLogin(self.provider, payload, claims, tokens["id_token"],
                         refresh_token if isinstance(refresh_token, str) else None, provider_ms)

    def authenticate(self, request, oidc_login=None):
        """The account ``oidc_login`` signs into, its identity and role brought up to date.

        Writes the account and identity: call it inside the sign-in's transaction.
        """
        if oidc_login is None:
            return None
        self.request, self.provider = request, oidc_login.provider
        # The browser session this sign-in opens keeps the same refresh token (record_identity).
        self.oidc_login, self.shared = oidc_login, True
        claims = oidc_login.claims
        self.check_email_domain(claims)
        role = resolve_role(self.provider, claims)
        for attempt in (1, 2):
            identity = self.find_identity(oidc_login.issuer, oidc_login.subject)
            if identity is not None:
                return self.sign_into(identity, claims, role)
            try:
                with transaction.atomic():
                    user = self.link_or_create(claims, role)
                    identity = Identity(user=user, issuer=oidc_login.issuer, subject=oidc_login.subject)
                    return self.sign_into(identity, claims, role)
            except IntegrityError as exc:
                # A simultaneous first sign-in (PostgreSQL; SQLite's write lock serialises them)
                # took the identity, the username or the email first: the retry sees it.
                if attempt == 2:
                    raise SignInError("conflict", f"{type(exc).__name__} while linking") from None
                logger.info("OIDC sign-in of %s lost a race to a simultaneous one; retrying", oidc_login.subject)

    def get_user(self, user_id):
        """The session's account, unless it was deactivated since."""
        try:
            user = self.UserModel._default_manager.get(pk=user_id)
        except self.UserModel.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None

    @staticmethod
    def user_can_authenticate(user):
        return user.is_active

    # --- claims ----------------------------------------------------------------------
    def get_userinfo(self, access_token, id_token, payload, refreshed=False):
        """The ID token's claims, completed from userinfo when a needed claim is missing.

        Asked for in the ID token through the claims parameter (``Provider.claims_request``), they
        are usually all there; a provider that ignores the parameter, or a scope it did not grant,
        leaves one out, and userinfo is asked as without the parameter. A ``refreshed`` ID token
        of a provider that takes the parameter may repeat the values of the sign-in (Authelia
        keeps the claims it added then), so there userinfo, which is current, is always asked.
        """
        claims = dict(payload)
        stale = refreshed and self.provider.metadata().get("claims_parameter_supported") is True
        if not stale and all(claim_value(claims, name) is not MISSING for name in self.provider.needed_claims()):
            return idtoken.readable(claims)
        if not access_token or not userinfo.has_userinfo(self.provider):
            return idtoken.readable(claims)
        answer = userinfo.fetch_userinfo(self.provider, access_token)
        if answer.get("sub") != payload["sub"]:
            raise SignInError("userinfo_mismatch", "userinfo sub differs from the ID token's sub")
        claims.update({name: value for name, value in answer.items() if name not in PROTOCOL_CLAIMS})
        return idtoken.readable(claims)

    def email_is_verified(self, claims):
        """False when the provider says so, or lists the claim and does not say exactly true."""
        value = claims.get("email_verified", MISSING)
        if value is False or (isinstance(value, str) and value.strip().lower() == "false"):
            return False
        if "email_verified" in (self.provider.metadata().get("claims_supported") or []):
            return value is True
        return True

    @staticmethod
    def usable_email(claims, quiet=False):
        email = claims.get("email")
        if not isinstance(email, str) or not email.strip():
            return None
        try:
            validate_email(email.strip())
            if len(email.strip()) > 254:  # the email columns' length
                raise ValidationError("too long")
        except ValidationError:
            if not quiet:
                logger.warning("OIDC email claim %r is not an email address; ignored", email[:100])
            return None
        return email.strip()

    def check_email_domain(self, claims):
        """``OIDC_ALLOWED_EMAIL_DOMAINS``: refuse an email elsewhere, or none usable (accounts.oidc.email_domains)."""
        if self.provider.allowed_email_domains:
            email = self.usable_email(claims, quiet=True)
            email_domains.check(self.provider, email, email is not None and self.email_is_verified(claims), claims)

    # --- the policy ----------------------------------------------------------------------
    @staticmethod
    def find_identity(issuer, subject):
        """The identity ``(issuer, subject)`` with its account, or None."""
        return next(iter(Identity.objects.select_related("user").filter(issuer=issuer, subject=subject)[:1]), None)

    def sign_into(self, identity, claims, role):
        """The identity's account, if active, with the identity recorded and the role applied.

        The identity's row first, then the account's (``update_user``, then ``sign_in``'s last_login):
        every sign-in takes them in this order, so simultaneous ones wait for each other, never deadlock.
        """
        user = identity.user
        if not self.user_can_authenticate(user):
            raise SignInError("inactive", f"account {user.username!r} is inactive")
        self.record_identity(identity, claims)
        self.update_user(user, claims, role)
        return user

    def link_identity(self, user, oidc_login):
        """Join this identity to ``user``, unless another account holds it or one from this issuer."""
        self.provider = oidc_login.provider
        # A link opens no session: the identity alone keeps the refresh token (record_identity).
        self.oidc_login, self.shared = oidc_login, False
        issuer, subject = oidc_login.issuer, oidc_login.subject
        self.check_email_domain(oidc_login.claims)
        try:
            with transaction.atomic():
                identity = Identity.objects.filter(issuer=issuer, subject=subject).first()
                if identity is not None and identity.user_id != user.pk:
                    raise SignInError("identity_linked_elsewhere", f"identity {subject} belongs to another account")
                if identity is None:
                    if user.identities.filter(issuer=issuer).exists():
                        raise SignInError(
                            "already_linked_here", f"account {user.username!r} already has an identity there"
                        )
                    identity = Identity(user=user, issuer=issuer, subject=subject)
                    logger.info("OIDC identity %s of %s linked to account %r from the profile",
                                subject, issuer, user.username)
                self.record_identity(identity, oidc_login.claims)
        except IntegrityError as exc:
            raise SignInError("conflict", f"{type(exc).__name__} while linking") from None
        return user

    def link_or_create(self, claims, role):
        """A first sign-in: link to the account whose confirmed email this is, or create one.

        Accounts that typed this address for themselves (unconfirmed; several may have) never
        link: a provider-verified address outranks them, and they give it up.
        """
        email = self.usable_email(claims)
        if email and not self.email_is_verified(claims):
            raise SignInError("email_unverified", f"email_verified={claims.get('email_verified')!r}")
        holders = list(self.filter_users_by_claims({"email": email})) if email else []
        confirmed = [user for user in holders if user.email_confirmed]
        squatters = [user for user in holders if not user.email_confirmed]
        if len(confirmed) > 1:
            raise SignInError("ambiguous_email", f"{len(confirmed)} accounts share the email")
        for user in confirmed or squatters:
            if user.is_administrator:
                # An email address at the provider may be self-typed (enrollment, email changes);
                # it must never be the key to an administrator's account.
                raise SignInError("admin_email_link", f"account {user.username!r} is an administrator; not linked")
        if holders and not self.provider.email_linking:
            # Emails from this provider are not trusted for accounts: not to join one, nor to
            # take an address from one.
            raise SignInError("email_linking_off", f"account {holders[0].username!r} has the email; not linked")
        if not confirmed:
            return self.create_user(dict(claims, email=email or ""), role, squatters=squatters)
        user = confirmed[0]
        if user.identities.filter(issuer=claims["iss"]).exists():
            raise SignInError(
                "account_linked_elsewhere", f"account {user.username!r} is linked to another subject"
            )
        if not self.user_can_authenticate(user):
            raise SignInError("inactive", f"account {user.username!r} is inactive")
        for squatter in squatters:
            if not squatter.is_administrator:  # an administrator's address is never taken by email
                self.release_email(squatter, claims)
        logger.info("OIDC identity %s of %s linked to account %r by email", claims["sub"], claims["iss"], user.username)
        return user

    def filter_users_by_claims(self, claims):
        """Accounts whose email is this one, compared as ``accounts.models.email_key`` says."""
        return self.UserModel.objects.filter(email_key=email_key(claims.get("email")))

    def release_email(self, squatter, claims):
        """Clear an unconfirmed, self-typed email so its real owner can have it."""
        self.UserModel.objects.filter(pk=squatter.pk).update(email="", email_key="")
        logger.warning(
            "OIDC: unconfirmed email of account %r cleared; %s of %s verified it",
            squatter.username, claims["sub"], claims["iss"],
        )
        history.record(
            self.request, SignInEvent.Method.OIDC, SignInEvent.Outcome.CHANGED, user=squatter,
            reason="email_released", detail="self-typed email verified by another person at the provider",
            provider=self.provider.name, subject=str(claims.get("sub", "")),
        )

    def create_user(self, claims, role=None, squatters=()):
        """A new account named after ``OIDC_USERNAME_ATTRIBUTE``, with the granted role.

        ``squatters``: accounts holding this email unconfirmed, which give it up first.
        """
        if not self.provider.allow_registration:
            raise SignInError("registration_closed", "no account matches and registration is off")
        for squatter in squatters:
            self.release_email(squatter, claims)
        user = self.UserModel(
            username=self.get_username(claims),
            email=claims.get("email") or "",
            first_name=str(claims.get("given_name") or "").replace("\x00", "")[:150],
            last_name=str(claims.get("family_name") or "").replace("\x00", "")[:150],
            role=role or Role.VIEWER,
        )
        user.set_unusable_password()
        self.insert_with_free_username(user, claims)
        logger.info("OIDC account %r created for %s of %s as %s", user.username, claims["sub"], claims["iss"], user.role)
        return user

    def insert_with_free_username(self, user, claims):
        """Save the new ``user``; when a simultaneous first sign-in took its username, take the next.

        ``get_username`` reads which names are taken, but first sign-ins that need the same name
        read it at the same moment on PostgreSQL (SQLite's write lock runs them one after the
        other): the INSERT that comes second hits the unique username. It is retried in a
        savepoint, so the sign-in's transaction goes on; the winner's row is committed by then,
        so ``get_username`` now skips it. Any other conflict (the same person's simultaneous
        sign-in took the email) goes up to ``authenticate``, which looks again.
        """
        for _ in range(USERNAME_TRIES):
            try:
                with transaction.atomic():
                    user.save()
                return
            except IntegrityError:
                if not self.UserModel.objects.filter(username=user.username).exists():
                    raise
                taken, user.username = user.username, self.get_username(claims)
                logger.info("OIDC username %r was taken by a simultaneous sign-in; trying %r", taken, user.username)
        raise SignInError("conflict", f"no free username after {USERNAME_TRIES} tries")

    def get_username(self, claims):
        """A valid username no account uses yet, from the configured claim or a fallback."""
        for name in (self.provider.username_attribute, "preferred_username", "email", "name"):
            value = claims.get(name)
            if isinstance(value, str) and value.strip():
                if name == "email" and name != self.provider.username_attribute:
                    value = value.split("@")[0]  # a fallback, not a chosen attribute
                base = USERNAME_UNSAFE.sub("-", value.strip()).strip("-")[:140]
                if base:
                    break
        else:
            base = "user"
        username, number = base, 1
        while self.UserModel.objects.filter(username__iexact=username).exists():
            number += 1
            username = f"{base}-{number}"
        return username

    def update_user(self, user, claims, role):
        """Apply the role the provider grants (promotion and demotion) and the groups it mirrors
        (accounts.oidc.groups); write only changes, holding the account's row, so simultaneous
        sign-ins of one person change it one after the other, each seeing what the previous wrote."""
        names = groups.wanted(self.provider, claims)
        if (role is None or role == user.role) and not groups.plan(self.provider, user, names):
            return user
        subject = str(claims.get("sub", ""))
        with transaction.atomic():
            current = self.UserModel.objects.select_for_update().values_list("role", flat=True).get(pk=user.pk)
            if role is not None and role != current:
                logger.info("OIDC role of %r changed from %s to %s by %s", user.username, current, role,
                            self.provider.name)
                user.role = role
                user.save(update_fields=["role"])
                history.record(
                    self.request, SignInEvent.Method.ROLE, SignInEvent.Outcome.CHANGED, user=user,
                    reason="provider_groups", detail=f"{current} -> {role}", provider=self.provider.name,
                    subject=subject,
                )
            groups.apply(self.request, self.provider, user, names, subject)
        return user

    def record_identity(self, identity, claims):
        identity.provider = self.provider.name
        identity.email = (self.usable_email(claims) or "")[:254]
        groups = claim_value(claims, self.provider.claim_roles or "groups")
        names = claim_strings(groups) if groups is not MISSING else []
        identity.groups = [name[:200] for name in names if "\x00" not in name][:100]
        identity.last_used_at = timezone.now()
        # A sign-in or a link (not a recheck): with the recheck on, the identity keeps its refresh token.
        login = getattr(self, "oidc_login", None)
        kept = refresh_chain.adopted(identity, self.provider, login.refresh_token, self.shared,
                                     identity.last_used_at) if login else {}
        if identity.pk is None:
            identity.save()
        elif not Identity.objects.filter(pk=identity.pk).update(
            provider=identity.provider, email=identity.email, groups=identity.groups,
            last_used_at=identity.last_used_at, **kept,
        ):
            # An administrator unlinked it while this sign-in ran: it must not come back.
            raise SignInError("conflict", f"identity {identity.subject} was unlinked during the sign-in")


class PasswordBackend(ModelBackend):
    """Username and password, unless DISABLE_USERPASS_LOGIN turns it off everywhere."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if settings.DISABLE_USERPASS_LOGIN:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
