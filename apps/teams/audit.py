"""Append-only audit trail for security actions (one row per action)."""

from __future__ import annotations

from apps.teams.models import AuditEvent

LOGIN_SUCCEEDED = "login.succeeded"
LOGIN_FAILED = "login.failed"
MFA_SUCCEEDED = "mfa.succeeded"  # a second-factor code accepted (detail: which kind)
MFA_FAILED = "mfa.failed"  # a wrong second-factor code
EMAIL_VERIFIED_BY_ADMIN = "email.verified_by_admin"  # manage.py verify_email
KEY_CREATED = "api_key.created"
KEY_REVOKED = "api_key.revoked"
ROLE_CHANGED = "member.role_changed"
ROLE_CREATED = "role.created"  # custom roles (detail: base_role, added, removed)
ROLE_UPDATED = "role.updated"
ROLE_DELETED = "role.deleted"
POLICY_CHANGED = "team.policy_changed"  # require_mfa
MEMBER_ADDED = "member.added"
MEMBER_REMOVED = "member.removed"
INVITATION_CREATED = "invitation.created"
INVITATION_REVOKED = "invitation.revoked"
INVITATION_ACCEPTED = "invitation.accepted"
VISIBILITY_CHANGED = "project.visibility_changed"
SERVICE_ACCOUNT_CREATED = "service_account.created"
SERVICE_ACCOUNT_DELETED = "service_account.deleted"


def audit_record(
    action: str,
    *,
    team=None,
    actor=None,
    target: str = "",
    detail: dict | None = None,
    ip: str | None = None,
) -> AuditEvent:
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    return AuditEvent.objects.create(
        team=team, actor=actor, action=action, target=target[:255], detail=detail or {}, ip=ip
    )
