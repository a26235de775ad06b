"""Every reason the sign-in history records for a refusal or an ended session, in words.

For each reason code: the sentence the person read (from the module that refuses: the OIDC
flow's ``accounts.errors``, passwords, sign-in links, the session recheck) and the fix, the
operator's next step, as docs/troubleshooting.md explains it at length. Apps that record
reasons of their own describe them with ``describe`` (``devices`` does in its ``ready``).
"""

from accounts.audit.refusals import SUMMARY_REASON
from accounts.errors import MESSAGES as OIDC_REFUSALS
from accounts.local.breakglass import REFUSALS as LINK_REFUSALS
from accounts.local.passwords import MESSAGES as PASSWORD_REFUSALS
from accounts.local.ratelimit import window_minutes
from accounts.oidc.app_recheck import REFUSALS as APP_TOKEN_ENDINGS
from accounts.oidc.recheck import REFUSALS as RECHECK_ENDINGS

BACKCHANNEL = "backchannel_logout"
BACKCHANNEL_SENTENCE = (
    "None: the person signed out at the identity provider, and their next page here is the sign-in page."
)

# Sessions ended after their sign-in, and what ended them: the recheck, or the provider's
# back-channel logout. Their history rows are method "oidc" ("app_token" when the same reason
# revoked a person's app tokens, accounts.oidc.app_recheck); the report keeps them apart from refused
# sign-ins.
SESSION_ENDINGS = {**{reason: "recheck" for reason in RECHECK_ENDINGS}, BACKCHANNEL: "backchannel"}

