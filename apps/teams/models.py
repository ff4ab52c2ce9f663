from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models

from apps.core.tenancy import TeamOwnedModel, TeamScopedManager
from apps.teams.roles import ROLE_CHOICES


class Team(models.Model):
    """The tenant (W&B's entity). Every user also has a personal team of one."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=128)
    is_personal = models.BooleanField(default=False)
    # Team policy: members without a second factor are sent to enrol first
    # (apps.core.access.open_scope enforces it for session callers).
    require_mfa = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class CustomRole(TeamOwnedModel):
    """A team's own role: a base role plus permissions added and minus permissions dropped.

    Only data: apps.teams.roles.custom_role_permissions turns it into a permission set.
    """

    name = models.CharField(max_length=64)
    base_role = models.CharField(max_length=32, choices=ROLE_CHOICES)
    # Arrays, not JSON: the per-request scope lookup reads them from a raw row.
    added = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    removed = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="custom_role_unique")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class MembershipManager(TeamScopedManager):
    def of_user(self, user):
        """The user's own memberships in every team: how a user's teams are found."""
        return self.across_teams().filter(user=user).select_related("team")


class Membership(TeamOwnedModel):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    # The base role; with `custom_role` set it is that role's base_role (kept in step by
    # apps.teams.services), and the permissions are the custom role's.
    role = models.CharField(max_length=32, choices=ROLE_CHOICES)
    custom_role = models.ForeignKey(
        CustomRole, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = MembershipManager()

    @property
    def role_name(self) -> str:
        """The role as shown and as set through the API: the custom role's name or the base."""
        return self.custom_role.name if self.custom_role_id else self.role

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="membership_unique_user")
        ]
        ordering = ["created_at"]


class Invitation(TeamOwnedModel):
    """An email invitation; only the digest of its token is stored."""

    email = models.EmailField()
    # As on Membership: the base role, and the custom role the invitee joins with, if any
    # (a custom role cannot be deleted while a pending invitation grants it).
    role = models.CharField(max_length=32, choices=ROLE_CHOICES)
    custom_role = models.ForeignKey(
        CustomRole, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    token_digest = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    @property
    def role_name(self) -> str:
        return self.custom_role.name if self.custom_role_id else self.role

    class Meta:
        ordering = ["-created_at"]


class ServiceAccount(TeamOwnedModel):
    """A non-human team member: a flagged User with one membership and team keys."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="service_account"
    )
    name = models.CharField(max_length=100)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)


class AuditEvent(models.Model):
    """Append-only record of a security action; one row per action.

    `team` is null only for events that belong to no team (a failed login for an
    unknown email). Rows are never updated or deleted by the application.
    """

    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    action = models.CharField(max_length=64)
    target = models.CharField(max_length=255, blank=True)
    detail = models.JSONField(default=dict)
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["team", "-created_at"])]
