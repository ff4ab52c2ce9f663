"""`manage.py verify_email EMAIL`: mark a user's address verified, for servers whose
mail only reaches the terminal (apps.accounts.services.email_mark_verified)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from apps.accounts import services
from apps.core.errors import DomainError


class Command(BaseCommand):
    help = "Mark a user's email address verified (and primary); recorded in the audit log."

    def add_arguments(self, parser):
        parser.add_argument("email")

    def handle(self, *args, email, **options):
        try:
            user = services.email_mark_verified(email=email)
        except DomainError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"{user.email} is verified")
