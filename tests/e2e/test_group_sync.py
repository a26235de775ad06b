"""Provider groups mirrored as this site's groups, end to end: the site (several gunicorn workers
under E2E_SERVER=gunicorn, sharing Redis) and the local provider as real processes.

The ``following`` stacks mirror ``romm-*`` and ``staff`` and recheck every second. Simultaneous
sign-ins of one person must agree on the groups (one row each, no error, the membership exact),
and a group removed at the provider must be left at the next session request or app-token use
after the interval.
"""

import json
import os
import subprocess
import sys
import time

import pytest
import requests

from tests.e2e.conftest import RECHECK_SECONDS, ROOT
from tests.e2e.test_app_recheck import apps_only, me
from tests.e2e.test_concurrency import at_once, finished_round_trip, site_query
from tests.e2e.test_http_flow import sign_in
from tests.e2e.test_recheck import at_provider

pytestmark = pytest.mark.e2e

BROWSERS = 8
# Many groups make each sign-in's transaction long enough for the simultaneous ones to meet in it.
MANY = [f"romm-club-{n:02}" for n in range(1, 17)]  # with two more: one sign-in creates them all


def site_groups(stack, username):
    """The person's groups and the group rows of their sign-in history, read from the site's database."""
    code = (
        "import json; from accounts.models import SignInEvent, User; "
        f"user = User.objects.filter(username={username!r}).first(); "
        "print(json.dumps({'groups': sorted(user.groups.values_list('name', flat=True)) if user else [], "
        "'events': [[e.reason, e.detail] for e in SignInEvent.objects.filter(user=user, method='group')"
        ".order_by('pk')] if user else []}))"
    )
    return json.loads(site_query(stack, code))


def group_rows(stack, names):
    code = ("from django.contrib.auth.models import Group; "
            f"print(Group.objects.filter(name__in={sorted(names)!r}).count())")
    return int(site_query(stack, code))


def set_provider_groups(stack, username, names):
    """The provider's administrator puts the person in ``names`` (any names: written to its database,
    as its people page offers only the demo's groups)."""
    code = (
        "import django; django.setup()\n"
        "from django.contrib.auth import get_user_model\n"
        "from devidp.people import set_groups\n"
        f"set_groups(get_user_model().objects.get(username={username!r}), {list(names)!r})\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DEVIDP_"))}
    env.update(DJANGO_SETTINGS_MODULE="devidp.settings", DEVIDP_PROFILE=stack.profile, PYTHONPATH=str(ROOT),
               DEVIDP_DB=os.path.join(stack.provider.devidp_tmpdir, "idp.sqlite3"))
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, timeout=60)


def signed_in_at_once(stack, person):
    """``BROWSERS`` browsers finish the provider's round trip, then all call the site back at once."""
    trips = [finished_round_trip(stack, person) for _ in range(BROWSERS)]
    results = at_once([lambda s=s, u=u: s.get(u, allow_redirects=False, timeout=60) for s, u in trips])
    answers = [(r.status_code, r.headers.get("Location", "")) if isinstance(r, requests.Response) else repr(r)
               for r in results]
    # Each browser signed in, or (a first sign-in that lost the race) was told to start again.
    assert all(answer[0] == 302 and answer[1] in ("/", "/login?local=1") for answer in answers), answers
    assert sum(answer == (302, "/") for answer in answers) >= 1, answers
    return answers


def test_simultaneous_sign_ins_of_one_person_join_and_leave_each_group_once(following):
    before = site_groups(following, "erin")
    held = {name for name in before["groups"] if name.startswith("romm-") or name == "staff"}
    wanted = {"romm-viewers", "staff", *MANY}
    try:
        set_provider_groups(following, "erin", sorted(wanted))
        signed_in_at_once(following, "erin")
        after = site_groups(following, "erin")
        assert set(after["groups"]) == wanted | (set(before["groups"]) - held)
        new = after["events"][len(before["events"]):]
        assert sorted(new) == sorted([["group_joined", name] for name in wanted - held]
                                     + [["group_left", name] for name in held - wanted])
        assert group_rows(following, wanted) == len(wanted)

        set_provider_groups(following, "erin", ["romm-viewers"])
        signed_in_at_once(following, "erin")
        again = site_groups(following, "erin")
        assert set(again["groups"]) & (wanted | held) == {"romm-viewers"}
        assert sorted(again["events"][len(after["events"]):]) == sorted(
            [["group_left", name] for name in wanted - {"romm-viewers"}])
    finally:
        at_provider(following, "erin", "groups", ["staff"])
    assert "Traceback" not in following.site_log()


