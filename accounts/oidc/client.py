"""This site as the provider's client: every HTTP call to it, and what its endpoints answer.

The token endpoint (code redemption, refresh) and revocation (RFC 7009), each made with
the configured CA bundle and timeout and the client authentication the provider takes. A call
that fails, or an answer that is not what the protocol says, raises ``SignInError`` with a reason
code (``accounts.errors`` turns it into the person's sentence).

Calls keep their connection to the provider open for the next one (HTTP keep-alive), one pool
per process and thread: across a network, a warm connection spares each sign-in and each refresh
the TCP and TLS handshakes, a round trip or more apiece.
"""

import base64
import functools
import http.cookiejar
import logging
import os
import threading
import time
from urllib.parse import quote_plus, urlsplit

import requests
import requests.adapters
import urllib3

from accounts.errors import SignInError

logger = logging.getLogger(__name__)


@functools.lru_cache(maxsize=64)
def environment_proxies(origin):
    """The proxies the environment names for ``origin`` (``HTTPS_PROXY``, ``NO_PROXY``, ...).

    Read once per origin for the life of the process: requests would read the whole environment
    twice at every call (a sizeable share of a sign-in's own time).
    """
    return requests.utils.get_environ_proxies(origin)


def environment_ca_bundle():
    """The CA bundle requests takes from the environment when the site names none."""
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True


# A connection idle this long is not used again. Servers close idle connections after a while
# of their own (gunicorn 2 s, Apache 5 s, Authelia 30 s, nginx 75 s); urllib3 looks before
# reusing one and opens a new connection in place of a closed one, and one closed at the very
# moment it is reused is called again (``_send``). The limit keeps such moments rare.
IDLE_REUSE_SECONDS = 20

_threads = threading.local()


class _NoCookies(http.cookiejar.DefaultCookiePolicy):
    """A provider's cookies are never sent back: one call's answer must not reach another's request."""

    def set_ok(self, cookie, request):
        return False

    def return_ok(self, cookie, request):
        return False


class _Adapter(requests.adapters.HTTPAdapter):
    """requests' adapter, noting (``reusing``) whether its last call went out on a kept connection."""

    reusing = False

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        pool = super().get_connection_with_tls_context(request, verify, proxies=proxies, cert=cert)
        try:
            # urllib3 hands out the connection released last, if it is still open.
            queued = pool.pool.queue
            self.reusing = bool(queued) and queued[-1] is not None and queued[-1].is_connected
        except AttributeError:  # another urllib3: treated as a new connection, never called again
            self.reusing = False
        return pool


class _Sessions:
    """One thread's HTTP sessions, by origin, each with the time its last call ended."""

    def __init__(self):
        self.pid = os.getpid()
        # A thread that ends (runserver's, one per request) takes its sessions with it, and
        # urllib3 closes the connections of a pool that goes.
        self.by_origin = {}


def _close_all(by_origin):
    for session, _ in by_origin.values():
        session.close()
    by_origin.clear()


def _sessions():
    held = getattr(_threads, "sessions", None)
    if held is None or held.pid != os.getpid():
        # A forked worker must not share its parent's sockets (gunicorn --preload).
        held = _threads.sessions = _Sessions()
    return held.by_origin


def _session(origin, fresh=False):
    """This thread's HTTP session for ``origin``: new when ``fresh``, in a forked process, or
    after ``IDLE_REUSE_SECONDS`` unused (sessions idle that long, to any origin, are closed)."""
    by_origin = _sessions()
    now = time.monotonic()
    for key, (session, last_used) in list(by_origin.items()):
        if (fresh and key == origin) or now - last_used > IDLE_REUSE_SECONDS:
            session.close()
            del by_origin[key]
    if origin not in by_origin:
        session = requests.Session()
        session.trust_env = False
        session.cookies.set_policy(_NoCookies())
        session.mount("https://", _Adapter())
        session.mount("http://", _Adapter())
        by_origin[origin] = [session, now]
    return by_origin[origin][0]


