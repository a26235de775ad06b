"""Running ``manage.py oidc_doctor`` the way an operator does, and reading its JSON report."""

import json
from io import StringIO

from django.core.management import call_command
from django.core.management.base import CommandError


def doctor(*args):
    """(exit status, stdout) of the command."""
    out = StringIO()
    try:
        call_command("oidc_doctor", *args, stdout=out)
    except CommandError as error:
        return error.returncode, out.getvalue()
    return 0, out.getvalue()


def findings(*, level=None):
    status, out = doctor("--json")
    report = json.loads(out)
    found = {f["code"]: f for p in report["providers"] for f in p["findings"]}
    found.update({f["code"]: f for f in report["configuration"]})
    if level:
        found = {code: f for code, f in found.items() if f["level"] == level}
    return status, found
