"""Client addresses behind a reverse proxy: X-Forwarded-For counts only when trusted."""

import pytest
from django.test import RequestFactory

from accounts.audit.history import client_address


@pytest.mark.parametrize(
    "trusted, forwarded, expected",
    [
        (False, "203.0.113.9", "172.18.0.5"),
        (True, "203.0.113.9", "203.0.113.9"),
        (True, "6.6.6.6, 203.0.113.9", "203.0.113.9"),  # the client's own entry is ignored
        (True, "2001:db8::7", "2001:db8::7"),
        (True, "not-an-address", "172.18.0.5"),
        (True, "", "172.18.0.5"),
    ],
)
def test_client_address(settings, trusted, forwarded, expected):
    settings.TRUST_PROXY_HEADERS = trusted
    request = RequestFactory().get("/", REMOTE_ADDR="172.18.0.5", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_address(request) == expected
