"""Channels group names: the only module that spells them (DESIGN.md §6).

Channels allows only ASCII letters, digits, '-', '_' and '.' in group names, so the
design's `team:<id>:run:<id>` is written `team.<id>.run.<id>`. Ids are database ids,
never slugs or names, so a rename cannot move a subscription into another tenant.
"""

from __future__ import annotations


def run_group(team_id: int, run_id: int) -> str:
    return f"team.{int(team_id)}.run.{int(run_id)}"


def project_group(team_id: int, project_id: int) -> str:
    return f"team.{int(team_id)}.project.{int(project_id)}"


def comments_group(team_id: int, target_kind: str, target_id: int) -> str:
    """Live comments of one commented object (apps.comments.targets kinds)."""
    kind = str(target_kind).replace("_", "-")
    if not kind.replace("-", "").isalpha():
        raise ValueError(f"bad comment target kind {target_kind!r}")
    return f"team.{int(team_id)}.comments.{kind}.{int(target_id)}"


def user_notifications_group(user_id: int) -> str:
    """One user's in-app notifications, from every team they belong to."""
    return f"user.{int(user_id)}.notifications"


def monitor_group(team_id: int, monitor_id: int) -> str:
    """A monitor's new windows: predictions and ground truth stored (apps/monitoring)."""
    return f"team.{int(team_id)}.monitor.{int(monitor_id)}"


def deployment_group(team_id: int, deployment_id: int) -> str:
    """Events and logs of one deployment (apps/deployments/events.py)."""
    return f"team.{int(team_id)}.deployment.{int(deployment_id)}"
