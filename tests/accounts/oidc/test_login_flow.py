"""The round trip a person makes: button, provider, back here signed in as the right account."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings as django_settings
from django.db import connection

from accounts.models import Identity, Role, Session, SignInEvent, User
from tests.conftest import BASE_URL, anonymous_session, configure, sign_in, start


def follow(client, response):
    return client.get(response["Location"])


@pytest.mark.django_db
def test_login_page_shows_provider_button_that_keeps_next(client, authentik):
    page = client.get("/login?next=/api/users/me")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Sign in with Authentik" in html
    assert 'href="/api/login/openid?next=%2Fapi%2Fusers%2Fme"' in html
    assert 'name="password"' in html


@pytest.mark.django_db
def test_protected_page_sends_anonymous_person_to_login(client, authentik):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login?next=/")


@pytest.mark.django_db
def test_start_redirects_to_provider_with_pkce_state_nonce_and_verbatim_redirect_uri(client, idp, settings):
    configure(settings, idp, OIDC_REDIRECT_URI="https://romm.example.net/api/oauth/openid")
    location = start(client, HTTP_HOST="internal:8000")
    params = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert location.startswith(idp.metadata["authorization_endpoint"] + "?")
    assert params["redirect_uri"] == "https://romm.example.net/api/oauth/openid"
    assert params["code_challenge_method"] == "S256" and len(params["code_challenge"]) == 43
    assert len(params["state"]) >= 32 and len(params["nonce"]) >= 32
    assert params["scope"].split()[:3] == ["openid", "email", "profile"]
    assert ("groups" in params["scope"].split()) == (idp.profile == "authelia")


@pytest.mark.django_db
def test_new_person_gets_account_with_role_and_lands_on_next(client, idp):
    response = sign_in(client, idp, "bob", next="/api/users/me")
    assert response.status_code == 302 and response["Location"] == "/api/users/me"
    me = client.get("/api/users/me").json()
    assert me["username"] == "bob" and me["email"] == "bob@example.com" and me["role"] == "editor"
    assert me["identities"] == [{"provider": idp.profile, "issuer": idp.issuer, "subject": idp.subject("bob")}]


@pytest.mark.django_db
def test_authelia_claims_come_from_userinfo(client, authelia):
    sign_in(client, authelia, "alice")
    user = User.objects.get(username="alice")
    assert user.email == "alice@example.com" and user.role == Role.ADMIN
    assert len(authelia.requests_to("userinfo_endpoint")) == 1


@pytest.mark.django_db
def test_authentik_claims_in_id_token_skip_userinfo(client, authentik):
    sign_in(client, authentik, "alice")
    assert User.objects.get(username="alice").role == Role.ADMIN
    assert authentik.requests_to("userinfo_endpoint") == []


@pytest.mark.django_db
def test_admin_role_reaches_django_admin(client, idp):
    sign_in(client, idp, "alice")
    assert client.get("/admin/").status_code == 200


@pytest.mark.django_db
def test_viewer_cannot_use_django_admin_and_sees_role(client, idp):
    sign_in(client, idp, "carol")
    assert client.get("/admin/").status_code == 302
    assert 'data-testid="role">viewer<' in client.get("/").content.decode()


@pytest.mark.django_db
def test_role_follows_groups_on_every_login(client, idp):
    sign_in(client, idp, "bob")
    assert User.objects.get(username="bob").role == Role.EDITOR
    client.logout()
    sign_in(client, idp, "bob", groups=["romm-admins", "romm-viewers"])
    assert User.objects.get(username="bob").role == Role.ADMIN
    client.logout()
    sign_in(client, idp, "bob", groups=["romm-viewers"])
    bob = User.objects.get(username="bob")
    assert bob.role == Role.VIEWER and not bob.is_staff and not bob.is_superuser


@pytest.mark.django_db
def test_absent_role_claim_keeps_existing_role(client, idp):
    sign_in(client, idp, "bob")
    client.logout()
    idp.id_token_changes["groups"] = ...
    idp.userinfo_changes = {}
    response = sign_in(client, idp, "bob", groups=None)
    # groups=None is "no claim value"; the account keeps its role.
    assert response.status_code == 302
    assert User.objects.get(username="bob").role == Role.EDITOR


@pytest.mark.django_db
def test_role_mapping_off_gives_new_accounts_viewer(client, idp, settings):
    configure(settings, idp, OIDC_CLAIM_ROLES=None, OIDC_ROLE_ADMIN=None, OIDC_ROLE_EDITOR=None, OIDC_ROLE_VIEWER=None)
    sign_in(client, idp, "alice")
    assert User.objects.get(username="alice").role == Role.VIEWER


@pytest.mark.django_db
def test_star_grants_viewer_to_anyone_carrying_the_claim(client, idp, settings):
    configure(settings, idp, OIDC_ROLE_VIEWER="*")
    sign_in(client, idp, "erin")
    assert User.objects.get(username="erin").role == Role.VIEWER


@pytest.mark.django_db
def test_nested_roles_claim_and_comma_separated_values(client, idp, settings):
    configure(settings, idp, OIDC_CLAIM_ROLES="realm_access.roles", OIDC_ROLE_EDITOR="writers, romm-editors")
    sign_in(client, idp, "erin", realm_access={"roles": ["writers"]})
    assert User.objects.get(username="erin").role == Role.EDITOR


@pytest.mark.django_db
def test_single_string_role_claim_matches_exactly_not_by_substring(client, idp, settings):
    configure(settings, idp, OIDC_CLAIM_ROLES="role", OIDC_ROLE_ADMIN="admin", OIDC_ROLE_VIEWER="user")
    sign_in(client, idp, "erin", role="admin")
    assert User.objects.get(username="erin").role == Role.ADMIN
    client.logout()
    response = sign_in(client, idp, "carol", role="not-admin")
    assert User.objects.filter(username="carol").exists() is False
    assert "do not give you access" in follow(client, response).content.decode()


@pytest.mark.django_db
def test_verified_email_links_existing_local_account_case_insensitively(client, idp):
    frank = User.objects.create_user("frank", email="frank@example.com", password="pw-local-123")
    sign_in(client, idp, "frank")
    assert client.get("/api/users/me").json()["username"] == "frank"
    identity = Identity.objects.get()
    assert identity.user == frank and identity.subject == idp.subject("frank")
    assert User.objects.count() == 1


@pytest.mark.django_db
def test_linked_identity_keeps_its_account_whatever_email_it_later_presents(client, idp):
    sign_in(client, idp, "carol")
    other = User.objects.create_user("mallory", email="mallory@example.com")
    client.logout()
    sign_in(client, idp, "carol", email="mallory@example.com")
    assert client.get("/api/users/me").json()["username"] == "carol"
    assert not other.identities.exists()


@pytest.mark.django_db
def test_linked_identity_signs_in_even_with_unverified_email(client, authentik):
    sign_in(client, authentik, "carol")
    client.logout()
    response = sign_in(client, authentik, "carol", email_verified=False)
    assert response["Location"] == "/"
    assert client.get("/api/users/me").status_code == 200


@pytest.mark.django_db
def test_username_is_made_valid_and_unique(client, idp, settings):
    User.objects.create_user("Carol")
    sign_in(client, idp, "carol", preferred_username="carol")
    assert User.objects.filter(username="carol-2").exists()
    client.logout()
    sign_in(client, idp, "erin", preferred_username="erin the <great>!", groups=["romm-viewers"])
    assert User.objects.filter(username="erin-the-great").exists()


@pytest.mark.django_db
def test_username_attribute_is_configurable_with_fallback(client, idp, settings):
    configure(settings, idp, OIDC_USERNAME_ATTRIBUTE="email")
    sign_in(client, idp, "bob")
    assert User.objects.filter(username="bob@example.com").exists()
    client.logout()
    configure(settings, idp, OIDC_USERNAME_ATTRIBUTE="nickname_missing")
    sign_in(client, idp, "carol", preferred_username=None)
    assert User.objects.filter(username="carol").exists()


@pytest.mark.django_db
def test_login_rotates_session_key_and_cookie_is_httponly_lax(client, idp):
    client.get("/login")
    before = anonymous_session(client)
    start_location = start(client)
    response = client.get(idp.authorize(start_location, "carol").replace(BASE_URL, ""))
    cookie = response.cookies[django_settings.SESSION_COOKIE_NAME]
    assert cookie.value != before
    assert cookie["httponly"] and cookie["samesite"] == "Lax"


@pytest.mark.django_db
def test_several_tabs_can_sign_in_at_once(client, idp):
    first = start(client, next="/api/users/me")
    second = start(client, next="/")
    response = client.get(idp.authorize(first, "carol").replace(BASE_URL, ""))
    assert response["Location"] == "/api/users/me"
    client.logout()
    response = client.get(idp.authorize(second, "carol").replace(BASE_URL, ""))
    # The second tab's attempt did not survive the logout (a fresh session), so it starts again.
    assert response["Location"].startswith("/login")


@pytest.mark.django_db
def test_tabs_in_one_session_each_keep_their_next(client, idp):
    first = start(client, next="/api/users/me")
    second = start(client, next="/?tab=2")
    assert client.get(idp.authorize(second, "carol").replace(BASE_URL, ""))["Location"] == "/?tab=2"
    assert client.get(idp.authorize(first, "carol").replace(BASE_URL, ""))["Location"] == "/api/users/me"


@pytest.mark.django_db
def test_offsite_next_is_dropped(client, idp):
    response = sign_in(client, idp, "carol", next="https://evil.example/")
    assert response["Location"] == "/"
    response = sign_in(client, idp, "carol", next="//evil.example/")
    assert response["Location"] == "/"


@pytest.mark.django_db
def test_reloaded_callback_after_success_goes_home_quietly(client, idp):
    location = start(client)
    callback = idp.authorize(location, "carol").replace(BASE_URL, "")
    assert client.get(callback)["Location"] == "/"
    again = client.get(callback)
    assert again.status_code == 302 and again["Location"] == "/"


@pytest.mark.django_db
def test_users_me_is_401_when_anonymous(client, idp):
    response = client.get("/api/users/me")
    assert response.status_code == 401 and response.json() == {"detail": "Not signed in."}


@pytest.mark.django_db
def test_deactivated_account_loses_its_session(client, idp):
    sign_in(client, idp, "carol")
    User.objects.filter(username="carol").update(is_active=False)
    assert client.get("/api/users/me").status_code == 401


@pytest.mark.django_db
def test_second_login_makes_three_provider_requests_and_reuses_cached_discovery(client, authentik):
    sign_in(client, authentik, "carol")
    client.logout()
    before = len(authentik.mocker.request_history)
    sign_in(client, authentik, "carol")
    made = [r.url for r in authentik.mocker.request_history[before:]]
    # Discovery and JWKS come from the cache: only the token request goes out.
    assert made == [authentik.metadata["token_endpoint"]]


def returning_callback(client, fake, person):
    """The callback URL of a returning person's sign-in, ready to be requested."""
    sign_in(client, fake, person)
    client.logout()
    return fake.authorize(start(client), person).replace(BASE_URL, "")


