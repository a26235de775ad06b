"""The compose files: valid for docker-compose 1.29, wired to the site, and `check --deploy` clean.

`docker-compose config` resolves each file set exactly as `up` would; its output (YAML) is read
with the interpreter docker-compose itself runs on, which has PyYAML.
"""

import functools
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = shutil.which("docker-compose")

FILE_SETS = {
    "site": ["compose.yml"],
    "authentik": ["compose.yml", "compose.authentik.yml"],
    "authelia": ["compose.yml", "compose.authelia.yml"],
}
# The variables a user puts in .env are not the test's business; only the files' defaults are.
CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith(("ROMM_", "OIDC_", "AUTHE", "POSTGRES_", "TRUST_"))}


def compose_config(files, **env):
    """The resolved configuration of ``files`` as a dict."""
    if COMPOSE is None:
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    return json.loads(_compose_config(tuple(files), tuple(sorted(env.items()))))


@functools.cache
def _compose_config(files, env):
    env = dict(env)
    args = [COMPOSE, "--project-directory", str(ROOT)]
    for name in files:
        args += ["-f", str(ROOT / name)]
    result = subprocess.run(args + ["config"], cwd=ROOT, env={**CLEAN_ENV, **env}, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    interpreter = Path(COMPOSE).read_text(errors="replace").splitlines()[0].removeprefix("#!").split()
    converted = subprocess.run(
        interpreter + ["-c", "import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)"],
        input=result.stdout, capture_output=True, text=True, timeout=60,
    )
    if converted.returncode != 0:
        pytest.skip(f"cannot read docker-compose's YAML output without PyYAML: {converted.stderr[-200:]}")
    return converted.stdout


@pytest.mark.parametrize("name", FILE_SETS)
def test_compose_files_are_valid(name):
    config = compose_config(FILE_SETS[name])
    assert {"site", "db", "redis"} <= set(config["services"])
    site = config["services"]["site"]
    assert site["healthcheck"]["test"] == ["CMD", "python", "deploy/healthcheck.py"]
    assert site["depends_on"]["db"]["condition"] == "service_healthy"
    assert site["depends_on"]["redis"]["condition"] == "service_healthy"
    for service in ("db", "redis"):
        assert config["services"][service]["healthcheck"]["test"]


def test_compose_files_have_no_top_level_name():
    for path in ROOT.glob("compose*.yml"):
        assert not any(line.startswith("name:") for line in path.read_text().splitlines()), path


def test_authentik_stack_has_server_worker_and_its_database_without_redis():
    services = compose_config(FILE_SETS["authentik"])["services"]
    assert services["authentik-server"]["command"] == "server"
    assert services["authentik-worker"]["command"] == "worker"
    assert services["authentik-server"]["environment"]["AUTHENTIK_POSTGRESQL__HOST"] == "authentik-db"
    assert not any("redis" in key.lower() for key in services["authentik-server"]["environment"])
    assert services["site"]["environment"]["OIDC_SERVER_APPLICATION_URL"] == "https://auth.example.com/application/o/romm/"
    env = compose_config(FILE_SETS["authentik"], AUTHENTIK_URL="https://sso.home.example", AUTHENTIK_APP_SLUG="games")
    site_env = env["services"]["site"]["environment"]
    assert site_env["OIDC_SERVER_APPLICATION_URL"] == "https://sso.home.example/application/o/games/"
    assert site_env["OIDC_PROVIDER"] == "authentik"


def test_authelia_stack_logs_out_through_the_portal():
    services = compose_config(FILE_SETS["authelia"], ROMM_BASE_URL="https://games.example.net")["services"]
    site_env = services["site"]["environment"]
    assert site_env["OIDC_PROVIDER"] == "authelia"
    assert site_env["OIDC_SERVER_APPLICATION_URL"] == "https://auth.example.com"
    assert site_env["OIDC_END_SESSION_ENDPOINT"] == "https://auth.example.com/logout?rd=https://games.example.net/login"
    assert services["authelia"]["environment"]["X_AUTHELIA_CONFIG_FILTERS"] == "template"


def test_sample_authelia_client_matches_what_the_site_sends():
    text = (ROOT / "deploy" / "authelia" / "configuration.yml").read_text()
    client = text[text.index("- client_id: 'romm'"):]
    for line in [
        "token_endpoint_auth_method: 'client_secret_basic'",
        "pkce_challenge_method: 'S256'",
        "require_pkce: true",
        "- 'https://romm.example.com/api/oauth/openid'",
        "client_secret: '$pbkdf2-sha512$",
    ]:
        assert line in client, line
    scopes = client[client.index("scopes:"):client.index("response_types:")]
    assert [s.strip(" -'") for s in scopes.splitlines()[1:] if s.strip()] == [
        "openid", "profile", "email", "groups", "offline_access"  # the last for the session recheck
    ]
    grants = client[client.index("grant_types:"):client.index("token_endpoint_auth_method:")]
    assert [s.strip(" -'") for s in grants.splitlines()[1:] if s.strip()] == ["authorization_code", "refresh_token"]


# --- `check --deploy` with exactly the environment compose gives the site ----------------------
def site_environment(name, tmp_path, **env):
    """The site container's environment from ``docker-compose config``, secrets as files."""
    variables = {k: "" if v is None else str(v) for k, v in compose_config(FILE_SETS[name], **env)["services"]["site"]["environment"].items()}
    for key, value in list(variables.items()):
        if key.endswith("_FILE") and value.startswith("/run/secrets/"):
            path = tmp_path / value.rsplit("/", 1)[1]
            path.write_text("x7Gq2kP9vL4mN8rT1wY5zA3cE6hJ0bD-" * 2 if key == "SECRET_KEY_FILE" else "client-secret")
            variables[key] = str(path)
    if importlib.util.find_spec("redis") is None:
        # Django's deploy checks build every cache; this environment lacks the client library the image has.
        variables["CACHE_URL"] = "locmemcache://"
    return variables


def manage(*args, environment):
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYTHONPATH", "TMPDIR")}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env={**env, **environment},
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("name", FILE_SETS)
def test_check_deploy_is_clean_with_the_compose_environment(name, tmp_path):
    result = manage("check", "--deploy", "--fail-level", "WARNING", environment=site_environment(name, tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_plain_http_trial_starts_with_warnings_only(tmp_path):
    environment = site_environment("site", tmp_path, ROMM_BASE_URL="http://localhost:8000", TRUST_PROXY_HEADERS="false")
    result = manage("check", "--deploy", "--fail-level", "ERROR", environment=environment)
    assert result.returncode == 0, result.stderr
    assert "accounts.W027" in result.stderr and "accounts.W021" in result.stderr


def test_container_refuses_to_start_without_a_secret_key(tmp_path):
    environment = site_environment("site", tmp_path)
    del environment["SECRET_KEY_FILE"]
    result = manage("check", "--deploy", "--fail-level", "ERROR", environment=environment)
    assert result.returncode != 0
    assert "accounts.E020" in result.stderr


def test_production_settings_follow_the_base_url_and_proxy_trust(tmp_path):
    code = (
        "import json, django; from django.conf import settings; django.setup(); print(json.dumps({k: getattr(settings, k, None) "
        "for k in ['SECURE_SSL_REDIRECT', 'SECURE_PROXY_SSL_HEADER', 'USE_X_FORWARDED_HOST', 'SECURE_HSTS_SECONDS', "
        "'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'ALLOWED_HOSTS', 'CSRF_TRUSTED_ORIGINS']}))"
    )
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME")}
    env["DJANGO_SETTINGS_MODULE"] = "romm_site.settings"

    def settings_for(**variables):
        result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**env, **variables},
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    behind_proxy = settings_for(ROMM_BASE_URL="https://romm.example.com", TRUST_PROXY_HEADERS="true")
    assert behind_proxy == {
        "SECURE_SSL_REDIRECT": True,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
        "USE_X_FORWARDED_HOST": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "ALLOWED_HOSTS": ["romm.example.com", "localhost", "127.0.0.1", "[::1]"],
        "CSRF_TRUSTED_ORIGINS": ["https://romm.example.com"],
    }
    untrusted = settings_for(ROMM_BASE_URL="https://romm.example.com")
    assert (untrusted["SECURE_SSL_REDIRECT"], untrusted["SECURE_PROXY_SSL_HEADER"], untrusted["USE_X_FORWARDED_HOST"]) == (
        False, None, False)
    plain = settings_for(ROMM_BASE_URL="http://192.168.1.5:8080", SECURE_HSTS_SECONDS="")
    assert (plain["SECURE_HSTS_SECONDS"], plain["SESSION_COOKIE_SECURE"]) == (0, False)
    assert plain["CSRF_TRUSTED_ORIGINS"] == ["http://192.168.1.5:8080"]


@pytest.mark.parametrize("name", ["compose.yml", "compose.authentik.yml", "compose.authelia.yml"])
def test_the_documents_a_compose_file_points_to_exist(name):
    import re

    text = (ROOT / name).read_text()
    readme = (ROOT / "README.md").read_text()
    headings = {line.lstrip("#").strip() for line in readme.splitlines() if line.startswith("## ")}
    for section in re.findall(r'README\.md, "([^"]+)"', text):
        assert section in headings, f"{name} points to README section {section!r}, which does not exist"
    for path in re.findall(r"\b((?:docs|deploy)/[\w./-]+\.(?:md|yml|py|sh))\b", text):
        assert (ROOT / path).exists(), f"{name} points to {path}, which does not exist"


def test_three_replicas_get_a_port_each_and_tell_the_checks():
    config = compose_config(["compose.yml"], ROMM_PORT="8000-8002", SITE_REPLICAS="3", GUNICORN_WORKERS="4")
    site = config["services"]["site"]
    assert site["environment"]["SITE_REPLICAS"] == "3" and site["environment"]["GUNICORN_WORKERS"] == "4"
    assert site["environment"]["CACHE_URL"].startswith("redis://")
    assert site["environment"]["DATABASE_URL"].startswith("postgres://")
    assert site["ports"] == ["127.0.0.1:8000-8002:8000/tcp"]


def test_the_site_cleans_up_daily_unless_told_otherwise():
    site = compose_config(["compose.yml"])["services"]["site"]["environment"]
    assert (site["CLEANUP_INTERVAL_SECONDS"], site["SIGNIN_HISTORY_DAYS"]) == ("86400", "90")
    hourly = compose_config(["compose.yml"], CLEANUP_INTERVAL_SECONDS="3600", SIGNIN_HISTORY_DAYS="30")
    assert hourly["services"]["site"]["environment"]["CLEANUP_INTERVAL_SECONDS"] == "3600"
    assert hourly["services"]["site"]["environment"]["SIGNIN_HISTORY_DAYS"] == "30"
    start = (ROOT / "deploy" / "start.sh").read_text()
    assert "python manage.py clearsessions" in start and "python manage.py prune_signin_history" in start
