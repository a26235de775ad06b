"""The Django admin: linked identities, roles and why, unlinking, deactivating, and who may touch an admin."""

from html.parser import HTMLParser

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from accounts.models import Identity, Role, Session, SignInEvent, User
from tests.accounts.helpers import PASSWORD_FORMS, password_session, whoami
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db

USERS = "/admin/accounts/user/"


@pytest.fixture
def alice(client):
    """A superuser administrator signed in to the admin."""
    user = User.objects.create_user("alice", email="alice@example.com", role=Role.ADMIN)
    client.force_login(user)
    return user


@pytest.fixture
def bob_browser(authentik):
    """Bob signed in through the provider in his own browser."""
    browser = Client()
    sign_in(browser, authentik, "bob")
    return browser


def is_signed_in(browser):
    return browser.get("/api/users/me").status_code == 200


def act(client, action, *users):
    return client.post(USERS, {"action": action, "_selected_action": [u.pk for u in users]}, follow=True)


def messages_in(response):
    return [str(m) for m in response.context["messages"]]


def change_form_data(client, user, delete_identities=(), **changes):
    """The POST the change form sends as shown, with ``changes`` and identities ticked for deletion."""
    page = client.get(f"{USERS}{user.pk}/change/")
    form = page.context["adminform"].form
    data = {name: value for name, value in form.initial.items() if name in form.fields and value is not None}
    data.pop("password", None)
    if data.pop("is_active", False):
        data["is_active"] = "on"
    for formset in page.context["inline_admin_formsets"]:
        management = formset.formset.management_form
        data.update({f"{management.prefix}-{key}": value for key, value in management.initial.items()})
        for _index, inline_form in enumerate(formset.formset.forms):
            prefix = inline_form.prefix
            data[f"{prefix}-id"] = inline_form.instance.pk
            data[f"{prefix}-user"] = user.pk
            if inline_form.instance in delete_identities:
                data[f"{prefix}-DELETE"] = "on"
    data.update(changes)
    return data


class FormAsShown(HTMLParser):
    """What a browser submits from the page's ``<form id=form_id>``, untouched: ``(name, value)`` pairs."""

    def __init__(self, form_id):
        super().__init__()
        self.form_id, self.inside, self.fields, self.select, self.textarea = form_id, False, [], None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.inside = attrs.get("id") == self.form_id
        elif not self.inside or "disabled" in attrs:
            return
        elif tag == "input" and attrs.get("name") and attrs.get("type") not in ("submit", "button", "file"):
            if attrs.get("type") not in ("checkbox", "radio") or "checked" in attrs:
                self.fields.append((attrs["name"], attrs.get("value", "on" if attrs.get("type") == "checkbox" else "")))
        elif tag == "select":
            self.select = attrs.get("name")
        elif tag == "option" and self.select and "selected" in attrs:
            self.fields.append((self.select, attrs.get("value", "")))
        elif tag == "textarea":
            self.textarea = attrs.get("name")
            self.fields.append((self.textarea, ""))

    def handle_data(self, data):
        if self.textarea:
            self.fields[-1] = (self.textarea, self.fields[-1][1] + data)

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None


def shown_form(client, path, form_id="user_form"):
    parser = FormAsShown(form_id)
    parser.feed(client.get(path).content.decode())
    return parser.fields


def submit(client, path, fields, **changes):
    """POST ``fields`` as the browser would after the person changed ``changes`` on the page."""
    data = {}
    for name, value in fields:
        data.setdefault(name, []).append(changes.get(name, value))
    return client.post(path, data)


# --- what the administrator sees -------------------------------------------------------------
def test_user_page_shows_identities_role_reason_and_last_sign_in(client, alice, authentik, bob_browser):
    bob = User.objects.get(username="bob")
    html = client.get(f"{USERS}{bob.pk}/change/").content.decode()
    identity = bob.identities.get()
    assert identity.subject in html and "bob@example.com" in html and "romm-editors" in html
    assert "No role change in the sign-in history: the role given when the account was created." in html
    assert "Groups seen from authentik at the last sign-in: romm-editors." in html
    assert "OpenID Connect (authentik)," in html
    # Identities are read-only: no input for their fields, only the delete box.
    assert 'name="identities-0-subject"' not in html and 'name="identities-0-DELETE"' in html


def test_user_list_filters_by_role_provider_and_active_and_searches_subject(
    client, alice, authentik, bob_browser
):
    User.objects.create_user("carol", role=Role.VIEWER, is_active=False)
    bob = User.objects.get(username="bob")

    def listed(**query):
        return sorted(u.username for u in client.get(USERS, query).context["cl"].result_list)

    assert listed(role__exact="editor") == ["bob"]
    assert listed(identities__provider="authentik") == ["bob"]
    assert listed(is_active__exact="0") == ["carol"]
    assert listed(q=bob.identities.get().subject) == ["bob"]
    assert listed(q="alice@example") == ["alice"]
    row = client.get(USERS).content.decode()
    assert "OpenID Connect (authentik)" in row and "never" in row


