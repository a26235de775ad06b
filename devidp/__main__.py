"""python -m devidp --profile authentik|authelia --client-id ID --client-secret S --redirect-uri URI ..."""

import argparse
import os
import signal
import socket
import sys
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent.parent / ".devidp"


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m devidp",
        description="Local OIDC provider that behaves like Authentik or Authelia (development only).",
    )
    parser.add_argument("--profile", choices=["authentik", "authelia"], default="authentik")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000, help="0 picks a free port (see the ready line)")
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--redirect-uri", action="append", required=True, help="repeat for several")
    parser.add_argument("--post-logout-redirect-uri", action="append", default=[], help="repeat for several")
    parser.add_argument("--offline-access", action="store_true",
                        help="issue refresh tokens for the offline_access scope (the client is configured for it)")
    parser.add_argument("--backchannel-logout-uri", help="the client's back-channel Logout URI (authentik profile)")
    parser.add_argument("--db", type=Path, help=f"SQLite file (default {DATA_DIR}/<profile>.sqlite3)")
    return parser.parse_args(argv)


def ensure_key(path):
    """Reuse the RSA signing key next to the database, or make one."""
    if path.exists():
        return
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.touch(mode=0o600)
    path.write_bytes(pem)


def register_client(args):
    from oauth2_provider.models import get_application_model

    Application = get_application_model()
    Application.objects.exclude(client_id=args.client_id).delete()
    app = Application.objects.filter(client_id=args.client_id).first() or Application(
        client_id=args.client_id
    )
    app.name = "romm"
    app.client_type = Application.CLIENT_CONFIDENTIAL
    app.authorization_grant_type = Application.GRANT_AUTHORIZATION_CODE
    app.algorithm = Application.RS256_ALGORITHM
    app.client_secret = args.client_secret  # hashed on save
    app.redirect_uris = " ".join(args.redirect_uri)
    app.post_logout_redirect_uris = " ".join(args.post_logout_redirect_uri)
    app.skip_authorization = True
    app.save()


def issuer_url(profile, host, port):
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    base = f"http://{host}:{port}"
    return base if profile == "authelia" else f"{base}/application/o/romm/"


def main(argv=None):
    args = parse_args(argv)
    db = (args.db or DATA_DIR / f"{args.profile}.sqlite3").resolve()
    db.parent.mkdir(parents=True, exist_ok=True)
    key_file = db.parent / "oidc-rsa.pem"
    ensure_key(key_file)
    os.environ["DJANGO_SETTINGS_MODULE"] = "devidp.settings"  # even if the site's is set
    os.environ["DEVIDP_PROFILE"] = args.profile
    os.environ["DEVIDP_DB"] = str(db)
    os.environ["DEVIDP_KEY_FILE"] = str(key_file)
    os.environ["DEVIDP_OFFLINE_ACCESS"] = "1" if args.offline_access else ""
    os.environ["DEVIDP_BACKCHANNEL_LOGOUT_URI"] = args.backchannel_logout_uri or ""

    import django

    django.setup()
    from django.core.management import call_command
    from django.core.servers.basehttp import WSGIServer, run
    from django.core.wsgi import get_wsgi_application

    from devidp.people import seed

    call_command("migrate", interactive=False, verbosity=0)
    seed()
    register_client(args)

    def ready(port):
        print(f"devidp ready: issuer={issuer_url(args.profile, args.host, port)}", flush=True)

    class Server(WSGIServer):
        def get_request(self):
            # Without TCP_NODELAY every response waits ~40 ms for a delayed ACK (headers and body
            # are separate writes).
            connection, address = super().get_request()
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return connection, address

    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    try:
        run(
            args.host,
            args.port,
            get_wsgi_application(),
            ipv6=":" in args.host,
            threading=True,
            on_bind=ready,
            server_cls=Server,
        )
    except KeyboardInterrupt:
        pass
    except OSError as error:
        print(f"devidp: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    finally:
        print("devidp stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
