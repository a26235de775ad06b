"""Secrets kept at rest (the provider's refresh tokens), encrypted with a key derived from SECRET_KEY.

Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``) with a key derived by HKDF-SHA256,
so the stored value is useless without the site's SECRET_KEY. ``SECRET_KEY_FALLBACKS`` still
open what they sealed, so rotating SECRET_KEY does not end every session at once.
"""

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

PURPOSE = b"romm-site accounts.oidc.sealed refresh tokens v1"


def _fernet(secret):
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=PURPOSE).derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def _box():
    keys = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    return MultiFernet([_fernet(key) for key in keys])


def seal(value):
    """``value`` encrypted (a text column's worth of ASCII); empty stays empty."""
    return _box().encrypt(value.encode()).decode() if value else ""


def unseal(sealed):
    """The value ``seal`` encrypted, or None when it is empty or was sealed with another key."""
    if not sealed:
        return None
    try:
        return _box().decrypt(sealed.encode()).decode()
    except (InvalidToken, ValueError):
        return None
