"""Settings for romm_site: the only place that reads the environment (docs/configuration.md lists every variable)."""

import os
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

from romm_site.envvars import EnvReader, read_providers, stray_provider_variables

BASE_DIR = Path(__file__).resolve().parent.parent
env = EnvReader(os.environ)

DEBUG = env.bool("DEBUG", False)
ROMM_BASE_URL = env.str("ROMM_BASE_URL", "http://localhost:8000").rstrip("/")
_base = urlsplit(ROMM_BASE_URL)
if _base.scheme not in ("http", "https") or not _base.hostname:
    raise ImproperlyConfigured(
        f"ROMM_BASE_URL={ROMM_BASE_URL!r} is not a URL: use the address people type, "
        "for example https://romm.example.com"
    )
BASE_URL_IS_HTTPS = _base.scheme == "https"

SECRET_KEY = env.secret("SECRET_KEY")
if SECRET_KEY is None:
    # Development fallback: `manage.py check --deploy` (run by the container before it starts)
    # refuses it with accounts.E020.
    SECRET_KEY = "django-insecure-development-key-set-SECRET_KEY-in-production"
# Earlier keys, still accepted for what they signed (sessions, stored refresh tokens, sign-ins
# under way, API tokens) while SECRET_KEY is rotated (docs/security.md#rotating-secret_key).
SECRET_KEY_FALLBACKS = env.secrets("SECRET_KEY_FALLBACKS")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS") or [_base.hostname, "localhost", "127.0.0.1", "[::1]"]
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS") or [f"{_base.scheme}://{_base.netloc}"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "mozilla_django_oidc",
    "accounts",
    "devices",
    "library",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Outside the session's: a person's answer is marked private before anything caches it.
    "romm_site.private.PrivateAnswersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # After the session, auth and messages: it ends a session with a sentence for the person.
    "accounts.sessions.middleware.SessionPolicyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "romm_site.urls"
WSGI_APPLICATION = "romm_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.site",
            ],
        },
    },
]

