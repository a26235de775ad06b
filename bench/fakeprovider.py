"""A small OpenID provider over real HTTP for the benchmarks, with a round-trip delay.

Run: python bench/fakeprovider.py --port 9100 [--profile authentik|authelia] [--delay-ms 20]
Prints "fakeprovider ready: <issuer>" once it listens. It answers discovery, JWKS, token and
userinfo and signs real RS256 ID tokens; /authorize signs in without a page: the person is
named by the ``person`` query parameter the benchmark appends, and the answer is the redirect
to the site's callback with a code. Every answer to the site waits ``--delay-ms`` first, as a
provider across a network does; /authorize (the browser's visit) does not. Like the two real
providers: Authentik puts email and groups into the ID token (one token request per sign-in);
Authelia 4.39 only into userinfo (token + userinfo), unless the authorization request names them
in the claims parameter (OpenID Connect Core 5.5), which it advertises
(``claims_parameter_supported``) and honours as far as the granted scopes allow (one request).
``--ignore-claims-parameter`` makes an Authelia-like provider that advertises it but ignores it.
``--handshake-ms`` makes a new connection's first answer wait that much longer, as the TCP (and
TLS) handshakes across a network do; a kept-alive connection's answers do not.
"""

import argparse
import base64
import hashlib
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

CLIENT_ID = "romm-bench"
CLIENT_SECRET = "bench-secret-with-32-characters-at-least"
KID = "bench-1"


# The scope that releases each claim (OpenID Connect Core 5.4; Authelia's groups scope).
CLAIM_SCOPES = {"email": "email", "email_verified": "email", "name": "profile", "preferred_username": "profile",
                "groups": "groups"}


def person_claims(person):
    groups = ["romm-admins"] if person.startswith("admin") else ["romm-viewers"]
    return {"email": f"{person}@example.com", "email_verified": True, "preferred_username": person,
            "name": person.title(), "groups": groups}


class Provider:
    def __init__(self, base, profile, delay, ignore_claims_parameter=False, handshake=0.0):
        self.profile, self.delay, self.handshake = profile, delay, handshake
        self.ignore_claims_parameter = ignore_claims_parameter
        self.issuer = f"{base}/application/o/romm/" if profile == "authentik" else base
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        self.jwks = {"keys": [{**jwk, "kid": KID, "use": "sig", "alg": "RS256"}]}
        self.codes, self.lock = {}, threading.Lock()
        self.metadata = {
            "issuer": self.issuer,
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token",
            "userinfo_endpoint": f"{base}/userinfo",
            "jwks_uri": f"{base}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["openid", "email", "profile", "groups"],
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "email", "email_verified", "name",
                                 "preferred_username", "groups"],
        }
        if profile == "authelia":
            self.metadata["claims_parameter_supported"] = True
        self.counts = {}

    def subject(self, person):
        return hashlib.sha256((self.issuer + person).encode()).hexdigest()

    def authorize(self, query):
        code = secrets.token_urlsafe(24)
        with self.lock:
            self.codes[code] = query
        answer = {"code": code, "state": query["state"]}
        return f"{query['redirect_uri']}?{urlencode(answer)}"

    def token(self, form, authorization):
        raw = base64.b64decode(authorization.removeprefix("Basic ")).decode() if authorization else ":"
        if raw.split(":", 1)[0] != CLIENT_ID:
            return 401, {"error": "invalid_client"}
        with self.lock:
            grant = self.codes.pop(form.get("code", ""), None)
        if grant is None or form.get("redirect_uri") != grant["redirect_uri"]:
            return 400, {"error": "invalid_grant"}
        challenge = base64.urlsafe_b64encode(hashlib.sha256(form.get("code_verifier", "").encode()).digest())
        if challenge.rstrip(b"=").decode() != grant["code_challenge"]:
            return 400, {"error": "invalid_grant", "error_description": "PKCE"}
        person, now = grant["person"], int(time.time())
        claims = {"iss": self.issuer, "sub": self.subject(person), "aud": CLIENT_ID, "exp": now + 300,
                  "iat": now, "auth_time": now, "nonce": grant["nonce"], "sid": secrets.token_hex(8)}
        if self.profile == "authentik":
            claims.update(person_claims(person))
        else:
            claims.update(self.requested_claims(grant))
        access_token = secrets.token_urlsafe(24)
        with self.lock:
            self.codes["at:" + access_token] = person
        id_token = jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": KID})
        return 200, {"access_token": access_token, "token_type": "Bearer", "expires_in": 300, "id_token": id_token}

    def requested_claims(self, grant):
        """The person's claims the claims parameter asks for in the ID token, as far as the scopes allow."""
        if self.ignore_claims_parameter:
            return {}
        try:
            wanted = json.loads(grant.get("claims") or "{}").get("id_token") or {}
        except (ValueError, AttributeError):
            return {}
        scopes = grant.get("scope", "").split()
        return {name: value for name, value in person_claims(grant["person"]).items()
                if name in wanted and CLAIM_SCOPES[name] in scopes}

    def userinfo(self, authorization):
        person = self.codes.get("at:" + authorization.removeprefix("Bearer "))
        if person is None:
            return 401, {"error": "invalid_token"}
        return 200, {"sub": self.subject(person), **person_claims(person)}


def handler_for(provider):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body leave at once, as a real server sends them: http.server writes them
        # apart, and on a kept-alive connection Nagle's algorithm then holds the body back until
        # the client's delayed acknowledgement (40 ms on Linux).
        disable_nagle_algorithm = True

        def log_message(self, *args):
            pass

        def setup(self):
            super().setup()
            self.new_connection = True

        def answer(self, status, body, location=None):
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            if location:
                self.send_header("Location", location)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def site_call(self, name):
            provider.counts[name] = provider.counts.get(name, 0) + 1
            handshake = provider.handshake if self.new_connection else 0.0
            self.new_connection = False
            time.sleep(provider.delay + handshake)

        def do_GET(self):
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            if parts.path == "/authorize":
                return self.answer(302, None, location=provider.authorize(query))
            if parts.path == "/stats":
                return self.answer(200, provider.counts)
            if parts.path.endswith("/.well-known/openid-configuration"):
                self.site_call("discovery")
                return self.answer(200, provider.metadata)
            if parts.path == "/jwks":
                self.site_call("jwks")
                return self.answer(200, provider.jwks)
            if parts.path == "/userinfo":
                self.site_call("userinfo")
                return self.answer(*provider.userinfo(self.headers.get("Authorization", "")))
            return self.answer(404, {"error": "not_found"})

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if urlsplit(self.path).path == "/token":
                self.site_call("token")
                return self.answer(*provider.token(form, self.headers.get("Authorization", "")))
            return self.answer(404, {"error": "not_found"})

    return Handler


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--profile", choices=["authentik", "authelia"], default="authentik")
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument("--ignore-claims-parameter", action="store_true",
                        help="authelia profile: advertise the claims parameter but ignore it")
    parser.add_argument("--handshake-ms", type=float, default=0.0,
                        help="extra wait of a new connection's first answer to the site (TCP/TLS handshakes)")
    args = parser.parse_args()
    base = f"http://127.0.0.1:{args.port}"
    provider = Provider(base, args.profile, args.delay_ms / 1000, args.ignore_claims_parameter,
                        args.handshake_ms / 1000)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler_for(provider))
    server.daemon_threads = True
    print(f"fakeprovider ready: {provider.issuer}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
