"""Roles are data: each role name maps to a frozen set of permission strings.

This module is the only place that says what a role may do. Views never check role
names; they name a permission in the policy table (apps/core/policy.py).
"""

from __future__ import annotations

TEAM_READ = "team:read"
TEAM_MANAGE = "team:manage"  # members, roles, invitations, service accounts, settings
TEAM_AUDIT = "team:audit"
PROJECTS_READ = "projects:read"
PROJECTS_WRITE = "projects:write"
PROJECTS_DELETE = "projects:delete"
RUNS_READ = "runs:read"
# Run permissions come in pairs: the `*_own` one reaches the runs the caller created (and
# lets it create runs), the wide one every run of the team. OWN_WIDENS_TO pairs them.
RUNS_WRITE_OWN = "runs:write_own"  # create runs; change and log to the runs one created
RUNS_WRITE = "runs:write"  # change and log to any run
RUNS_DELETE_OWN = "runs:delete_own"
RUNS_DELETE = "runs:delete"
ARTIFACTS_READ = "artifacts:read"
ARTIFACTS_WRITE = "artifacts:write"
ARTIFACTS_DELETE = "artifacts:delete"
REGISTRY_PROMOTE = "registry:promote"
SWEEPS_READ = "sweeps:read"
SWEEPS_WRITE = "sweeps:write"
# Deploy, redeploy, roll back, stop and delete deployments (docs/deployments.md); reading
# them and querying an endpoint need artifacts:read, as the model itself does.
DEPLOYMENTS_WRITE = "deployments:write"

READ = frozenset({TEAM_READ, PROJECTS_READ, RUNS_READ, ARTIFACTS_READ, SWEEPS_READ})
WRITE = frozenset({PROJECTS_WRITE, RUNS_WRITE_OWN, RUNS_DELETE_OWN, ARTIFACTS_WRITE, SWEEPS_WRITE})
# An object rule, applied by apps.core.access.require_owner_or: a route whose permission
# is a key here serves a caller who created the object, or who holds the value.
OWN_WIDENS_TO: dict[str, str] = {RUNS_WRITE_OWN: RUNS_WRITE, RUNS_DELETE_OWN: RUNS_DELETE}

ADMIN = "admin"
MEMBER = "member"
VIEWER = "viewer"

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    VIEWER: READ,
    MEMBER: READ | WRITE,
    ADMIN: READ
    | WRITE
    | frozenset(
        {
            TEAM_MANAGE,
            TEAM_AUDIT,
            PROJECTS_DELETE,
            RUNS_WRITE,
            RUNS_DELETE,
            ARTIFACTS_DELETE,
            REGISTRY_PROMOTE,
            DEPLOYMENTS_WRITE,
        }
    ),
}
ROLE_CHOICES = [(ADMIN, "Admin"), (MEMBER, "Member"), (VIEWER, "Viewer")]
ALL_PERMISSIONS = frozenset().union(*ROLE_PERMISSIONS.values())


def permissions_for(role: str | None) -> frozenset[str]:
    return ROLE_PERMISSIONS.get(role or "", frozenset())


def role_has(role: str | None, permission: str) -> bool:
    return permission in permissions_for(role)


def custom_role_permissions(base_role: str, added=(), removed=()) -> frozenset[str]:
    """A custom role's permissions: its base role's, plus `added`, minus `removed`.
    Unknown permission strings are ignored (services refuse them on write)."""
    return (permissions_for(base_role) | (frozenset(added) & ALL_PERMISSIONS)) - frozenset(removed)


def membership_permissions(membership, custom_role=None) -> frozenset[str]:
    """What a membership may do: its custom role's permissions when it has one (pass the
    CustomRole row when already loaded), else its base role's."""
    if membership is None:
        return frozenset()
    if membership.custom_role_id is None:
        return permissions_for(membership.role)
    custom_role = custom_role or membership.custom_role
    return custom_role_permissions(custom_role.base_role, custom_role.added, custom_role.removed)


# What a read-only API key keeps of its role: the read permissions only.
READ_ONLY_KEY_PERMISSIONS = READ