FIXES = {
    # The OIDC flow (accounts.errors).
    "state_unknown": "A few need nothing (a reused or bookmarked callback, a sign-in finished in another "
    "browser). Many: check that browsers keep this site's cookie across the trip to the provider "
    "(ROMM_BASE_URL as people reach the site).",
    "state_expired": "People took longer than OIDC_STATE_SECONDS at the provider (a slow second factor): "
    "raise it if that is normal.",
    "provider_gone": "Nothing: sign-ins begun before their provider was removed from the configuration.",
    "mixup": "Each provider's redirect URI at the provider must be its own callback URL here "
    "(docs/several-providers.md).",
    "provider_denied": "The provider's error code is in the row's detail; usually the person may not use "
    "this application there (Authentik: the application's bindings; Authelia: its access policy).",
    "code_missing": "The redirect URI registered at the provider must be this site's callback URL; the log "
    "line shows what came back.",
    "provider_unreachable": "Check OIDC_SERVER_APPLICATION_URL and that this server reaches the provider "
    "(DNS, firewall, the provider's own health).",
    "provider_timeout": "Check the provider's load and the network between them; OIDC_TIMEOUT is how long "
    "this site waits.",
    "provider_tls": "Set OIDC_TLS_CACERTFILE to the CA bundle that signed the provider's certificate.",
    "discovery_invalid": "Check OIDC_SERVER_APPLICATION_URL (or OIDC_SERVER_METADATA_URL); "
    "python manage.py oidc_doctor says what is wrong.",
    "issuer_mismatch": "Set OIDC_SERVER_APPLICATION_URL to the issuer the provider announces (the log line "
    "names it).",
    "token_refused": "Check OIDC_CLIENT_ID, OIDC_CLIENT_SECRET and OIDC_REDIRECT_URI against the client "
    "registered at the provider.",
    "code_rejected": "A few need nothing (a reloaded callback). Many: compare the clocks of this server and "
    "the provider, and the provider's code lifetime.",
    "client_rejected": "Check OIDC_CLIENT_ID and OIDC_CLIENT_SECRET, and OIDC_TOKEN_ENDPOINT_AUTH_METHOD "
    "against the client's authentication method at the provider.",
    "bad_response": "The log line has the detail; python manage.py oidc_doctor checks the provider's "
    "answers.",
    "invalid_token": "The log line names the check that failed (docs/security.md); a clock difference "
    "beyond OIDC_LEEWAY_SECONDS or the wrong OIDC_CLIENT_ID are the usual causes.",
    "userinfo_mismatch": "A provider fault or an attack: read the log line, then the provider's logs.",
    "email_unverified": "On Authentik 2025.10 or newer: add a scope mapping for the 'email' scope that "
    'returns "email_verified": True and select it on the provider instead of the default one '
    "(docs/authentik.md, step 3). Elsewhere the person verifies their address at the provider.",
    "registration_closed": "Create the person's account with their email address in the admin, or allow "
    "registration (OIDC_ALLOW_REGISTRATION).",
    "account_linked_elsewhere": "If the person's account at the provider was replaced, unlink the old "
    "identity from the account in the admin.",
    "admin_email_link": 'The administrator signs in with a password or a sign-in link and uses "Link '
    'another sign-in" on their profile.',
    "email_linking_off": "The person signs in to the existing account and links the provider from the "
    "profile, or set OIDC_EMAIL_LINKING=true.",
    "ambiguous_email": "Give the accounts that share the address different ones in the admin.",
    "no_role": "Add the person to a group OIDC_ROLE_ADMIN, OIDC_ROLE_EDITOR or OIDC_ROLE_VIEWER names, or "
    "check OIDC_CLAIM_ROLES.",
    "email_domain": "If the person should sign in, add their email domain to OIDC_ALLOWED_EMAIL_DOMAINS "
    "(docs/groups.md); the row's detail names it.",
    "email_domain_unproven": "The provider sent no verified email for the person, which OIDC_ALLOWED_EMAIL_DOMAINS "
    "needs: on Authentik 2025.10 or newer, the email_verified scope mapping (docs/authentik.md, step 3); "
    "elsewhere the person adds and verifies an address at the provider.",
    "inactive": "Reactivate the account in the admin if the person should have access again.",
    "identity_linked_elsewhere": "If it was linked to the wrong account, unlink it there in the admin.",
    "already_linked_here": "The person unlinks the old sign-in on their profile first.",
    "link_not_signed_in": "Nothing: the link was finished in another browser or after signing out.",
    "conflict": "Nothing: two sign-ins of one person at once, and the other one worked.",
    # Passwords (accounts.local.passwords) and sign-in links (accounts.local.breakglass).
    "password_disabled": "Intended while DISABLE_USERPASS_LOGIN is on: people sign in with the provider "
    "(or a sign-in link).",
    "rate_limited": "Many from one address: someone is guessing passwords, and the limit stops them "
    "(docs/access-modes.md, Password attempts).",
    "invalid_credentials": "A wrong username or password. Many for one account or from one address: "
    "someone may be guessing.",
    "link_invalid": "Print a new link: python manage.py signin_link <username>.",
    # One row standing for a client's refusals past the per-minute bound (accounts.audit.refusals).
    SUMMARY_REASON: "One client is refusing itself many times a minute: the row's address says which, "
    "and the log counts the refusals not recorded here; block the address at the proxy if it goes on "
    "(SIGNIN_HISTORY_REFUSALS_PER_MINUTE sets the bound).",
    # Sessions the recheck ended (accounts.oidc.recheck), and back-channel logout.
    "provider_ended": "Nothing, if the person was deactivated or removed at the provider; otherwise check "
    "the refresh token's lifetime there.",
    "recheck_client": "Check OIDC_CLIENT_ID and OIDC_CLIENT_SECRET (and the client's token endpoint "
    "authentication method): every rechecked session ends until they are right.",
    "recheck_no_role": "Nothing, if the person left the groups on purpose; otherwise add them back to a "
    "group that grants a role.",
    "recheck_invalid": "The log line names the failed check; python manage.py oidc_doctor checks the "
    "provider.",
    "recheck_unreachable": "The provider was down longer than OIDC_SESSION_RECHECK_GRACE_SECONDS: check "
    "its health, or raise the grace period.",
    "recheck_unavailable": "Allow the offline_access scope for this site at the provider "
    "(docs/logout-and-sessions.md).",
    "recheck_email_domain": "Nothing, if the person's email at the provider moved out of OIDC_ALLOWED_EMAIL_DOMAINS "
    "on purpose; otherwise add the domain, or have the address verified at the provider (docs/groups.md).",
    "session_gone": "Nothing, if the session's provider was removed from the configuration.",
    BACKCHANNEL: "Nothing: the person signed out at the provider, or was signed out there.",
}

SENTENCES = {
    **OIDC_REFUSALS,
    **PASSWORD_REFUSALS,
    **LINK_REFUSALS,
    **RECHECK_ENDINGS,
    BACKCHANNEL: BACKCHANNEL_SENTENCE,
    SUMMARY_REASON: "Each refusal's own sentence (this row stands for several; its detail names one of them).",
}

_DESCRIBED = {}

UNKNOWN_FIX = (
    "No description is registered for this reason; the rows' detail column in the sign-in history says more."
)


def describe(reason, sentence, fix):
    """Register the sentence and fix of a ``reason`` an app records (``devices.apps``)."""
    _DESCRIBED[reason] = (sentence, fix)


def explain(reason, provider_label="the provider", app_tokens=False):
    """``(sentence, fix)`` for ``reason``; ``{provider}`` in the sentence reads ``provider_label``.

    ``app_tokens``: the reason ended a person's app tokens (``accounts.oidc.app_recheck``), not a session.
    """
    if reason in _DESCRIBED:
        return _DESCRIBED[reason]
    sentence = (APP_TOKEN_ENDINGS if app_tokens and reason in APP_TOKEN_ENDINGS else SENTENCES).get(
        reason, ""
    )
    sentence = sentence.format(provider=provider_label, error="its error code", minutes=window_minutes(),
                               domain="their domain")
    return sentence[:1].upper() + sentence[1:], FIXES.get(reason, UNKNOWN_FIX)
