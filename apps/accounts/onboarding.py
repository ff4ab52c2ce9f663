"""A user's first steps, which span accounts and teams: signing up (the user and its
personal team of one) and the operator's first-run bootstrap (user, team, admin
membership, key).

Sits above both apps' services: it calls apps.accounts.services (users, API keys) and
apps.teams.services (teams, memberships), and neither of those imports this module, so
the dependency points one way. Each function is atomic."""

from __future__ import annotations

from dataclasses import dataclass

from allauth.account.models import EmailAddress
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from apps.accounts import services as account_services
from apps.accounts.models import User
from apps.core.errors import DomainError
from apps.teams import services as team_services
from apps.teams.models import Membership, Team
from apps.teams.roles import ADMIN


@transaction.atomic
def user_signup(*, email: str, password: str | None = None, name: str = "") -> User:
    """Create a user and its personal team of one."""
    user = User.objects.create_user(email=email, password=password, name=name)
    team_services.personal_team_ensure(user)
    return user


@dataclass
class BootstrapResult:
    user: User
    team: Team
    secret: str
    user_created: bool
    team_created: bool
    password_set: bool


@transaction.atomic
def bootstrap(*, email: str, team_slug: str, password: str | None = None) -> BootstrapResult:
    """Idempotent first-run setup (`manage.py bootstrap`): user, team, and a new key.

    - The user is created when missing, with `password` or else an unusable password;
      an existing user keeps its password unless one is given. Its email counts as
      verified (the operator vouches for it), so mandatory verification does not lock
      the first admin out.
    - Team `team_slug` is created when missing; the user is made its admin either way.
    - Every call makes a new personal API key and returns its secret (shown once).
    """
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise DomainError(f"{email!r} is not a valid email address.") from exc
    team_services.validate_slug(team_slug)

    user = User.objects.filter(email=email).first()
    user_created = user is None
    if user is None:
        # Created without its personal team so the slug `team_slug` stays free for T.
        user = User.objects.create_user(email=email, password=password)
    elif user.is_service_account:
        raise DomainError(f"{email} is a service account.")
    elif password is not None:
        user.set_password(password)
        user.save(update_fields=["password"])
    EmailAddress.objects.update_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )

    team = Team.objects.filter(slug=team_slug).first()
    team_created = team is None
    if team is None:
        team = team_services.team_create(creator=user, slug=team_slug, name=team_slug)
    else:
        membership = Membership.objects.for_team(team).filter(user=user).first()
        if membership is None:
            if team.is_personal:
                raise DomainError(f"Team {team_slug!r} is another user's personal team.")
            team_services.membership_add(team=team, user=user, role=ADMIN)
        elif membership.role != ADMIN:
            team_services.membership_set_role(team=team, user_id=user.pk, role=ADMIN, actor=user)
    team_services.personal_team_ensure(user)
    _, secret = account_services.api_key_create(user=user, name="bootstrap")
    return BootstrapResult(user, team, secret, user_created, team_created, password is not None)
