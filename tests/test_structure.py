"""The shape the code keeps: apps depend one way, and no module grows past what a reader holds.

``accounts`` (people, sign-in, sessions, the API's credentials) imports no other app;
``devices`` and ``library`` build on it and never on each other. A module over 400 lines is
split by concept before it grows further.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("accounts", "devices", "library")
PRODUCT = ("accounts", "devices", "library", "romm_site", "devidp")
MAX_LINES = 400


def modules(package):
    return [p for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts]


def imported_apps(path):
    """The first-party apps a module imports, at any depth (function-level imports too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found |= {name.split(".")[0] for name in names if name.split(".")[0] in APPS}
    return found


ALLOWED = {"accounts": {"accounts"}, "devices": {"accounts", "devices"}, "library": {"accounts", "library"}}


@pytest.mark.parametrize("app", APPS)
def test_each_app_imports_only_the_apps_below_it(app):
    wrong = {
        str(path.relative_to(ROOT)): sorted(imported_apps(path) - ALLOWED[app])
        for path in modules(app)
        if imported_apps(path) - ALLOWED[app]
    }
    assert wrong == {}


@pytest.mark.parametrize("package", PRODUCT)
def test_no_product_module_passes_400_lines(package):
    long = {
        str(path.relative_to(ROOT)): n
        for path in modules(package)
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}
