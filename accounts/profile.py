"""``/profile``: the signed-in person's own account: email, role, linked identities, API tokens.

Apps built on accounts add their own parts to the page with ``add_section`` (``devices``: app
tokens, pairing codes, devices), so this module imports none of them.
"""

import logging

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError, transaction
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from accounts.api import bearer as tokens
from accounts.audit import history
from accounts.models import SignInEvent, email_key
from accounts.oidc.provider import providers

logger = logging.getLogger(__name__)

# (template, context function) per part an app adds to the page, in the order apps added them.
SECTIONS = []

NOT_SAVED = "Your email address could not be saved. Try again."
LAST_WAY_IN = (
    "You cannot unlink your only way to sign in. Link another provider first, "
    "or ask an administrator to set a password for your account."
)


class EmailForm(forms.ModelForm):
    """The account's email. A new address is saved unconfirmed, whoever else has it.

    Refusing an address another account has would tell anyone signed in which addresses have
    accounts here. An unconfirmed address never links an OpenID sign-in to the account, so two
    accounts may hold it; only confirmed addresses (the provider's, or an administrator's) are
    unique (``User.clean``, the ``accounts_user_email_key_unique`` constraint).
    """

    class Meta:
        model = get_user_model()
        fields = ["email"]

    def clean_email(self):
        email = self.cleaned_data["email"].strip()
        if email_key(email) != self.instance.email_key:
            self.instance.email_confirmed = False  # as the view saves it, before User.clean runs
        return email


def other_ways_in(user, identity):
    """True when ``user`` can still sign in without ``identity``."""
    if user.has_usable_password() and not settings.DISABLE_USERPASS_LOGIN:
        return True
    return user.identities.exclude(pk=identity.pk).exists()


@login_required
@require_http_methods(["GET", "POST"])
def profile(request):
    """GET shows the account; POST changes its email."""
    user = request.user
    old_email = user.email
    form = EmailForm(request.POST or None, instance=user)
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        changes = {"email": email, "email_key": email_key(email)}
        if email_key(email) != email_key(old_email):
            # A typed-in address proves nothing: OIDC must not link to it by email.
            changes["email_confirmed"] = False
        try:
            with transaction.atomic():
                # Only the fields this form owns, by UPDATE: the rest of the row (role, is_active,
                # password) may have been changed by an administrator while this request ran, and
                # an account deleted meanwhile must not be inserted again.
                saved = get_user_model().objects.filter(pk=user.pk, is_active=True).update(**changes)
        except IntegrityError:
            # Unreachable while a changed address is saved unconfirmed; never name another account.
            logger.warning("profile: email change of account %r refused by the database", user.username)
            form.add_error("email", NOT_SAVED)
        else:
            if not saved:
                logger.warning("profile: account %r was deactivated or deleted during its email change", user.username)
                messages.error(request, "Your account was deactivated or removed meanwhile; nothing was saved.")
                return HttpResponseRedirect("/login?local=1")
            logger.info("profile: account %r changed its email", user.username)
            messages.success(request, "Your email address is saved.")
            return HttpResponseRedirect("/profile")
    if form.errors:
        user.email = old_email  # the page shows the stored address next to the refused one
    return render_profile(request, form=form, status=400 if form.errors else 200)


def add_section(template, context):
    """Show ``template`` on the profile page, rendered with ``context(request, **parts)``.

    ``parts`` are what the view that answered a form of that section passes to ``render_profile``
    (a new token, a pairing code, a form with its errors); a section ignores those of others.
    """
    if (template, context) not in SECTIONS:
        SECTIONS.append((template, context))


def render_profile(request, form=None, status=200, **parts):
    """The profile page, with every app's section; ``parts`` go to the sections (``add_section``)."""
    user = request.user
    identities = list(user.identities.order_by("provider", "created_at"))
    linked = {identity.provider for identity in identities}
    context = {
        "form": form or EmailForm(instance=user),
        "identities": identities,
        "linkable": [p for p in providers() if p.name not in linked],
        "live_tokens": user.api_tokens.filter(revoked=False, expires_at__gt=timezone.now()).count(),
        "sections": [template for template, _ in SECTIONS],
    }
    for _, section in SECTIONS:
        context.update(section(request, **parts))
    return render(request, "accounts/profile.html", context, status=status)


@login_required
@require_POST
def unlink_identity(request, pk):
    """Remove a linked identity, if the person keeps another way in."""
    identity = get_object_or_404(request.user.identities, pk=pk)
    if not other_ways_in(request.user, identity):
        messages.error(request, LAST_WAY_IN)
        logger.warning("profile: unlink refused for %r: last way in (%s)", request.user.username, identity)
        return HttpResponseRedirect("/profile")
    identity.delete()  # its app tokens go too (accounts.oidc.app_recheck.identity_unlinked)
    history.record(
        request,
        SignInEvent.Method.OIDC,
        SignInEvent.Outcome.CHANGED,
        user=request.user,
        reason="identity_unlinked",
        provider=identity.provider,
        subject=identity.subject,
    )
    logger.info("profile: account %r unlinked %s", request.user.username, identity)
    messages.success(
        request,
        f"Your {identity.provider} sign-in is unlinked from this account. Any app and device tokens "
        "you had were revoked with it: pair your apps again.",
    )
    return HttpResponseRedirect("/profile")


@login_required
@require_POST
def revoke_tokens(request):
    """Revoke every API token of the signed-in account."""
    count = tokens.revoke_all(request.user)
    logger.info("profile: account %r revoked %d API token(s)", request.user.username, count)
    messages.success(request, f"Revoked {count} API token(s).")
    return HttpResponseRedirect("/profile")
