#!/bin/sh
# The container's entry point: refuse to start on a configuration error, migrate, serve.
# `check --deploy` runs the production checks too (SECRET_KEY, addresses, TLS files); errors stop
# here with the variable to change, warnings are printed and the site starts.
set -e
# The site's checks read the worker count too (a per-process cache with several workers warns).
export GUNICORN_WORKERS="${GUNICORN_WORKERS:-2}"
python manage.py check --deploy --fail-level ERROR
python manage.py migrate --noinput
exec gunicorn romm_site.wsgi \
  --bind "0.0.0.0:${PORT:-8000}" \
  --workers "$GUNICORN_WORKERS" \
  --access-logfile - \
  "$@"
