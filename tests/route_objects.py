"""Which object of team A each URL keyword argument names: the registry that drives the
cross-team and role matrices in tests/core/test_route_matrix.py.

Every route classified `team` or `project` in apps/core/policy.py is requested with
team A's objects by users and keys of team B (expect 404), by team A's viewer and member
for each write their role lacks (403), and anonymously (401 / sign-in redirect). To
build its URL the matrix needs a value for each URL kwarg; this module maps the kwarg
name to a function that creates (or returns) that object in team A.

Adding a route with a new kwarg (say `<run>` or `<path>`)? Register it here:

    @registers("run")
    def _run(world: World):
        run = run_services.run_create(team=world.team, project=world.project, ...)
        return run.uid             # the value that goes into the URL

A function may depend on another kwarg through `world.value("...")` (memoized per
test), e.g. a file path belongs to the run named by `run`. Where one route means
something else by a common kwarg, register `"<route name>.<kwarg>"` (it wins for that
route). A route whose kwarg has no entry fails the matrix loudly, naming the kwarg.

Conventions the matrix relies on (and that every view should follow anyway):
- look up the objects the URL names before validating the body, so another team's
  object is 404 whatever the body holds;
- the value returned must be an object of team A that a member of team A can reach.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from apps.teams import services as team_services

REGISTRY: dict[str, Callable[[World], Any]] = {}


def registers(*names: str):
    def decorator(function: Callable[[World], Any]):
        for name in names:
            if name in REGISTRY:
                raise ValueError(f"route object {name!r} registered twice")
            REGISTRY[name] = function
        return function

    return decorator


class MissingRouteObject(LookupError):
    pass


@dataclass
class World:
    """Team A (`team`, `project`, one user per role) and team B, for one test."""

    team: Any
    project: Any
    admin: Any
    member: Any
    viewer: Any
    other_team: Any
    other_admin: Any
    _values: dict[str, Any] = field(default_factory=dict)
    _objects: dict[str, Any] = field(default_factory=dict)

    def value(self, kwarg: str, route: str | None = None) -> Any:
        """The URL value for `kwarg` in team A (created on first use)."""
        key = f"{route}.{kwarg}" if route and f"{route}.{kwarg}" in REGISTRY else kwarg
        if key not in self._values:
            if key not in REGISTRY:
                raise MissingRouteObject(
                    f"Route {route!r}: no entry for URL kwarg {kwarg!r} in "
                    f"tests/route_objects.py; register a function that returns team A's "
                    f"object for it (see the module doc)."
                )
            self._values[key] = REGISTRY[key](self)
        return self._values[key]

    def kwargs(self, names, route: str | None = None) -> dict[str, Any]:
        return {name: self.value(name, route) for name in names}

    def keep(self, name: str, obj: Any) -> Any:
        """Remember a helper object (e.g. the service account behind `account_id`)."""
        self._objects[name] = obj
        return obj

    def get(self, name: str) -> Any:
        return self._objects[name]


# --- foundation kwargs ---------------------------------------------------------------


@registers("team")
def _team(world: World):
    return world.team.slug


@registers("project")
def _project(world: World):
    return world.project.name


@registers("user_id")
def _user_id(world: World):
    return world.member.pk


@registers("invitation_id")
def _invitation_id(world: World):
    invitation, token = team_services.invitation_create(
        team=world.team, email="invitee@a.example", role="member", actor=world.admin
    )
    world.keep("invitation_token", token)
    return invitation.pk


@registers("token")
def _token(world: World):
    world.value("invitation_id")
    return world.get("invitation_token")


@registers("account_id")
def _account_id(world: World):
    account, api_key, _ = team_services.service_account_provision(
        team=world.team, name="ci", role="member", actor=world.admin
    )
    world.keep("service_account_key", api_key)
    return account.pk


@registers("role_id")
def _role_id(world: World):
    role = team_services.custom_role_create(
        team=world.team, name="analyst", base_role="viewer", actor=world.admin
    )
    return role.pk


@registers("key_id")
def _key_id(world: World):
    # A key of team A's service account: under /service-accounts/<account_id>/keys/ it
    # is that account's key, and as a personal key id it belongs to nobody in team B.
    world.value("account_id")
    return world.get("service_account_key").pk


@registers("web:api-key-revoke.key_id")
def _own_key_id(world: World):
    # This page revokes the signed-in user's own key: team A's admin's, restricted to A.
    from apps.accounts import services as account_services

    api_key, _ = account_services.api_key_create(user=world.admin, name="laptop", team=world.team)
    return api_key.pk


# --- run tracking kwargs (apps/runs) ---------------------------------------------------


@registers("run")
def _run(world: World):
    from apps.runs import services as run_services

    run, _, _ = run_services.run_create_or_resume(
        team=world.team,
        project=world.project,
        project_name=world.project.name,
        actor=world.member,
        data={"id": "matrix-run", "config": {"lr": 0.1}},
    )
    body = {"points": [["loss", 0, 1.0, 1.7e9], ["loss", 1, 0.5, 1.7e9 + 1]]}
    run_services.run_ingest(run=run, body=body)
    world.keep("run", run)
    return run.uid


@registers("path")
def _run_file_path(world: World):
    import io

    from apps.runs import services as run_services

    world.value("run")
    record = run_services.run_file_put(
        run=world.get("run"), path="checkpoints/model.pt", stream=io.BytesIO(b"weights")
    )
    return record.path


# --- media (apps/media) ----------------------------------------------------------------


@registers("media_id")
def _media_id(world: World):
    """Team A's logged table (one row), so the file, detail and rows routes all serve."""
    import io

    from apps.media import services as media_services
    from apps.runs import services as run_services

    world.value("run")
    run = world.get("run")
    body = b'{"columns": ["a"], "nrows": 1}\n[1]\n'
    record = run_services.run_file_put(
        run=run, path="media/tables/t.table.jsonl", stream=io.BytesIO(body)
    )
    media_services.media_register(
        run=run,
        body={"items": [{"key": "t", "step": 0, "_type": "table-file", "path": record.path}]},
    )
    png = run_services.run_file_put(
        run=run, path="media/images/i.png", stream=io.BytesIO(_TINY_PNG)
    )
    media_services.media_register(
        run=run,
        body={"items": [{"key": "i", "step": 0, "_type": "image-file", "path": png.path}]},
    )
    from apps.media.models import MediaItem

    return MediaItem.objects.for_team(world.team).get(run=run, key="t").pk


