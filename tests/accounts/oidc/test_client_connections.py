"""Calls to the provider keep their connection open for the next call (HTTP keep-alive), and
never at the cost of a call: a connection the provider closed (before the call, or just as it went
out), one idle too long, or one a forked worker inherited is replaced, and nothing of one answer
(cookies) reaches the next request."""

import http.server
import os
import socket
import threading
import time

import pytest

from accounts.errors import SignInError
from accounts.oidc import client
from accounts.oidc.provider import get_provider
from tests.conftest import configure


class CountingProvider(http.server.ThreadingHTTPServer):
    """An HTTP/1.1 server on 127.0.0.1 that counts the connections it accepts and the requests
    it answers, and can close a connection after answering without saying so (as a server whose
    idle timeout ran out does), close one on reading a request without answering it (the same,
    at the moment the next request arrives: ``drop`` is "kept" for a connection's second request
    and later ones, "all" for every request; after ``drop_after`` seconds, with ``drop_answer``
    written first), or set a cookie."""

    daemon_threads = True

    def __init__(self):
        self.connections, self.requests, self.cookies_seen = 0, 0, []
        self.close_after_answer = self.set_cookie = False
        self.drop, self.drop_after, self.drop_answer = None, 0, b""
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def setup(self):
                outer.connections += 1
                self.answered = 0
                super().setup()

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.do_GET()

            def do_GET(self):
                outer.requests += 1
                outer.cookies_seen.append(self.headers.get("Cookie"))
                if outer.drop == "all" or (outer.drop == "kept" and self.answered):
                    time.sleep(outer.drop_after)
                    self.wfile.write(outer.drop_answer)
                    self.close_connection = True
                    return
                self.answered += 1
                body = b'{"ok": true}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                if outer.set_cookie:
                    self.send_header("Set-Cookie", "authentik_session=person-one; Path=/")
                self.end_headers()
                self.wfile.write(body)
                if outer.close_after_answer:
                    self.close_connection = True

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}/application/o/romm/.well-known/openid-configuration"


@pytest.fixture
def server():
    client.close_connections()
    server = CountingProvider()
    yield server
    client.close_connections()
    server.shutdown()
    server.server_close()


@pytest.fixture
def provider(settings):
    configure(settings, None, OIDC_PROVIDER="authentik",
              OIDC_SERVER_APPLICATION_URL="http://127.0.0.1:9/application/o/romm/")
    return get_provider()


def test_the_next_call_reuses_the_open_connection(server, provider):
    for _ in range(3):
        assert client.fetch_json(provider, "GET", server.url) == {"ok": True}
    assert (server.requests, server.connections) == (3, 1)


def test_a_connection_the_provider_closed_is_replaced_and_the_call_succeeds(server, provider):
    server.close_after_answer = True
    assert client.fetch_json(provider, "GET", server.url) == {"ok": True}
    assert client.fetch_json(provider, "GET", server.url) == {"ok": True}
    assert (server.requests, server.connections) == (2, 2)


def test_a_connection_idle_past_the_limit_is_not_reused(server, provider, monkeypatch):
    monkeypatch.setattr(client, "IDLE_REUSE_SECONDS", -1)
    client.fetch_json(provider, "GET", server.url)
    client.fetch_json(provider, "GET", server.url)
    assert server.connections == 2


def test_the_providers_cookies_are_never_sent_back(server, provider):
    server.set_cookie = True
    client.fetch_json(provider, "GET", server.url)
    client.fetch_json(provider, "GET", server.url)
    assert server.connections == 1
    assert server.cookies_seen == [None, None]


def test_a_forked_worker_opens_its_own_connection(server, provider, monkeypatch):
    client.fetch_json(provider, "GET", server.url)
    monkeypatch.setattr(os, "getpid", lambda: -1)  # what a child of gunicorn --preload sees
    client.fetch_json(provider, "GET", server.url)
    assert server.connections == 2


