"""What a sign-in with given claims would do here: ``oidc_doctor --claims`` (docs/groups.md).

The operator pastes what the provider says about a person (an ID token, its userinfo answer, or
the claims as JSON: Authentik's provider "Preview" tab shows them) and the doctor answers
without signing anyone in or writing anything: the account the sign-in would reach, the email
domain verdict (``OIDC_ALLOWED_EMAIL_DOMAINS``), the role (``OIDC_ROLE_*`` and
``OIDC_ROLE_DEFAULT``), the mirrored groups it would join and leave (``OIDC_GROUPS``) and what
the resulting groups let the person see, as the apps report it (``accounts.group_reports``).
"""

import base64
import binascii
import dataclasses
import json

from django.contrib.auth.models import Group

from accounts import group_reports
from accounts.errors import SignInError
from accounts.models import Identity, Role, email_key
from accounts.oidc import groups, idtoken
from accounts.oidc.backend import OIDCBackend
from accounts.oidc.provider import PROTOCOL_CLAIMS
from accounts.oidc.roles import MISSING, claim_value, resolve_role


class ClaimsUnreadable(ValueError):
    """Pasted text that is neither a JWT nor a JSON object; the message says which."""


def read_claims(texts):
    """The claims of pasted ID tokens and userinfo answers, merged as a sign-in merges them: the
    first text's protocol claims (``iss``, ``sub`` …) stand, later ones add the rest."""
    claims = {}
    for index, text in enumerate(texts):
        found = _one(text.strip())
        if index and claims:
            found = {name: value for name, value in found.items() if name not in PROTOCOL_CLAIMS}
        claims.update(found)
    try:
        return idtoken.readable(claims)
    except SignInError:
        raise ClaimsUnreadable("a claim holds an unpaired surrogate (\\ud800-\\udfff), which is not text") from None


def last_seen(user, provider):
    """The claims of ``user``'s last sign-in through ``provider``, as its linked identity kept them
    (email and groups; ``email_verified`` is not kept and is taken as true), or None."""
    identity = user.identities.filter(provider=provider.name).first()
    if identity is None:
        return None
    claims = {"iss": identity.issuer, "sub": identity.subject, "email_verified": True}
    if identity.email:
        claims["email"] = identity.email
    name = provider.claim_roles
    if name:
        # A dotted path reaches into a nested claim; a URI (namespaced claim) is one name.
        *path, last = [name] if ":" in name or "/" in name else name.split(".")
        place = claims
        for part in path:
            place = place.setdefault(part, {})
        place[last] = list(identity.groups or [])
    return claims


def _one(text):
    if text[:1] in ("{", "["):
        try:
            found = json.loads(text)
        except json.JSONDecodeError as error:
            raise ClaimsUnreadable(f"not valid JSON ({error.msg}, line {error.lineno})") from None
        except RecursionError:
            raise ClaimsUnreadable("JSON nested too deeply") from None
    elif text.count(".") == 2:
        payload = text.split(".")[1]
        try:
            found = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (binascii.Error, ValueError, RecursionError):
            raise ClaimsUnreadable("a token whose middle part is not base64 JSON") from None
    else:
        raise ClaimsUnreadable("neither a JSON object nor a token (header.payload.signature)")
    if not isinstance(found, dict):
        raise ClaimsUnreadable("JSON, but not an object of claims")
    return found


def preview(provider, claims):
    """The verdict of a sign-in through ``provider`` with ``claims``, as plain data."""
    backend = OIDCBackend(provider=provider)
    account, reached = _account(backend, claims)
    result = {
        "provider": provider.name,
        "issuer": claims.get("iss"),
        "subject": claims.get("sub"),
        "account": account.username if account else None,
        "account_reached": reached,
        "refused": None,
        "notes": [],
    }
    if provider.expected_issuer and claims.get("iss") and (
        provider.expected_issuer.rstrip("/") != str(claims["iss"]).rstrip("/")
    ):
        result["notes"].append(f"The claims' iss {claims['iss']} is not {provider.name}'s issuer "
                               f"{provider.expected_issuer}: a sign-in with them would be refused.")
    result["email"] = _email(backend, claims, result)
    result["role"] = _role(provider, claims, account, result)
    names = groups.wanted(provider, claims)
    plan = groups.plan(provider, account, names)
    held = set(account.groups.values_list("name", flat=True)) if account else set()
    resulting = sorted((held - set(plan.leave)) | set(plan.join))
    existing = set(Group.objects.filter(name__in=plan.join).values_list("name", flat=True))
    result["groups"] = {
        "patterns": provider.groups,
        "claim": provider.claim_roles,
        "claim_present": names is not None,
        "join": plan.join,
        "leave": plan.leave,
        "keep": plan.keep,
        "created": [name for name in plan.join if name not in existing],
        "resulting": resulting,
    }
    if reached == "new" and not provider.allow_registration:
        result["refused"] = result["refused"] or "registration_closed"
        result["notes"].append("No account matches and registration is off: the sign-in would be refused.")
    if len(result["groups"]["created"]) > groups.MAX_CREATED:
        result["notes"].append(f"One sign-in creates at most {groups.MAX_CREATED} groups: the others are created "
                               "at the next sign-ins.")
    is_admin = result["role"]["role"] == Role.ADMIN or bool(account and account.is_administrator)
    result["sees"] = group_reports.describe(resulting, is_admin)
    return result


