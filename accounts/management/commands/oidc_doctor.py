"""``python manage.py oidc_doctor``: ask each configured provider, live, whether sign-in can work.

The findings come from ``accounts.oidc.doctor``; this prints them, in words or as JSON. Exit status 1
when anything is an error. With ``--claims``, it says instead what a sign-in with those claims
would do (``accounts.oidc.doctor_claims``); exit status 1 when it would be refused.
"""

import json
import sys

from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from accounts.oidc.doctor import finding, report
from accounts.oidc.doctor_claims import ClaimsUnreadable, last_seen, preview, read_claims
from accounts.oidc.provider import get_provider, provider_for_issuer


def printable(text):
    """``text`` as the terminal should show it: what a pasted token says is the provider's text, so a
    character that is not printable (an escape sequence's ESC, a right-to-left override) is shown as
    its escape (``\\x1b``), never sent to the terminal to act on."""
    return "".join(char if char.isprintable() else ascii(char)[1:-1] for char in text)


class Command(BaseCommand):
    help = (
        "Contact each configured OpenID provider (discovery and signing keys, fetched fresh with the site's TLS "
        "settings) and report what would stop sign-in, with what to change. Exit status 1 on errors. With "
        "--claims: what a sign-in with those claims would do (account, email domain, role, groups)."
    )
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print the findings as JSON for scripts.")
        parser.add_argument(
            "--claims", action="append", metavar="FILE",
            help="A file (- for standard input) holding an ID token, a userinfo answer or the claims as JSON; "
            "repeat it for the ID token and then userinfo. Nothing is signed in or written.",
        )
        parser.add_argument(
            "--account", metavar="USERNAME",
            help="Instead of --claims: what the account's last sign-in through the provider showed (its email and "
            "groups), judged by the configuration as it is now. Nothing is signed in or written.",
        )
        parser.add_argument("--provider", help="The provider the claims come from (default: the one their iss names, "
                            "else the first).")

    def handle(self, *args, **options):
        if options["claims"] or options["account"]:
            return self._claims(options)
        found = report()
        if options["json"]:
            self.stdout.write(json.dumps(found, indent=2))
        else:
            self._print(found)
        if found["errors"]:
            raise CommandError(f"{found['errors']} error(s) found.", returncode=1)

    def _claims(self, options):
        if options["account"]:
            provider, claims = self._last_seen(options)
            return self._verdict(options, provider, claims, source=f"as {options['account']!r} last signed in there, "
                                 "email_verified taken as true")
        texts = []
        for path in options["claims"]:
            try:
                if path == "-":
                    texts.append(sys.stdin.read())
                else:
                    with open(path, encoding="utf-8") as handle:
                        texts.append(handle.read())
            except OSError as error:
                raise CommandError(f"--claims {path}: {error.strerror}.") from None
        try:
            claims = read_claims(texts)
        except ClaimsUnreadable as error:
            raise CommandError(f"--claims: {error}. Paste the ID token as it is, or a JSON object of claims.") from None
        provider = get_provider(options["provider"]) if options["provider"] else (
            provider_for_issuer(str(claims.get("iss", ""))) if claims.get("iss") else None) or get_provider()
        return self._verdict(options, provider, claims)

    def _last_seen(self, options):
        user = User.objects.filter(username=options["account"]).first()
        if user is None:
            raise CommandError(f"No account is called {options['account']!r}.")
        names = [options["provider"]] if options["provider"] else list(
            user.identities.order_by("-last_used_at").values_list("provider", flat=True))
        for name in names:
            provider = get_provider(name)
            claims = last_seen(user, provider) if provider else None
            if claims is not None:
                return provider, claims
        raise CommandError(f"{user.username!r} has no linked identity of a configured provider: paste what the "
                           "provider says about them with --claims instead.")

    def _verdict(self, options, provider, claims, source=""):
        if provider is None:
            raise CommandError("No such provider: OIDC_ENABLED and OIDC_PROVIDERS name the configured ones.")
        verdict = {**preview(provider, claims), "source": source}
        if options["json"]:
            self.stdout.write(json.dumps(verdict, indent=2))
        else:
            self._print_preview(verdict)
        if verdict["refused"]:
            raise CommandError(f"The sign-in would be refused ({verdict['refused']}).", returncode=1)

    def _print_preview(self, verdict):
        def out(line, style=str):
            self.stdout.write(style(printable(line)))

        out(f"A sign-in through {verdict['provider']!r} of subject {verdict['subject']} "
            f"({verdict.get('source') or 'the token is not checked here'})")
        reached = {"identity": "the account it is linked to", "email": "the account with this confirmed email, "
                   "linked by it", "new": "a new account"}[verdict["account_reached"]]
        out(f"  account:  {verdict['account'] or '(none yet)'}: {reached}")
        out(f"  email:    {verdict['email']['verdict']}: {verdict['email']['message']}")
        role = verdict["role"]
        out(f"  role:     {role['role'] or 'refused'}: {role['how']}")
        found = verdict["groups"]
        if not found["patterns"]:
            out("  groups:   OIDC_GROUPS is not set: no group is mirrored.")
        elif not found["claim_present"]:
            out(f"  groups:   the {found['claim']} claim is absent: the person's groups stay as they are.")
        else:
            for label, names in (("join", found["join"]), ("leave", found["leave"]), ("keep", found["keep"])):
                out(f"  {label + ':':<9} {', '.join(names) or '-'}")
            if found["created"]:
                out(f"  created:  {', '.join(found['created'])} (no such group yet)")
        out(f"  groups then: {', '.join(found['resulting']) or '-'}")
        for line in verdict["sees"]:
            out(f"  sees:     {line}")
        for note in verdict["notes"]:
            out(f"  note:     {note}", self.style.WARNING)
        if verdict["refused"]:
            out(f"Refused: {verdict['refused']}.", self.style.ERROR)
        else:
            out("Would sign in.")

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
