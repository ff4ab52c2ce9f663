"""Input validation (`…In`) and output shapes (`…Out`) of the identity/team/project API.

Output serializers read model instances; the views never build response dicts by hand,
so the OpenAPI schema is the response.
"""

from __future__ import annotations

from rest_framework import serializers

from apps.projects.models import Visibility
from apps.teams.roles import ROLE_CHOICES, custom_role_permissions

# --- input ---------------------------------------------------------------------------


class StrictCharField(serializers.CharField):
    """A string field that takes JSON strings only: DRF's CharField turns the number 123
    into "123", so a client's wrong type would be stored instead of refused (400)."""

    default_error_messages = {"invalid": "Must be a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class TeamIn(serializers.Serializer):
    slug = StrictCharField(max_length=64)
    name = StrictCharField(max_length=128, required=False, allow_blank=True)


class TeamPatch(serializers.Serializer):
    name = StrictCharField(max_length=128, required=False)
    require_mfa = serializers.BooleanField(
        required=False, help_text="Members must have a second factor (team policy)."
    )


class RoleIn(serializers.Serializer):
    role = StrictCharField(
        max_length=64, help_text="admin, member, viewer or the name of a custom role."
    )


class CustomRoleIn(serializers.Serializer):
    name = StrictCharField(max_length=64)
    base_role = serializers.ChoiceField(choices=ROLE_CHOICES)
    added = serializers.ListField(
        child=StrictCharField(max_length=64), required=False, default=list
    )
    removed = serializers.ListField(
        child=StrictCharField(max_length=64), required=False, default=list
    )


class KeyScopesIn(serializers.Serializer):
    read_only = serializers.BooleanField(required=False, default=False)
    projects = serializers.ListField(
        child=StrictCharField(max_length=128),
        required=False,
        default=list,
        help_text="Limit the key to these projects of its team (404 elsewhere).",
    )
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class InvitationIn(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    role = StrictCharField(
        max_length=64, default="member", help_text="A base role or a custom role's name."
    )


class InvitationAcceptIn(serializers.Serializer):
    token = StrictCharField(max_length=200)


class ServiceAccountIn(KeyScopesIn):
    name = StrictCharField(max_length=100)
    role = StrictCharField(
        max_length=64, default="member", help_text="A base role or a custom role's name."
    )


class ApiKeyIn(KeyScopesIn):
    name = StrictCharField(max_length=100)
    team = StrictCharField(
        max_length=64,
        required=False,
        allow_null=True,
        help_text="Restrict the key to this team (slug); omitted: all your teams.",
    )


class NamedKeyIn(KeyScopesIn):
    name = StrictCharField(max_length=100)


class ProjectIn(serializers.Serializer):
    name = StrictCharField(max_length=128)
    description = StrictCharField(required=False, allow_blank=True, default="", max_length=10_000)
    visibility = serializers.ChoiceField(choices=Visibility.choices, default=Visibility.TEAM)


class ProjectPatch(serializers.Serializer):
    name = StrictCharField(max_length=128, required=False)
    description = StrictCharField(required=False, allow_blank=True, max_length=10_000)
    visibility = serializers.ChoiceField(choices=Visibility.choices, required=False)


# --- output --------------------------------------------------------------------------


class TeamOut(serializers.Serializer):
    """A team as seen by one of its members (reads a Membership)."""

    slug = serializers.CharField(source="team.slug")
    name = serializers.CharField(source="team.name")
    is_personal = serializers.BooleanField(source="team.is_personal")
    created_at = serializers.DateTimeField(source="team.created_at")
    role = serializers.CharField(source="role_name")
    require_mfa = serializers.BooleanField(source="team.require_mfa")


class MemberOut(serializers.Serializer):
    user_id = serializers.IntegerField(source="user.pk")
    email = serializers.EmailField(source="user.email")
    name = serializers.CharField(source="user.display_name")
    role = serializers.CharField(source="role_name")
    base_role = serializers.CharField(source="role")
    is_service_account = serializers.BooleanField(source="user.is_service_account")
    joined_at = serializers.DateTimeField(source="created_at")


class InvitationOut(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    role = serializers.CharField(
        source="role_name", help_text="A base role or a custom role's name."
    )
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    invited_by = serializers.EmailField(source="invited_by.email", allow_null=True)


class InvitationCreatedOut(InvitationOut):
    accept_url = serializers.URLField(help_text="Also mailed to the invitee.")


class ApiKeyOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    prefix = serializers.CharField(help_text="The first characters of the key.")
    team = serializers.CharField(source="team.slug", allow_null=True)
    read_only = serializers.BooleanField()
    projects = serializers.ListField(child=serializers.CharField())
    expires_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)


class ApiKeyCreatedOut(ApiKeyOut):
    secret = serializers.CharField(help_text="The key itself; shown this once only.")


class CustomRoleOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    base_role = serializers.CharField()
    added = serializers.ListField(child=serializers.CharField())
    removed = serializers.ListField(child=serializers.CharField())
    permissions = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    def get_permissions(self, role) -> list[str]:
        return sorted(custom_role_permissions(role.base_role, role.added, role.removed))


class ServiceAccountOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    user_id = serializers.IntegerField()
    role = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()


class ServiceAccountCreatedOut(ServiceAccountOut):
    api_key = ApiKeyCreatedOut()


class ProjectOut(serializers.Serializer):
    name = serializers.CharField()
    team = serializers.CharField(source="team.slug")
    description = serializers.CharField()
    visibility = serializers.ChoiceField(choices=Visibility.choices)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class AuditOut(serializers.Serializer):
    id = serializers.IntegerField()
    action = serializers.CharField()
    actor = serializers.EmailField(source="actor.email", allow_null=True)
    target = serializers.CharField()
    detail = serializers.JSONField()
    ip = serializers.IPAddressField(allow_null=True)
    created_at = serializers.DateTimeField()


class AuditPageOut(serializers.Serializer):
    results = AuditOut(many=True)
    next_before = serializers.IntegerField(
        allow_null=True, help_text="Pass as `before` for the next (older) page."
    )


class ViewerOut(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    name = serializers.CharField()
    is_service_account = serializers.BooleanField()
    default_team = serializers.CharField(allow_null=True)
    teams = TeamOut(many=True)
    api_key = ApiKeyOut(allow_null=True)
