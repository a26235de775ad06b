"""mcp-romm, installed from PyPI into a throw-away virtualenv, driven for real against the
running site by a person who signs in through the provider and has no password here.

mcp-romm (lodordev/mcp-romm, ``server.py``) signs in only with ``/api/token``'s password grant
(ROMM_USERNAME, ROMM_PASSWORD): the person gives it an app password, one of their client tokens.
Password sign-in is turned off on this site, as it is where everybody uses the provider.
"""

import json
import subprocess
import sys
import textwrap

import pytest
import requests

from tests.e2e.conftest import Stack
from tests.e2e.test_http_flow import sign_in

pytestmark = pytest.mark.e2e

MCP_ROMM = "mcp-romm==1.2.1"
UNREACHABLE = ("Failed to establish a new connection", "Temporary failure in name resolution",
               "Could not find a version", "No matching distribution", "ProxyError", "Network is unreachable",
               "Max retries exceeded", "timed out")  # fmt: skip
# Calls mcp-romm's tools in process with fastmcp's client; prints each tool's text, or its error.
DRIVER = textwrap.dedent(
    """
    import asyncio, json, sys

    from fastmcp import Client

    import server


    async def main(calls):
        answers = []
        async with Client(server.mcp) as client:
            for name, arguments in calls:
                try:
                    result = await client.call_tool(name, arguments)
                    answers.append("\\n".join(getattr(part, "text", "") for part in result.content))
                except Exception as error:
                    answers.append(f"ERROR: {error}")
        print(json.dumps(answers))


    asyncio.run(main(json.loads(sys.argv[1])))
    """
)


@pytest.fixture(scope="module")
def mcp_python(tmp_path_factory):
    """The python of a fresh virtualenv with mcp-romm installed from PyPI, or a skip saying why not."""
    folder = tmp_path_factory.mktemp("mcp-romm")
    subprocess.run([sys.executable, "-m", "venv", str(folder / "venv")], check=True, timeout=120)
    python = folder / "venv" / "bin" / "python"
    install = subprocess.run(
        [python, "-m", "pip", "install", "--disable-pip-version-check", "--quiet", MCP_ROMM],
        check=False,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if install.returncode != 0:
        if any(sign in install.stderr for sign in UNREACHABLE):
            pytest.skip(
                f"pip cannot reach the package registry to install {MCP_ROMM}: {install.stderr[-300:]}"
            )
        pytest.fail(f"pip install {MCP_ROMM} failed:\n{install.stderr[-2000:]}")
    (folder / "drive_mcp_romm.py").write_text(DRIVER)
    return python, folder / "drive_mcp_romm.py"


@pytest.fixture(scope="module")
def site():
    started = Stack("authentik", {"DISABLE_USERPASS_LOGIN": "true"})
    yield started
    started.stop()


def app_password(stack, person, scopes):
    """The person signs in through the provider and creates a client token on the profile."""
    session, _ = sign_in(stack, person)
    session.get(f"{stack.url}/profile", timeout=10)  # a page with forms hands out the CSRF cookie
    made = session.post(
        f"{stack.url}/api/client-tokens",
        json={"name": "mcp-romm", "scopes": scopes, "expires_in": "30d"},
        headers={"X-CSRFToken": session.cookies["csrftoken"], "Referer": stack.url},
        timeout=10,
    )
    assert made.status_code == 201, made.text
    return made.json()["raw_token"]


@pytest.fixture(scope="module")
def library(site):
    """bob (an editor, through the provider) files two platforms and their ROMs with the JSON API."""
    raw = app_password(site, "bob", ["platforms.read", "platforms.write", "roms.write"])
    headers = {"Authorization": f"Bearer {raw}"}
    ids = {}
    for name, slug in [("Super Nintendo", "snes"), ("Game Boy", "gb")]:
        made = requests.post(
            f"{site.url}/api/platforms", json={"name": name, "fs_slug": slug}, headers=headers, timeout=10
        )
        assert made.status_code == 201, made.text
        ids[slug] = made.json()["id"]
    games = [("snes", f"Game {i:02d}", f"Game {i:02d} (USA).sfc") for i in range(30)]
    games += [("snes", "Chrono Trigger", "Chrono Trigger (USA).sfc"), ("gb", "Tetris", "Tetris (World).gb"),
              ("gb", "Kirby's Dream Land", "kirby.gb"), ("gb", "Zelda DX", "zelda.gbc")]  # fmt: skip
    for slug, name, file_name in games:
        body = {
            "platform_id": ids[slug],
            "name": name,
            "fs_name": file_name,
            "fs_size_bytes": 2 * 1024 * 1024,
        }
        assert (
            requests.post(f"{site.url}/api/roms", json=body, headers=headers, timeout=10).status_code == 201
        )
    return ids


def drive(mcp, site, username, password, calls):
    python, driver = mcp
    env = {
        "ROMM_URL": site.url,
        "ROMM_USERNAME": username,
        "ROMM_PASSWORD": password,
        "PATH": "/usr/bin:/bin",
    }
    run = subprocess.run(
        [python, driver, json.dumps(calls)],
        check=False,
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        cwd=driver.parent,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_mcp_romm_connects_lists_and_searches_with_an_app_password(mcp_python, site, library):
    raw = app_password(site, "carol", ["me.read", "platforms.read", "roms.read", "roms.user.read"])
    gb = library["gb"]
    status, platforms, first, second, found, item = drive(
        mcp_python,
        site,
        "carol",
        raw,
        [
            ["romm_status", {}],
            ["romm_platforms", {}],
            ["romm_library_items", {"platform_id": gb, "limit": 2, "offset": 0}],
            ["romm_library_items", {"platform_id": gb, "limit": 2, "offset": 2}],
            ["romm_search", {"query": "chrono"}],
            ["romm_library_items", {"search": "zelda"}],
        ],
    )
    assert "Connected: yes" in status and "Version: 5.0.0" in status, status
    assert "Super Nintendo (snes) — 31 ROMs, 62 MB" in platforms, platforms
    assert "Game Boy (gb) — 3 ROMs, 6 MB" in platforms, platforms
    assert "showing 2 of 3" in first and "1. Kirby's Dream Land [Game Boy]" in first, first
    assert "2. Tetris [Game Boy]" in first and "Zelda" not in first, first
    assert "showing 1 of 3" in second and "3. Zelda DX [Game Boy]" in second, second
    assert '"chrono" (1 found' in found and "Chrono Trigger [Super Nintendo]" in found, found
    assert "Zelda DX [Game Boy]" in item, item


def test_mcp_romm_with_someone_elses_token_is_refused(mcp_python, site, library):
    theirs = app_password(site, "alice", ["me.read", "platforms.read"])
    (answer,) = drive(mcp_python, site, "carol", theirs, [["romm_platforms", {}]])
    assert "RomM auth failed (400)" in answer and "The username or password is incorrect." in answer, answer
