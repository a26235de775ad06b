"""The demo people: the same cast in both profiles, every password is ``demo``."""

from dataclasses import dataclass

PASSWORD = "demo"


@dataclass(frozen=True)
class Person:
    username: str
    name: str
    email: str
    email_verified: bool
    groups: tuple[str, ...]
    note: str


PEOPLE = {
    p.username: p
    for p in [
        Person("alice", "Alice Anders", "alice@example.com", True, ("romm-admins",), "admin"),
        Person("bob", "Bob Berg", "bob@example.com", True, ("romm-editors",), "editor"),
        Person("carol", "Carol Clark", "carol@example.com", True, ("romm-viewers",), "viewer"),
        Person(
            "dave",
            "Dave Dunn",
            "dave@example.com",
            False,
            ("romm-viewers",),
            "viewer; email_verified false in the authentik profile (Authelia always says true)",
        ),
        Person("erin", "Erin Eames", "erin@example.com", True, ("staff",), "in no mapped group (refused)"),
        Person(
            "frank",
            "Frank Fisher",
            "frank@example.com",
            True,
            ("romm-viewers",),
            "viewer; the demo site has a local account with his email",
        ),
    ]
}


# Every group a demo person can be put in (the demo's people page offers these).
GROUPS = ("romm-admins", "romm-editors", "romm-viewers", "staff")


def seed():
    """Create or reset the Django users behind PEOPLE, with their groups (needs a configured Django)."""
    from django.contrib.auth import get_user_model

    User = get_user_model()
    for person in PEOPLE.values():
        first, _, last = person.name.partition(" ")
        user, _ = User.objects.get_or_create(username=person.username)
        user.email = person.email
        user.first_name = first
        user.last_name = last
        user.is_active = True
        user.set_password(PASSWORD)
        user.save()
        set_groups(user, person.groups)


def groups_of(user):
    """The groups the provider sends for ``user`` now (the demo page may have changed them)."""
    return sorted(user.groups.values_list("name", flat=True))


def set_groups(user, names):
    from django.contrib.auth.models import Group

    user.groups.set([Group.objects.get_or_create(name=name)[0] for name in names])