def test_each_thread_has_its_own_connection(server, provider):
    client.fetch_json(provider, "GET", server.url)
    thread = threading.Thread(target=client.fetch_json, args=(provider, "GET", server.url))
    thread.start()
    thread.join()
    client.fetch_json(provider, "GET", server.url)
    assert (server.requests, server.connections) == (3, 2)


def test_a_kept_connection_closed_as_the_call_goes_out_is_called_again_once_on_a_new_one(server, provider):
    assert client.fetch_json(provider, "POST", server.url, data={"grant_type": "authorization_code"}) == {"ok": True}
    server.drop = "kept"  # the provider's idle timeout runs out just as the next call arrives
    assert client.fetch_json(provider, "POST", server.url, data={"grant_type": "authorization_code"}) == {"ok": True}
    assert (server.requests, server.connections) == (3, 2)


def test_a_new_connection_closed_without_answer_is_not_called_again(server, provider):
    server.drop = "all"
    with pytest.raises(SignInError) as refused:
        client.fetch_json(provider, "POST", server.url, data={"grant_type": "authorization_code"})
    assert refused.value.reason == "provider_unreachable"
    assert (server.requests, server.connections) == (1, 1)


def test_a_kept_connection_is_called_again_only_once(server, provider):
    client.fetch_json(provider, "GET", server.url)
    server.drop = "all"
    with pytest.raises(SignInError) as refused:
        client.fetch_json(provider, "GET", server.url)
    assert refused.value.reason == "provider_unreachable"
    assert (server.requests, server.connections) == (3, 2)


def test_a_provider_that_stops_taking_connections_is_waited_for_once_not_twice(server, provider, settings):
    settings.OIDC_TIMEOUT = 1
    server.close_after_answer = True
    client.fetch_json(provider, "GET", server.url)  # a session kept for this provider
    port = server.server_address[1]
    server.shutdown()
    server.server_close()
    # The provider's host takes no more connections: a listener that never accepts, queue full.
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(0)
    queued = [socket.socket() for _ in range(3)]
    for sock in queued:
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", port))
    try:
        started = time.monotonic()
        with pytest.raises(SignInError) as refused:
            client.fetch_json(provider, "GET", server.url)
        waited = time.monotonic() - started
    finally:
        for sock in (*queued, listener):
            sock.close()
    assert refused.value.reason == "provider_timeout"
    assert waited < 1.8  # OIDC_TIMEOUT once: a new connection that never opens is not tried again


def test_a_new_connection_after_a_kept_one_closed_is_not_called_again(server, provider):
    server.close_after_answer = True
    client.fetch_json(provider, "GET", server.url)
    server.drop = "all"  # the next call goes out on a new connection, which is dropped
    with pytest.raises(SignInError):
        client.fetch_json(provider, "POST", server.url, data={"grant_type": "authorization_code"})
    assert (server.requests, server.connections) == (2, 2)


@pytest.mark.parametrize("answer", [b"NOT HTTP\r\n", b"HTTP/1.1 200 OK\r\nX-Long: " + b"x" * 70000 + b"\r\n"])
def test_an_answer_that_is_not_http_is_not_called_again(server, provider, answer):
    client.fetch_json(provider, "GET", server.url)
    server.drop, server.drop_answer = "kept", answer  # the provider read the request and answered
    with pytest.raises(SignInError) as refused:
        client.fetch_json(provider, "POST", server.url, data={"grant_type": "authorization_code"})
    assert refused.value.reason == "provider_unreachable"
    assert (server.requests, server.connections) == (2, 1)


def test_a_kept_connection_closed_late_in_the_call_is_not_called_again(server, provider, settings):
    settings.OIDC_TIMEOUT = 1
    client.fetch_json(provider, "GET", server.url)
    server.drop, server.drop_after = "kept", 0.6  # more than half of OIDC_TIMEOUT: not an idle close
    with pytest.raises(SignInError):
        client.fetch_json(provider, "POST", server.url, data={"grant_type": "authorization_code"})
    assert (server.requests, server.connections) == (2, 1)

