import unicodedata

from django.contrib.auth.models import AbstractUser, UserManager
from django.contrib.sessions.base_session import AbstractBaseSession, BaseSessionManager
from django.core.exceptions import ValidationError
from django.db import models


class Role(models.TextChoices):
    """viewer < editor < admin; the order of the choices is the order of the roles."""

    VIEWER = "viewer", "Viewer"
    EDITOR = "editor", "Editor"
    ADMIN = "admin", "Admin"

    @classmethod
    def rank(cls, role):
        return list(cls.values).index(role)


class AccountManager(UserManager):
    def create_superuser(self, username, email=None, password=None, **extra_fields):
        extra_fields.setdefault("role", Role.ADMIN)
        return super().create_superuser(username, email, password, **extra_fields)


class User(AbstractUser):
    """An account; its role decides what it may do, and Django's staff flags follow the role."""

    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    email_confirmed = models.BooleanField(
        default=True,
        help_text="Set by the site or an administrator. A self-service email change clears it, and an "
        "OpenID sign-in never links to an account by an unconfirmed email.",
    )

    # The email as this site compares it: Python's str.lower(), computed here and matched
    # exactly, so no database's case folding (PostgreSQL's UPPER maps "ı" and the Kelvin sign
    # onto ASCII letters) can make two different addresses equal.
    email_key = models.CharField(max_length=254, blank=True, editable=False)

    objects = AccountManager()

    class Meta:
        constraints = [
            # OIDC links accounts by a confirmed email, so two accounts must never share one. An
            # unconfirmed address (typed by its account for itself) never links, so it may be
            # another's too: refusing it would tell anyone signed in which addresses have accounts.
            models.UniqueConstraint(
                fields=["email_key"],
                condition=~models.Q(email_key="") & models.Q(email_confirmed=True),
                name="accounts_user_email_key_unique",
                violation_error_message="Another account already uses this email address.",
            )
        ]

    def clean(self):
        """A confirmed address must be no other confirmed account's, as this site compares them.

        Only an administrator confirms an address (the admin's forms); the profile saves an
        address unconfirmed, whoever else has it, and so answers the same either way.
        """
        super().clean()
        key = email_key(self.email)
        if (
            key
            and self.email_confirmed
            and type(self)._default_manager.exclude(pk=self.pk).filter(email_key=key, email_confirmed=True).exists()
        ):
            raise ValidationError({"email": "Another account already uses this email address."})

    @classmethod
    def from_db(cls, db, field_names, values, *args, **kwargs):
        # Django 6.1 passes fetch_mode; keep whatever it passes.
        instance = super().from_db(db, field_names, values, *args, **kwargs)
        instance._loaded = dict(zip(field_names, values))
        return instance

    def save(self, *args, **kwargs):
        is_admin = self.role == Role.ADMIN
        self.is_staff = self.is_superuser = is_admin
        self.email_key = email_key(self.email)
        creating = self._state.adding
        update_fields = kwargs.get("update_fields")
        if update_fields is None and not creating and getattr(self, "_loaded", None) is not None:
            # A row loaded at the start of a request is written back only where this request
            # changed it (a password form, the admin's change form): what an administrator
            # changed meanwhile (role, is_active, password) stands.
            update_fields = {name for name, value in self._loaded.items() if getattr(self, name) != value}
            kwargs["update_fields"] = update_fields
        if update_fields is not None:
            update_fields = set(update_fields)
            if "role" in update_fields:
                update_fields |= {"is_staff", "is_superuser"}
            if "email" in update_fields:
                update_fields.add("email_key")
            kwargs["update_fields"] = update_fields
        super().save(*args, **kwargs)
        self._loaded = {field.attname: getattr(self, field.attname) for field in self._meta.concrete_fields}
        # The first-boot wizard closes for good once any account has existed.
        if creating:
            SiteMarker.objects.get_or_create(name=SiteMarker.ACCOUNT_EXISTED)
        if is_admin:
            SiteMarker.objects.get_or_create(name=SiteMarker.ADMIN_EXISTED)

    @property
    def is_administrator(self):
        """Admin role, staff or superuser: such an account is never joined by email."""
        return self.role == Role.ADMIN or self.is_staff or self.is_superuser


def email_key(email):
    """The form two emails must share to be the same address here (docs/accounts.md).

    Python's ``str.lower()``, except for characters that are look-alikes by definition: a
    character that Unicode normalisation (NFC) replaces, such as the Kelvin sign (``K``, which
    ``str.lower()`` makes a plain ``k``) or the Angstrom sign (``Å``, made ``å``), and any
    non-ASCII character that lower-cases to ASCII. Those are kept as they are, so a look-alike
    never reaches the account of the address it imitates.
    """
    return "".join(
        char if _keep_case(char) else char.lower() for char in (email or "").strip()
    )