def close_connections():
    """Close this thread's open connections to providers (tests, and a provider that moved)."""
    _close_all(_sessions())


def _closed_without_answer(exc):
    """Whether the connection was reset or closed under the call: not refused, timed out, TLS,
    or an answer that is not HTTP."""
    reason = exc.args[0] if exc.args else None
    return (isinstance(reason, urllib3.exceptions.ProtocolError) and len(reason.args) > 1
            and isinstance(reason.args[1], (ConnectionResetError, BrokenPipeError)))


def _send(origin, method, url, timeout, **kwargs):
    session = _session(origin)
    started = time.monotonic()
    try:
        return session.request(method, url, timeout=timeout, **kwargs)
    except requests.exceptions.ConnectionError as exc:
        elapsed = time.monotonic() - started
        reusing = getattr(session.get_adapter(url), "reusing", False)
        if not (reusing and _closed_without_answer(exc) and elapsed < timeout / 2):
            raise
        # The provider closed the kept connection just as the call went out (its idle timeout
        # ran out at that moment): once more, on a new connection, in the time left. Had it
        # read the request, the second answer is the one for a spent code or refresh token.
        logger.info("OIDC provider %s closed a kept connection under a call; calling again", origin)
        return _session(origin, fresh=True).request(method, url, timeout=timeout - elapsed, **kwargs)
    finally:
        # Idle time counts from the end of the last call.
        held = _sessions().get(origin)
        if held is not None:
            held[1] = time.monotonic()


def call(provider, method, url, **kwargs):
    """One call to the provider, with the configured CA bundle and timeout.

    What requests would take from the environment (proxies, a CA bundle) is honoured as it
    would be; ``.netrc`` credentials are not (the provider gets this client's own).
    """
    kwargs.setdefault("allow_redirects", method == "GET")
    timeout = provider.timeout
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    try:
        return _send(origin, method, url, timeout, verify=provider.tls_cafile or environment_ca_bundle(),
                     proxies=environment_proxies(origin), **kwargs)
    except requests.exceptions.SSLError as exc:
        raise SignInError("provider_tls", f"{method} {url}: {type(exc).__name__}") from None
    except requests.exceptions.Timeout:
        raise SignInError("provider_timeout", f"{method} {url} timed out after {timeout}s") from None
    except (requests.exceptions.RequestException, OSError) as exc:
        raise SignInError("provider_unreachable", f"{method} {url}: {type(exc).__name__}") from None


# No protocol answer nests deeper; what does could exhaust the recursion of whatever reads it
# later (json.dumps of a key, a claim walked), not only of the parser.
MAX_JSON_DEPTH = 32


def json_of(response):
    """The answer's JSON; ValueError when it is not JSON or nests deeper than ``MAX_JSON_DEPTH``
    (a hostile provider's ``[[[[…]]]]``; Python's parser itself raises RecursionError)."""
    try:
        value = response.json()
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                raise ValueError("JSON nested too deeply")
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)
    return value


def fetch_json(provider, method, url, reason_if_bad="bad_response", **kwargs):
    """The JSON body of a 200 answer; a 5xx is ``provider_unreachable``, anything else ``reason_if_bad``."""
    response = call(provider, method, url, **kwargs)
    if response.status_code != 200:
        reason = "provider_unreachable" if response.status_code >= 500 else reason_if_bad
        raise SignInError(reason, f"{method} {url} answered HTTP {response.status_code}")
    try:
        return json_of(response)
    except ValueError:
        raise SignInError(reason_if_bad, f"{method} {url} did not answer JSON") from None


def client_request(provider, url, data):
    """POST ``data`` to ``url`` with this client's authentication, as the token endpoint takes it."""
    headers = {"Accept": "application/json"}
    data = dict(data)
    if provider.client_auth_method(provider.metadata()) == "client_secret_post":
        data.update(client_id=provider.client_id, client_secret=provider.client_secret)
    else:
        # RFC 6749 section 2.3.1: form-urlencode each part before base64.
        pair = f"{quote_plus(provider.client_id or '')}:{quote_plus(provider.client_secret or '')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    return call(provider, "POST", url, data=data, headers=headers)


