"""`manage.py bootstrap --email E --team T [--password-stdin]`: first-run setup.

Idempotent (apps.accounts.onboarding.bootstrap): creates what is missing, makes the user
an admin of T, and prints a new personal API key as `GRADLINE_API_KEY=<key>` on a line
of its own on stdout. Everything else goes to stderr, so
`eval "$(manage.py bootstrap …)"` or `… | grep ^GRADLINE_API_KEY=` just work.
No default credentials: without --password-stdin a new user has no usable password.
"""

from __future__ import annotations

import sys

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.accounts import onboarding
from apps.core.errors import DomainError


class Command(BaseCommand):
    help = "Create (or reuse) a user and a team with the user as admin; print a new API key."

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True)
        parser.add_argument("--team", required=True, help="team slug")
        parser.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the user's password from stdin (sets it also for an existing user)",
        )

    def handle(self, *args, email, team, password_stdin, **options):
        password = None
        if password_stdin:
            password = sys.stdin.read().removesuffix("\n").removesuffix("\r")
            if not password:
                raise CommandError("--password-stdin was given but stdin is empty.")
            try:
                validate_password(password)
            except ValidationError as exc:
                raise CommandError("Password rejected: " + " ".join(exc.messages)) from exc
        try:
            result = onboarding.bootstrap(email=email, team_slug=team, password=password)
        except DomainError as exc:
            raise CommandError(exc.message) from exc

        user_state = "created" if result.user_created else "exists"
        if result.password_set:
            user_state += ", password set"
        elif result.user_created:
            user_state += ", no password (set one with --password-stdin or a reset)"
        self.stderr.write(f"user {result.user.email}: {user_state}", style_func=str)
        self.stderr.write(
            f"team {result.team.slug}: {'created' if result.team_created else 'exists'}, "
            f"{result.user.email} is admin",
            style_func=str,
        )
        self.stdout.write(f"GRADLINE_API_KEY={result.secret}")
