"""What every benchmark needs: Django on an in-memory database, and the site pointed at a fake provider."""

import os
import sys
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

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from romm_site.envvars import EnvReader, read_providers  # noqa: E402
from tests.fakeidp import CLIENT_ID, CLIENT_SECRET  # noqa: E402


def prepare_database():
    setup_test_environment()
    call_command("migrate", verbosity=0, interactive=False)


def configure(fake, **env):
    """Point the site at ``fake`` through the same variables a user sets."""
    settings.OIDC_ENABLED = True
    settings.ALLOWED_HOSTS = ["testserver"]
    variables = {
        "OIDC_PROVIDER": fake.profile, "OIDC_CLIENT_ID": CLIENT_ID, "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_SERVER_APPLICATION_URL": fake.server_url, **env,
    }
    settings.OIDC_PROVIDER_CONFIGS = read_providers(EnvReader(variables), "http://testserver")
