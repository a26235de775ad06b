"""Which email domains may sign in: ``OIDC_ALLOWED_EMAIL_DOMAINS`` (docs/groups.md).

A domain matches only itself (not its subdomains), compared as DNS compares names: ASCII
letters in any case, one trailing dot of a configured entry aside, an internationalised domain
in its Unicode or its ``xn--`` form. Anything else about an address is taken as it is, so a
look-alike never passes for an allowed domain: a non-ASCII character is never lower-cased or
mapped onto another (the Kelvin sign is not a ``k``, a full-width letter is not its ASCII
twin), and an address whose domain is not a valid IDNA 2008 name matches no entry. The domain
is what follows the address's last ``@``: in ``"a@example.com"@evil.example`` it is
``evil.example``.
"""

import functools

import idna

from accounts.errors import SignInError


def _ascii_lower(text):
    return "".join(char.lower() if char.isascii() else char for char in text)


@functools.lru_cache(maxsize=256)
def normalise_entry(entry):
    """An ``OIDC_ALLOWED_EMAIL_DOMAINS`` entry as addresses are compared with it, or None when it
    is not a domain name (accounts.checks says so at start-up)."""
    entry = entry.strip()
    if entry.endswith("."):
        entry = entry[:-1]
    if not entry or any(char in entry for char in "@*/:[] "):
        return None
    try:
        # UTS 46 mapping, for what the operator typed: "Bücher.Example" is bücher.example.
        return idna.encode(entry, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        return None


def domain_of(email):
    """The domain of ``email`` as entries are compared with it, or None when it has no valid one."""
    local, at, domain = email.rpartition("@")
    if not at or not local or not domain:
        return None
    try:
        # Strict IDNA 2008, without mapping: a character that only looks like a valid one is refused.
        return idna.encode(_ascii_lower(domain)).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        return None


def allowed(entries, email):
    """Whether ``email``'s domain is one of ``entries`` (an empty list allows every domain)."""
    if not entries:
        return True
    domain = domain_of(email)
    return domain is not None and domain in {normalise_entry(entry) for entry in entries}


def check(provider, email, verified, claims):
    """Refuse the sign-in unless ``email`` (the usable address of ``claims``, or None) is verified
    and in one of ``provider``'s domains: without one, this site cannot tell, and refuses."""
    if email is None or not verified:
        why = "no usable email claim" if email is None else f"email_verified={claims.get('email_verified')!r}"
        raise SignInError("email_domain_unproven", f"{why}; OIDC_ALLOWED_EMAIL_DOMAINS needs a verified email",
                          subject=str(claims.get("sub", "")))
    if not allowed(provider.allowed_email_domains, email):
        domain = email.rpartition("@")[2][:100]
        raise SignInError("email_domain", f"email domain {domain!r} is not in OIDC_ALLOWED_EMAIL_DOMAINS",
                          domain=domain, subject=str(claims.get("sub", "")))
