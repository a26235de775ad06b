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


def seed():
    """Create or reset the Django users behind PEOPLE (needs a configured Django)."""
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
