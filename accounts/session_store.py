"""Django's database sessions, with the session index kept in step when a key is cycled.

A sign-in rotates the session key. Django writes that as three steps (insert the new row,
delete the old one, update it with the signed-in data); here ``cycle_key`` only picks the new
key, and the next ``save`` writes the new row, deletes the old one and moves the index row in
one transaction. A save that would write exactly what this store last wrote (and committed) is
skipped, so a view may save inside its own transaction without the response writing the same
row again.
"""

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.base import VALID_KEY_CHARS, CreateError
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db import router, transaction
from django.utils.crypto import get_random_string

from accounts.sessions import forget_session, session_key_changed


class IndexFollowsKey:
    """``cycle_key`` (login, password change) moves the session's index row to the new key."""

    _replaces = None  # (old key, whether it had an index row) until the first save of a new key
    _written = None  # (key, data) of this store's last write

    def cycle_key(self):
        data = self._get_session()
        # Only a signed-in session has an index row; an anonymous one being signed in has none.
        indexed = SESSION_KEY in data
        if indexed and not session_key_changed(self.session_key, None):
            # The session was ended while this request ran (deactivation, unlink, back-channel
            # logout): a new key would bring it back outside the index. It stays ended.
            self.flush()
            return
        self._replaces = (self.session_key, indexed)
        self._session_key = self._random_key()
        self._session_cache = data
        self.modified = True

    def save(self, must_create=False):
        if self._replaces is not None:
            self._save_new_key()
        elif self.session_key is None:
            self.create()  # saves again, with a key
        else:
            if not must_create and self._written == self._state():
                return
            self._write(must_create)
        # Known as written once committed: a rolled-back write must be written again.
        state = self._state()
        transaction.on_commit(lambda: setattr(self, "_written", state), using=router.db_for_write(self.model))

    def flush(self):
        replaces, self._replaces = self._replaces, None
        super().flush()
        if replaces and replaces[0]:
            self._remove(replaces[0])
            if replaces[1]:
                forget_session(replaces[0])

    def _save_new_key(self):
        old_key, indexed = self._replaces
        # No savepoint of its own: the insert has one, for a retry after a key collision.
        with transaction.atomic(using=router.db_for_write(self.model), savepoint=False):
            while True:
                try:
                    self._write(must_create=True)
                    break
                except CreateError:
                    self._session_key = self._random_key()
            if old_key:
                self._remove(old_key)
                if indexed:
                    session_key_changed(old_key, self.session_key)
        self._replaces = None

    @staticmethod
    def _random_key():
        # No existence check: the insert's unique key refuses a duplicate, and save picks another.
        return get_random_string(32, VALID_KEY_CHARS)

    def _state(self):
        return self.session_key, self.serializer().dumps(self._get_session())

    def _write(self, must_create):
        DatabaseSessionStore.save(self, must_create)

    def _remove(self, session_key):
        self.model.objects.filter(session_key=session_key).delete()


class SessionStore(IndexFollowsKey, DatabaseSessionStore):
    """Sessions in the database only (the engine when the cache is per process)."""
