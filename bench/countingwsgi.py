"""The site's WSGI application, counting what each request costs, for the benchmarks only.

gunicorn serves ``countingwsgi:application`` (``--pythonpath bench``) in place of
``romm_site.wsgi``. Each response then carries, in headers the benchmarks read:

    X-Bench-Queries       SQL statements run
    X-Bench-Writes        of which INSERT / UPDATE / DELETE
    X-Bench-Transactions  write transactions committed (an autocommitted write counts one,
                          an atomic block that wrote counts one at its commit)
    X-Bench-Provider      requests to the identity provider, and X-Bench-Provider-Ms their time
    X-Bench-Ms            the request's time in the site, provider wait included
    X-Bench-Db-Ms         of which waiting on the database, X-Bench-Cpu-Ms the worker's CPU time
                          (steadier than wall time on a machine busy with other work)

Nothing of this is in the site: it wraps Django's connection and requests from outside.
With BENCH_PROFILE_CALLBACK=<folder>, each worker also writes a cProfile of its sign-in
callbacks there when it exits (read with pstats).
"""

import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "romm_site.settings")

import requests  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.backends.base.base import BaseDatabaseWrapper  # noqa: E402

django_application = get_wsgi_application()
state = threading.local()
WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


def reset():
    state.queries = state.writes = state.transactions = state.provider = 0
    state.provider_seconds = state.db_seconds = 0.0
    state.dirty = False


def count_statement(execute, sql, params, many, context):
    state.queries += 1
    if sql.lstrip().upper().startswith(WRITES):
        state.writes += 1
        if context["connection"].in_atomic_block:
            state.dirty = True
        else:
            state.transactions += 1
    start = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        state.db_seconds += time.perf_counter() - start


_commit, _rollback = BaseDatabaseWrapper.commit, BaseDatabaseWrapper.rollback


def commit(self):
    if getattr(state, "dirty", False):
        state.transactions += 1
        state.dirty = False
    return _commit(self)


def rollback(self):
    state.dirty = False
    return _rollback(self)


BaseDatabaseWrapper.commit, BaseDatabaseWrapper.rollback = commit, rollback

_request = requests.Session.request


def timed_request(self, *args, **kwargs):
    start = time.perf_counter()
    try:
        return _request(self, *args, **kwargs)
    finally:
        if hasattr(state, "provider"):
            state.provider += 1
            state.provider_seconds += time.perf_counter() - start


requests.Session.request = timed_request


PROFILE = os.environ.get("BENCH_PROFILE_CALLBACK")  # a folder: cProfile of each worker's callbacks
if PROFILE:
    import atexit
    import cProfile

    profiler = cProfile.Profile()
    atexit.register(lambda: profiler.dump_stats(f"{PROFILE}/callback-{os.getpid()}.prof"))


def application(environ, start_response):
    if PROFILE and environ.get("PATH_INFO", "").startswith("/api/oauth/openid"):
        profiler.enable()
        try:
            return counted_application(environ, start_response)
        finally:
            profiler.disable()
    return counted_application(environ, start_response)


def counted_application(environ, start_response):
    reset()
    started, cpu_started = time.perf_counter(), time.thread_time()

    def counted_start_response(status, headers, exc_info=None):
        elapsed = time.perf_counter() - started
        headers = list(headers) + [
            ("X-Bench-Queries", str(state.queries)),
            ("X-Bench-Writes", str(state.writes)),
            ("X-Bench-Transactions", str(state.transactions)),
            ("X-Bench-Provider", str(state.provider)),
            ("X-Bench-Provider-Ms", f"{state.provider_seconds * 1000:.3f}"),
            ("X-Bench-Ms", f"{elapsed * 1000:.3f}"),
            ("X-Bench-Db-Ms", f"{state.db_seconds * 1000:.3f}"),
            ("X-Bench-Cpu-Ms", f"{(time.thread_time() - cpu_started) * 1000:.3f}"),
        ]
        return start_response(status, headers, exc_info)

    with connection.execute_wrapper(count_statement):
        return django_application(environ, counted_start_response)
