"""``/setup``: the first-boot wizard that creates the first administrator, then disappears.

It exists only while the site has no account at all and never had one (a site whose people
all sign in through the provider as viewers must not leave it open to whoever finds it), and
DISABLE_SETUP_WIZARD is off. Two submissions at once cannot both win: a lock (the cache, plus an advisory lock on
PostgreSQL) serialises them and the check is repeated inside the transaction.
"""

import logging
from contextlib import contextmanager

from django import forms
from django.conf import settings
from django.contrib import auth, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import BaseUserCreationForm
from django.core.cache import cache
from django.db import connection, transaction
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts.models import Role, SiteMarker

logger = logging.getLogger(__name__)

LOCK_KEY = "accounts:setup-lock"
ADVISORY_LOCK_ID = 0x524F4D4D  # "ROMM"
BUSY = "Another first-boot setup is being submitted right now. Reload the page in a few seconds."


def wizard_open():
    """True while the site has no account at all and never had one."""
    if settings.DISABLE_SETUP_WIZARD or settings.DISABLE_USERPASS_LOGIN:
        # With password sign-in off, the account it creates could not sign in.
        return False
    if SiteMarker.objects.filter(name__in=[SiteMarker.ADMIN_EXISTED, SiteMarker.ACCOUNT_EXISTED]).exists():
        return False
    return not get_user_model().objects.exists()


class FirstAdminForm(BaseUserCreationForm):
    """Username, email and a password that passes AUTH_PASSWORD_VALIDATORS."""

    email = forms.EmailField(required=True)

    class Meta(BaseUserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")


@contextmanager
def setup_lock():
    """Yield True when this request holds the setup lock, False when another one does."""
    if not cache.add(LOCK_KEY, 1, 30):
        yield False
        return
    try:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADVISORY_LOCK_ID])
            yield True
    finally:
        cache.delete(LOCK_KEY)


@never_cache
@require_http_methods(["GET", "POST"])
def setup(request):
    """GET shows the form; POST creates the first administrator and signs them in."""
    if not wizard_open():
        raise Http404("Setup is finished.")
    form = FirstAdminForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with setup_lock() as locked:
            if not locked:
                messages.error(request, BUSY)
                logger.warning("setup refused: another submission holds the lock")
                return render(request, "accounts/setup.html", {"form": form}, status=409)
            if not wizard_open():
                logger.warning("setup refused: an administrator was created meanwhile")
                raise Http404("Setup is finished.")
            user = form.save(commit=False)
            user.role = Role.ADMIN
            # Typed in by whoever reached /setup first: never a reason to join an OIDC identity.
            user.email_confirmed = False
            user.save()
        auth.login(request, user, backend="accounts.oidc.backend.PasswordBackend")
        logger.info("setup: first administrator %r created", user.username)
        messages.success(request, f"Welcome, {user.username}. You are this site's first administrator.")
        return HttpResponseRedirect("/")
    return render(request, "accounts/setup.html", {"form": form})
