"""Benchmark: back-channel logout with many live sessions (the sid/sub lookup must not scan).

Run: .venv/bin/python bench/backchannel.py [--sessions 20000]
Prints the time per logout-token request with N OIDC sessions in the table, and the query plan
of the lookup (it must use the (issuer, sid) index).
"""

import argparse
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "romm_site.settings")
os.environ.setdefault("DATABASE_URL", "sqlite://:memory:")
os.environ.setdefault("LOG_LEVEL", "WARNING")
warnings.filterwarnings("ignore", message="No directory at")

import django  # noqa: E402

django.setup()

import requests_mock  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from accounts.models import OIDCSession, User  # noqa: E402
from romm_site.envvars import EnvReader, read_providers  # noqa: E402
from tests.fakeidp import CLIENT_ID, CLIENT_SECRET, FakeProvider, logout_token  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=20000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    setup_test_environment()
    call_command("migrate", verbosity=0, interactive=False)
    with requests_mock.Mocker() as mocker:
        fake = FakeProvider(mocker, "authentik")
        settings.OIDC_ENABLED = True
        settings.ALLOWED_HOSTS = ["testserver"]
        settings.OIDC_PROVIDER_CONFIGS = read_providers(EnvReader({
            "OIDC_PROVIDER": "authentik", "OIDC_CLIENT_ID": CLIENT_ID, "OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "OIDC_SERVER_APPLICATION_URL": fake.server_url,
        }), "http://testserver")
        user = User.objects.create_user("load")
        OIDCSession.objects.bulk_create(
            OIDCSession(session_key=f"k{i:039d}", user=user, provider="authentik", issuer=fake.issuer,
                        subject=f"sub-{i}", sid=f"sid-{i}")
            for i in range(args.sessions)
        )
        plan = OIDCSession.objects.filter(issuer=fake.issuer, sid="sid-5").explain()
        client = Client()
        durations = []
        for i in range(args.requests):
            token = logout_token(fake, str(i), sub=False)
            start = time.perf_counter()
            response = client.post("/api/oauth/backchannel-logout", {"logout_token": token})
            durations.append(time.perf_counter() - start)
            assert response.status_code == 200, response.content
        print(f"sessions in table: {args.sessions}  logout requests: {args.requests}  "
              f"median {statistics.median(durations) * 1000:.2f} ms  "
              f"p95 {sorted(durations)[int(args.requests * 0.95) - 1] * 1000:.2f} ms")
        print(f"remaining sessions: {OIDCSession.objects.count()} (expected {args.sessions - args.requests})")
        print("lookup plan:", plan.replace("\n", " | "))


if __name__ == "__main__":
    main()
