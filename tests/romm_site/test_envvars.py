"""How the site reads its environment: strings, booleans, secret files, one or several providers;
a bad value stops start-up naming the variable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from romm_site.envvars import EnvReader, read_providers, stray_provider_variables

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "raw, expected",
    [(" value ", "value"), ('"quoted"', "quoted"), ("'single'", "single"), ('""', None), ("", None),
     ("  ", None), ('"unbalanced', '"unbalanced'), ("\"'both'\"", "'both'")],
)
def test_strings_are_stripped_and_empty_is_unset(raw, expected):
    assert EnvReader({"X": raw}).str("X") == expected


@pytest.mark.parametrize("raw", ["1", "true", "YES", " on ", '"True"'])
def test_true_words(raw):
    assert EnvReader({"X": raw}).bool("X") is True


@pytest.mark.parametrize("raw", ["0", "false", "No", "off"])
def test_false_words(raw):
    assert EnvReader({"X": raw}).bool("X", default=True) is False


def test_empty_boolean_takes_the_default():
    assert EnvReader({"OIDC_ENABLED": ""}).bool("OIDC_ENABLED", default=True) is True


def test_unknown_boolean_names_the_variable():
    with pytest.raises(ImproperlyConfigured, match="OIDC_ENABLED='ture' is not a boolean"):
        EnvReader({"OIDC_ENABLED": "ture"}).bool("OIDC_ENABLED")


def test_secret_file_is_read_and_stripped(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("from-a-file\n")
    assert EnvReader({"OIDC_CLIENT_SECRET_FILE": str(secret)}).secret("OIDC_CLIENT_SECRET") == "from-a-file"


def test_unreadable_secret_file_names_the_variable(tmp_path):
    with pytest.raises(ImproperlyConfigured, match="OIDC_CLIENT_SECRET_FILE="):
        EnvReader({"OIDC_CLIENT_SECRET_FILE": str(tmp_path / "missing")}).secret("OIDC_CLIENT_SECRET")


def test_secret_and_secret_file_together_are_refused(tmp_path):
    with pytest.raises(ImproperlyConfigured, match="either"):
        EnvReader({"S": "a", "S_FILE": "/x"}).secret("S")


def test_single_provider_defaults_follow_romm():
    [provider] = read_providers(EnvReader({"OIDC_PROVIDER": "authentik"}), "https://romm.example.com/")
    assert provider["name"] == "authentik"
    assert provider["redirect_uri"] == "https://romm.example.com/api/oauth/openid"
    assert provider["post_logout_redirect_uri"] == "https://romm.example.com/login"
    assert provider["allow_registration"] is True
    assert provider["username_attribute"] == "preferred_username"
    assert provider["token_auth_method"] == "auto"


def test_create_user_is_an_alias_of_allow_registration():
    [provider] = read_providers(EnvReader({"OIDC_CREATE_USER": "false"}), "http://x")
    assert provider["allow_registration"] is False
    [provider] = read_providers(EnvReader({"OIDC_CREATE_USER": "false", "OIDC_ALLOW_REGISTRATION": "true"}), "http://x")
    assert provider["allow_registration"] is True


def test_several_providers_read_prefixed_variables_with_unprefixed_defaults():
    env = {
        "OIDC_PROVIDERS": "authentik, authelia",
        "OIDC_CLIENT_SECRET": "shared",
        "OIDC_ROLE_ADMIN": "admins",
        "OIDC_AUTHENTIK_CLIENT_ID": "romm-ak",
        "OIDC_AUTHELIA_CLIENT_ID": "romm-au",
        "OIDC_AUTHELIA_ROLE_ADMIN": "au-admins,root",
    }
    authentik, authelia = read_providers(EnvReader(env), "http://x")
    assert (authentik["name"], authentik["client_id"], authentik["client_secret"]) == ("authentik", "romm-ak", "shared")
    assert authentik["role_values"]["admin"] == ["admins"]
    assert authelia["role_values"]["admin"] == ["au-admins", "root"]
    assert authentik["redirect_uri"] == "http://x/api/oauth/openid"
    assert authelia["redirect_uri"] == "http://x/api/oauth/openid/authelia"
    assert authelia["vars"]["CLIENT_ID"] == "OIDC_AUTHELIA_CLIENT_ID"
    assert authelia["vars"]["CLIENT_SECRET"] == "OIDC_CLIENT_SECRET"


def test_provider_names_are_checked():
    with pytest.raises(ImproperlyConfigured, match="not a valid provider name"):
        read_providers(EnvReader({"OIDC_PROVIDERS": "auth entik"}), "http://x")


def test_stray_prefixed_variables_are_found():
    env = {"OIDC_KEYCLOAK_CLIENT_ID": "x", "OIDC_AUTHENTIK_CLIENT_ID": "y", "OIDC_POST_LOGOUT_REDIRECT_URI": "z",
           "OIDC_AUTHENTIK_POST_LOGOUT_REDIRECT_URI": "w"}
    assert stray_provider_variables(env, ["authentik"]) == ["OIDC_KEYCLOAK_CLIENT_ID"]


@pytest.mark.parametrize(
    "variable, value, words",
    [("OIDC_ENABLED", "maybe", "OIDC_ENABLED='maybe' is not a boolean"),
     ("OIDC_TIMEOUT", "ten", "OIDC_TIMEOUT='ten' is not a whole number"),
     ("ROMM_BASE_URL", "romm.example.com", "ROMM_BASE_URL='romm.example.com' is not a URL")],
)
def test_bad_value_stops_startup_naming_the_variable(variable, value, words):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OIDC_", "DATABASE_URL"))}
    env.update({variable: value, "DJANGO_SETTINGS_MODULE": "romm_site.settings"})
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert words in result.stderr


@pytest.mark.parametrize("value, expected", [(None, "auto"), ("auto", "auto"), ("AUTO", "auto"), ("false", "off"),
                                             ("off", "off"), ("0", "off"), ("no", "off")])
def test_claims_parameter_is_auto_unless_turned_off(value, expected):
    env = {"OIDC_CLAIMS_PARAMETER": value} if value else {}
    [provider] = read_providers(EnvReader(env), "http://x")
    assert provider["claims_parameter"] == expected


@pytest.mark.parametrize("env, variable", [
    ({"OIDC_CLAIMS_PARAMETER": "true"}, "OIDC_CLAIMS_PARAMETER"),
    ({"OIDC_PROVIDERS": "authelia", "OIDC_AUTHELIA_CLAIMS_PARAMETER": "always"}, "OIDC_AUTHELIA_CLAIMS_PARAMETER"),
])
def test_claims_parameter_other_values_are_refused_naming_the_variable_and_the_choices(env, variable):
    with pytest.raises(ImproperlyConfigured) as refused:
        read_providers(EnvReader(env), "http://x")
    message = str(refused.value)
    assert message.startswith(f"{variable}=") and "use auto" in message and "or false (never)" in message


def test_claims_parameter_is_read_per_provider():
    env = {"OIDC_PROVIDERS": "authentik,authelia", "OIDC_CLAIMS_PARAMETER": "false",
           "OIDC_AUTHELIA_CLAIMS_PARAMETER": "auto"}
    authentik, authelia = read_providers(EnvReader(env), "http://x")
    assert (authentik["claims_parameter"], authelia["claims_parameter"]) == ("off", "auto")
    assert stray_provider_variables({"OIDC_KEYCLOAK_CLAIMS_PARAMETER": "false"}, ["authelia"]) == [
        "OIDC_KEYCLOAK_CLAIMS_PARAMETER"
    ]
