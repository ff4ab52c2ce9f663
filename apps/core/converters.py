"""URL path converters for tenant routes, registered once in CoreConfig.ready().

Why not `<str:…>` / `<int:…>`: a converter that accepts anything lets bad input reach
the database (a NUL byte in a slug, or an id above PostgreSQL's bigint range, raises
there and would answer 500). These only match values that can exist, so anything else
is a plain 404 before any query runs.

- `team_slug`: a team slug (apps.teams.services.SLUG_RE).
- `project_name`: a project name (apps.projects.services.NAME_RE).
- `id`: a positive database id that fits a bigint (at most 18 digits).
- `token`: a URL-safe token (invitation links).
"""

from __future__ import annotations

from django.urls import register_converter


class _StrConverter:
    regex = ""

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value) -> str:
        return str(value)


class TeamSlugConverter(_StrConverter):
    regex = r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?"


class ProjectNameConverter(_StrConverter):
    regex = r"[A-Za-z0-9_.\-]{1,128}"


class TokenConverter(_StrConverter):
    regex = r"[A-Za-z0-9_\-]{1,128}"


class IdConverter:
    regex = r"[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value) -> str:
        return str(int(value))


def register() -> None:
    register_converter(TeamSlugConverter, "team_slug")
    register_converter(ProjectNameConverter, "project_name")
    register_converter(IdConverter, "id")
    register_converter(TokenConverter, "token")
