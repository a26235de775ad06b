"""Django's cached_db sessions (database, read through the shared cache), index kept in step."""

from django.contrib.sessions.backends.cached_db import SessionStore as CachedDatabaseSessionStore

from accounts.session_store import IndexFollowsKey


class SessionStore(IndexFollowsKey, CachedDatabaseSessionStore):
    """Sessions in the database, read from the shared cache (the engine with Redis)."""
