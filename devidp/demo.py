"""python -m devidp.demo [--profile authelia]: the site and a local provider, ready to sign in.

Starts the development provider on 127.0.0.1:9000 and the site on 127.0.0.1:8000 (its database in
.demo/), creates the local account that frank's first sign-in links to, prints who is who, and
stops both on Ctrl-C.
"""

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from devidp.people import PASSWORD, PEOPLE

REPO_ROOT = Path(__file__).resolve().parent.parent
SITE_URL = "http://127.0.0.1:8000"
IDP_PORT = 9000
CLIENT_ID = "romm-demo"
CLIENT_SECRET = "demo-secret-change-me"
REDIRECT_URI = f"{SITE_URL}/api/oauth/openid"
POST_LOGOUT_REDIRECT_URI = f"{SITE_URL}/login"
BACKCHANNEL_LOGOUT_URI = f"{SITE_URL}/api/oauth/backchannel-logout"
RECHECK_SECONDS = 10

CREATE_FRANK = """
from django.contrib.auth import get_user_model
from django.db.models import Q
User = get_user_model()
if not User.objects.filter(Q(username="frank") | Q(email__iexact="frank@example.com")).exists():
    User.objects.create_user(username="frank", email="frank@example.com", password="demo")
    print("created the local account frank (password demo)")
"""


def provider_url(profile):
    base = f"http://127.0.0.1:{IDP_PORT}"
    return base if profile == "authelia" else f"{base}/application/o/romm/"


def site_environment(profile, base_env=os.environ):
    """The site's environment: the caller's, minus any OIDC_* of its own, plus the demo's."""
    env = {k: v for k, v in base_env.items() if not k.startswith("OIDC_") and k != "DJANGO_SETTINGS_MODULE"}
    env.update(
        OIDC_ENABLED="true",
        OIDC_PROVIDER=profile,
        OIDC_CLIENT_ID=CLIENT_ID,
        OIDC_CLIENT_SECRET=CLIENT_SECRET,
        OIDC_SERVER_APPLICATION_URL=provider_url(profile),
        OIDC_REDIRECT_URI=REDIRECT_URI,
        OIDC_POST_LOGOUT_REDIRECT_URI=POST_LOGOUT_REDIRECT_URI,
        ROMM_BASE_URL=SITE_URL,
        OIDC_CLAIM_ROLES="groups",
        OIDC_ROLE_ADMIN="romm-admins",
        OIDC_ROLE_EDITOR="romm-editors",
        OIDC_ROLE_VIEWER="romm-viewers",
        # Sessions follow the provider: change someone on the provider's /demo/people page and the
        # site applies it within this many seconds.
        OIDC_SESSION_RECHECK_SECONDS=str(RECHECK_SECONDS),
        DEBUG="true",
        SECRET_KEY="demo-only-not-secret",
        DATABASE_URL=f"sqlite:///{REPO_ROOT / '.demo' / 'site.sqlite3'}",
        PYTHONUNBUFFERED="1",
    )
    if profile == "authentik":
        # Authentik has an end-session endpoint: logging out of the site ends the provider session too.
        env["OIDC_RP_INITIATED_LOGOUT"] = "true"
    return env


def provider_command(profile):
    return [
        sys.executable,
        "-m",
        "devidp",
        "--profile",
        profile,
        "--host",
        "127.0.0.1",
        "--port",
        str(IDP_PORT),
        "--client-id",
        CLIENT_ID,
        "--client-secret",
        CLIENT_SECRET,
        "--redirect-uri",
        REDIRECT_URI,
        "--post-logout-redirect-uri",
        POST_LOGOUT_REDIRECT_URI,
        "--offline-access",
        "--backchannel-logout-uri",
        BACKCHANNEL_LOGOUT_URI,
    ]


