"""The cast of the apps-and-devices tests: frank (editor) and vera (viewer)."""

import pytest

from accounts.models import Role, User

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def frank(db):
    """An editor with a password."""
    return User.objects.create_user("frank", email="frank@local.example", password=PASSWORD, role=Role.EDITOR)


@pytest.fixture
def vera(db):
    """A viewer with a password."""
    return User.objects.create_user("vera", email="vera@local.example", password=PASSWORD, role=Role.VIEWER)
