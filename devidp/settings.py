"""Settings of the development provider; ``python -m devidp`` fills the DEVIDP_* variables."""

import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent
DEFAULT_DATA_DIR = BASE_DIR.parent / ".devidp"

DEVIDP_PROFILE = os.environ.get("DEVIDP_PROFILE", "authentik")
if DEVIDP_PROFILE not in ("authentik", "authelia"):
    raise ImproperlyConfigured(f"DEVIDP_PROFILE must be 'authentik' or 'authelia', not {DEVIDP_PROFILE!r}")
AUTHELIA = DEVIDP_PROFILE == "authelia"
# Authentik's application slug: its issuer is /application/o/<slug>/.
DEVIDP_SLUG = "romm"
# Refresh tokens (`--offline-access`): Authentik with its offline_access scope mapping selected on
# the provider; Authelia with offline_access in the client's scopes and refresh_token in its grant
# types. Without it, Authentik drops the scope and Authelia refuses it (invalid_scope).
OFFLINE_ACCESS = os.environ.get("DEVIDP_OFFLINE_ACCESS", "") == "1"
# Authentik's "Logout URI" (back-channel) of the client, `--backchannel-logout-uri`.
BACKCHANNEL_LOGOUT_URI = os.environ.get("DEVIDP_BACKCHANNEL_LOGOUT_URI") or None

DB_PATH = Path(os.environ.get("DEVIDP_DB") or DEFAULT_DATA_DIR / f"{DEVIDP_PROFILE}.sqlite3")
KEY_FILE = Path(os.environ.get("DEVIDP_KEY_FILE") or DB_PATH.parent / "oidc-rsa.pem")

# A development tool: a fresh key per process only means sessions end on restart.
SECRET_KEY = os.environ.get("DEVIDP_SECRET_KEY") or secrets.token_urlsafe(40)
DEBUG = os.environ.get("DEVIDP_DEBUG", "").lower() in ("1", "true", "yes", "on")
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "devidp",  # before oauth2_provider so its templates override the toolkit's
    "oauth2_provider",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "devidp.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "devidp.views.provider_context",
            ]
        },
    }
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DB_PATH,
        # The server is threaded: wait for locks instead of failing, take the write lock up front.
        "OPTIONS": {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL;",
        },
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "/static/"

# Cookies are shared by every port of a host, so the provider must not use the names the
# site uses (romm_session, csrftoken) when both run on 127.0.0.1.
SESSION_COOKIE_NAME = f"{DEVIDP_PROFILE}_session"
CSRF_COOKIE_NAME = "devidp_csrftoken"
SESSION_EXPIRE_AT_BROWSER_CLOSE = False

# Demo passwords only; the fast hasher keeps start-up and sign-in instant.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LOGIN_URL = "/" if AUTHELIA else "/if/flow/default-authentication-flow/"
LOGIN_REDIRECT_URL = LOGIN_URL


def _private_key():
    try:
        return KEY_FILE.read_text()
    except FileNotFoundError:
        # `python -m devidp` writes the key before Django starts; `manage.py`-style use without
        # it still imports, and DOT reports the missing key when a token is signed.
        return ""


OAUTH2_PROVIDER = {
    "OIDC_ENABLED": True,
    "OIDC_RSA_PRIVATE_KEY": _private_key(),
    "OAUTH2_VALIDATOR_CLASS": "devidp.oidc.Validator",
    "OAUTH2_SERVER_CLASS": "devidp.oidc.Server",
    "SCOPES": (
        {"openid": "OpenID", "email": "Email", "profile": "Profile", "groups": "Groups"}
        if AUTHELIA
        else {"openid": "OpenID", "email": "Email", "profile": "Profile"}
    )
    | ({"offline_access": "Offline access"} if OFFLINE_ACCESS else {}),
    # Both products rotate the refresh token on every use and treat a rotated one presented
    # again as theft: the whole family is revoked.
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "REFRESH_TOKEN_EXPIRE_SECONDS": 30 * 86400,
    "DEFAULT_SCOPES": ["openid"],
    "OIDC_RESPONSE_TYPES_SUPPORTED": ["code"],
    "ALLOWED_REDIRECT_URI_SCHEMES": ["http", "https"],
    # Authentik: PKCE optional, plain or S256. Authelia (as usually configured): S256 required,
    # refused in devidp.oidc; its RFC 9207 `iss` is added in devidp.views.
    "PKCE_REQUIRED": AUTHELIA,
    "OIDC_RP_INITIATED_LOGOUT_ENABLED": not AUTHELIA,
    "OIDC_RP_INITIATED_LOGOUT_ALWAYS_PROMPT": False,
    # Signing out at Authentik leaves the person's refresh tokens valid (its source does this on
    # purpose); django-oauth-toolkit would delete them.
    "OIDC_RP_INITIATED_LOGOUT_DELETE_TOKENS": False,
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "ACCESS_TOKEN_EXPIRE_SECONDS": 3600 if AUTHELIA else 300,
    "ID_TOKEN_EXPIRE_SECONDS": 3600 if AUTHELIA else 300,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        "devidp": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
