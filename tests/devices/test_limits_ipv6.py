"""The app endpoints' per-address limits count an IPv6 /64 as one client, as the password limits do.

A client holding a /64 (one home, one phone) may send from any of its 2**64 addresses; counted
one by one, each would bring a fresh allowance of pairing-code guesses and device sign-ins.
"""

from types import SimpleNamespace

import pytest
from django.test import Client, RequestFactory

from devices.views.client_tokens import EXCHANGES_PER_MINUTE
from devices.views.device_flow import INITS_PER_MINUTE, POLLS_PER_MINUTE
from romm_site.addresses import address_bucket
from tests.devices.helpers import post_json

pytestmark = pytest.mark.django_db

ONE_64 = [f"2001:db8:7:7:{n:x}::{n:x}" for n in range(1, 80)]
NEXT_64 = "2001:db8:7:8::1"


@pytest.fixture(autouse=True)
def _one_minute(monkeypatch):
    """Every request of a test in the same counting minute, whenever the test runs."""
    monkeypatch.setattr("devices.limits.time", SimpleNamespace(time=lambda: 1_700_000_010.0))


INIT = {"client_device_identifier": "d", "name": "Deck", "client": "grout", "requested_scopes": ["me.read"]}


def exchange(address):
    return post_json(Client(REMOTE_ADDR=address), "/api/client-tokens/exchange", {"code": "ABCD-EFGH"})


def test_pairing_guesses_from_one_64_share_one_allowance():
    statuses = [exchange(address).status_code for address in ONE_64[: EXCHANGES_PER_MINUTE + 1]]
    assert statuses == [404] * EXCHANGES_PER_MINUTE + [429]
    assert exchange(NEXT_64).status_code == 404  # the neighbouring /64 is another client
    assert exchange("192.0.2.1").status_code == 404


def test_device_sign_ins_and_polls_from_one_64_share_one_allowance():
    inits = [post_json(Client(REMOTE_ADDR=a), "/api/auth/device/init", INIT).status_code
             for a in ONE_64[: INITS_PER_MINUTE + 1]]
    assert inits == [201] * INITS_PER_MINUTE + [429]
    polls = [post_json(Client(REMOTE_ADDR=a), "/api/auth/device/token", {"device_code": "x"}).status_code
             for a in ONE_64[: POLLS_PER_MINUTE + 1]]
    assert polls[-1] == 429 and 429 not in polls[:-1]
    assert post_json(Client(REMOTE_ADDR=NEXT_64), "/api/auth/device/init", INIT).status_code == 201


def test_ipv4_mapped_addresses_count_as_their_ipv4_address():
    for _ in range(EXCHANGES_PER_MINUTE):
        exchange("192.0.2.9")
    assert exchange("::ffff:192.0.2.9").status_code == 429


@pytest.mark.parametrize(
    "remote, forwarded, trusted, bucket",
    [
        ("192.0.2.1", "", False, "192.0.2.1"),
        ("2001:db8:1:2:3:4:5:6", "", False, "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.1", "", False, "192.0.2.1"),
        ("10.0.0.1", "198.51.100.1, 2001:db8:9:9::1", True, "2001:db8:9:9::/64"),
        ("10.0.0.1", "2001:db8:9:9::1", False, "10.0.0.1"),  # the header counts only behind a trusted proxy
    ],
)
def test_the_bucket_every_limit_counts(settings, remote, forwarded, trusted, bucket):
    settings.TRUST_PROXY_HEADERS = trusted
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert address_bucket(request) == bucket