# --- actions -------------------------------------------------------------------------------
def test_set_role_action_changes_role_and_records_why(client, alice):
    carol = User.objects.create_user("carol", role=Role.VIEWER)
    response = act(client, "set_role_editor", carol)
    carol.refresh_from_db()
    assert carol.role == Role.EDITOR and not carol.is_staff
    assert "1 account(s) now have the editor role." in messages_in(response)
    event = SignInEvent.objects.get(method=SignInEvent.Method.ROLE)
    assert (event.user, event.outcome, event.reason, event.detail) == (
        carol,
        "changed",
        "admin",
        "viewer -> editor by alice",
    )
    assert "Set by the admin on" in client.get(f"{USERS}{carol.pk}/change/").content.decode()
    act(client, "set_role_admin", carol)
    carol.refresh_from_db()
    assert carol.role == Role.ADMIN and carol.is_staff and carol.is_superuser


def test_role_changed_in_the_form_is_recorded(client, alice):
    carol = User.objects.create_user("carol", role=Role.VIEWER)
    response = client.post(f"{USERS}{carol.pk}/change/", change_form_data(client, carol, role="editor"))
    assert response.status_code == 302
    assert User.objects.get(pk=carol.pk).role == Role.EDITOR
    assert SignInEvent.objects.get(method="role").detail == "viewer -> editor by alice"


def test_a_stale_change_form_does_not_undo_a_deactivation_and_demotion_made_meanwhile(client, alice):
    bob = User.objects.create_user("bob", first_name="Bob", role=Role.EDITOR)
    path = f"{USERS}{bob.pk}/change/"
    shown = shown_form(client, path)  # one administrator opens bob's page: active, editor
    assert ("is_active", "on") in shown and ("role", "editor") in shown
    other = Client()
    other.force_login(User.objects.create_user("root", role=Role.ADMIN))
    act(other, "deactivate", bob)  # another administrator deactivates and demotes him meanwhile
    act(other, "set_role_viewer", bob)
    assert submit(client, path, shown, first_name="Robert").status_code == 302  # the first saves a typo fix
    bob.refresh_from_db()
    assert (bob.first_name, bob.is_active, bob.role) == ("Robert", False, Role.VIEWER)
    assert list(SignInEvent.objects.filter(method="role").values_list("detail", flat=True)) == [
        "editor -> viewer by root"
    ]


def test_what_the_stale_form_did_change_is_written(client, alice):
    bob = User.objects.create_user("bob", first_name="Bob", role=Role.EDITOR)
    path = f"{USERS}{bob.pk}/change/"
    shown = shown_form(client, path)
    User.objects.filter(pk=bob.pk).update(first_name="Rob")
    assert submit(client, path, shown, role="viewer").status_code == 302
    bob.refresh_from_db()
    assert (bob.first_name, bob.role, bob.is_active) == ("Rob", Role.VIEWER, True)


def test_confirming_a_shown_email_does_not_confirm_one_typed_after_the_page_was_shown(client, alice):
    """Attack: ``email`` and ``email_confirmed`` belong together. An administrator who ticks
    "email confirmed" confirms the address the page SHOWED; if the account changed its address on
    /profile after the page was shown, writing ``email_confirmed`` alone would confirm an address
    the administrator never saw (and OpenID sign-in then links a provider identity to it)."""
    mallory = User.objects.create_user("mallory", email="mallory@home.test", password="a-long-password-1")
    User.objects.filter(pk=mallory.pk).update(email_confirmed=False)
    path = f"{USERS}{mallory.pk}/change/"
    shown = shown_form(client, path)  # the administrator checks mallory@home.test out of band
    assert ("email", "mallory@home.test") in shown and not any(n == "email_confirmed" for n, _ in shown)

    # Meanwhile mallory types somebody else's address on her profile (saved unconfirmed).
    attacker = Client()
    attacker.force_login(User.objects.get(pk=mallory.pk))
    attacker.post("/profile", {"email": "ceo@corp.test"})
    assert User.objects.get(pk=mallory.pk).email == "ceo@corp.test"

    refused = submit(client, path, shown + [("email_confirmed", "on")])
    mallory.refresh_from_db()
    # The administrator confirmed mallory@home.test, never ceo@corp.test.
    assert not (mallory.email == "ceo@corp.test" and mallory.email_confirmed), (
        "the admin's stale form confirmed an address it never showed"
    )
    assert refused.status_code == 200
    assert "The email address changed since this page was shown; reload the page and check it again." in (
        refused.content.decode().replace("&#x27;", "'")
    )
    assert (mallory.email, mallory.email_confirmed) == ("ceo@corp.test", False)


