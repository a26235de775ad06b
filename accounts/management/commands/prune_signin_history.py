"""``python manage.py prune_signin_history``: keep the sign-in history to SIGNIN_HISTORY_DAYS."""

from datetime import date, timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.audit import summaries
from accounts.models import SignInEvent


class Command(BaseCommand):
    help = "Delete sign-in history rows older than SIGNIN_HISTORY_DAYS (default 90) and print how many."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, help="Keep this many days instead of SIGNIN_HISTORY_DAYS.")

    def handle(self, *args, days=None, **options):
        days = settings.SIGNIN_HISTORY_DAYS if days is None else days
        if days < 1:
            raise CommandError("--days must be at least 1.")
        cutoff = timezone.now() - timedelta(days=days)
        with summaries.locked():
            deleted, _ = SignInEvent.objects.filter(created_at__lt=cutoff).delete()
            # The sign-in health report summarises those days again (or no more).
            summaries.forget(date.min + timedelta(days=1), timezone.localdate(cutoff))
        self.stdout.write(f"Deleted {deleted} sign-in history row(s) older than {days} days.")
