"""Django's database sessions, on ``accounts.models.Session``.

The session data is Django's own; what it says about the sign-in is also written to columns of
the same row, so sessions can be found by account, provider, ``sid`` or ``sub``. A sign-in puts
its facts in the data under ``SIGNIN`` (``accounts.signin``), and every save writes the columns
from the data (``create_model_instance``: Django's documented way to extend the database
engine), so a new key (``cycle_key``, at sign-in or at a password change) carries them along
with the rest of the data. The provider's ID token, kept for RP-initiated logout, is the one
fact outside the data: the store's ``id_token``, read with the row and written with it.

Two more columns are the row's own. ``public_id`` is what pages, forms and the admin name a
session by (an HMAC of its key: the key itself never leaves the cookie); a new key gets a new one.
``last_active`` is when the session was last used, to the minute: ``mark_active`` (run by
``SessionPolicyMiddleware`` as a signed-in request arrives) writes it by one conditional UPDATE
when the stored value is a minute old, so the other requests of that minute write nothing, and a
save carries a stale value forward in the write it makes anyway.
"""

from datetime import UTC, datetime, timedelta

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.base import VALID_KEY_CHARS
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db import router, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import get_random_string, salted_hmac

# The session data's key for the facts of its sign-in: {"method", "provider", "issuer", "subject",
# "sid", "refresh_token" (sealed), "recheck_due", "recheck_failing_since", "recheck_failures",
# "created", "ip_address", "user_agent"}; times in seconds since the epoch.
SIGNIN = "signin"
# The columns copied from the facts as they are.
TEXT_FACTS = ("provider", "issuer", "subject", "sid", "refresh_token", "user_agent")
# How stale ``last_active`` may be before a request writes it again.
ACTIVE_EVERY = timedelta(minutes=1)
# The HMAC's salt for public ids (the 0012 migration fills existing rows with the same).
PUBLIC_ID_SALT = "accounts.sessions.public_id"


def public_id(session_key):
    """The id a page shows for the session with this key: 32 hex digits that do not reveal it."""
    return salted_hmac(PUBLIC_ID_SALT, session_key, algorithm="sha256").hexdigest()[:32]


def facts_of(session):
    """The facts of the sign-in that opened ``session`` (a dict; empty for an anonymous one)."""
    facts = session.get(SIGNIN)
    return facts if isinstance(facts, dict) else {}


def when(seconds):
    """A fact's time as the aware datetime its column holds (None stays None)."""
    return datetime.fromtimestamp(seconds, tz=UTC) if isinstance(seconds, int | float) else None


class SessionStore(DatabaseSessionStore):
    """Sessions in the database, their sign-in's facts as columns of the row."""

    # The ID token of the provider's sign-in, when RP-initiated logout needs it as id_token_hint:
    # kept in its column only, never in the session data.
    id_token = ""
    # (key, serialized data) this store last wrote and saw committed: a session a view saved
    # inside its own transaction (a sign-in) is not written again by the response.
    _committed = None
    # The row's last_active as loaded (or as this store last wrote it).
    last_active = None

    @classmethod
    def get_model_class(cls):
        from accounts.models import Session

        return Session

    def load(self):
        return self._loaded(self._get_session_from_db())

    async def aload(self):
        return self._loaded(await self._aget_session_from_db())

    def _loaded(self, row):
        self.id_token = row.id_token if row else ""
        self.last_active = row.last_active if row else None
        return self.decode(row.session_data) if row else {}

    def _stale(self, now):
        return self.last_active is None or now - self.last_active >= ACTIVE_EVERY

    def mark_active(self):
        """Record that the session is in use: one UPDATE when its last_active is a minute old.

        The condition is repeated in the statement, so workers serving the session at once write
        it once; a session ended meanwhile has no row to update and stays ended.
        """
        self._get_session()  # the row (and its last_active), if this request has not read it yet
        now = timezone.now()
        if self.session_key is None or not self._stale(now):
            return
        stale = Q(last_active__isnull=True) | Q(last_active__lte=now - ACTIVE_EVERY)
        self.model.objects.filter(stale, session_key=self.session_key).update(last_active=now)
        self.last_active = now

    def create_model_instance(self, data):
        return self._with_columns(super().create_model_instance(data), data)

    async def acreate_model_instance(self, data):
        return self._with_columns(await super().acreate_model_instance(data), data)

    def _with_columns(self, row, data):
        user_id = data.get(SESSION_KEY)
        row.user_id = int(user_id) if isinstance(user_id, str) and user_id.isdigit() else None
        facts = facts_of(data)
        row.signin_method = facts.get("method") or ""
        for name in TEXT_FACTS:
            setattr(row, name, facts.get(name) or "")
        row.id_token = self.id_token if facts else ""
        row.recheck_due_at = when(facts.get("recheck_due"))
        row.recheck_failing_since = when(facts.get("recheck_failing_since"))
        row.recheck_failures = facts.get("recheck_failures") or 0
        row.created_at = when(facts.get("created"))
        row.ip_address = facts.get("ip_address") or None
        row.public_id = public_id(row.session_key)
        # A save is a use: it carries a stale last_active forward, and keeps a fresh one as it is.
        now = timezone.now()
        if self._stale(now):
            self.last_active = now
        row.last_active = self.last_active
        return row

    def cycle_key(self):
        """A new key for the same data (sign-in, password change).

        The old row goes now and the next save inserts the data under a new key (Django's own
        inserts the new row at once, then deletes the old one, and the next save updates it).
        A signed-in session whose row was already gone had been ended while this request ran
        (deactivation, unlinking, back-channel logout): it stays ended, not back under a new key.
        """
        data = self._session
        if self.session_key is not None:
            deleted, _ = self.model.objects.filter(session_key=self.session_key).delete()
            if not deleted and SESSION_KEY in data:
                self.flush()
                return
        self._session_key = None
        self._session_cache = data
        self.modified = True

    async def acycle_key(self):
        """See ``cycle_key``."""
        data = await self._aget_session()
        if self.session_key is not None:
            deleted, _ = await self.model.objects.filter(session_key=self.session_key).adelete()
            if not deleted and SESSION_KEY in data:
                await self.aflush()
                return
        self._session_key = None
        self._session_cache = data
        self.modified = True

    def _get_new_session_key(self):
        # No query for whether the key is taken: the insert's unique key refuses a taken one, and
        # create() then picks another.
        return get_random_string(32, VALID_KEY_CHARS)

    async def _aget_new_session_key(self):
        return self._get_new_session_key()

    def save(self, must_create=False):
        if self.session_key is None:
            return self.create()  # saves again, with a key
        data = self._get_session(no_load=must_create)
        state = (self.session_key, self.serializer().dumps(data), self.id_token if facts_of(data) else "")
        if not must_create and state == self._committed:
            return
        super().save(must_create)
        # Known as written once committed: a rolled-back write is written again.
        transaction.on_commit(lambda: setattr(self, "_committed", state), using=router.db_for_write(self.model))

    async def asave(self, must_create=False):
        self._committed = None  # the skip above is the synchronous save's: this one always writes
        await super().asave(must_create)

    def delete(self, session_key=None):
        if session_key in (None, self.session_key):
            self._committed = None
        super().delete(session_key)

    async def adelete(self, session_key=None):
        if session_key in (None, self.session_key):
            self._committed = None
        await super().adelete(session_key)
