"""Kept only for ``test_review5_attacks.py``, which imports ``forge`` and ``key_signer`` from here.

The attacks on the sign-in are in ``tests/accounts/oidc/test_signin_attacks.py`` and their
toolbox in ``tests/accounts/oidc/forgery.py``; remove this module once nothing imports it.
"""

from tests.accounts.oidc.forgery import forge, key_signer  # noqa: F401
