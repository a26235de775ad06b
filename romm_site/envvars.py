"""Read the environment as docs/configuration.md describes it.

Empty counts as unset, surrounding whitespace and one pair of matching quotes are
stripped, booleans are strict, and every ``*_SECRET`` also accepts ``*_SECRET_FILE``.
Values that cannot be understood raise ``ImproperlyConfigured`` naming the variable,
so a typo in a compose file stops start-up instead of silently meaning something else.
"""

import re

from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}
PROVIDER_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")

# Variables a provider of OIDC_PROVIDERS may set for itself with the OIDC_<NAME>_ prefix.
PER_PROVIDER = (
    "PROVIDER",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "REDIRECT_URI",
    "SERVER_APPLICATION_URL",
    "SERVER_METADATA_URL",
    "ALLOW_REGISTRATION",
    "CREATE_USER",
    "EMAIL_LINKING",
    "USERNAME_ATTRIBUTE",
    "CLAIM_ROLES",
    "ROLE_VIEWER",
    "ROLE_EDITOR",
    "ROLE_ADMIN",
    "TLS_CACERTFILE",
    "RP_INITIATED_LOGOUT",
    "END_SESSION_ENDPOINT",
    "POST_LOGOUT_REDIRECT_URI",
    "SCOPES",
    "TOKEN_ENDPOINT_AUTH_METHOD",
    "SESSION_RECHECK_SECONDS",
    "SESSION_RECHECK_GRACE_SECONDS",
    "CLAIMS_PARAMETER",
    "GROUPS",
    "ROLE_DEFAULT",
    "ALLOWED_EMAIL_DOMAINS",
)


def clean(value):
    """Strip whitespace and one pair of surrounding quotes; empty becomes None."""
    if value is None:
        return None
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1].strip()
    return value or None


def split_list(value):
    """A comma-separated value as a list of non-empty, stripped items."""
    if not value:
        return []
    return [item for item in (clean(part) for part in value.split(",")) if item]


