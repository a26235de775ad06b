"""The documentation: README.md and docs/*.md link only to files and headings that exist, the
README shows the two commands first, and the troubleshooting page lists every system check id
and every sentence a refused sign-in or an ended session can show."""

import re
from pathlib import Path

import pytest

from accounts.api.access import SESSION_REFUSALS
from accounts.errors import MESSAGES
from accounts.oidc import app_recheck

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^\s*(```|~~~)")


def prose(path):
    """The page's lines outside fenced code blocks, with inline code spans removed."""
    lines, fenced = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(re.sub(r"`[^`]*`", "", line))
    return lines


def anchors(path):
    """The anchors GitHub gives the page's headings: lower case, punctuation dropped, spaces to hyphens."""
    seen, result, fenced = {}, set(), False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        match = None if fenced else re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match:
            slug = re.sub(r"[^\w\- ]", "", match.group(1).lower()).replace(" ", "-")
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            result.add(slug if count == 0 else f"{slug}-{count}")
    return result


def relative_links(path):
    for line in prose(path):
        for target in LINK.findall(line):
            if not re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: …
                yield target


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_points_to_a_file_and_heading_that_exist(page):
    broken = []
    for target in relative_links(page):
        file_part, _, anchor = target.partition("#")
        linked = (page.parent / file_part).resolve() if file_part else page
        if not linked.exists():
            broken.append(f"{target} (no file {linked.relative_to(ROOT) if ROOT in linked.parents else linked})")
        elif anchor and anchor not in anchors(linked):
            broken.append(f"{target} (no heading #{anchor} in {linked.relative_to(ROOT)})")
    assert not broken, f"{page.relative_to(ROOT)} has broken links: {broken}"


def test_every_docs_page_is_linked_from_the_readme():
    linked = {(ROOT / t.partition("#")[0]).resolve() for t in relative_links(ROOT / "README.md")}
    missing = [p.name for p in PAGES[1:] if p.resolve() not in linked]
    assert not missing, f"docs pages the README does not link: {missing}"


def test_the_readme_shows_the_two_commands_on_its_first_screen():
    first_screen = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()[:25]
    commands = [line.split("#")[0].strip() for line in first_screen if line.startswith("./run ")]
    assert commands == ["./run demo", "./run tests"]


def test_the_readme_stays_a_landing_page():
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 200


def test_troubleshooting_lists_every_system_check_id():
    code = "\n".join(
        p.read_text(encoding="utf-8")
        for folder in ("accounts", "devices", "library", "romm_site")
        for p in (ROOT / folder).rglob("*.py")
    )
    ids = set(re.findall(r"""id=["'](accounts\.[EW]\d{3})["']""", code))
    assert len(ids) >= 30
    page = (ROOT / "docs" / "troubleshooting.md").read_text(encoding="utf-8")
    assert sorted(i for i in ids if f"`{i}`" not in page) == []


def test_troubleshooting_lists_every_refusal_reason_with_its_sentence():
    page = (ROOT / "docs" / "troubleshooting.md").read_text(encoding="utf-8")
    page = page.replace("&lt;", "<").replace("&gt;", ">").replace("\\|", "|")
    missing = [
        reason
        for reason, sentence in {**MESSAGES, **SESSION_REFUSALS}.items()
        if f"| `{reason}` |" not in page or sentence not in page
    ]
    assert missing == []


def test_troubleshooting_lists_every_app_token_refusal_with_its_sentence():
    page = (ROOT / "docs" / "troubleshooting.md").read_text(encoding="utf-8")
    section = page[page.index("## App tokens ended by the provider"):]
    missing = [
        reason
        for reason, sentence in app_recheck.REFUSALS.items()
        if f"| `{reason}` |" not in section or sentence not in section
    ]
    assert missing == []