_django_env = environ.Env()
DATABASES = {
    "default": _django_env.db_url_config(
        env.str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default must take simultaneous sign-ins: readers never wait for the writer
    # (WAL), a writer waits for another up to 20 s instead of failing at once, and a write
    # transaction takes the lock when it begins, so two cannot deadlock upgrading from reads.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault("transaction_mode", "IMMEDIATE")
    DATABASES["default"]["OPTIONS"].setdefault("timeout", 20)
    DATABASES["default"]["OPTIONS"].setdefault(
        "init_command", "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL"
    )
# A database connection is kept for the next request of the same process this many seconds
# (0: a new connection per request, as Django's default); the health check replaces one the
# database closed meanwhile (restart, idle timeout) before a request uses it.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", 60, minimum=0, maximum=86400)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", True)
CACHES = {"default": _django_env.cache_url_config(env.str("CACHE_URL", "locmemcache://"))}
# Several sites (or test runs) sharing one Redis keep their keys apart with a prefix each.
CACHES["default"]["KEY_PREFIX"] = env.str("CACHE_KEY_PREFIX", "")
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    CACHES["default"]["BACKEND"] = "romm_site.cache.RedisCache"  # the same, one Redis client kept
# Caches that live inside one process: sign-in state, rate limits and the JWKS refetch guard
# stored there hold per process only (accounts.W040 says so when several processes run).
PER_PROCESS_CACHES = ("django.core.cache.backends.locmem.LocMemCache", "django.core.cache.backends.dummy.DummyCache")
# How many processes serve the site: gunicorn workers in this container (deploy/start.sh passes
# GUNICORN_WORKERS to gunicorn) and containers behind the proxy (SITE_REPLICAS, for the check).
GUNICORN_WORKERS = env.int("GUNICORN_WORKERS", 1, minimum=1, maximum=256)
SITE_REPLICAS = env.int("SITE_REPLICAS", 1, minimum=1, maximum=1000)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "accounts.oidc.backend.OIDCBackend",
    "accounts.oidc.backend.PasswordBackend",
]
# Who a JSON API request is, from its Authorization header: the first of these that recognises
# the credentials answers (accounts.api.access.decide). App and device tokens come first: their
# ``rmm_`` shape is theirs, as a bearer or as an HTTP Basic password (an app password); any other
# bearer value is a password-grant token, any other Basic password a password.
API_CREDENTIAL_RESOLVERS = [
    "devices.client_tokens.resolve_bearer",
    "devices.app_passwords.resolve_basic",
    "accounts.api.access.password_bearer",
    "accounts.api.access.password_basic",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login"

# Database sessions on accounts.models.Session, whose columns say who signed in and how. Not
# cached_db: a request reading a session while another process ends it (logout, back-channel,
# deactivation) could put it back into the cache, alive there after the database row is gone.
SESSION_ENGINE = "accounts.sessions.engine"
# RomM's name, which desktop clients that keep RomM's session cookie look for.
SESSION_COOKIE_NAME = "romm_session"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = BASE_URL_IS_HTTPS
CSRF_COOKIE_SECURE = BASE_URL_IS_HTTPS

# --- Behind a reverse proxy ---------------------------------------------------------
# Only a proxy that overwrites X-Forwarded-Proto/-Host/-For may be trusted: with this on,
# anyone who reaches gunicorn directly could claim any scheme, host or client address.
TRUST_PROXY_HEADERS = env.bool("TRUST_PROXY_HEADERS", False)
if TRUST_PROXY_HEADERS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True
# Redirecting http to https needs to know the request's scheme, which behind a TLS proxy only
# the trusted header tells; without it the redirect would loop.
SECURE_SSL_REDIRECT = BASE_URL_IS_HTTPS and TRUST_PROXY_HEADERS
# The container's healthcheck calls plain http on the loopback.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
# HSTS is sent only on https responses; 0 turns it off. includeSubDomains and preload speak
# for the whole domain, which a site on one host of it must not decide for its owner.
SECURE_HSTS_SECONDS = env.int(
    "SECURE_HSTS_SECONDS", 31536000 if BASE_URL_IS_HTTPS else 0, minimum=0, maximum=2 * 31536000
)
SILENCED_SYSTEM_CHECKS = ["security.W005", "security.W021"]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TZ", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Compressed, served by whitenoise; no manifest, so pages render before collectstatic too.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

LOG_LEVEL = env.str("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"()": "romm_site.logs.OneLineFormatter", "format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "accounts": {"handlers": ["console"], "level": LOG_LEVEL},
        "devices": {"handlers": ["console"], "level": LOG_LEVEL},
        "library": {"handlers": ["console"], "level": LOG_LEVEL},
        "romm_site": {"handlers": ["console"], "level": LOG_LEVEL},
        # Unexpected errors (500s, with their traceback), refused hosts and suspicious requests:
        # without a handler here they reach no log at all when DEBUG is off.
        "django.request": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        "django.security": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}

# --- OpenID Connect (docs/configuration.md) -------------------------------------------------
OIDC_ENABLED = env.bool("OIDC_ENABLED", False)
OIDC_AUTOLOGIN = env.bool("OIDC_AUTOLOGIN", False)
DISABLE_USERPASS_LOGIN = env.bool("DISABLE_USERPASS_LOGIN", False)
OIDC_PROVIDER_CONFIGS = read_providers(env, ROMM_BASE_URL) if OIDC_ENABLED else []
OIDC_STRAY_VARIABLES = stray_provider_variables(
    os.environ, [p["name"] for p in OIDC_PROVIDER_CONFIGS] if env.str("OIDC_PROVIDERS") else []
)
# Seconds for every call to the provider, and how long discovery and JWKS stay cached.
OIDC_TIMEOUT = env.int("OIDC_TIMEOUT", 10, minimum=1, maximum=120)
OIDC_CACHE_SECONDS = env.int("OIDC_CACHE_SECONDS", 3600, minimum=0, maximum=86400)
# How long a started sign-in may take before its state expires.
OIDC_STATE_SECONDS = env.int("OIDC_STATE_SECONDS", 600, minimum=60, maximum=3600)
# Clock skew tolerated on exp/iat.
OIDC_LEEWAY_SECONDS = env.int("OIDC_LEEWAY_SECONDS", 60, minimum=0, maximum=600)
# Days of sign-in history kept; `manage.py prune_signin_history` deletes older rows.
SIGNIN_HISTORY_DAYS = env.int("SIGNIN_HISTORY_DAYS", 90, minimum=1, maximum=3650)
# Refusals of people not signed in written to the history per client (an IPv4 address, an IPv6
# /64) within a minute; the rest are counted in the log (accounts.audit.refusals).
SIGNIN_HISTORY_REFUSALS_PER_MINUTE = env.int("SIGNIN_HISTORY_REFUSALS_PER_MINUTE", 20, minimum=1, maximum=100000)

# --- Access modes: API tokens, password attempts, first-boot setup ------------------
# Lifetime of a bearer token from /api/token (password grant).
API_TOKEN_SECONDS = env.int("API_TOKEN_SECONDS", 86400, minimum=60, maximum=30 * 86400)
# Password attempts allowed within the window: per account from one address (IPv6: its /64),
# per account from all addresses together, and per address whatever the account.
LOGIN_FAILURES_PER_ACCOUNT = env.int("LOGIN_FAILURES_PER_ACCOUNT", 5, minimum=1, maximum=1000)
LOGIN_FAILURES_PER_ACCOUNT_ALL_ADDRESSES = env.int(
    "LOGIN_FAILURES_PER_ACCOUNT_ALL_ADDRESSES", 50, minimum=1, maximum=100000
)
LOGIN_FAILURES_PER_ADDRESS = env.int("LOGIN_FAILURES_PER_ADDRESS", 20, minimum=1, maximum=10000)
LOGIN_FAILURE_WINDOW_SECONDS = env.int("LOGIN_FAILURE_WINDOW_SECONDS", 900, minimum=60, maximum=86400)
# RomM's name: true removes the /setup first-boot wizard even when no administrator exists.
DISABLE_SETUP_WIZARD = env.bool("DISABLE_SETUP_WIZARD", False)
