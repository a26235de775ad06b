"""A first sign-in whose username a simultaneous one took a moment earlier gets the next free one.

On PostgreSQL two first sign-ins that need the same name both find it free, and the second
INSERT hits the unique username: that sign-in used to be refused (``conflict``). SQLite's write
lock runs them one after the other, so the race is made here on PostgreSQL: another connection
commits the name between the check and the INSERT. tests/e2e/test_username_race.py runs real
simultaneous sign-ins on both databases.
"""

import threading

import pytest
from django.db import connection
from django.db.models.signals import pre_save
from django.test import Client

from accounts.models import User
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def taken_meanwhile():
    """``{name: [names]}``: when an account named ``name`` is about to be inserted (once), another
    connection first commits accounts named ``names``."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite's write lock serialises first sign-ins: no other connection can commit meanwhile")
    plan = {}

    def take_them_first(sender, instance, **kwargs):
        names = plan.pop(instance.username, None) if instance._state.adding else None
        if names:

            def commit_elsewhere():
                for name in names:
                    User.objects.create_user(name)
                connection.close()

            other = threading.Thread(target=commit_elsewhere)
            other.start()
            other.join()

    pre_save.connect(take_them_first, sender=User)
    yield plan
    pre_save.disconnect(take_them_first, sender=User)


def test_the_second_of_two_first_sign_ins_gets_the_next_name(authentik, taken_meanwhile):
    taken_meanwhile["carol"] = ["carol"]
    browser = Client()
    response = sign_in(browser, authentik, "carol")
    assert response.status_code == 302 and response["Location"] == "/"
    assert browser.get("/api/users/me").json()["username"] == "carol-2"
    assert User.objects.get(username="carol-2").email == "carol@example.com"


def test_a_name_lost_again_on_the_retry_moves_on_again(authentik, taken_meanwhile):
    taken_meanwhile.update({"carol": ["carol"], "carol-2": ["carol-2"], "carol-3": ["carol-3", "carol-4"]})
    browser = Client()
    sign_in(browser, authentik, "carol")
    assert browser.get("/api/users/me").json()["username"] == "carol-5"
    assert User.objects.filter(email="carol@example.com").count() == 1