def exchange_code(provider, code, code_verifier):
    """Redeem the authorization code; returns the token response (with an ``id_token``) and
    how long the provider took to answer, in milliseconds.

    A refusal after the provider answered carries that time too (``SignInError.provider_ms``);
    one that got no answer (unreachable, timed out) has none.
    """
    endpoint = provider.metadata()["token_endpoint"]
    started = time.perf_counter()
    response = client_request(provider, endpoint, {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": provider.redirect_uri,
        "code_verifier": code_verifier,
    })
    elapsed_ms = (time.perf_counter() - started) * 1000
    try:
        return _code_tokens(response), elapsed_ms
    except SignInError as error:
        error.provider_ms = elapsed_ms
        raise


def _code_tokens(response):
    """The token endpoint's answer to a code exchange, checked."""
    if response.status_code != 200:
        raise token_error(response)
    try:
        tokens = json_of(response)
    except ValueError:
        raise SignInError("bad_response", "token endpoint did not answer JSON") from None
    if not isinstance(tokens, dict) or not isinstance(tokens.get("id_token"), str):
        raise SignInError("bad_response", "token response has no id_token")
    token_type = tokens.get("token_type")
    if token_type is not None and str(token_type).lower() != "bearer":
        raise SignInError("bad_response", f"token_type {token_type!r} is not Bearer")
    return tokens


def token_error(response):
    """The ``SignInError`` an error answer of the token endpoint means."""
    try:
        body = json_of(response)
    except ValueError:
        body = {}
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, str) and error.isascii() and len(error) < 64 else "unknown_error"
    detail = f"token endpoint answered HTTP {response.status_code} error={error}"
    if isinstance(body, dict) and isinstance(body.get("error_description"), str):
        # repr() keeps the provider's text on one log line, control characters escaped.
        detail += f" {body['error_description'][:200]!r}"
    if response.status_code >= 500:
        return SignInError("provider_unreachable", detail)
    if error == "invalid_grant":
        return SignInError("code_rejected", detail)
    if error in ("invalid_client", "unauthorized_client") or response.status_code == 401:
        return SignInError("client_rejected", detail)
    return SignInError("token_refused", detail, error=error)


def refresh(provider, refresh_token):
    """Spend ``refresh_token`` once; returns the token response (a new ``refresh_token`` when rotated).

    No ``scope``: Authentik then keeps the granted ones, ``offline_access`` included.
    """
    response = client_request(
        provider, provider.metadata()["token_endpoint"],
        {"grant_type": "refresh_token", "refresh_token": refresh_token},
    )
    if response.status_code != 200:
        raise token_error(response)
    try:
        tokens = json_of(response)
    except ValueError:
        raise SignInError("bad_response", "token endpoint did not answer JSON to a refresh") from None
    if not isinstance(tokens, dict) or not isinstance(tokens.get("access_token"), str):
        raise SignInError("bad_response", "refresh response has no access_token")
    for name in ("id_token", "refresh_token"):
        if name in tokens and not isinstance(tokens[name], str):
            raise SignInError("bad_response", f"refresh response {name} is not a string")
    return tokens


def revoke(provider, token, hint="refresh_token"):
    """RFC 7009: ask the provider to forget ``token``; False when it has no revocation endpoint."""
    endpoint = provider.metadata().get("revocation_endpoint")
    if not isinstance(endpoint, str) or not endpoint:
        return False
    response = client_request(provider, endpoint, {"token": token, "token_type_hint": hint})
    if response.status_code != 200:
        raise SignInError("provider_unreachable" if response.status_code >= 500 else "token_refused",
                          f"revocation endpoint answered HTTP {response.status_code}", error="revocation",
                          status=response.status_code)
    return True
