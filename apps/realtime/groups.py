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
