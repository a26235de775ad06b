"""Eight people whose provider gives them the same username sign in for the first time at once.

Each must get an account, with distinct usernames (the next free number). On PostgreSQL their
checks for a free name ran at the same moment and three of eight were refused (`conflict`);
SQLite's write lock serialises them. The site, the provider and the databases are real processes.
"""

import os
import secrets
import subprocess
import sys

import pytest
import requests

from tests.e2e.conftest import DATABASE, POSTGRES_URL, ROOT, Stack, postgres
from tests.e2e.test_concurrency import at_once, finished_round_trip, site_query

pytestmark = pytest.mark.e2e

PEOPLE = [f"sam{n}" for n in range(1, 9)]


def add_provider_people(stack, usernames):
    """People at the local provider, all named "Sam Same", each with their own verified email."""
    code = (
        "import django; django.setup()\n"
        "from django.contrib.auth import get_user_model\n"
        "from devidp.people import PASSWORD, set_groups\n"
        f"for name in {usernames!r}:\n"
        "    user = get_user_model().objects.create_user(name, email=name + '@example.com', password=PASSWORD,\n"
        "                                                first_name='Sam', last_name='Same')\n"
        "    set_groups(user, ['romm-viewers'])\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DEVIDP_"))}
    env.update(DJANGO_SETTINGS_MODULE="devidp.settings", DEVIDP_PROFILE=stack.profile, PYTHONPATH=str(ROOT),
               DEVIDP_DB=os.path.join(stack.provider.devidp_tmpdir, "idp.sqlite3"))
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def same_name_stack(request):
    site_env = {"OIDC_USERNAME_ATTRIBUTE": "name"}  # "Sam Same" for every one of them
    database = None
    if request.param == "postgresql" and DATABASE != "postgres":
        database = f"{POSTGRES_URL.rsplit('/', 1)[1]}_{secrets.token_hex(4)}"
        try:
            postgres(f'CREATE DATABASE "{database}"')
        except Exception as exc:  # noqa: BLE001 - any reason the server is not there
            pytest.skip(f"PostgreSQL at {POSTGRES_URL} is not reachable: {exc}")
        site_env["DATABASE_URL"] = f"{POSTGRES_URL.rsplit('/', 1)[0]}/{database}"
    elif request.param == "sqlite" and DATABASE == "postgres":
        pytest.skip("E2E_DATABASE=postgres: the stacks run on PostgreSQL")
    stack = Stack("authelia", site_env)  # Authelia's emails are verified for every person
    add_provider_people(stack, PEOPLE)
    yield stack
    stack.stop()
    if database:
        postgres(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def test_eight_simultaneous_first_sign_ins_with_one_username_all_get_accounts(same_name_stack):
    trips = [finished_round_trip(same_name_stack, person) for person in PEOPLE]
    results = at_once([lambda s=s, u=u: s.get(u, allow_redirects=False, timeout=60) for s, u in trips])
    answers = [(r.status_code, r.headers.get("Location")) if isinstance(r, requests.Response) else repr(r)
               for r in results]
    assert answers == [(302, "/")] * len(PEOPLE), answers
    names = [s.get(f"{same_name_stack.url}/api/users/me", timeout=10).json()["username"] for s, _ in trips]
    assert sorted(names) == sorted(["Sam-Same"] + [f"Sam-Same-{n}" for n in range(2, 9)])
    assert site_query(same_name_stack, "from accounts.models import User, Identity; "
                      "print(User.objects.count(), Identity.objects.count())") == "9 8"  # and frank
    assert "Traceback" not in same_name_stack.site_log()
