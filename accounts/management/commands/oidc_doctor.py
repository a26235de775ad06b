"""``python manage.py oidc_doctor``: ask each configured provider, live, whether sign-in can work.

The findings come from ``accounts.oidc.doctor``; this prints them, in words or as JSON. Exit status 1
when anything is an error.
"""

import json

from django.core.management.base import BaseCommand, CommandError

from accounts.oidc.doctor import finding, report


class Command(BaseCommand):
    help = (
        "Contact each configured OpenID provider (discovery and signing keys, fetched fresh with the site's TLS "
        "settings) and report what would stop sign-in, with what to change. Exit status 1 on errors."
    )
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print the findings as JSON for scripts.")

    def handle(self, *args, **options):
        found = report()
        if options["json"]:
            self.stdout.write(json.dumps(found, indent=2))
        else:
            self._print(found)
        if found["errors"]:
            raise CommandError(f"{found['errors']} error(s) found.", returncode=1)

    def _print(self, found):
        self.stdout.write("Configuration (python manage.py check --deploy, accounts.*)")
        self._print_findings(found["configuration"] or [finding("ok", "", "No problems found.")])
        if not found["oidc_enabled"]:
            self.stdout.write("\nOIDC_ENABLED is not true: there is no provider to contact.")
        for entry in found["providers"]:
            self.stdout.write(f"\nProvider {entry['name']!r} ({entry['label']}), discovery {entry['discovery_url']}")
            self._print_findings(entry["findings"])
        self.stdout.write(f"\n{found['errors']} error(s), {found['warnings']} warning(s).")

    def _print_findings(self, findings):
        style = {"error": self.style.ERROR, "warning": self.style.WARNING}
        for item in findings:
            label = item["level"].upper() if item["level"] != "info" else "ok"
            code = f" [{item['code']}]" if item["code"] else ""
            self.stdout.write(style.get(item["level"], str)(f"  {label:<8}{item['message']}{code}"))
            if item["fix"]:
                self.stdout.write(f"          fix: {item['fix']}")