def test_a_stale_form_confirming_an_address_another_account_confirmed_is_refused_not_a_500(client, alice):
    User.objects.create_user("ceo", email="ceo@corp.test")  # confirmed: the site made it
    mallory = User.objects.create_user("mallory", email="mallory@home.test", password="a-long-password-1")
    User.objects.filter(pk=mallory.pk).update(email_confirmed=False)
    path = f"{USERS}{mallory.pk}/change/"
    shown = shown_form(client, path)
    User.objects.filter(pk=mallory.pk).update(email="CEO@corp.test")  # typed on /profile meanwhile
    refused = submit(client, path, shown + [("email_confirmed", "on")])
    assert refused.status_code == 200
    assert "reload the page and check it again." in refused.content.decode()
    assert not User.objects.get(pk=mallory.pk).email_confirmed


def test_confirming_an_address_another_confirmed_account_has_is_a_form_error(client, alice):
    User.objects.create_user("ceo", email="ceo@corp.test")
    mallory = User.objects.create_user("mallory", email="ceo@corp.test", email_confirmed=False)
    path = f"{USERS}{mallory.pk}/change/"
    refused = submit(client, path, shown_form(client, path) + [("email_confirmed", "on")])
    assert refused.status_code == 200
    assert "Another account already uses this email address." in refused.content.decode()
    assert not User.objects.get(pk=mallory.pk).email_confirmed


def test_deactivate_ends_sessions(client, alice, bob_browser):
    bob = User.objects.get(username="bob")
    assert is_signed_in(bob_browser) and Session.objects.signed_in().filter(user=bob).exists()
    sessions_before = Session.objects.count()
    response = act(client, "deactivate", bob)
    assert "Deactivated 1 account(s); their sessions are ended." in messages_in(response)
    assert User.objects.get(pk=bob.pk).is_active is False
    assert not Session.objects.signed_in().filter(user=bob).exists()
    assert Session.objects.count() == sessions_before - 1
    assert not is_signed_in(bob_browser)


def test_deactivating_anywhere_ends_sessions(bob_browser):
    bob = User.objects.get(username="bob")
    bob.is_active = False
    bob.save()
    assert not Session.objects.signed_in().exists()
    assert not is_signed_in(bob_browser)


def test_unlink_action_removes_identities_and_ends_sessions(client, alice, bob_browser):
    bob = User.objects.get(username="bob")
    subject = bob.identities.get().subject
    response = act(client, "unlink_identities", bob)
    assert "Unlinked 1 identity(ies) from 1 account(s); their sessions are ended." in messages_in(response)
    assert not Identity.objects.filter(user=bob).exists()
    assert not is_signed_in(bob_browser)
    event = SignInEvent.objects.get(reason="identity_unlinked")
    assert (event.user, event.subject, event.detail) == (bob, subject, "by alice in the admin")


def test_administrator_cannot_act_on_own_account(client, alice):
    response = act(client, "deactivate", alice)
    assert "Your own account is not changed from this list" in messages_in(response)[0]
    assert User.objects.get(pk=alice.pk).is_active is True


def test_unlinked_identity_no_longer_reaches_the_old_account(client, alice, authentik, bob_browser):
    """An administrator undoes a wrong link; the identity's next sign-in links anew by the rules."""
    bob = User.objects.get(username="bob")
    identity = bob.identities.get()
    response = client.post(
        f"{USERS}{bob.pk}/change/", change_form_data(client, bob, delete_identities=[identity])
    )
    assert response.status_code == 302
    assert not Identity.objects.filter(pk=identity.pk).exists()
    assert not is_signed_in(bob_browser)
    assert SignInEvent.objects.filter(reason="identity_unlinked", user=bob, subject=identity.subject).exists()

    # Same person at the provider, now with another verified email: a new account, not bob's.
    fresh = Client()
    assert sign_in(fresh, authentik, "bob", email="robert@example.org").status_code == 302
    me = fresh.get("/api/users/me").json()
    assert me["username"] != "bob" and me["email"] == "robert@example.org"
    relinked = Identity.objects.get(subject=identity.subject)
    assert relinked.user_id != bob.pk and not bob.identities.exists()


def test_unlinked_identity_links_by_verified_email_to_the_right_account(
    client, alice, authentik, bob_browser
):
    bob = User.objects.get(username="bob")
    robert = User.objects.create_user("robert", email="robert@example.org")
    act(client, "unlink_identities", bob)
    fresh = Client()
    sign_in(fresh, authentik, "bob", email="Robert@example.org")
    assert fresh.get("/api/users/me").json()["username"] == "robert"
    assert Identity.objects.get().user == robert


