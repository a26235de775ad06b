"""``python manage.py signin_link <username>``: the break-glass way in when the provider is down."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from accounts.api.bearer import create_sign_in_link


class Command(BaseCommand):
    help = (
        "Print a single-use sign-in link for an active account. It works even with "
        "DISABLE_USERPASS_LOGIN, so an administrator can get in when the identity provider is unreachable."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--minutes", type=int, default=10, help="How long the link works (1-60, default 10)."
        )

    def handle(self, *args, username, minutes, **options):
        if not 1 <= minutes <= 60:
            raise CommandError("--minutes must be between 1 and 60.")
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"There is no account named {username!r}.")
        if not user.is_active:
            raise CommandError(f"The account {username!r} is deactivated; reactivate it first.")
        raw = create_sign_in_link(user, minutes)
        # The secret after "#": browsers never send a URL's fragment, so no log records it.
        url = f"{settings.ROMM_BASE_URL}{reverse('signin_link')}#{raw}"
        self.stdout.write(url)
        self.stderr.write(f"Works once, for {minutes} minutes, to sign in as {user.username} ({user.role}).")
