"""Stock mozilla-django-oidc, as its documentation sets it up: the yardstick of bench/compare.py.

Its own views (``mozilla_django_oidc.urls``) and backend (``OIDCAuthenticationBackend``), Django's
default user model and database sessions, against bench/fakeprovider.py. Every endpoint comes from
the environment, since mozilla-django-oidc reads no discovery document:

    BENCH_PROVIDER_URL   the fake provider's base URL (its /authorize, /token, /userinfo, /jwks)
    DATABASE_URL         as the site's (an SQLite file or PostgreSQL)

The settings its documentation asks for to talk to a provider that verifies PKCE, takes
client_secret_basic and signs with RS256 (as bench/fakeprovider.py does), and nothing else. The
database is set up as the site's (romm_site/settings.py: SQLite in WAL mode without a flush at
each commit, connections kept 60 s), so the comparison measures the sign-in, not the database.
"""

import os

import environ
from fakeprovider import CLIENT_ID, CLIENT_SECRET

PROVIDER = os.environ["BENCH_PROVIDER_URL"].rstrip("/")

SECRET_KEY = "bench-stock-only-" + "x" * 40
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "mozilla_django_oidc",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
ROOT_URLCONF = "stock.urls"
DATABASES = {"default": environ.Env.db_url_config(os.environ["DATABASE_URL"])}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
    }
DATABASES["default"]["CONN_MAX_AGE"] = 60
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True

AUTHENTICATION_BACKENDS = ["mozilla_django_oidc.auth.OIDCAuthenticationBackend"]
LOGIN_REDIRECT_URL = "/"
LOGIN_REDIRECT_URL_FAILURE = "/failed"

OIDC_RP_CLIENT_ID = CLIENT_ID
OIDC_RP_CLIENT_SECRET = CLIENT_SECRET
OIDC_OP_AUTHORIZATION_ENDPOINT = PROVIDER + "/authorize"
OIDC_OP_TOKEN_ENDPOINT = PROVIDER + "/token"
OIDC_OP_USER_ENDPOINT = PROVIDER + "/userinfo"
OIDC_OP_JWKS_ENDPOINT = PROVIDER + "/jwks"
OIDC_RP_SIGN_ALGO = "RS256"
OIDC_RP_SCOPES = "openid email profile groups"
OIDC_USE_PKCE = True
OIDC_TOKEN_USE_BASIC_AUTH = True
OIDC_TIMEOUT = 10

LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "ERROR"}}
