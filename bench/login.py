"""Benchmark: the OIDC login round trip and ID token validation, with the provider faked over HTTP.

Run: .venv/bin/python bench/login.py [--logins 300]
Prints logins per second, provider requests per login (cold and warm cache), and token
validations per second. The provider is the test fake (requests-mock), so the numbers are this
site's own cost: session, database, JWT validation.
"""

import argparse
import statistics
import time

import requests_mock  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from harness import configure, prepare_database  # first: sets Django up

from accounts.oidc import idtoken  # noqa: E402
from accounts.oidc.provider import get_provider  # noqa: E402
from tests.fakeidp import PEOPLE, FakeProvider  # noqa: E402

ROLES = {"OIDC_CLAIM_ROLES": "groups", "OIDC_ROLE_VIEWER": "*", "OIDC_ROLE_ADMIN": "romm-admins"}


def one_login(client, fake, person):
    location = client.get("/api/login/openid")["Location"]
    response = client.get(fake.authorize(location, person).replace("http://testserver", ""))
    assert response.status_code == 302 and not response["Location"].startswith("/login"), response["Location"]
    client.post("/logout")


def run(profile, logins):
    # Each profile starts from an empty site: an administrator made by one provider is never
    # linked by email to another's identity.
    call_command("flush", interactive=False, verbosity=0)
    with requests_mock.Mocker() as mocker:
        fake = FakeProvider(mocker, profile)
        configure(fake, **ROLES)
        cache.clear()
        client = Client()
        people = [p for p in PEOPLE if p != "dave" and p != "erin"]
        one_login(client, fake, people[0])
        cold = len(mocker.request_history)
        before = len(mocker.request_history)
        durations = []
        for index in range(logins):
            start = time.perf_counter()
            one_login(client, fake, people[index % len(people)])
            durations.append(time.perf_counter() - start)
        warm = (len(mocker.request_history) - before) / logins
        total = sum(durations)
        print(f"{profile:9s} logins: {logins}  {logins / total:7.1f} logins/s  "
              f"median {statistics.median(durations) * 1000:6.2f} ms  p95 "
              f"{sorted(durations)[int(logins * 0.95) - 1] * 1000:6.2f} ms  "
              f"provider requests/login: cold {cold}, warm {warm:.1f}")

        # Token validation alone.
        provider = get_provider()
        grant = {"person": "carol", "claims": PEOPLE["carol"], "nonce": "n" * 32}
        token = fake.id_token(grant)
        rounds = 2000
        start = time.perf_counter()
        for _ in range(rounds):
            idtoken.validate_id_token(provider, token, "n" * 32)
        elapsed = time.perf_counter() - start
        print(f"{profile:9s} ID token validations: {rounds / elapsed:8.0f}/s ({elapsed / rounds * 1e6:.0f} us each, cached JWKS)")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--logins", type=int, default=300)
    args = parser.parse_args()
    prepare_database()
    for profile in ("authentik", "authelia"):
        run(profile, args.logins)


if __name__ == "__main__":
    main()
