"""The attacker's toolbox: JWTs in compact form under a header and a signature of our choosing."""

import base64
import hashlib
import hmac
import json

import jwt
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ALGORITHMS = jwt.algorithms.get_default_algorithms()


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(value):
    return b64(json.dumps(value).encode())


def compact(header, claims, signer=None):
    """A JWS in compact form, signed by ``signer(signing_input) -> bytes`` (unsigned without one)."""
    signing_input = f"{b64json(header)}.{b64json(claims)}"
    signature = signer(signing_input.encode()) if signer else b""
    return f"{signing_input}.{b64(signature)}"


def hmac_signer(secret):
    return lambda message: hmac.new(secret, message, hashlib.sha256).digest()


def key_signer(alg, private_key):
    """Raw signature with ``alg`` under ``private_key``, whatever the header later claims."""
    return lambda message: ALGORITHMS[alg].sign(message, private_key)


def forge(alg, signer=None, **header_extra):
    """A ``FakeProvider.sign`` replacement: the provider's claims under a header of our choosing."""
    return lambda claims, header: compact({**header, "alg": alg, "typ": "JWT", **header_extra}, claims, signer)


def public_pem(private_key):
    return private_key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
