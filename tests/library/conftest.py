"""A household whose platforms are restricted to groups, for the tests of who sees what.

Game Boy is for everyone; Super Nintendo is for the groups kids and family; Nintendo 64 for
family only. alice is an administrator in no group; kim, a viewer, and eve, an editor, are in
kids; carol, a viewer, and bob, an editor, are in no group.
"""

from dataclasses import dataclass

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from accounts.models import Role, User
from library.models import Platform, Rom


@dataclass
class Household:
    kids: Group
    family: Group
    gb: Platform
    snes: Platform
    n64: Platform
    tetris: Rom
    chrono: Rom
    mario: Rom
    alice: User
    bob: User
    carol: User
    eve: User
    kim: User

    def client(self, user):
        """A browser signed in as ``user``."""
        client = Client()
        client.force_login(user)
        return client


def rom(platform, name, file_name, size):
    return Rom.objects.create(platform=platform, name=name, file_name=file_name, size_bytes=size)


@pytest.fixture
def household(db):
    kids, family = Group.objects.create(name="kids"), Group.objects.create(name="family")
    gb = Platform.objects.create(name="Game Boy", slug="gb")
    snes = Platform.objects.create(name="Super Nintendo", slug="snes")
    n64 = Platform.objects.create(name="Nintendo 64", slug="n64")
    snes.groups.set([kids, family])
    n64.groups.set([family])
    tetris = rom(gb, "Tetris", "tetris.gb", 1000)
    rom(gb, "Kirby", "kirby.gb", 2000)
    chrono = rom(snes, "Chrono Trigger", "chrono.sfc", 4000)
    rom(snes, "Super Metroid", "metroid.sfc", 3000)
    rom(snes, "Secret of Mana", "mana.sfc", 5000)
    mario = rom(n64, "Mario 64", "mario.z64", 8000)
    people = {
        name: User.objects.create_user(name, role=role)
        for name, role in [
            ("alice", Role.ADMIN),
            ("bob", Role.EDITOR),
            ("carol", Role.VIEWER),
            ("eve", Role.EDITOR),
            ("kim", Role.VIEWER),
        ]
    }
    people["eve"].groups.add(kids)
    people["kim"].groups.add(kids)
    return Household(kids, family, gb, snes, n64, tetris, chrono, mario, **people)