def _keep_case(char):
    if char.isascii():
        return False
    return unicodedata.normalize("NFC", char) != char or char.lower().isascii()


class Identity(models.Model):
    """A person at an OpenID provider, ``(issuer, subject)``, linked to one account."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="identities")
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    provider = models.CharField(max_length=64, help_text="Short name of the configured provider.")
    email = models.EmailField(blank=True, help_text="Email seen at the last sign-in.")
    groups = models.JSONField(default=list, blank=True, help_text="Groups seen at the last sign-in.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # With OIDC_SESSION_RECHECK_SECONDS: the refresh token of this person's newest sign-in, for
    # confirming at the provider the role of app tokens used without a browser session
    # (accounts.oidc.refresh_chain keeps it, accounts.oidc.app_recheck uses it). Encrypted like the
    # session's (accounts.oidc.sealed); the other fields are bookkeeping, never a secret.
    refresh_token = models.TextField(blank=True, editable=False)
    # SHA-256 of the copy the sign-in's browser session holds ("": none holds one).
    refresh_token_shared = models.CharField(max_length=64, blank=True, editable=False)
    # The newest token of the previous sign-in's chain, kept for the session that holds an older one.
    refresh_token_handover = models.TextField(blank=True, editable=False)
    refresh_token_handover_for = models.CharField(max_length=64, blank=True, editable=False)
    recheck_due_at = models.DateTimeField(null=True, blank=True, editable=False)
    recheck_failing_since = models.DateTimeField(null=True, blank=True, editable=False)
    # A refresh in progress: no other may spend the token before this.
    recheck_busy_until = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name_plural = "identities"
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="accounts_identity_unique"),
            # One identity per issuer per account: an account linked to one subject of an
            # issuer is never taken over by another subject of the same issuer.
            models.UniqueConstraint(fields=["user", "issuer"], name="accounts_identity_one_per_issuer"),
        ]

    def __str__(self):
        return f"{self.provider}:{self.subject}"


class SiteMarker(models.Model):
    """A fact about this site that, once true, stays true (``admin_existed``)."""

    name = models.CharField(max_length=40, primary_key=True)
    created_at = models.DateTimeField(auto_now_add=True)

    ADMIN_EXISTED = "admin_existed"
    ACCOUNT_EXISTED = "account_existed"


class SignInEvent(models.Model):
    """One sign-in attempt, successful or refused, for the administrator's history."""

    class Method(models.TextChoices):
        PASSWORD = "password", "Password"
        OIDC = "oidc", "OpenID Connect"
        API = "api", "API (HTTP Basic)"
        TOKEN = "token", "API token grant"
        LINK = "link", "Break-glass link"
        ROLE = "role", "Role change"
        APP_TOKEN = "app_token", "App token"
        DEVICE = "device", "Device sign-in"
        PAIRING = "pairing", "Pairing code"
        KEYS = "keys", "Provider keys"
        GROUP = "group", "Group membership"

    class Outcome(models.TextChoices):
        SUCCESS = "success", "Success"
        REFUSED = "refused", "Refused"
        CHANGED = "changed", "Changed"
        ENDED = "ended", "Session ended"

    # Indexed with the columns the sign-in health report groups by (Meta.indexes).
    created_at = models.DateTimeField(auto_now_add=True)
    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="sign_ins")
    username = models.CharField(max_length=150, blank=True, help_text="Username given or matched.")
    method = models.CharField(max_length=10, choices=Method.choices)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    reason = models.CharField(max_length=40, blank=True)
    detail = models.CharField(max_length=300, blank=True)
    provider = models.CharField(max_length=64, blank=True)
    subject = models.CharField(max_length=255, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    provider_ms = models.FloatField(
        null=True, blank=True,
        help_text="How long the provider took to answer this sign-in's token request, in milliseconds.",
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The sign-in health report counts a period's rows by these columns: the index
            # answers it without reading the table (and serves the list's order and pruning).
            models.Index(fields=["created_at", "outcome", "method", "provider", "reason"],
                         name="accounts_signin_health"),
            # Its token request times: only the rows that have one.
            models.Index(fields=["created_at", "provider", "provider_ms"], name="accounts_signin_latency",
                         condition=models.Q(provider_ms__isnull=False)),
        ]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.method} {self.outcome} {self.username}"


