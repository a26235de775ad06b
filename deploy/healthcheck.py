"""The container's healthcheck: GET /healthz on the loopback, as the public host.

Sending ROMM_BASE_URL's host keeps the request inside ALLOWED_HOSTS whatever it is set to;
plain http is fine because /healthz is exempt from the https redirect. Exit 0 when healthy.
"""

import os
import sys
import urllib.error
import urllib.request
from urllib.parse import urlsplit

base = urlsplit(os.environ.get("ROMM_BASE_URL", "").strip().strip("\"'") or "http://localhost:8000")
port = os.environ.get("PORT", "8000")
request = urllib.request.Request(f"http://127.0.0.1:{port}/healthz", headers={"Host": base.netloc or "localhost"})
try:
    with urllib.request.urlopen(request, timeout=4) as response:
        sys.exit(0 if response.status == 200 else 1)
except (urllib.error.URLError, OSError) as exc:
    print(f"healthz: {exc}", file=sys.stderr)
    sys.exit(1)