@registers("preset_id")
def _preset_id(world: World):
    """Team A's custom chart preset (team-level: apps.media.models.ChartPreset)."""
    from apps.media import services as media_services

    preset = media_services.preset_create(
        team=world.team,
        actor=world.admin,
        data={"name": "matrix preset", "spec": {"mark": "point", "data": {"name": "table"}}},
    )
    return preset.pk


# A 1 x 1 PNG.
_TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000b49444154789c6360000200000500017a5eab3f0000000049454e44ae426082"
)


# --- saved views (apps/projects) -------------------------------------------------------


@registers("view_id")
def _view_id(world: World):
    from apps.projects import services as project_services

    view = project_services.view_create(
        team=world.team,
        project=world.project,
        actor=world.member,
        data={"name": "matrix view", "spec": {"panels": []}},
    )
    return view.pk


# --- registry kwargs (apps/registry) ---------------------------------------------------


def _model_version(world: World):
    """Team A's model artifact `classifier` v0 (one file), logged by the matrix run."""
    import hashlib
    import io

    from apps.registry import services as registry_services

    if "model_version" not in world._objects:
        content = b"model weights"
        sha256 = hashlib.sha256(content).hexdigest()
        registry_services.blob_put(team=world.team, sha256=sha256, stream=io.BytesIO(content))
        version, _ = registry_services.version_create(
            team=world.team,
            project=world.project,
            name="classifier",
            data={
                "type": "model",
                "run": world.value("run"),
                "aliases": ["best"],
                "files": [{"path": "model.pkl", "sha256": sha256, "size": len(content)}],
            },
            actor=world.member,
        )
        world.keep("model_version", version)
        world.keep("blob_sha256", sha256)
    return world.get("model_version")


