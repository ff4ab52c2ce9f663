"""Input validation and output shapes of the identity/team/project API."""

from __future__ import annotations

from rest_framework import serializers

from apps.projects.models import Visibility
from apps.teams.roles import ROLE_CHOICES


class TeamIn(serializers.Serializer):
    slug = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=128, required=False, allow_blank=True)


class TeamPatch(serializers.Serializer):
    name = serializers.CharField(max_length=128)


class RoleIn(serializers.Serializer):
    role = serializers.ChoiceField(choices=ROLE_CHOICES)


class InvitationIn(serializers.Serializer):
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=ROLE_CHOICES, default="member")


class InvitationAcceptIn(serializers.Serializer):
    token = serializers.CharField(max_length=200)


class ServiceAccountIn(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    role = serializers.ChoiceField(choices=ROLE_CHOICES, default="member")


class ApiKeyIn(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    team = serializers.CharField(max_length=64, required=False, allow_null=True)


class NamedKeyIn(serializers.Serializer):
    name = serializers.CharField(max_length=100)


class ProjectIn(serializers.Serializer):
    name = serializers.CharField(max_length=128)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    visibility = serializers.ChoiceField(choices=Visibility.choices, default=Visibility.TEAM)


class ProjectPatch(serializers.Serializer):
    name = serializers.CharField(max_length=128, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    visibility = serializers.ChoiceField(choices=Visibility.choices, required=False)


def team_out(team, membership=None) -> dict:
    data = {
        "slug": team.slug,
        "name": team.name,
        "is_personal": team.is_personal,
        "created_at": team.created_at,
    }
    if membership is not None:
        data["role"] = membership.role
    return data


def member_out(membership) -> dict:
    user = membership.user
    return {
        "user_id": user.pk,
        "email": user.email,
        "name": user.display_name,
        "role": membership.role,
        "is_service_account": user.is_service_account,
        "joined_at": membership.created_at,
    }


def invitation_out(invitation) -> dict:
    return {
        "id": invitation.pk,
        "email": invitation.email,
        "role": invitation.role,
        "created_at": invitation.created_at,
        "expires_at": invitation.expires_at,
        "invited_by": invitation.invited_by.email if invitation.invited_by else None,
    }


def api_key_out(api_key) -> dict:
    return {
        "id": api_key.pk,
        "name": api_key.name,
        "prefix": api_key.prefix,
        "team": api_key.team.slug if api_key.team_id else None,
        "created_at": api_key.created_at,
        "last_used_at": api_key.last_used_at,
    }


def service_account_out(account) -> dict:
    return {
        "id": account.pk,
        "name": account.name,
        "user_id": account.user_id,
        "created_at": account.created_at,
    }


def project_out(project) -> dict:
    return {
        "name": project.name,
        "team": project.team.slug,
        "description": project.description,
        "visibility": project.visibility,
        "created_at": project.created_at,
        "updated_at": project.updated_at,
    }


def audit_out(event) -> dict:
    return {
        "id": event.pk,
        "action": event.action,
        "actor": event.actor.email if event.actor else None,
        "target": event.target,
        "detail": event.detail,
        "ip": event.ip,
        "created_at": event.created_at,
    }
