"""Why a sign-in was refused: one reason code, one sentence for the person, one for the log.

Every refusal in the OIDC flow raises ``SignInError`` with a reason code from ``MESSAGES``;
the callback view turns it into the message shown on the login page and a single log line.
"""

MESSAGES = {
    # The browser's round trip.
    "state_unknown": (
        "This sign-in link was already used or does not belong to this browser. "
        "Start again with the button below."
    ),
    "state_expired": "The sign-in took too long and expired. Start again with the button below.",
    "provider_gone": (
        "The sign-in was started with a provider that is no longer configured. "
        "Start again with the button below."
    ),
    "mixup": (
        "The answer came back from a different sign-in provider than the one you started with, "
        "so it was refused for your safety. Start again with the button below."
    ),
    "provider_denied": (
        "{provider} did not complete the sign-in ({error}). Try again; if it keeps happening, "
        "ask your administrator to check that you may use this application in {provider}."
    ),
    "code_missing": "{provider} sent you back without a sign-in code. Start again with the button below.",
    # Talking to the provider.
    "provider_unreachable": (
        "{provider} could not be reached. Try again in a minute; if it keeps failing, the "
        "administrator should check OIDC_SERVER_APPLICATION_URL and that this server can reach {provider}."
    ),
    "provider_timeout": (
        "{provider} took too long to answer. Try again in a minute; if it keeps failing, "
        "the administrator should check that this server can reach {provider}."
    ),
    "provider_tls": (
        "This server does not trust {provider}'s certificate. The administrator should set "
        "OIDC_TLS_CACERTFILE to the CA bundle that signed it."
    ),
    "discovery_invalid": (
        "{provider}'s configuration document could not be used. The administrator should check "
        "OIDC_SERVER_APPLICATION_URL (or OIDC_SERVER_METADATA_URL)."
    ),
    "issuer_mismatch": (
        "{provider} identifies itself with a different address than the one configured. The "
        "administrator should set OIDC_SERVER_APPLICATION_URL to the issuer {provider} announces "
        "(see the server log)."
    ),
    "token_refused": (
        "{provider} refused to finish the sign-in ({error}). Start again; if it keeps happening, "
        "the administrator should check OIDC_CLIENT_ID, OIDC_CLIENT_SECRET and OIDC_REDIRECT_URI."
    ),
    "code_rejected": (
        "{provider} says this sign-in code was already used or has expired. Start again with the button below."
    ),
    "client_rejected": (
        "{provider} did not accept this site's client credentials. The administrator should check "
        "OIDC_CLIENT_ID and OIDC_CLIENT_SECRET, and the client's token endpoint authentication method."
    ),
    "bad_response": (
        "{provider} sent an answer this site cannot read. Try again; if it keeps happening, "
        "the administrator should look at the server log."
    ),
    "invalid_token": (
        "The identity token from {provider} did not pass validation, so you were not signed in. "
        "Start again; if it keeps happening, the administrator should look at the server log."
    ),
    "userinfo_mismatch": (
        "{provider} described two different people during one sign-in, so it was refused. "
        "The administrator should look at the server log."
    ),
    # The identity policy.
    "email_unverified": (
        "{provider} says your email address is not verified, so it cannot be used to find or "
        "create your account. Verify your address in {provider}; on Authentik 2025.10 or newer "
        "the administrator must add a scope mapping for the 'email' scope that returns "
        "\"email_verified\": True and select it on the provider instead of the default one."
    ),
    "registration_closed": (
        "There is no account here for you yet and new accounts cannot be created by signing in. "
        "Ask an administrator to create your account (with your email address) or to allow registration."
    ),
    "account_linked_elsewhere": (
        "The account with your email address is already linked to another {provider} user. "
        "Sign in as that user, or ask an administrator to unlink it."
    ),
    "admin_email_link": (
        "An administrator account here uses your email address. Administrator accounts are never "
        "joined to a {provider} sign-in by email: if it is yours, sign in to it (with its password or a "
        "sign-in link) and use \"Link another sign-in\" on your profile, or ask another administrator."
    ),
    "email_linking_off": (
        "An account here already uses your email address, and this site does not join sign-ins to "
        "accounts by email (OIDC_EMAIL_LINKING=false). If it is yours, sign in to it and use \"Link "
        "another sign-in\" on your profile; otherwise ask an administrator."
    ),
    "ambiguous_email": (
        "More than one account here uses your email address, so none was chosen. "
        "Ask an administrator to fix the duplicate accounts."
    ),
    "no_role": (
        "Your {provider} groups do not give you access to this site. Ask your administrator to add "
        "you to one of the groups that grant a role here."
    ),
    "email_domain": (
        "Your email address at {provider} is in a domain this site does not accept ({domain}), so you were "
        "not signed in. Sign in with an account whose email address is in an accepted domain, or ask your "
        "administrator to add yours to OIDC_ALLOWED_EMAIL_DOMAINS."
    ),
    "email_domain_unproven": (
        "This site accepts only email addresses in some domains (OIDC_ALLOWED_EMAIL_DOMAINS), and {provider} "
        "did not send a verified email address for you, so you were not signed in. Add a verified email "
        "address to your account in {provider}; on Authentik 2025.10 or newer the administrator must add a "
        "scope mapping for the 'email' scope that returns \"email_verified\": True."
    ),
    "inactive": "Your account here is deactivated. Ask an administrator to reactivate it.",
    "identity_linked_elsewhere": (
        "That {provider} sign-in already belongs to another account here, so it was not linked. "
        "Sign in with it to use that account, or ask an administrator to unlink it."
    ),
    "already_linked_here": (
        "Your account already has a {provider} sign-in linked. Unlink it on your profile first "
        "to link a different one."
    ),
    "link_not_signed_in": "Linking a sign-in needs you to be signed in here. Sign in, then try again from your profile.",
    "conflict": "Another sign-in for the same person was in progress. Start again with the button below.",
}


class SignInError(Exception):
    """A refused OIDC sign-in: ``reason`` picks the sentence, ``detail`` goes to the log only.

    ``provider_ms``: how long the provider took to answer the sign-in's token request, when it
    answered before the refusal (the sign-in history keeps it).
    """

    provider_ms = None

    def __init__(self, reason, detail="", **context):
        if reason not in MESSAGES:
            raise ValueError(f"unknown sign-in refusal reason {reason!r}")
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.context = context

    def message(self, provider_label):
        return MESSAGES[self.reason].format(provider=provider_label, **self.context)
