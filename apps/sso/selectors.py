"""Reads for single sign-on; the first argument is the team, except for the entry-point
lookups by URL slug or allauth provider id, which return the team they found with it."""

from __future__ import annotations

from apps.sso.models import TeamSSOConfig, VerifiedDomain
from apps.teams.models import Membership, Team

PROVIDER_PREFIX = "gl-team-"


def sso_config_of(team: Team) -> TeamSSOConfig | None:
    return TeamSSOConfig.objects.for_team(team).first()


def team_domains(team: Team):
    return VerifiedDomain.objects.for_team(team).order_by("domain")


def domain_is_verified_for(team: Team, domain: str) -> bool:
    return VerifiedDomain.objects.for_team(team).filter(domain=domain.lower()).exists()


def enabled_config_for_slug(slug: str, protocol: str | None = None) -> TeamSSOConfig | None:
    """The enabled SSO configuration of the team named by a public sign-in URL."""
    team = Team.objects.filter(slug=slug, is_personal=False).first()
    if team is None:
        return None
    config = TeamSSOConfig.objects.for_team(team).filter(enabled=True).first()
    if config is None or (protocol is not None and config.protocol != protocol):
        return None
    config.team = team
    return config


def config_for_provider_id(provider_id: str) -> TeamSSOConfig | None:
    """The enabled configuration behind an allauth provider id (`gl-team-<team id>`)."""
    if not isinstance(provider_id, str) or not provider_id.startswith(PROVIDER_PREFIX):
        return None
    raw = provider_id[len(PROVIDER_PREFIX) :]
    if not raw.isdigit():
        return None
    team = Team.objects.filter(pk=int(raw)).first()
    if team is None:
        return None
    config = TeamSSOConfig.objects.for_team(team).filter(enabled=True).first()
    if config is not None:
        config.team = team
    return config


def required_sso_for_member(team_slug: str, user) -> TeamSSOConfig | None:
    """The configuration when the URL's team requires SSO and `user` is its member, else
    None (a non-member is answered 404 by the scope check, never by this)."""
    # One query on every signed-in team request; the membership only when SSO is required.
    # The team is the URL's: the join on its slug scopes the query, as open_scope's does.
    config = (
        TeamSSOConfig.objects.across_teams()
        .select_related("team")
        .filter(team__slug=team_slug, require_sso=True, enabled=True)
        .first()
    )
    if config is None or not Membership.objects.for_team(config.team).filter(user=user).exists():
        return None
    return config


def membership_of(team: Team, user) -> Membership | None:
    return Membership.objects.for_team(team).filter(user=user).select_related("custom_role").first()
