"""A stand-alone app, run as its own process by the end-to-end tests, speaking only HTTP.

``device BASE_URL``: RFC 8628 sign-in; prints ``{"user_code": …}``, polls at the interval the
site asks for (plus 5 s on each ``slow_down``), then prints the token's reply, /api/users/me
and the first page of /api/roms.
``exchange BASE_URL CODE``: pairs by code; prints the exchange's reply and /api/users/me.
"""

import json
import sys
import time

import requests


def say(value):
    print(json.dumps(value), flush=True)


def me(base, raw):
    response = requests.get(base + "/api/users/me", headers={"Authorization": f"Bearer {raw}"}, timeout=10)
    return {"status": response.status_code, "body": response.json()}


def roms(base, raw):
    response = requests.get(base + "/api/roms", headers={"Authorization": f"Bearer {raw}"}, timeout=10)
    return {"status": response.status_code, "body": response.json()}


def device(base):
    init = requests.post(
        base + "/api/auth/device/init",
        json={
            "client_device_identifier": "e2e-handheld-1",
            "name": "E2E Handheld",
            "client": "grout",
            "platform": "linux",
            "client_version": "0.9",
            "requested_scopes": ["me.read", "roms.read", "roms.write"],
        },
        timeout=10,
    )
    init.raise_for_status()
    body = init.json()
    say({"user_code": body["user_code"], "verification_path_complete": body["verification_path_complete"]})
    interval, deadline = body["interval"], time.monotonic() + body["expires_in"]
    errors = []
    while time.monotonic() < deadline:
        time.sleep(interval)
        poll = requests.post(
            base + "/api/auth/device/token", json={"device_code": body["device_code"]}, timeout=10
        )
        if poll.status_code == 200:
            token = poll.json()
            say(
                {
                    "token": {k: v for k, v in token.items() if k != "access_token"},
                    "errors": errors,
                    "me": me(base, token["access_token"]),
                    "roms": roms(base, token["access_token"]),
                }
            )
            return 0
        error = poll.json()["error"]
        errors.append(error)
        if error == "slow_down":
            interval += 5
        elif error != "authorization_pending":
            say({"failed": error, "errors": errors})
            return 1
    say({"failed": "timeout", "errors": errors})
    return 1


def exchange(base, code):
    response = requests.post(base + "/api/client-tokens/exchange", json={"code": code}, timeout=10)
    body = response.json()
    say(
        {
            "status": response.status_code,
            "raw_token": body.get("raw_token"),
            "me": me(base, body["raw_token"]) if response.status_code == 200 else None,
        }
    )
    return 0


if __name__ == "__main__":
    mode, base, *rest = sys.argv[1:]
    sys.exit(device(base) if mode == "device" else exchange(base, *rest))