# --- only a superuser touches an administrator -------------------------------------------------
@pytest.fixture
def helper(client):
    """A staff account that is not a superuser, with every user permission (a hand-made edge case)."""
    user = User.objects.create_user("helper", role=Role.EDITOR)
    User.objects.filter(pk=user.pk).update(is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="accounts"))
    client.force_login(user)
    return user


def test_non_superuser_cannot_deactivate_unlink_or_change_an_admin(client, helper, authentik):
    admin = User.objects.create_user("root", role=Role.ADMIN)
    Identity.objects.create(user=admin, issuer=authentik.issuer, subject="root-sub", provider="authentik")
    for action in ("deactivate", "unlink_identities", "set_role_viewer"):
        response = act(client, action, admin)
        assert "Only a superuser can change an administrator's account; nothing was changed." in messages_in(
            response
        )
    admin.refresh_from_db()
    assert admin.is_active and admin.role == Role.ADMIN and admin.identities.exists()
    assert (
        client.post(f"{USERS}{admin.pk}/change/", {"username": "root", "role": "viewer"}).status_code == 403
    )
    assert client.post(f"{USERS}{admin.pk}/delete/", {"post": "yes"}).status_code == 403
    assert User.objects.filter(pk=admin.pk, role=Role.ADMIN).exists()


def test_non_superuser_cannot_make_an_admin(client, helper):
    carol = User.objects.create_user("carol")
    page = client.get(USERS)
    actions = [value for value, _ in page.context["action_form"].fields["action"].choices]
    assert "set_role_admin" not in actions and "delete_selected" not in actions
    assert "set_role_editor" in actions
    act(client, "set_role_admin", carol)
    response = client.post(f"{USERS}{carol.pk}/change/", change_form_data(client, carol, role="admin"))
    assert response.status_code == 200  # the form refuses the choice
    assert User.objects.get(pk=carol.pk).role == Role.VIEWER


def test_non_superuser_may_still_manage_other_accounts(client, helper):
    carol = User.objects.create_user("carol")
    act(client, "set_role_editor", carol)
    assert User.objects.get(pk=carol.pk).role == Role.EDITOR


def test_administrator_adds_an_account_with_a_role(client, alice):
    assert client.get(f"{USERS}add/").status_code == 200
    response = client.post(
        f"{USERS}add/",
        {"username": "dora", "email": "dora@example.com", "role": "editor", "usable_password": "false"},
    )
    assert response.status_code == 302
    dora = User.objects.get(username="dora")
    assert dora.role == Role.EDITOR and not dora.has_usable_password() and not dora.is_staff


def test_deleting_an_account_ends_its_provider_sessions(client, alice, bob_browser):
    bob = User.objects.get(username="bob")
    assert client.post(f"{USERS}{bob.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not User.objects.filter(pk=bob.pk).exists()
    assert list(Session.objects.signed_in().values_list("user__username", flat=True)) == ["alice"]
    assert Session.objects.count() == 1  # alice's


# --- the admin's password pages: another administrator's change made meanwhile stands -----------
def another_admin_deactivates(user):
    fresh = User.objects.get(pk=user.pk)
    fresh.is_active = False
    fresh.save(update_fields=["is_active"])  # as the admin's Deactivate action does: sessions end


def another_admin_demotes(user):
    fresh = User.objects.get(pk=user.pk)
    fresh.role = Role.VIEWER
    fresh.save(update_fields=["role"])


@pytest.mark.parametrize("page", PASSWORD_FORMS.values(), ids=PASSWORD_FORMS.keys())
def test_a_deactivation_during_an_administrators_own_password_change_stands(administrator_acts, page):
    # A thief holding an administrator's session changes that account's password; the superuser
    # deactivates the account at that moment: the deactivation stands.
    browser, alice = password_session("alice", role=Role.ADMIN)
    administrator_acts(another_admin_deactivates)
    path, form = page(alice)
    browser.post(path, form)
    alice.refresh_from_db()
    assert alice.is_active is False, "the deactivation was undone"
    assert whoami(browser) is None, "the thief's session lives on"


@pytest.mark.parametrize("page", PASSWORD_FORMS.values(), ids=PASSWORD_FORMS.keys())
def test_a_demotion_during_an_administrators_own_password_change_stands(administrator_acts, page):
    browser, alice = password_session("alice", role=Role.ADMIN)
    administrator_acts(another_admin_demotes)
    path, form = page(alice)
    browser.post(path, form)
    alice.refresh_from_db()
    assert alice.role == Role.VIEWER and not alice.is_staff and not alice.is_superuser, (
        "the demotion was undone"
    )
