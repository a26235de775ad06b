"""The cast and the library RomM's apps meet in their contract tests.

olivia signs in through the identity provider and has no password here; frank is a local
editor with a password. The library has a platform with more ROMs than one page of any app,
a small one, and an empty one (apps hide platforms without ROMs).
"""

import pytest

from accounts.models import Identity, Role, User
from library.models import Platform, Rom

PASSWORD = "correct-horse-battery-staple"
BIG = 530  # more than one page of 500, the largest page an app asks for


@pytest.fixture
def olivia(db):
    """A viewer who signs in through the provider: no usable password."""
    user = User.objects.create_user("olivia", email="olivia@example.com", role=Role.VIEWER)
    Identity.objects.create(
        user=user, issuer="https://idp.example.com", subject="olivia-1", provider="authentik"
    )
    return user


@pytest.fixture
def frank(db):
    """An editor with a password."""
    return User.objects.create_user("frank", email="frank@example.com", password=PASSWORD, role=Role.EDITOR)


@pytest.fixture
def library(db):
    """``{slug: Platform}``: snes with BIG ROMs, gb with three, gg with none."""
    snes = Platform.objects.create(name="Super Nintendo", slug="snes")
    gb = Platform.objects.create(name="Game Boy", slug="gb")
    gg = Platform.objects.create(name="Game Gear", slug="gg")
    Rom.objects.bulk_create(
        Rom(name=f"Game {i:04d}", platform=snes, file_name=f"Game {i:04d} (USA).sfc", size_bytes=1024 + i)
        for i in range(BIG)
    )
    Rom.objects.create(
        name="Chrono Trigger", platform=snes, file_name="Chrono Trigger (USA).sfc", size_bytes=4194304
    )
    for name, file_name in [
        ("Tetris", "Tetris (World) (Rev 1).gb"),
        ("Zelda DX", "zelda.gbc"),
        ("Kirby", "kirby.gb"),
    ]:
        Rom.objects.create(name=name, platform=gb, file_name=file_name, size_bytes=65536)
    return {"snes": snes, "gb": gb, "gg": gg}
