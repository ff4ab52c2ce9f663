"""factory_boy factories that go through our services, so invariants hold."""

from __future__ import annotations

import factory

from apps.accounts import onboarding
from apps.accounts import services as account_services
from apps.accounts.models import User
from apps.projects import services as project_services
from apps.teams import services as team_services


class UserFactory(factory.Factory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    password = "correct-horse-battery-staple"

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return onboarding.user_signup(email=kwargs["email"], password=kwargs["password"])


def make_team(slug: str, admin: User):
    return team_services.team_create(creator=admin, slug=slug, name=slug.title())


def make_project(team, name: str = "resnet", actor=None, **kwargs):
    return project_services.project_create(team=team, name=name, actor=actor, **kwargs)


def make_key(user: User, team=None) -> str:
    _, secret = account_services.api_key_create(user=user, name="test key", team=team)
    return secret


def make_service_account(team, admin: User, name: str = "ci", role: str = "member"):
    """(account, secret of its first key)."""
    account, _, secret = team_services.service_account_provision(
        team=team, name=name, role=role, actor=admin
    )
    return account, secret


def make_invitation(team, admin: User, email: str = "invitee@example.com", role: str = "member"):
    """(invitation, token)."""
    return team_services.invitation_create(team=team, email=email, role=role, actor=admin)