@registers("name")
def _artifact_name(world: World):
    return _model_version(world).artifact.name


@registers("ref")
def _artifact_ref(world: World):
    return _model_version(world).label


@registers("alias")
def _artifact_alias(world: World):
    _model_version(world)
    return "best"


@registers("sha256")
def _blob_sha256(world: World):
    _model_version(world)
    return world.get("blob_sha256")


@registers("api:artifact-file.path")
def _artifact_file_path(world: World):
    _model_version(world)
    return "model.pkl"


def _registered_model(world: World):
    from apps.registry import services as registry_services

    if "registered_model_link" not in world._objects:
        link, _ = registry_services.registered_model_link(
            team=world.team,
            name="prod-classifier",
            source=_model_version(world),
            aliases=["production"],
            actor=world.admin,
            permissions=frozenset({"registry:promote"}),
        )
        world.keep("registered_model_link", link)
    return world.get("registered_model_link")


@registers(
    "api:registered-model-detail.name",
    "api:registered-model-version-list.name",
    "api:registered-model-version-detail.name",
    "api:registered-model-alias.name",
    "api:registered-model-alias-events.name",
)
def _registered_model_name(world: World):
    return _registered_model(world).registered_model.name


@registers("api:registered-model-version-detail.ref")
def _registered_model_ref(world: World):
    return _registered_model(world).label


@registers("api:registered-model-alias.alias")
def _registered_model_alias(world: World):
    _registered_model(world)
    return "production"


# --- registry web pages (apps/registry/web_urls.py) -------------------------------------


@registers("web:artifact-file.path")
def _web_artifact_file_path(world: World):
    return _artifact_file_path(world)


@registers(
    "web:registered-model-detail.name",
    "web:registered-model-alias-set.name",
    "web:registered-model-alias-delete.name",
)
def _web_registered_model_name(world: World):
    return _registered_model_name(world)


@registers("web:registered-model-alias-delete.alias")
def _web_registered_model_alias(world: World):
    return _registered_model_alias(world)


@registers("web:registered-model-update.name", "web:registered-model-version-unlink.name")
def _web_registered_model_name_for_writes(world: World):
    return _registered_model_name(world)


@registers("web:registered-model-version-unlink.ref")
def _web_registered_model_ref(world: World):
    # A registered model's own version label, not the artifact version's.
    return _registered_model_ref(world)


# --- sweeps kwargs (apps/sweeps) -------------------------------------------------------


def _sweep(world: World):
    """Team A's random sweep with one trial (handed out by the server)."""
    from apps.sweeps import services as sweep_services

    if "sweep" not in world._objects:
        sweep = sweep_services.sweep_create(
            team=world.team,
            project=world.project,
            project_name=world.project.name,
            actor=world.member,
            data={
                "config": {
                    "method": "random",
                    "metric": {"name": "loss", "goal": "minimize"},
                    "parameters": {"lr": {"min": 0.001, "max": 0.1}},
                }
            },
        )
        world.keep("sweep", sweep)
        world.keep("trial", sweep_services.trial_next(team=world.team, sweep=sweep))
    return world.get("sweep")


@registers("sweep")
def _sweep_id(world: World):
    return _sweep(world).uid


@registers("api:sweep-trial-stop.run")
def _sweep_trial_run(world: World):
    _sweep(world)
    return world.get("trial").run_uid


@registers("api:sweep-trial-preempting.trial")
def _sweep_trial_preempting(world: World):
    return _sweep_trial_run(world)


# --- API paths with names that break the naming rules (apps/api/names.py) ---------------


@registers("team_name")
def _bad_team_name(world: World):
    return "Not A Slug"


@registers("project_name")
def _bad_project_name(world: World):
    return "not a project name"


@registers("rest")
def _rest(world: World):
    return "runs"


# --- collaboration kwargs (apps/comments, apps/notifications, apps/automations) -----------