def test_a_group_removed_at_the_provider_is_left_at_the_next_session_request(following):
    try:
        at_provider(following, "frank", "groups", ["romm-viewers", "staff"])
        session, landed = sign_in(following, "frank", next_path="/api/users/me")
        assert landed.status_code == 200
        assert "staff" in site_groups(following, "frank")["groups"]
        at_provider(following, "frank", "groups", ["romm-viewers"])
        assert "staff" in site_groups(following, "frank")["groups"]  # until the recheck
        time.sleep(RECHECK_SECONDS + 0.2)
        assert session.get(f"{following.url}/api/users/me", timeout=20).status_code == 200
        found = site_groups(following, "frank")
        assert "staff" not in found["groups"] and "romm-viewers" in found["groups"]
        assert found["events"][-1] == ["group_left", "staff"]
    finally:
        at_provider(following, "frank", "groups", ["romm-viewers"])


def test_a_group_removed_at_the_provider_is_left_at_the_next_app_token_use(following):
    try:
        at_provider(following, "alice", "groups", ["romm-admins", "staff"])
        _, raw, device = apps_only(following, "alice")  # signed out: only apps act for her now
        assert "staff" in site_groups(following, "alice")["groups"]
        at_provider(following, "alice", "groups", ["romm-admins"])
        time.sleep(RECHECK_SECONDS + 0.2)
        assert me(following, device).status_code == 200
        found = site_groups(following, "alice")
        assert "staff" not in found["groups"] and "romm-admins" in found["groups"]
        assert found["events"][-1] == ["group_left", "staff"]
        assert me(following, raw).json()["role"] == "admin"
    finally:
        at_provider(following, "alice", "groups", ["romm-admins"])


def test_a_platform_seen_through_a_provider_group_leaves_every_app_at_the_next_recheck(following):
    """Groups decide what people see, at once and everywhere: a platform restricted to ``staff``
    shows in frank's app token and device while the provider has him in ``staff``, and both lose
    it (list and detail alike) at their next request after the interval, with no new sign-in."""
    stamp = time.monotonic_ns()
    name = f"Staff picks {stamp}"
    pk = int(site_query(following, (
        "from django.contrib.auth.models import Group; from library.models import Platform; "
        "group, _ = Group.objects.get_or_create(name='staff'); "
        f"platform = Platform.objects.create(name={name!r}, slug='staff-{stamp}'); "
        "platform.groups.add(group); print(platform.pk)"
    )))

    def seen(token):
        headers = {"Authorization": f"Bearer {token}"}
        listed = requests.get(f"{following.url}/api/platforms", headers=headers, timeout=20)
        detail = requests.get(f"{following.url}/api/platforms/{pk}", headers=headers, timeout=20)
        assert listed.status_code == 200 and detail.status_code in (200, 404)
        in_list = name in {platform["name"] for platform in listed.json()}
        assert in_list == (detail.status_code == 200)
        return in_list

    try:
        at_provider(following, "frank", "groups", ["romm-viewers", "staff"])
        _, raw, device = apps_only(following, "frank")
        assert seen(raw) and seen(device)
        at_provider(following, "frank", "groups", ["romm-viewers"])
        time.sleep(RECHECK_SECONDS + 0.2)
        assert not seen(device)  # the first use after the interval rechecks, then applies the groups
        assert not seen(raw)
        assert "staff" not in site_groups(following, "frank")["groups"]
    finally:
        at_provider(following, "frank", "groups", ["romm-viewers"])
        site_query(following, f"from library.models import Platform; Platform.objects.filter(pk={pk}).delete(); print(1)")
