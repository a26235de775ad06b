"""Review (attack): when the person's access is withdrawn (``accounts.signals.access_withdrawn``:
provider ended the grant, groups grant no role, back-channel logout by ``sub``, identity
unlinked), every app and device token is revoked "even once access comes back". Grants still
in flight are not part of that: a device authorization approved but not yet redeemed by the
device's poll mints a fresh, live token afterwards (``devices.flow.redeem`` checks only
``is_active``).

test_an_approved_device_cannot_redeem_after_access_was_withdrawn: DEMONSTRATES A PROBLEM
(fails on current code: the poll after the withdrawal gets a token that works).
test_a_pending_pairing_code_dies_with_the_withdrawal: HELD (passes: the exchange checks
``tokens.stopped``).
"""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Identity, Role, User
from devices import pairing
from devices.models import DeviceAuthorization
from tests.devices.helpers import bearer, make_token, post_json, signed_in, start_device

pytestmark = pytest.mark.django_db


@pytest.fixture
def frank():
    user = User.objects.create_user("frank", email="frank@corp.test", role=Role.EDITOR)
    Identity.objects.create(user=user, provider="authentik", issuer="https://idp.test/", subject="frank-sub")
    return user


def test_an_approved_device_cannot_redeem_after_access_was_withdrawn(frank):
    device = start_device()
    approved = signed_in(frank).post("/pair/device", {"user_code": device["user_code"], "decision": "approve"})
    assert approved.status_code in (200, 302)
    assert DeviceAuthorization.objects.get().status == "approved"

    # The person is removed from this site's access: the administrator unlinks the identity
    # (accounts.app_recheck.identity_unlinked withdraws every token of theirs).
    Identity.objects.filter(user=frank).delete()

    DeviceAuthorization.objects.update(last_poll_at=timezone.now() - timedelta(seconds=3600))
    polled = post_json(Client(REMOTE_ADDR="10.3.3.3"), "/api/auth/device/token", {"device_code": device["device_code"]})
    if polled.status_code == 200:
        me = Client().get("/api/users/me", **bearer(polled.json()["access_token"]))
        assert me.status_code == 401, "a device approved before the withdrawal got a working token after it"


def test_a_pending_pairing_code_dies_with_the_withdrawal(frank):
    _, token = make_token(frank, ["me.read"])
    code = pairing.create(token)
    Identity.objects.filter(user=frank).delete()
    exchanged = post_json(Client(REMOTE_ADDR="10.4.4.4"), "/api/client-tokens/exchange", {"code": code})
    assert exchanged.status_code == 404
