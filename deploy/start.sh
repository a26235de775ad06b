#!/bin/sh
# The container's entry point: refuse to start on a configuration error, migrate, serve.
# `check --deploy` runs the production checks too (SECRET_KEY, addresses, TLS files); errors stop
# here with the variable to change, warnings are printed and the site starts.
set -e
cd "$(dirname "$0")/.."
# The site's checks read the worker count too (a per-process cache with several workers warns).
export GUNICORN_WORKERS="${GUNICORN_WORKERS:-2}"
# Expired sessions and sign-in history older than SIGNIN_HISTORY_DAYS are deleted at start and
# then every CLEANUP_INTERVAL_SECONDS (0: never; schedule the two commands yourself).
CLEANUP_INTERVAL_SECONDS="${CLEANUP_INTERVAL_SECONDS:-86400}"
case "$CLEANUP_INTERVAL_SECONDS" in
  ''|*[!0-9]*)
    echo "CLEANUP_INTERVAL_SECONDS=$CLEANUP_INTERVAL_SECONDS is not a number of seconds: use 86400 (daily) or 0 (off)." >&2
    exit 1 ;;
esac
python manage.py check --deploy --fail-level ERROR
python manage.py migrate --noinput

cleanup() {
  while :; do
    python manage.py clearsessions && python manage.py prune_signin_history \
      || echo "cleanup: clearsessions or prune_signin_history failed; next try in ${CLEANUP_INTERVAL_SECONDS}s" >&2
    sleep "$CLEANUP_INTERVAL_SECONDS"
  done
}
if [ "$CLEANUP_INTERVAL_SECONDS" -gt 0 ]; then
  cleanup &
fi

# The access log leaves out query strings and the Referer (deploy/gunicorn.conf.py).
exec gunicorn romm_site.wsgi \
  -c deploy/gunicorn.conf.py \
  --bind "0.0.0.0:${PORT:-8000}" \
  --workers "$GUNICORN_WORKERS" \
  "$@"