class Child:
    """A subprocess in its own session (Ctrl-C reaches only the demo), its output prefixed."""

    def __init__(self, label, command, env, ready_line=None):
        self.label = label
        self.ready = threading.Event()
        self.process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            bufsize=1,
            start_new_session=True,
        )
        self._ready_line = ready_line
        threading.Thread(target=self._relay, daemon=True).start()

    def _relay(self):
        for line in self.process.stdout:
            if self._ready_line and line.startswith(self._ready_line):
                self.ready.set()
            sys.stdout.write(f"[{self.label}] {line}")
            sys.stdout.flush()

    def alive(self):
        return self.process.poll() is None

    def stop(self):
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def run_manage(env, *args):
    # Own session: a Ctrl-C meant for the demo does not interrupt it mid-way with a traceback.
    command = [sys.executable, "manage.py", *args]
    return subprocess.run(command, check=False, cwd=REPO_ROOT, env=env, start_new_session=True).returncode


def wait_for(check, child, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        if not child.alive():
            return False
        time.sleep(0.2)
    return False


def site_answers():
    try:
        urllib.request.urlopen(f"{SITE_URL}/login", timeout=1)
    except urllib.error.HTTPError:
        return True  # any HTTP answer means it is up
    except (urllib.error.URLError, OSError):
        return False
    return True


def banner(profile):
    title = profile.capitalize()
    lines = [
        "",
        "Demo ready (Ctrl-C stops both).",
        f"  site      {SITE_URL}/login",
        f"  provider  {provider_url(profile)}  ({title} profile, client {CLIENT_ID})",
        f'Click "Sign in with {title}", then log in at the provider as (password "{PASSWORD}"):',
    ]
    lines += [f"  {p.username:<6} {p.email:<18} {', '.join(p.groups):<13} {p.note}" for p in PEOPLE.values()]
    lines.append(f"Local password account: frank / {PASSWORD} (the one frank's first OIDC sign-in links to).")
    lines.append(
        f"Change someone at the provider while they are signed in: http://127.0.0.1:{IDP_PORT}/demo/people "
        f"(the site follows within {RECHECK_SECONDS} s"
        + ("; \"End sessions\" signs them out at once)." if profile == "authentik" else ").")
    )
    return "\n".join(lines) + "\n"


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m devidp.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=["authentik", "authelia"], default="authentik")
    profile = parser.parse_args(argv).profile

    if not (REPO_ROOT / "manage.py").exists():
        print(f"devidp.demo: manage.py not found in {REPO_ROOT}", file=sys.stderr)
        return 1
    (REPO_ROOT / ".demo").mkdir(exist_ok=True)
    env = site_environment(profile)
    # SIGTERM takes the same clean path as Ctrl-C.
    signal.signal(signal.SIGTERM, _interrupt)
    children = []
    try:
        idp = Child("idp", provider_command(profile), dict(os.environ, PYTHONUNBUFFERED="1"), "devidp ready:")
        children.append(idp)
        if not wait_for(idp.ready.is_set, idp, timeout=60):
            print(f"devidp.demo: the provider did not start (is port {IDP_PORT} free?)", file=sys.stderr)
            return 1
        if run_manage(env, "migrate", "--noinput") != 0:
            print("devidp.demo: `manage.py migrate` failed", file=sys.stderr)
            return 1
        if run_manage(env, "shell", "-c", CREATE_FRANK) != 0:
            print("devidp.demo: could not create the local account frank", file=sys.stderr)
            return 1
        site = Child("site", [sys.executable, "manage.py", "runserver", "127.0.0.1:8000", "--noreload"], env)
        children.append(site)
        if not wait_for(site_answers, site, timeout=60):
            print("devidp.demo: the site did not start (is port 8000 free?)", file=sys.stderr)
            return 1
        print(banner(profile), flush=True)
        while all(child.alive() for child in children):
            time.sleep(0.5)
        stopped = next(child.label for child in children if not child.alive())
        print(f"devidp.demo: the {stopped} stopped; stopping the demo", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopping the demo...", flush=True)
        return 0
    finally:
        for child in reversed(children):
            child.stop()


if __name__ == "__main__":
    sys.exit(main())