class EnvReader:
    """Typed access to a mapping of environment variables (``os.environ`` in production)."""

    def __init__(self, environ):
        self.environ = environ

    def str(self, name, default=None):
        value = clean(self.environ.get(name))
        return default if value is None else value

    def bool(self, name, default=False):
        value = self.str(name)
        if value is None:
            return default
        if value.lower() in TRUE_WORDS:
            return True
        if value.lower() in FALSE_WORDS:
            return False
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a boolean: use one of true/false, yes/no, on/off, 1/0."
        )

    def int(self, name, default, minimum=None, maximum=None):
        value = self.str(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise ImproperlyConfigured(f"{name}={value!r} is not a whole number.") from None
        if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
            raise ImproperlyConfigured(
                f"{name}={number} is out of range: use a number from {minimum} to {maximum}."
            )
        return number

    def list(self, name):
        return split_list(self.str(name))

    def secrets(self, name):
        """Secrets from ``NAME`` (separated by commas, each cleaned as a value is) or one from
        the file named by ``NAME_FILE``, whole, as ``secret`` reads it: an old SECRET_KEY_FILE
        moved there as it is, line breaks and all, is the same key."""
        if self.str(f"{name}_FILE") is not None:
            return [self.secret(name)]
        return [item for item in (clean(part) for part in (self.str(name) or "").split(",")) if item]

    def secret(self, name):
        """A secret from ``NAME`` or from the file named by ``NAME_FILE`` (docker secrets)."""
        direct = self.str(name)
        path = self.str(f"{name}_FILE")
        if direct is not None and path is not None:
            raise ImproperlyConfigured(f"Set either {name} or {name}_FILE, not both.")
        if path is None:
            return direct
        try:
            with open(path, encoding="utf-8") as handle:
                return clean(handle.read())
        except OSError as exc:
            raise ImproperlyConfigured(
                f"{name}_FILE={path!r} cannot be read ({exc.strerror}): check the path and "
                "that the file is mounted into the container."
            ) from None


class ProviderEnv:
    """One provider's view of the environment: ``OIDC_<NAME>_X`` first, then ``OIDC_X``."""

    def __init__(self, reader, name=None):
        self.reader = reader
        self.prefix = f"OIDC_{name.upper().replace('-', '_')}_" if name else "OIDC_"

    def var(self, key):
        """The variable name that supplies ``key`` for this provider."""
        own = self.prefix + key
        if self.prefix != "OIDC_" and not self._is_set(own):
            return "OIDC_" + key
        return own

    def _is_set(self, name):
        return self.reader.str(name) is not None or self.reader.str(f"{name}_FILE") is not None

    def str(self, key, default=None):
        return self.reader.str(self.var(key), default)

    def bool(self, key, default=False):
        return self.reader.bool(self.var(key), default)

    def list(self, key):
        return self.reader.list(self.var(key))

    def int(self, key, default, minimum=None, maximum=None):
        return self.reader.int(self.var(key), default, minimum, maximum)

    def secret(self, key):
        return self.reader.secret(self.var(key))


def read_providers(reader, base_url):
    """The configured OpenID providers as a list of plain dicts, in button order."""
    names = [name.lower() for name in reader.list("OIDC_PROVIDERS")]
    for name in names:
        if not PROVIDER_NAME.match(name):
            raise ImproperlyConfigured(
                f"OIDC_PROVIDERS: {name!r} is not a valid provider name: use lower-case "
                "letters, digits and hyphens (for example authentik,authelia)."
            )
    if len(set(names)) != len(names):
        raise ImproperlyConfigured("OIDC_PROVIDERS lists the same provider twice.")
    if not names:
        return [_read_provider(ProviderEnv(reader), None, base_url, first=True)]
    return [
        _read_provider(ProviderEnv(reader, name), name, base_url, first=index == 0)
        for index, name in enumerate(names)
    ]


def _read_provider(env, name, base_url, first):
    label = env.str("PROVIDER") or ""
    base_url = base_url.rstrip("/")
    # Each provider has its own callback: the unprefixed OIDC_REDIRECT_URI can only
    # belong to the first one (it keeps the plain URL of a single-provider setup).
    redirect_var = env.var("REDIRECT_URI")
    if not first and redirect_var == "OIDC_REDIRECT_URI":
        redirect_uri = f"{base_url}/api/oauth/openid/{name}"
    else:
        redirect_uri = env.str("REDIRECT_URI", f"{base_url}/api/oauth/openid")
    registration_key = "ALLOW_REGISTRATION"
    if env.str("ALLOW_REGISTRATION") is None and env.str("CREATE_USER") is not None:
        registration_key = "CREATE_USER"
    auth_method = (env.str("TOKEN_ENDPOINT_AUTH_METHOD") or "auto").lower()
    if auth_method not in ("auto", "client_secret_basic", "client_secret_post"):
        raise ImproperlyConfigured(
            f"{env.var('TOKEN_ENDPOINT_AUTH_METHOD')}={auth_method!r}: use auto, "
            "client_secret_basic or client_secret_post."
        )
    claims_value = env.str("CLAIMS_PARAMETER", "auto")
    claims_parameter = "off" if claims_value.lower() in FALSE_WORDS else claims_value.lower()
    if claims_parameter not in ("auto", "off"):
        raise ImproperlyConfigured(
            f"{env.var('CLAIMS_PARAMETER')}={claims_value!r}: use auto (ask for the claims in the ID "
            "token when the provider advertises claims_parameter_supported) or false (never)."
        )
    return {
        "name": name or (label.lower() if PROVIDER_NAME.match(label.lower()) else "oidc"),
        "label": label,
        "client_id": env.str("CLIENT_ID"),
        "client_secret": env.secret("CLIENT_SECRET"),
        "redirect_uri": redirect_uri,
        "server_url": env.str("SERVER_APPLICATION_URL"),
        "metadata_url": env.str("SERVER_METADATA_URL"),
        "allow_registration": env.bool(registration_key, True),
        "email_linking": env.bool("EMAIL_LINKING", True),
        "username_attribute": env.str("USERNAME_ATTRIBUTE", "preferred_username"),
        "claim_roles": env.str("CLAIM_ROLES"),
        "role_values": {
            "viewer": env.list("ROLE_VIEWER"),
            "editor": env.list("ROLE_EDITOR"),
            "admin": env.list("ROLE_ADMIN"),
        },
        # docs/groups.md: provider groups mirrored as this site's groups, the role of a person whose
        # groups match no OIDC_ROLE_* value, and the email domains that may sign in. Their values are
        # judged by system checks (accounts.checks), which name what to change.
        "groups": env.list("GROUPS"),
        "role_default": (env.str("ROLE_DEFAULT") or "").lower(),
        "allowed_email_domains": env.list("ALLOWED_EMAIL_DOMAINS"),
        "tls_cafile": env.str("TLS_CACERTFILE"),
        "rp_initiated_logout": env.bool("RP_INITIATED_LOGOUT", False),
        "end_session_endpoint": env.str("END_SESSION_ENDPOINT"),
        "post_logout_redirect_uri": env.str(
            "POST_LOGOUT_REDIRECT_URI", base_url + "/login"
        ),
        "scopes": env.str("SCOPES"),
        "token_auth_method": auth_method,
        "claims_parameter": claims_parameter,
        # docs/logout-and-sessions.md: how often a session is confirmed with the provider (0 = never), and
        # how long it outlives a provider that cannot be reached.
        "session_recheck_seconds": env.int("SESSION_RECHECK_SECONDS", 0, minimum=0, maximum=30 * 86400),
        "session_recheck_grace_seconds": env.int(
            "SESSION_RECHECK_GRACE_SECONDS", 3600, minimum=0, maximum=30 * 86400
        ),
        # Which variable supplied each value, so system checks can name it.
        "vars": {key: env.var(key) for key in PER_PROVIDER},
        "prefix": env.prefix,
    }


def stray_provider_variables(environ, names):
    """Prefixed ``OIDC_<NAME>_*`` variables whose NAME is not in OIDC_PROVIDERS."""
    known = {f"{n.upper().replace('-', '_')}_" for n in names}
    # Longest first, so OIDC_X_POST_LOGOUT_REDIRECT_URI is not read as X_POST_LOGOUT_ + REDIRECT_URI.
    suffixes = sorted([*PER_PROVIDER, *(key + "_FILE" for key in PER_PROVIDER)], key=len, reverse=True)
    stray = []
    for variable in sorted(environ):
        rest = variable[5:] if variable.startswith("OIDC_") else None
        if not rest or rest in suffixes:
            continue
        for suffix in suffixes:
            if rest.endswith("_" + suffix):
                prefix = rest[: -len(suffix)]
                if prefix not in known and clean(environ[variable]) is not None:
                    stray.append(variable)
                break
    return stray