def _comment_on(world: World, kind: str, **target_kwargs):
    from apps.comments import services as comment_services
    from apps.comments import targets
    from apps.core.access import Scope
    from apps.core.policy import ROUTES

    scope = Scope(route=ROUTES["api:run-comment-list"], team=world.team, project=world.project)
    target = targets.resolve(scope, kind, target_kwargs)
    # Written by the admin: the matrix's member gets 403 on PATCH/DELETE of someone else's.
    return comment_services.comment_create(
        target=target, actor=world.admin, data={"body": f"matrix comment on {kind}"}
    ).pk


@registers("api:run-comment-detail.comment_id")
def _run_comment(world: World):
    return _comment_on(world, "run", run=world.value("run"))


@registers("api:artifact-version-comment-detail.comment_id")
def _version_comment(world: World):
    return _comment_on(
        world, "artifact_version", name=_artifact_name(world), ref=_artifact_ref(world)
    )


@registers("api:sweep-comment-detail.comment_id")
def _sweep_comment(world: World):
    return _comment_on(world, "sweep", sweep=_sweep_id(world))


@registers(
    "api:registered-model-comment-list.name",
    "api:registered-model-comment-detail.name",
)
def _commented_model_name(world: World):
    return _registered_model_name(world)


@registers("api:registered-model-comment-detail.comment_id")
def _model_comment(world: World):
    return _comment_on(world, "registered_model", name=_registered_model_name(world))


@registers("integration_id")
def _integration_id(world: World):
    from apps.notifications import services as notification_services

    if "integration" not in world._objects:
        with _private_webhooks():
            integration = notification_services.integration_create(
                team=world.team,
                actor=world.admin,
                data={"name": "matrix hook", "url": "http://127.0.0.1:9/hook", "kinds": []},
            )
        world.keep("integration", integration)
    return world.get("integration").pk


@registers("delivery_id")
def _delivery_id(world: World):
    from apps.notifications.models import Delivery, Event

    world.value("integration_id")
    integration = world.get("integration")
    event = Event.objects.for_team(world.team).create(
        team=world.team, key="matrix-event", kind="automation", title="matrix"
    )
    delivery = Delivery.objects.for_team(world.team).create(
        team=world.team,
        event=event,
        channel="webhook",
        integration=integration,
        dedupe=f"webhook::{integration.pk}",
        state="failed",
    )
    return delivery.pk


@registers("automation_id")
def _automation_id(world: World):
    from apps.automations.models import Automation

    return (
        Automation.objects.for_team(world.team)
        .create(
            team=world.team,
            name="matrix rule",
            project=world.project,
            trigger="run_finished",
            action="notify",
            action_config={"users": [], "run_owner": True},
            created_by=world.admin,
        )
        .pk
    )


def _private_webhooks():
    from django.test import override_settings

    return override_settings(WEBHOOK_ALLOW_PRIVATE=True)


@registers("notification_id")
def _notification_id(world: World):
    """A notification of team A's admin (user routes: only its recipient reads it)."""
    from apps.notifications.models import Event, Notification

    event = Event.objects.for_team(world.team).create(
        team=world.team, key="matrix-notification", kind="mention", title="matrix"
    )
    return (
        Notification.objects.for_team(world.team)
        .create(team=world.team, event=event, recipient=world.admin)
        .pk
    )


# --- reports (apps/reports) ----------------------------------------------------------------


