"""Calls to the provider honour the proxy the environment names, as requests does (a site
behind an egress proxy), and NO_PROXY exempts hosts from it."""

import http.server
import threading

import pytest

from accounts.errors import SignInError
from accounts.oidc import client
from accounts.oidc.provider import get_provider
from tests.conftest import configure


class RecordingProxy(http.server.ThreadingHTTPServer):
    """A forward proxy on 127.0.0.1 that records the absolute URLs asked of it and answers 200."""

    def __init__(self):
        self.seen = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.seen.append(self.path)
                body = b'{"proxied": true}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


@pytest.fixture
def proxy(monkeypatch):
    server = RecordingProxy()
    for name in ("HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{server.server_address[1]}")
    client.environment_proxies.cache_clear()
    yield server
    server.shutdown()
    server.server_close()
    client.environment_proxies.cache_clear()


@pytest.fixture
def provider(settings):
    configure(settings, None, OIDC_PROVIDER="authentik",
              OIDC_SERVER_APPLICATION_URL="http://idp.invalid/application/o/romm/")
    return get_provider()


def test_a_call_goes_through_the_proxy_the_environment_names(proxy, provider):
    url = "http://idp.invalid/application/o/romm/.well-known/openid-configuration"
    assert client.fetch_json(provider, "GET", url) == {"proxied": True}
    assert proxy.seen == [url]


def test_no_proxy_exempts_the_provider(proxy, provider, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "idp.invalid")
    client.environment_proxies.cache_clear()
    with pytest.raises(SignInError) as refused:
        client.call(provider, "GET", "http://idp.invalid/application/o/romm/.well-known/openid-configuration")
    assert refused.value.reason == "provider_unreachable"  # straight to a host that does not exist
    assert proxy.seen == []
