"""gunicorn settings the container starts with (``deploy/start.sh -c deploy/gunicorn.conf.py``).

The access log writes one line per request with the path but never the query string or the
Referer header: either can carry a one-time secret (a pairing code in ``/pair?code=``, a
device's user code, the sign-in callback's ``code``), and a log is read by more people, for
longer, than the secret was meant for. ``GUNICORN_CMD_ARGS`` or arguments given to start.sh
override these settings (gunicorn reads this file first).
"""

# To standard output, so `docker-compose logs site` shows it.
accesslog = "-"
# Address, time, "METHOD /path PROTOCOL", status, bytes, seconds, user agent. %(U)s is the path
# without its query string; %(r)s (the request line) and %(f)s (the Referer) are left out.
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)s "%(a)s"'
