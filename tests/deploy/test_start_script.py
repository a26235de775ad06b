"""deploy/start.sh refuses a cleanup interval it cannot use, before it starts anything."""

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_cleanup_interval_that_is_not_seconds_stops_the_container_with_a_sentence():
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME")}
    done = subprocess.run(["sh", "deploy/start.sh"], check=False, cwd=ROOT, env={**env, "CLEANUP_INTERVAL_SECONDS": "daily"},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "CLEANUP_INTERVAL_SECONDS=daily is not a number of seconds: use 86400 (daily) or 0 (off)." in done.stderr
