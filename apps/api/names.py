"""The last API routes: a team or project path whose name breaks the naming rules.

The precise routes only match names that can exist (apps/core/converters.py), so a name
with a space, non-ASCII letters or 200 characters would fall through to a plain 404
("acme/my project was not found"), which sends people looking for a project instead of
fixing the name. These routes catch exactly those paths and answer 400 naming the rule.
A path whose names are valid but that no route serves stays a 404.
"""

from __future__ import annotations

from django.http import Http404

from apps.core.errors import field_error
from apps.projects.services import NAME_RE, RESERVED_NAMES
from apps.teams.services import SLUG_RE

TEAM_RULE = "1-64 lowercase letters, digits or '-', not starting or ending with '-'"
PROJECT_RULE = "1-128 letters, digits, '_', '.' or '-'"


def invalid_name(request, team_name: str, project_name: str | None = None, rest: str = ""):
    """Not a tenant route: the kwargs are raw path segments, never looked up."""
    team, project = team_name, project_name
    if not SLUG_RE.match(team):
        raise field_error(
            f"{team!r} is not a valid team name: use {TEAM_RULE}.", "team", code="invalid_name"
        )
    if project is not None and (
        not NAME_RE.match(project) or project in {".", ".."} or project.lower() in RESERVED_NAMES
    ):
        raise field_error(
            f"{project!r} is not a valid project name: use {PROJECT_RULE}"
            f"{' (and not a reserved name)' if project.lower() in RESERVED_NAMES else ''}.",
            "project",
            code="invalid_name",
        )
    raise Http404("No such API route.")
