"""An administrator restricts a platform to a group in the Django admin; a viewer outside the
group stops seeing it on the library pages, a member still does, and the group cannot be deleted
while it restricts the platform (docs/platform-access.md)."""

import os
import subprocess
import sys

import pytest

from tests.e2e.conftest import ROOT, Stack
from tests.e2e.test_browser import sign_in_at_provider

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

SEED = """
from library.models import Platform, Rom
gb = Platform.objects.create(name="Game Boy", slug="gb")
snes = Platform.objects.create(name="Super Nintendo", slug="snes")
Rom.objects.create(platform=gb, name="Tetris", file_name="tetris.gb", size_bytes=65536)
Rom.objects.create(platform=snes, name="Chrono Trigger", file_name="chrono.sfc", size_bytes=4194304)
"""


@pytest.fixture(scope="module")
def site():
    # The admin's two-box group picker is JavaScript the deployed site serves from collected
    # static files (the image runs collectstatic; whitenoise serves them).
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput"], cwd=ROOT, check=True,
                   env={**os.environ, "SECRET_KEY": "collectstatic-only"}, capture_output=True, timeout=300)  # fmt: skip
    started = Stack("authentik")
    yield started
    started.stop()


def shell(stack, code):
    subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=stack.env,
                   capture_output=True, timeout=60, check=True)  # fmt: skip


@pytest.fixture
def browsers(chromium):
    """A new browser (its own cookies) per person; closed at the end."""
    contexts = []

    def open_for(stack, username):
        context = chromium.new_context()
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20000)
        page.goto(f"{stack.url}/login")
        page.click("text=Sign in with Authentik")
        page.wait_for_url(f"{stack.provider_url}/**")
        sign_in_at_provider(page, username)
        page.wait_for_url(f"{stack.url}/")
        return page

    yield open_for
    for context in contexts:
        context.close()


def platform_names(page, stack):
    page.goto(f"{stack.url}/library/platforms/")
    return page.locator("table tbody tr td:first-child").all_inner_texts()


def test_a_platform_restricted_in_the_admin_disappears_for_people_outside_its_group(site, browsers, artifacts):
    shell(site, SEED)
    carol = browsers(site, "carol")  # a viewer, in no group here
    bob = browsers(site, "bob")  # an editor, who is put in kids below
    assert platform_names(carol, site) == ["Game Boy", "Super Nintendo"]

    alice = browsers(site, "alice")
    alice.goto(f"{site.url}/admin/auth/group/add/")
    alice.fill('input[name="name"]', "kids")
    alice.click('input[name="_save"]')
    alice.wait_for_url(f"{site.url}/admin/auth/group/")
    # Membership comes from the provider's groups (OIDC_GROUPS) or the site's shell; here the shell.
    shell(site, "from django.contrib.auth.models import Group; from accounts.models import User; "
                "User.objects.get(username='bob').groups.add(Group.objects.get(name='kids'))")  # fmt: skip

    alice.goto(f"{site.url}/admin/library/platform/")
    assert "Everyone" in alice.inner_text("#result_list")
    alice.click("#result_list >> text=Super Nintendo")
    alice.select_option("#id_groups_from", label="kids")
    alice.click("#id_groups_add")
    alice.screenshot(path=str(artifacts / "platform-access-1-restrict.png"), full_page=True)
    alice.click('input[name="_save"]')
    alice.wait_for_url(f"{site.url}/admin/library/platform/")
    rows = alice.inner_text("#result_list")
    assert "Super Nintendo" in rows and "kids" in rows and "Everyone" in rows
    alice.screenshot(path=str(artifacts / "platform-access-2-admin-list.png"), full_page=True)

    assert platform_names(carol, site) == ["Game Boy"]
    carol.goto(f"{site.url}/library/")
    library = carol.inner_text("main")
    assert "Tetris" in library and "Chrono Trigger" not in library
    assert carol.inner_text('[data-testid="page-info"]').endswith("1 ROM")
    carol.screenshot(path=str(artifacts / "platform-access-3-outside.png"), full_page=True)

    assert platform_names(bob, site) == ["Game Boy", "Super Nintendo"]
    bob.goto(f"{site.url}/library/?q=chrono")
    assert "Chrono Trigger" in bob.inner_text("main")
    bob.screenshot(path=str(artifacts / "platform-access-4-member.png"), full_page=True)

    # Deleting kids would leave Super Nintendo with no group, seen by everyone: refused.
    alice.goto(f"{site.url}/admin/auth/group/")
    alice.click("#result_list >> text=kids")
    alice.click("a.deletelink")
    refusal = alice.inner_text("#content")
    assert "Cannot delete group" in refusal and "Super Nintendo restricted to kids" in refusal
    assert alice.locator('#content input[type="submit"]').count() == 0  # nothing to confirm
    alice.screenshot(path=str(artifacts / "platform-access-5-group-kept.png"), full_page=True)
    assert platform_names(carol, site) == ["Game Boy"]
