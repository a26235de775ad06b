"""Short codes a person reads or types: pairing codes and RFC 8628 user codes.

8 characters from an alphabet without look-alikes (no I, L, O, 0, 1), shown ``XXXX-XXXX``;
dashes, spaces and case are ignored when typed back.
"""

import secrets

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
LENGTH = 8


def new_code():
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalize(typed):
    """The code in its stored form, or None when it cannot be one."""
    code = (typed or "").replace("-", "").replace(" ", "").strip().upper()
    if len(code) != LENGTH or any(c not in ALPHABET for c in code):
        return None
    return code


def display(code):
    return f"{code[:4]}-{code[4:]}"