def _report(world: World):
    """Team A's team-shared report (two versions, published, one PDF export, one
    comment), written by the member."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from apps.reports import services as report_services
    from apps.reports.models import ReportExport

    if "report" not in world._objects:
        report = report_services.report_create(
            team=world.team,
            project=world.project,
            actor=world.member,
            data={"title": "matrix report", "body": "# v1"},
        )
        report = report_services.report_update(
            report=report, actor=world.member, permissions=frozenset(), data={"body": "# v2"}
        )
        report = report_services.report_publish(
            report=report, actor=world.member, permissions=frozenset()
        )
        name = default_storage.save("reports/matrix.pdf", ContentFile(b"%PDF-1.4 matrix"))
        export = ReportExport.objects.for_team(world.team).create(
            team=world.team, report=report, version=2, state="done", path=name, size=15
        )
        world.keep("report", report)
        world.keep("report_export", export)
    return world.get("report")


@registers("report_id")
def _report_id(world: World):
    return _report(world).pk


@registers("version")
def _report_version(world: World):
    _report(world)
    return 1


@registers("export_id")
def _report_export_id(world: World):
    _report(world)
    return world.get("report_export").pk


@registers("api:report-comment-detail.comment_id")
def _report_comment(world: World):
    from apps.comments import services as comment_services
    from apps.comments import targets
    from apps.core.access import Scope
    from apps.core.policy import ROUTES

    scope = Scope(
        route=ROUTES["api:report-comment-list"],
        team=world.team,
        project=world.project,
        permissions=frozenset({"team:manage"}),
        actor=world.admin,
    )
    target = targets.resolve(scope, "report", {"report_id": _report(world).pk})
    return comment_services.comment_create(
        target=target, actor=world.admin, data={"body": "matrix comment on a report"}
    ).pk


# --- single sign-on (apps/sso) ---------------------------------------------------------


@registers("domain_id")
def _domain_id(world: World):
    """A verified email domain of team A (SSO settings)."""
    from apps.sso.models import VerifiedDomain

    row = VerifiedDomain.objects.for_team(world.team).create(
        team=world.team, domain="matrix-a.example", verified_by=world.admin
    )
    return row.pk


@registers("scim_token_id")
def _scim_token_id(world: World):
    """A SCIM bearer token of team A (apps/scim; its settings and API)."""
    from apps.scim import services as scim_services

    token, _ = scim_services.scim_token_create(team=world.team, name="matrix", actor=world.admin)
    return token.pk


@registers("team_slug")
def _team_slug(world: World):
    """Public SSO sign-in routes name the team by slug without opening its scope."""
    return world.team.slug


# --- monitoring (apps/monitoring) --------------------------------------------------------


def _monitor(world: World):
    """Team A's monitor `matrix-monitor` on prod-classifier:production, with one alert rule."""
    from apps.monitoring import alerting
    from apps.monitoring import services as monitoring_services
    from apps.registry import selectors as registry_selectors

    if "monitor" not in world._objects:
        link = _registered_model(world)
        monitor = monitoring_services.monitor_save(
            team=world.team,
            monitor=None,
            data={
                "name": "matrix-monitor",
                "registered_model": link.registered_model.name,
                "alias": "production",
                "features": [{"name": "x", "type": "numeric"}],
                "prediction_type": "binary",
            },
            actor=world.admin,
            model_of=lambda name: registry_selectors.registered_model_get(world.team, name),
        )
        rule = alerting.rule_save(
            team=world.team,
            monitor=monitor,
            rule=None,
            data={"name": "volume", "metric": "volume", "op": "<", "value": 1},
            actor=world.admin,
        )
        world.keep("monitor", monitor)
        world.keep("monitor_rule", rule)
    return world.get("monitor")


@registers("monitor")
def _monitor_name(world: World):
    return _monitor(world).name


@registers("rule_id")
def _monitor_rule_id(world: World):
    _monitor(world)
    return world.get("monitor_rule").pk


@registers("provider_id")
def _provider_id(world: World):
    """The instance-wide OpenID Connect provider's id (settings OAUTH_OIDC_*)."""
    return "oidc"


# --- deployments (apps/deployments) ---------------------------------------------------


@registers("deployment_id")
def _deployment_id(world: World):
    """Team A's local deployment of the matrix's model artifact (pending: no job runs
    in the matrix, whose data is never committed)."""
    from apps.deployments import services as deployment_services
    from apps.teams.models import Membership

    if "deployment" not in world._objects:
        _model_version(world)
        deployment, _ = deployment_services.deployment_deploy(
            team=world.team,
            data={
                "model": "classifier:best",
                "project": world.project.name,
                "platform": "local",
                "endpoint_name": "matrix",
            },
            actor=world.admin,
            membership=Membership.objects.for_team(world.team).get(user=world.admin),
            user=world.admin,
        )
        world.keep("deployment", deployment)
    return world.get("deployment").pk
