"""The activity feed of a project or a team, read from the tables that already record it
(no activity table to keep in step): runs started and ended, artifact versions logged,
aliases added or moved, comments. Paged newest first by a `before` cursor
("<iso time>|<kind>|<id>"); each source contributes its newest `limit` rows before the
cursor and the merge keeps `limit`, so a page costs a handful of indexed queries.

Tenancy: every query is `for_team(team)` and limited to `projects` — the ones the caller
may see (a team feed passes projects_visible); registered-model alias events are
team-level and shown in the team feed only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from apps.core.errors import field_error

MAX_LIMIT = 100


@dataclass
class Item:
    at: datetime
    kind: str  # run_started | run_ended | version_logged | alias_moved | comment
    id: int
    text: str
    url: str
    project: str | None
    actor: str | None

    @property
    def cursor(self) -> str:
        return f"{self.at.isoformat()}|{self.kind}|{self.id}"

    def out(self) -> dict:
        return {
            "at": self.at.isoformat(),
            "kind": self.kind,
            "id": self.id,
            "text": self.text,
            "url": self.url,
            "project": self.project,
            "actor": self.actor,
        }


def parse_cursor(raw: str | None):
    if not raw:
        return None
    try:
        at, kind, ident = raw.split("|")
        return datetime.fromisoformat(at), kind, int(ident)
    except ValueError:
        raise field_error("before must be a cursor from a previous page.", "before") from None


def _who(user) -> str | None:
    return (user.name or user.email) if user is not None else None


def _private_reports(team, project_ids):
    """Private reports are their author's and the admins': their comments stay off feeds."""
    from apps.reports.models import Report, Sharing

    return (
        Report.objects.for_team(team)
        .filter(project_id__in=project_ids, sharing=Sharing.PRIVATE)
        .values("pk")
    )


def feed(team, projects, *, before=None, limit: int = 50, include_team_events: bool = False):
    """(items, next cursor or None)."""
    from django.urls import reverse

    from apps.comments.models import Comment
    from apps.registry.models import AliasEvent, ArtifactVersion
    from apps.runs.models import Run

    limit = max(1, min(limit, MAX_LIMIT))
    cut = before[0] if before else None
    names = {p.pk: p.name for p in projects}
    ids = list(names)

    def run_url(run):
        return reverse(
            "web:run-detail",
            kwargs={"team": team.slug, "project": names[run.project_id], "run": run.uid},
        )

    items: list[Item] = []
    runs = Run.objects.for_team(team).filter(project_id__in=ids).select_related("created_by")
    started = runs.filter(created_at__lte=cut) if cut else runs
    for run in started.order_by("-created_at", "-id")[:limit]:
        items.append(
            Item(
                run.created_at,
                "run_started",
                run.pk,
                f"started run {run.name or run.uid}",
                run_url(run),
                names[run.project_id],
                _who(run.created_by),
            )
        )
    ended = runs.filter(finished_at__isnull=False)
    ended = ended.filter(finished_at__lte=cut) if cut else ended
    for run in ended.order_by("-finished_at", "-id")[:limit]:
        items.append(
            Item(
                run.finished_at,
                "run_ended",
                run.pk,
                f"run {run.name or run.uid} {run.state}",
                run_url(run),
                names[run.project_id],
                _who(run.created_by),
            )
        )
    versions = (
        ArtifactVersion.objects.for_team(team)
        .filter(artifact__project_id__in=ids)
        .select_related("artifact", "created_by")
    )
    versions = versions.filter(created_at__lte=cut) if cut else versions
    for v in versions.order_by("-created_at", "-id")[:limit]:
        project = names[v.artifact.project_id]
        url = reverse(
            "web:artifact-version-detail",
            kwargs={
                "team": team.slug,
                "project": project,
                "name": v.artifact.name,
                "ref": f"v{v.index}",
            },
        )
        items.append(
            Item(
                v.created_at,
                "version_logged",
                v.pk,
                f"logged {v.artifact.type} {v.artifact.name}:v{v.index}",
                url,
                project,
                _who(v.created_by),
            )
        )
    aliases = (
        AliasEvent.objects.for_team(team)
        .exclude(to_version="")
        .select_related("artifact", "registered_model", "actor")
    )
    if include_team_events:
        from django.db.models import Q

        aliases = aliases.filter(
            Q(artifact__project_id__in=ids) | Q(registered_model__isnull=False)
        )
    else:
        aliases = aliases.filter(artifact__project_id__in=ids)
    aliases = aliases.filter(at__lte=cut) if cut else aliases
    for e in aliases.order_by("-at", "-id")[:limit]:
        verb = (
            f"moved {e.alias} from {e.from_version} to" if e.from_version else f"added {e.alias} on"
        )
        if e.registered_model is not None:
            owner, project = e.registered_model.name, None
            url = reverse("web:registered-model-detail", kwargs={"team": team.slug, "name": owner})
        else:
            owner, project = e.artifact.name, names[e.artifact.project_id]
            url = reverse(
                "web:artifact-detail", kwargs={"team": team.slug, "project": project, "name": owner}
            )
        items.append(
            Item(
                e.at,
                "alias_moved",
                e.pk,
                f"{verb} {owner}:{e.to_version}",
                url,
                project,
                _who(e.actor),
            )
        )
    comments = (
        Comment.objects.for_team(team)
        .filter(project_id__in=ids, deleted_at=None)
        .exclude(target_kind="report", target_id__in=_private_reports(team, ids))
        .select_related("author")
    )
    comments = comments.filter(created_at__lte=cut) if cut else comments
    for c in comments.order_by("-created_at", "-id")[:limit]:
        items.append(
            Item(
                c.created_at,
                "comment",
                c.pk,
                f"commented: {c.body[:140]}",
                "",
                names[c.project_id],
                _who(c.author),
            )
        )

    items.sort(key=lambda i: (i.at, i.kind, i.id), reverse=True)
    if before:
        items = [i for i in items if (i.at, i.kind, i.id) < before]
    page = items[:limit]
    more = len(items) > limit
    return page, (page[-1].cursor if more and page else None)