# Real commits (transaction=True), so the statements counted are those a deployment runs.
@pytest.mark.django_db(transaction=True)
def test_login_hot_path_queries(client, authentik, django_assert_max_num_queries):
    callback = returning_callback(client, authentik, "carol")
    # One transaction: the identity's read and update, last_login, the session's row and the
    # history row, with BEGIN/COMMIT and the session write's savepoint: at most 13.
    with django_assert_max_num_queries(13):
        client.get(callback)


@pytest.mark.django_db(transaction=True)
def test_returning_sign_in_commits_once(client, idp, monkeypatch):
    callback = returning_callback(client, idp, "carol")
    commits, autocommitted = [], []
    commit = connection.commit
    monkeypatch.setattr(connection, "commit", lambda: (commits.append(1), commit())[1])

    def watch(execute, sql, params, many, context):
        if sql.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")) and not context["connection"].in_atomic_block:
            autocommitted.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(watch):
        response = client.get(callback)
    assert response.status_code == 302 and client.get("/api/users/me").json()["username"] == "carol"
    # On SQLite every commit is a disk sync, on PostgreSQL a wait for the WAL flush: one per sign-in.
    assert commits == [1] and autocommitted == []
    session = Session.objects.signed_in().get(session_key=client.session.session_key)
    assert (session.provider, session.subject) == (idp.profile, idp.subject("carol"))
    assert SignInEvent.objects.filter(user__username="carol", outcome="success").count() == 2


@pytest.mark.django_db(transaction=True)
def test_signed_in_page_costs_only_the_session_and_the_account(client, authentik, django_assert_max_num_queries):
    sign_in(client, authentik, "carol")
    provider_requests = len(authentik.mocker.request_history)
    # Django's own session auth: the session row and the account row.
    with django_assert_max_num_queries(2):
        response = client.get("/logout")
    assert response.status_code == 200 and response.wsgi_request.user.username == "carol"
    assert len(authentik.mocker.request_history) == provider_requests  # the page never asks the provider
