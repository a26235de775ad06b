"""Start the development provider as a subprocess, for end-to-end tests.

    redirect_uris = ["http://127.0.0.1:8000/api/oauth/openid"]
    process, base_url, issuer = start_devidp("authelia", "romm", "secret", redirect_uris)
    ...
    stop_devidp(process)

The provider listens on a free port chosen by the OS (no race) and keeps its database in a
temporary directory that ``stop_devidp`` removes. Its log is kept in ``process.output``
(a list of lines), handy in assertion messages.
"""

import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parent.parent
READY = "devidp ready: issuer="


def start_devidp(
    profile,
    client_id,
    client_secret,
    redirect_uris,
    post_logout_redirect_uris=(),
    *,
    extra_args=(),
    host="127.0.0.1",
    port=0,
    timeout=30,
):
    """Start ``python -m devidp``; return ``(process, base_url, issuer)`` once it accepts connections.

    ``extra_args`` are more ``python -m devidp`` options (``--offline-access``, ...).
    """
    tmpdir = tempfile.mkdtemp(prefix=f"devidp-{profile}-")
    command = [
        sys.executable,
        "-m",
        "devidp",
        "--profile",
        profile,
        "--host",
        host,
        "--port",
        str(port),
        "--client-id",
        client_id,
        "--client-secret",
        client_secret,
        "--db",
        os.path.join(tmpdir, "idp.sqlite3"),
    ]
    for uri in redirect_uris:
        command += ["--redirect-uri", uri]
    for uri in post_logout_redirect_uris:
        command += ["--post-logout-redirect-uri", uri]
    command += list(extra_args)  # e.g. --offline-access, --backchannel-logout-uri URI
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["PYTHONUNBUFFERED"] = "1"
    process = subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        bufsize=1,
    )
    process.output = []
    process.devidp_tmpdir = tmpdir
    lines = queue.Queue()

    def drain():
        # Keep reading so a chatty provider never blocks on a full pipe.
        for line in process.stdout:
            process.output.append(line.rstrip("\n"))
            lines.put(line)
        lines.put(None)

    threading.Thread(target=drain, daemon=True, name=f"devidp-{profile}-output").start()
    try:
        while True:
            line = lines.get(timeout=timeout)
            if line is None:
                raise RuntimeError("devidp exited before it was ready:\n" + "\n".join(process.output))
            if line.startswith(READY):
                issuer = line[len(READY) :].strip()
                parts = urlsplit(issuer)
                return process, f"{parts.scheme}://{parts.netloc}", issuer
    except BaseException:
        stop_devidp(process)
        raise


def stop_devidp(process, timeout=10):
    """Stop the provider (SIGTERM, then SIGKILL) and remove its temporary database."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    tmpdir = getattr(process, "devidp_tmpdir", None)
    if tmpdir:
        shutil.rmtree(tmpdir, ignore_errors=True)
