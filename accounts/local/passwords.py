"""Username and password sign-in, the one path shared by the form, /api/login, /api/token and HTTP Basic.

Every attempt goes through ``sign_in_with_password``: refused outright when
DISABLE_USERPASS_LOGIN is set, refused without checking the password when the attempt is past a
limit of ``accounts.local.ratelimit`` (counted before the password is checked), and recorded in the sign-in history.
"""

import logging

from django import forms
from django.conf import settings
from django.contrib import auth, messages
from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode

from accounts.audit import history
from accounts.errors import MESSAGES as SIGNIN_MESSAGES
from accounts.errors import SignInError
from accounts.local import ratelimit
from accounts.models import SignInEvent
from accounts.signin import PASSWORD_BACKEND, sign_in, signing_in

logger = logging.getLogger(__name__)

MESSAGES = {
    "password_disabled": (
        "Password sign-in is turned off on this site (DISABLE_USERPASS_LOGIN). "
        "Sign in with the identity provider instead."
    ),
    "rate_limited": (
        "Too many failed sign-in attempts for this account or from this address. "
        "Wait {minutes} minutes and try again, or ask an administrator."
    ),
    "invalid_credentials": "The username or password is incorrect.",
    "inactive": SIGNIN_MESSAGES["inactive"],
    "conflict": SIGNIN_MESSAGES["conflict"],
}


class PasswordRefused(Exception):
    """A refused password sign-in; ``reason`` is a key of ``MESSAGES``."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason

    @property
    def message(self):
        return MESSAGES[self.reason].format(minutes=ratelimit.window_minutes())


def sign_in_with_password(request, username, password, method, record_success=True):
    """The active account these credentials open; raises ``PasswordRefused`` otherwise."""
    username = (username or "").replace("\x00", "").strip()[:150]
    if settings.DISABLE_USERPASS_LOGIN:
        raise refused(request, "password_disabled", username, method)
    if not ratelimit.attempt(request, username):
        raise refused(request, "rate_limited", username, method)
    user = auth.authenticate(request, username=username, password=password or "")
    if user is None:
        raise refused(request, "invalid_credentials", username, method)
    ratelimit.succeeded(request, username)
    if record_success:
        succeeded(request, user, method)
    return user


def open_session(request, user, method, backend=PASSWORD_BACKEND):
    """Sign in an account whose credentials were just accepted, and record the success.

    Callers check the credentials with ``record_success=False``: the success is recorded here,
    with the session. Raises ``PasswordRefused("inactive")`` when an administrator deactivated
    the account after the check; the browser then stays as it was.
    """
    try:
        with signing_in(request):
            sign_in(request, user, method, backend)
    except SignInError as error:
        raise refused(request, error.reason, user.username, method) from None
    logger.info("sign-in: account %r via %s", user.username, method)


def succeeded(request, user, method):
    history.record(request, method, SignInEvent.Outcome.SUCCESS, user=user)
    logger.info("sign-in: account %r via %s", user.username, method)


def refused(request, reason, username, method):
    """Log one line, record the attempt, and return the exception to raise."""
    logger.warning("password sign-in refused: reason=%s method=%s username=%r", reason, method, username)
    history.record(request, method, SignInEvent.Outcome.REFUSED, username=username, reason=reason)
    return PasswordRefused(reason)


class PasswordForm(AuthenticationForm):
    """The login page's form, through ``sign_in_with_password``."""

    def clean(self):
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is None or not password:
            return self.cleaned_data
        try:
            # The login page's form_valid opens the session and records the success.
            self.user_cache = sign_in_with_password(
                self.request, username, password, SignInEvent.Method.PASSWORD, record_success=False
            )
        except PasswordRefused as refusal:
            raise forms.ValidationError(refusal.message, code=refusal.reason) from None
        return self.cleaned_data


def admin_login(request):
    """``/admin/login/``: the site's own login page, so SSO and DISABLE_USERPASS_LOGIN apply there."""
    next_url = request.GET.get("next") or "/admin/"
    if not next_url.startswith("/") or not url_has_allowed_host_and_scheme(next_url, allowed_hosts=None):
        next_url = "/admin/"
    if request.user.is_authenticated and request.user.is_staff:
        return redirect(next_url)
    if request.user.is_authenticated:
        messages.error(
            request,
            f"The administration pages need the admin role; your account has the {request.user.role} role.",
        )
        logger.warning("admin refused: account %r has role %s", request.user.username, request.user.role)
        return redirect("/")
    return redirect(f"{reverse('login')}?{urlencode({'next': next_url})}")
