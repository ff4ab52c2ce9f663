"""Automation writes and evaluation. Evaluation runs in Celery (apps/automations/tasks.py)
with objects already resolved in the team's scope; firing is idempotent per subject."""

from __future__ import annotations

import math
import statistics

from django.db import IntegrityError, transaction
from django.urls import reverse

from apps.automations.models import (
    METRIC_TRIGGERS,
    MODEL_TRIGGERS,
    Action,
    Automation,
    Firing,
    Trigger,
)
from apps.core.errors import NotFound, field_error
from apps.notifications import services as notify
from apps.notifications.models import Integration, IntegrationType, Kind
from apps.teams.models import Membership

OPS = {
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
}
AGGREGATES = ("last", "min", "max", "mean")
MAX_NAME = 100


# --------------------------------------------------------------------------- writes


def _number(value, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise field_error(f"{field} must be a finite number.", field)
    return float(value)


def _condition(trigger: str, condition) -> dict:
    if condition is None:
        condition = {}
    if not isinstance(condition, dict):
        raise field_error("condition must be an object.", "condition")
    if trigger in METRIC_TRIGGERS:
        key = condition.get("key")
        if not isinstance(key, str) or not key or len(key) > 256 or "\x00" in key:
            raise field_error("condition.key must name a metric.", "condition.key")
        out = {"key": key}
        if trigger == Trigger.METRIC_THRESHOLD:
            if condition.get("op") not in OPS:
                raise field_error(f"condition.op must be one of {', '.join(OPS)}.", "condition.op")
            agg = condition.get("agg", "last")
            if agg not in AGGREGATES:
                raise field_error(
                    f"condition.agg must be one of {', '.join(AGGREGATES)}.", "condition.agg"
                )
            out |= {
                "op": condition["op"],
                "value": _number(condition.get("value"), "condition.value"),
                "agg": agg,
            }
        else:
            z = _number(condition.get("zscore", 3.0), "condition.zscore")
            if z <= 0:
                raise field_error("condition.zscore must be above 0.", "condition.zscore")
            out |= {"zscore": z}
        return out
    if trigger in (Trigger.ALIAS_ADDED, Trigger.ALIAS_MOVED):
        alias = condition.get("alias")
        if alias is not None and (
            not isinstance(alias, str) or not alias or len(alias) > 128 or "\x00" in alias
        ):
            raise field_error("condition.alias must be an alias name.", "condition.alias")
        return {"alias": alias} if alias else {}
    if trigger == Trigger.VERSION_CREATED:
        type_ = condition.get("type")
        if type_ is not None and (
            not isinstance(type_, str) or not type_ or len(type_) > 64 or "\x00" in type_
        ):
            raise field_error("condition.type must be an artifact type.", "condition.type")
        return {"type": type_} if type_ else {}
    if condition:
        raise field_error(f"{trigger} takes no condition.", "condition")
    return {}


def _action_config(team, action: str, config) -> dict:
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise field_error("action_config must be an object.", "action_config")
    if action == Action.NOTIFY:
        users = config.get("users", [])
        if not isinstance(users, list) or not all(type(u) is int for u in users):
            raise field_error(
                "action_config.users must be a list of user ids.", "action_config.users"
            )
        members = set(
            Membership.objects.for_team(team)
            .filter(user_id__in=users)
            .values_list("user_id", flat=True)
        )
        strangers = sorted(set(users) - members)
        if strangers:
            # Not members of this team: indistinguishable from ids that do not exist.
            raise field_error(
                f"No members of this team with ids {strangers}.", "action_config.users"
            )
        owner = config.get("run_owner", not users)
        if type(owner) is not bool:
            raise field_error(
                "action_config.run_owner must be true or false.", "action_config.run_owner"
            )
        return {"users": sorted(members), "run_owner": owner}
    integration_id = config.get("integration")
    wanted = IntegrationType.SLACK if action == Action.SLACK else IntegrationType.WEBHOOK
    found = (
        Integration.objects.for_team(team).filter(pk=integration_id, type=wanted).first()
        if type(integration_id) is int
        else None
    )
    if found is None:
        raise field_error(
            f"action_config.integration must be the id of a {wanted} integration of this team.",
            "action_config.integration",
        )
    return {"integration": found.pk}


def automation_save(
    *, team, automation: Automation | None, data: dict, actor, scope_of
) -> Automation:
    """Create (automation None) or update. `scope_of(data)` returns (project, model) for a
    body naming `project` or `registered_model`, resolved through their selectors in the
    caller's view (404 for what it cannot see)."""
    if not isinstance(data, dict):
        raise field_error("Give an object.", "name")
    creating = automation is None
    automation = automation or Automation(team=team, created_by=actor)
    if creating or "name" in data:
        name = data.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME or "\x00" in name:
            raise field_error(f"name must be a string of 1-{MAX_NAME} characters.", "name")
        automation.name = name.strip()
    if creating or "project" in data or "registered_model" in data:
        automation.project, automation.registered_model = scope_of(data)
    if creating or "trigger" in data:
        if data.get("trigger") not in Trigger.values:
            raise field_error(f"trigger must be one of {', '.join(Trigger.values)}.", "trigger")
        automation.trigger = data["trigger"]
    if automation.registered_model is not None and automation.trigger not in MODEL_TRIGGERS:
        raise field_error(
            "A registered model's automations trigger on alias_added or alias_moved.", "trigger"
        )
    if creating or "condition" in data or "trigger" in data:
        automation.condition = _condition(
            automation.trigger,
            data.get("condition", automation.condition if not creating else None),
        )
    if creating or "action" in data:
        if data.get("action") not in Action.values:
            raise field_error(f"action must be one of {', '.join(Action.values)}.", "action")
        automation.action = data["action"]
    if creating or "action_config" in data or "action" in data:
        automation.action_config = _action_config(
            team, automation.action, data.get("action_config")
        )
    if "enabled" in data:
        if type(data["enabled"]) is not bool:
            raise field_error("enabled must be true or false.", "enabled")
        automation.enabled = data["enabled"]
    automation.save()
    return automation


def automation_delete(*, automation: Automation) -> None:
    Automation.objects.for_team(automation.team).filter(pk=automation.pk).delete()


def automation_get(team, automation_id: int) -> Automation:
    found = (
        Automation.objects.for_team(team)
        .filter(pk=automation_id)
        .select_related("project", "registered_model")
        .first()
    )
    if found is None:
        raise NotFound("Automation not found.")
    return found


# --------------------------------------------------------------------------- firing


def fire(
    automation: Automation, *, subject: str, summary: str, url: str = "", owner_id=None, detail=None
) -> Firing | None:
    """Log one firing of `automation` for `subject` and perform its action; None when
    that subject fired it before."""
    team = automation.team
    try:
        with transaction.atomic():
            firing = Firing.objects.for_team(team).create(
                team=team,
                automation=automation,
                subject=subject[:200],
                summary=summary[:500],
                detail=detail or {},
            )
    except IntegrityError:
        return None
    config = automation.action_config
    recipients: list[int] = []
    integrations: list[int] = []
    if automation.action == Action.NOTIFY:
        recipients = list(config.get("users") or [])
        if config.get("run_owner") and owner_id:
            recipients.append(owner_id)
    else:
        integrations = [config.get("integration")]
    with transaction.atomic():
        firing.event = notify.event_publish(
            team=team,
            kind=Kind.AUTOMATION,
            key=f"automation-firing:{firing.pk}",
            title=f"Automation “{automation.name}”: {summary}"[:300],
            text=summary,
            url=url,
            project=automation.project,
            recipients=recipients,
            integrations=integrations,
            data={"automation": automation.pk, "trigger": automation.trigger, **(detail or {})},
        )
        firing.save(update_fields=["event"])
    return firing


def _project_automations(team, project, triggers):
    return list(
        Automation.objects.for_team(team)
        .filter(project=project, trigger__in=list(triggers), enabled=True)
        .select_related("project")
    )


def _run_url(run) -> str:
    return reverse(
        "web:run-detail",
        kwargs={"team": run.team.slug, "project": run.project.name, "run": run.uid},
    )


RUN_END_TRIGGER = {
    "finished": Trigger.RUN_FINISHED,
    "failed": Trigger.RUN_FAILED,
    "crashed": Trigger.RUN_CRASHED,
}


def on_run_ended(*, team, run, stamp: str) -> list[Firing]:
    """A run ended (finished, failed or crashed at `stamp`): tell its owner when it failed
    or crashed, and fire the project's automations for that end."""
    url = _run_url(run)
    name = run.name or run.uid
    if run.state in ("failed", "crashed") and run.created_by_id:
        notify.event_publish(
            team=team,
            kind=Kind.RUN_FAILED,
            key=f"run:{run.pk}:{run.state}:{stamp}",
            title=f"Run {name} {run.state}"
            + (f" (exit code {run.exit_code})" if run.exit_code not in (None, 0) else ""),
            text=f"Project {run.project.name}",
            url=url,
            project=run.project,
            recipients=[run.created_by_id],
            data={"run": run.uid, "state": run.state},
        )
    trigger = RUN_END_TRIGGER.get(run.state)
    fired = []
    for automation in _project_automations(team, run.project, [trigger] if trigger else []):
        firing = fire(
            automation,
            subject=f"run:{run.pk}:{run.state}:{stamp}",
            summary=f"run {name} {run.state}",
            url=url,
            owner_id=run.created_by_id,
            detail={"run": run.uid, "state": run.state},
        )
        if firing:
            fired.append(firing)
    return fired


def _metric_value(team, run, key: str, agg: str):
    from apps.runs.models import MetricKey

    stats = MetricKey.objects.for_team(team).filter(run=run, name=key).first()
    if stats is None or stats.max_step is None:
        return None
    finite = stats.count - stats.nan_count
    value = {
        "last": stats.last,
        "min": stats.min,
        "max": stats.max,
        "mean": stats.sum / finite if finite else None,
    }[agg]
    return value if value is not None and math.isfinite(value) else None


def _zscore(team, run, key: str):
    """How far this run's last value of `key` lies from the other runs of its project, in
    standard deviations of their last values (None with fewer than 3 other runs)."""
    from apps.runs.models import MetricKey

    rows = MetricKey.objects.for_team(team).filter(
        run__project=run.project, name=key, last__isnull=False
    )
    mine, others = None, []
    for run_id, last in rows.values_list("run_id", "last")[:10_000]:
        if not math.isfinite(last):
            continue
        if run_id == run.pk:
            mine = last
        else:
            others.append(last)
    if mine is None or len(others) < 3:
        return None
    spread = statistics.pstdev(others)
    if spread == 0:
        return None
    return (mine - statistics.fmean(others)) / spread


def on_metrics(*, team, run) -> list[Firing]:
    """Metric automations of the run's project, read off the summaries ingest keeps per
    key (never the points). Each fires at most once per run."""
    fired = []
    for automation in _project_automations(team, run.project, METRIC_TRIGGERS):
        cond = automation.condition
        if automation.trigger == Trigger.METRIC_THRESHOLD:
            value = _metric_value(team, run, cond["key"], cond.get("agg", "last"))
            if value is None or not OPS[cond["op"]](value, cond["value"]):
                continue
            agg = cond.get("agg", "last")
            summary = (
                f"run {run.name or run.uid}: {agg} {cond['key']} = {value:g} "
                f"{cond['op']} {cond['value']:g}"
            )
        else:
            z = _zscore(team, run, cond["key"])
            if z is None or abs(z) < cond["zscore"]:
                continue
            value = z
            summary = (
                f"run {run.name or run.uid}: {cond['key']} z-score {z:+.2f} "
                f"(|z| ≥ {cond['zscore']:g})"
            )
        firing = fire(
            automation,
            subject=f"run:{run.pk}",
            summary=summary,
            url=_run_url(run),
            owner_id=run.created_by_id,
            detail={"run": run.uid, "key": cond["key"], "value": value},
        )
        if firing:
            fired.append(firing)
    return fired


def on_alias_event(*, team, alias_event) -> list[Firing]:
    """An alias was added (from_version empty) or moved, on an artifact or a registered
    model: tell a registered model's creator and followers, fire matching automations."""
    from apps.comments.models import Follow, TargetKind

    trigger = Trigger.ALIAS_MOVED if alias_event.from_version else Trigger.ALIAS_ADDED
    to = alias_event.to_version
    verb = (
        f"moved from {alias_event.from_version} to {to}"
        if alias_event.from_version
        else f"added on {to}"
    )
    model = alias_event.registered_model
    if model is not None:
        owner = getattr(model, "created_by_id", None)
        summary = f"{model.name}: alias {alias_event.alias} {verb}"
        url = reverse("web:registered-model-detail", kwargs={"team": team.slug, "name": model.name})
        automations = list(
            Automation.objects.for_team(team).filter(
                registered_model=model, trigger=trigger, enabled=True
            )
        )
        followers = set(
            Follow.objects.for_team(team)
            .filter(target_kind=TargetKind.REGISTERED_MODEL, target_id=model.pk)
            .values_list("user_id", flat=True)
        )
        if owner:
            followers.add(owner)
        followers.discard(alias_event.actor_id)
        if followers:
            notify.event_publish(
                team=team,
                kind=Kind.ALIAS_MOVED,
                key=f"alias-event:{alias_event.pk}",
                title=summary[:300],
                url=url,
                actor=alias_event.actor,
                recipients=sorted(followers),
                data={
                    "registered_model": model.name,
                    "alias": alias_event.alias,
                    "to": alias_event.to_version,
                },
            )
    else:
        artifact = alias_event.artifact
        summary = f"{artifact.name}: alias {alias_event.alias} {verb}"
        url = reverse(
            "web:artifact-detail",
            kwargs={"team": team.slug, "project": artifact.project.name, "name": artifact.name},
        )
        owner = None
        automations = _project_automations(team, artifact.project, [trigger])
    fired = []
    for automation in automations:
        wanted = automation.condition.get("alias")
        if wanted and wanted != alias_event.alias:
            continue
        firing = fire(
            automation,
            subject=f"alias-event:{alias_event.pk}",
            summary=summary,
            url=url,
            owner_id=owner,
            detail={
                "alias": alias_event.alias,
                "from": alias_event.from_version,
                "to": alias_event.to_version,
            },
        )
        if firing:
            fired.append(firing)
    return fired


def on_version_created(*, team, version) -> list[Firing]:
    artifact = version.artifact
    url = reverse(
        "web:artifact-version-detail",
        kwargs={
            "team": team.slug,
            "project": artifact.project.name,
            "name": artifact.name,
            "ref": f"v{version.index}",
        },
    )
    fired = []
    for automation in _project_automations(team, artifact.project, [Trigger.VERSION_CREATED]):
        wanted = automation.condition.get("type")
        if wanted and wanted != artifact.type:
            continue
        firing = fire(
            automation,
            subject=f"version:{version.pk}",
            summary=f"{artifact.type} {artifact.name}:v{version.index} logged",
            url=url,
            owner_id=version.created_by_id,
            detail={"artifact": artifact.name, "version": f"v{version.index}"},
        )
        if firing:
            fired.append(firing)
    return fired


def on_sweep_finished(*, team, sweep) -> None:
    if not sweep.created_by_id:
        return
    url = reverse(
        "web:sweep-detail",
        kwargs={"team": team.slug, "project": sweep.project.name, "sweep": sweep.uid},
    )
    notify.event_publish(
        team=team,
        kind=Kind.SWEEP_FINISHED,
        key=f"sweep:{sweep.pk}:finished",
        title=f"Sweep {sweep.name or sweep.uid} {sweep.state}",
        text=f"Project {sweep.project.name}",
        url=url,
        project=sweep.project,
        recipients=[sweep.created_by_id],
        data={"sweep": sweep.uid, "state": sweep.state},
    )
