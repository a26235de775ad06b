"""Django's database sessions, with the session index kept in step when a key is cycled."""

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore

from accounts.sessions import session_key_changed


class IndexFollowsKey:
    """``cycle_key`` (login, password change) moves the session's index row to the new key."""

    def cycle_key(self):
        old_key = self.session_key
        # Only a signed-in session has an index row; an anonymous one being signed in has none.
        if SESSION_KEY in self._get_session() and not session_key_changed(old_key, None):
            # The session was ended while this request ran (deactivation, unlink, back-channel
            # logout): a new key would bring it back outside the index. It stays ended.
            self.flush()
            return
        super().cycle_key()
        if SESSION_KEY in self._get_session():
            session_key_changed(old_key, self.session_key)


class SessionStore(IndexFollowsKey, DatabaseSessionStore):
    """Sessions in the database only (the engine when the cache is per process)."""