def _account(backend, claims):
    """The account the claims reach, and how: ``identity``, ``email`` (a first sign-in linking by its
    confirmed address) or ``new`` (None: created at the sign-in, if registration is allowed)."""
    identity = Identity.objects.select_related("user").filter(
        issuer=str(claims.get("iss", "")), subject=str(claims.get("sub", ""))
    ).first()
    if identity is not None:
        return identity.user, "identity"
    email = backend.usable_email(claims, quiet=True)
    if email:
        holders = list(backend.UserModel.objects.filter(email_key=email_key(email), email_confirmed=True)[:2])
        if len(holders) == 1:
            return holders[0], "email"
    return None, "new"


def _email(backend, claims, result):
    if not backend.provider.allowed_email_domains:
        return {"verdict": "any", "message": "OIDC_ALLOWED_EMAIL_DOMAINS is not set: every email domain may sign in."}
    try:
        backend.check_email_domain(claims)
    except SignInError as error:
        if error.reason not in ("email_domain", "email_domain_unproven"):
            # Whether the provider lists email_verified needs its discovery document.
            return {"verdict": "unknown", "message": f"The provider could not be asked: {error.detail}."}
        result["refused"] = result["refused"] or error.reason
        return {"verdict": "refused", "reason": error.reason,
                "message": error.message(backend.provider.display_name)}
    domain = str(claims.get("email")).rpartition("@")[2]
    return {"verdict": "allowed", "message": f"{domain} is in OIDC_ALLOWED_EMAIL_DOMAINS."}


def _role(provider, claims, account, result):
    if not provider.claim_roles:
        role = account.role if account else Role.VIEWER
        return {"role": role, "how": "OIDC_CLAIM_ROLES is not set: roles are set here, not by the provider."}
    try:
        matched = resolve_role(dataclasses.replace(provider, role_default=""), claims)
    except SignInError:
        matched = None
        try:
            role = resolve_role(provider, claims)
        except SignInError as error:
            result["refused"] = result["refused"] or error.reason
            return {"role": None, "how": error.message(provider.display_name)}
        return {"role": role, "how": f"no OIDC_ROLE_* value matches: {provider.vars['ROLE_DEFAULT']}={role}."}
    if matched is None:
        kept = account.role if account else Role.VIEWER
        absent = claim_value(claims, provider.claim_roles) in (MISSING, None)
        why = "absent" if absent else "null"
        return {"role": kept, "how": f"the {provider.claim_roles} claim is {why}: "
                + ("the account keeps its role." if account else "a new account is a viewer.")}
    return {"role": matched, "how": f"the {provider.claim_roles} claim matches OIDC_ROLE_{matched.upper()}."}


def configuration(provider):
    """The doctor's line about this provider's groups, role default and email domains, or None."""
    parts = []
    if provider.groups:
        parts.append(f"groups matching {', '.join(provider.groups)} are mirrored from the {provider.claim_roles} claim")
    if provider.role_default:
        parts.append(f"a person whose groups match no OIDC_ROLE_* value is a{'n' * (provider.role_default[0] in 'ae')} "
                     f"{provider.role_default}")
    if provider.allowed_email_domains:
        parts.append(f"only verified emails in {', '.join(provider.allowed_email_domains)} sign in")
    if not parts:
        return None
    return "Groups and email domains (docs/groups.md): " + "; ".join(parts) + (
        ". python manage.py oidc_doctor --claims FILE shows what a person's sign-in would do.")