class SignInDay(models.Model):
    """A day of the sign-in history that is over, summarised for the sign-in health report.

    Its rows' counts and token request times (``SignInDayCount``, ``SignInDayTime``), computed
    once by the database from the history (``accounts.audit.summaries``), as the day's calendar
    date in ``time_zone``. A day's history does not change once it is over, except by pruning or
    an administrator deleting rows, and both drop the summaries of the days they touch.
    """

    day = models.DateField()
    time_zone = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "time_zone"], name="accounts_signinday_unique")]


class SignInDayCount(models.Model):
    """How many history rows of a summarised day share an outcome, method, provider and reason."""

    summary = models.ForeignKey(SignInDay, on_delete=models.CASCADE, related_name="counts")
    outcome = models.CharField(max_length=10)
    method = models.CharField(max_length=10)
    provider = models.CharField(max_length=64, blank=True)
    reason = models.CharField(max_length=40, blank=True)
    count = models.PositiveIntegerField()


class SignInDayTime(models.Model):
    """A summarised day's token request times at one provider: how many, median, 95th percentile."""

    summary = models.ForeignKey(SignInDay, on_delete=models.CASCADE, related_name="times")
    provider = models.CharField(max_length=64, blank=True)
    count = models.PositiveIntegerField()
    median = models.FloatField()
    p95 = models.FloatField()


class HistoryLock(models.Model):
    """One row, taken in turn by whatever summarises the sign-in history's days and whatever
    deletes its rows, so that a summary never counts rows deleted while it was being made."""

    name = models.CharField(max_length=40, primary_key=True)
    taken_at = models.DateTimeField(null=True, blank=True)


class SessionManager(BaseSessionManager):
    def signed_in(self):
        """Sessions someone is signed in to (the others are anonymous: a message, a link flow)."""
        return self.filter(user__isnull=False)


class Session(AbstractBaseSession):
    """Django's session row, with what the session's data says about its sign-in as columns.

    ``accounts.sessions.engine`` writes the columns from the session data (and the ID token from
    the store) at every save, so a new key (``cycle_key`` at sign-in or at a password change)
    carries them along. Ending sessions (deactivation, unlinking, back-channel logout by ``sid``
    or ``sub``) and the recheck query them here. Password, API and break-glass sessions have the
    account, the method and when and where they were opened; anonymous ones have none of it.
    """

    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.CASCADE, related_name="sessions")
    signin_method = models.CharField(max_length=10, blank=True, help_text="How the session was opened.")
    provider = models.CharField(max_length=64, blank=True)
    issuer = models.CharField(max_length=255, blank=True)
    subject = models.CharField(max_length=255, blank=True)
    sid = models.CharField(max_length=255, blank=True)
    # Kept only when RP-initiated logout needs it as id_token_hint.
    id_token = models.TextField(blank=True)
    # The session recheck (accounts.oidc.recheck): the provider's refresh token, encrypted with a key
    # derived from SECRET_KEY (accounts.oidc.sealed), when the next check is due, and since when the
    # provider has been failing to answer.
    refresh_token = models.TextField(blank=True)
    recheck_due_at = models.DateTimeField(null=True, blank=True)
    recheck_failing_since = models.DateTimeField(null=True, blank=True)
    recheck_failures = models.PositiveIntegerField(default=0)
    # When and from where the sign-in happened (empty for an anonymous session).
    created_at = models.DateTimeField(null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    # When the session was last used, to the minute (accounts.sessions.engine.SessionStore.mark_active).
    last_active = models.DateTimeField(null=True, blank=True)
    # What pages, forms and the admin name the session by: an HMAC of its key, never the key.
    public_id = models.CharField(max_length=32, blank=True, db_index=True)

    objects = SessionManager()

    class Meta(AbstractBaseSession.Meta):
        indexes = [
            models.Index(fields=["issuer", "sid"], name="accounts_session_iss_sid"),
            models.Index(fields=["issuer", "subject"], name="accounts_session_iss_sub"),
        ]

    def __str__(self):
        # Django's names the session by its key, which must not reach a page or a log.
        return f"session {self.public_id}"

    @classmethod
    def get_session_store_class(cls):
        from accounts.sessions.engine import SessionStore

        return SessionStore


class ApiToken(models.Model):
    """A bearer token from the password grant; only its SHA-256 is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    key_hash = models.CharField(max_length=64, unique=True)
    # Changes when the password changes, which ends the token.
    password_fingerprint = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked = models.BooleanField(default=False)


class SignInLink(models.Model):
    """A single-use, short-lived break-glass sign-in link made by a management command."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="sign_in_links")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
