"""What a comment can be attached to, and how each target is found.

Guarantees: `resolve` finds the target only through its own app's team-scoped selector,
with the team and project of the caller's scope (opened by open_scope from the URL and
the policy table), so another team's object — or a project the caller may not see —
answers NotFound (404) exactly as the object's own routes do. Every comment query
afterwards filters by that team and the resolved target's id.

Not guaranteed: that the target still exists later (comments on a deleted object are
unreachable, since every read resolves the target first).

Adding a kind: add a TargetKind value, a resolver here and its routes in api_urls.py,
ws routing and apps/core/policy.py. Reports resolve with the whole scope (a private
report is its author's and the team admins' alone).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.urls import reverse

from apps.comments.models import TargetKind


@dataclass(frozen=True)
class Target:
    kind: str
    pk: int
    team: Any
    project: Any  # None for team-level targets
    owner_id: int | None
    label: str  # what a notification calls it: "run bright-sun-3"
    web_url: str  # the page showing it (its comments included)

    @property
    def api_path(self) -> str:
        return self.web_url


def _run(team, project, kwargs) -> Target:
    from apps.runs.selectors.runs import run_get

    run = run_get(team, project, kwargs["run"])
    url = reverse(
        "web:run-detail", kwargs={"team": team.slug, "project": project.name, "run": run.uid}
    )
    return Target(
        TargetKind.RUN, run.pk, team, project, run.created_by_id, f"run {run.name or run.uid}", url
    )


def _artifact_version(team, project, kwargs) -> Target:
    from apps.registry import selectors

    artifact = selectors.artifact_get(team, project, kwargs["name"])
    version = selectors.version_resolve(team, artifact, kwargs["ref"])
    label = f"v{version.index}"
    url = reverse(
        "web:artifact-version-detail",
        kwargs={"team": team.slug, "project": project.name, "name": artifact.name, "ref": label},
    )
    return Target(
        TargetKind.ARTIFACT_VERSION,
        version.pk,
        team,
        project,
        version.created_by_id,
        f"artifact {artifact.name}:{label}",
        url,
    )


def _registered_model(team, project, kwargs) -> Target:
    from apps.registry import selectors

    model = selectors.registered_model_get(team, kwargs["name"])
    url = reverse("web:registered-model-detail", kwargs={"team": team.slug, "name": model.name})
    return Target(
        TargetKind.REGISTERED_MODEL,
        model.pk,
        team,
        None,
        model.created_by_id,
        f"model {model.name}",
        url,
    )


def _sweep(team, project, kwargs) -> Target:
    from apps.sweeps.selectors import sweep_get

    sweep = sweep_get(team, project, kwargs["sweep"])
    url = reverse(
        "web:sweep-detail", kwargs={"team": team.slug, "project": project.name, "sweep": sweep.uid}
    )
    return Target(
        TargetKind.SWEEP,
        sweep.pk,
        team,
        project,
        sweep.created_by_id,
        f"sweep {sweep.name or sweep.uid}",
        url,
    )


def _report(scope, kwargs) -> Target:
    from apps.reports.selectors import report_get

    team, project = scope.team, scope.project
    # A private report is its author's and the admins': the caller's rights decide.
    report = report_get(
        team, project, kwargs["report_id"], actor=scope.actor, permissions=scope.permissions
    )
    url = reverse(
        "web:report-detail",
        kwargs={"team": team.slug, "project": project.name, "report_id": report.pk},
    )
    return Target(
        TargetKind.REPORT,
        report.pk,
        team,
        project,
        report.created_by_id,
        f"report {report.title}",
        url,
    )


RESOLVERS = {
    TargetKind.RUN: _run,
    TargetKind.ARTIFACT_VERSION: _artifact_version,
    TargetKind.REGISTERED_MODEL: _registered_model,
    TargetKind.SWEEP: _sweep,
}


def resolve(scope, kind: str, kwargs: dict) -> Target:
    """The target named by URL kwargs inside `scope` (an open_scope result)."""
    if kind == TargetKind.REPORT:
        return _report(scope, kwargs)
    return RESOLVERS[kind](scope.team, scope.project, kwargs)
