"""The container image holds everything the site imports.

Without a Docker engine the image is rebuilt here as a folder: exactly what the Dockerfile's
COPY lines put in /app, and nothing else of the checkout. The build's own step
(`manage.py collectstatic`) and the start's first step (`manage.py check --deploy`) then run
in that folder; a package the site needs but the Dockerfile forgets fails them.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def copied_paths():
    """(source, destination) of each path the Dockerfile copies into the image's /app."""
    pairs = []
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        words = line.split()
        if not words or words[0] != "COPY" or any(word.startswith("--from") for word in words):
            continue
        *sources, destination = words[1:]
        into_folder = destination.endswith("/") or len(sources) > 1
        for source in sources:
            pairs.append((source, f"{destination.rstrip('/')}/{Path(source).name}" if into_folder else destination))
    return pairs


def test_the_image_has_every_package_the_site_needs(tmp_path):
    app = tmp_path / "app"
    app.mkdir()
    for source, destination in copied_paths():
        target = app / destination.removeprefix("./")
        target.parent.mkdir(parents=True, exist_ok=True)
        if (ROOT / source).is_dir():
            shutil.copytree(ROOT / source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / source, target)
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("OIDC_", "DATABASE_", "CACHE_", "ROMM_", "PYTHONPATH", "DJANGO_"))
    }
    env.update(SECRET_KEY="collectstatic-only", DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    for command in (["collectstatic", "--noinput"], ["check"]):
        result = subprocess.run([sys.executable, "manage.py", *command], check=False, cwd=app, env=env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr[-1500:]
    assert (app / "staticfiles").is_dir()
