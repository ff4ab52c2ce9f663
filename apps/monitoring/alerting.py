"""Alert rules on window metrics and drift (docs/monitoring.md "Alerts"), evaluated by
Celery beat (tasks.evaluate_monitor). Each evaluation is stored (one per rule and
window); a rule that starts firing opens an incident and publishes one notification
event, and its resolution publishes one more (event keys are unique, so a task that
runs twice notifies nobody twice). Delivery is the notifications app's: in-app and
email to members, or a team webhook / Slack integration."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from apps.automations.services import OPS  # the comparisons automations offer too
from apps.core.errors import field_error
from apps.monitoring import schema, selectors, services
from apps.monitoring.models import (
    Action,
    AlertEvaluation,
    AlertIncident,
    AlertRule,
    Monitor,
    Window,
)
from apps.notifications import services as notify
from apps.notifications.models import Integration, IntegrationType, Kind
from apps.teams.models import Membership

MODES = ("threshold", "change")
MAX_WINDOWS_PER_RUN = 100
OPEN_WINDOW_DRIFT_EVERY_S = 300


def _metric(monitor: Monitor, value) -> str:
    if not isinstance(value, str) or value not in selectors.metric_names(monitor):
        raise field_error(
            "metric must be one of: " + ", ".join(selectors.metric_names(monitor)[:40]), "metric"
        )
    return value


def _number(value, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise field_error(f"{field} must be a finite number.", field)
    return float(value)


def _action_config(team, action: str, config) -> dict:
    config = {} if config is None else config
    if not isinstance(config, dict):
        raise field_error("action_config must be an object.", "action_config")
    if action == Action.NOTIFY:
        users = config.get("users", [])
        if not isinstance(users, list) or not all(type(u) is int for u in users):
            raise field_error("action_config.users must list user ids.", "action_config.users")
        members = set(
            Membership.objects.for_team(team)
            .filter(user_id__in=users)
            .values_list("user_id", flat=True)
        )
        if set(users) - members:
            raise field_error(
                f"No members of this team with ids {sorted(set(users) - members)}.",
                "action_config.users",
            )
        owners = config.get("model_owners", not users)
        if type(owners) is not bool:
            raise field_error(
                "action_config.model_owners must be true or false.", "action_config.model_owners"
            )
        return {"users": sorted(members), "model_owners": owners}
    wanted = IntegrationType.SLACK if action == Action.SLACK else IntegrationType.WEBHOOK
    integration = config.get("integration")
    found = (
        Integration.objects.for_team(team).filter(pk=integration, type=wanted).first()
        if type(integration) is int
        else None
    )
    if found is None:
        raise field_error(
            f"action_config.integration must be the id of a {wanted} integration of this team.",
            "action_config.integration",
        )
    return {"integration": found.pk}


def rule_save(*, team, monitor: Monitor, rule: AlertRule | None, data, actor) -> AlertRule:
    if not isinstance(data, dict):
        raise field_error("Give an object.", "name")
    allowed = {
        "name",
        "metric",
        "op",
        "value",
        "mode",
        "baseline_windows",
        "action",
        "action_config",
        "enabled",
    }
    unknown = set(data) - allowed
    if unknown:
        raise field_error(f"Unknown field {sorted(unknown)[0]!r}.", sorted(unknown)[0])
    creating = rule is None
    rule = rule or AlertRule(team=team, monitor=monitor, created_by=actor)
    if creating or "name" in data:
        name = data.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 100 or "\x00" in name:
            raise field_error("name must be a string of 1-100 characters.", "name")
        rule.name = name.strip()
    if creating or "metric" in data:
        rule.metric = _metric(monitor, data.get("metric"))
    if creating or "op" in data:
        if data.get("op") not in OPS:
            raise field_error(f"op must be one of {', '.join(OPS)}.", "op")
        rule.op = data["op"]
    if creating or "value" in data:
        rule.value = _number(data.get("value"), "value")
    if "mode" in data or creating:
        mode = data.get("mode", "threshold")
        if mode not in MODES:
            raise field_error("mode must be threshold or change.", "mode")
        rule.mode = mode
    if "baseline_windows" in data:
        b = data["baseline_windows"]
        if type(b) is not int or not 1 <= b <= 720:
            raise field_error(
                "baseline_windows must be an integer from 1 to 720.", "baseline_windows"
            )
        rule.baseline_windows = b
    if creating or "action" in data:
        action = data.get("action", "notify")
        if action not in Action.values:
            raise field_error(f"action must be one of {', '.join(Action.values)}.", "action")
        rule.action = action
    if creating or "action" in data or "action_config" in data:
        rule.action_config = _action_config(team, rule.action, data.get("action_config"))
    if "enabled" in data:
        if type(data["enabled"]) is not bool:
            raise field_error("enabled must be true or false.", "enabled")
        rule.enabled = data["enabled"]
    rule.save()
    return rule


def rule_delete(*, rule: AlertRule) -> None:
    AlertRule.objects.for_team(rule.team).filter(pk=rule.pk).delete()


# --------------------------------------------------------------------------- evaluation


def _drift(team, monitor: Monitor, start: datetime):
    found = selectors.drift_get(team, monitor, start, services.ALL_VERSIONS)
    if found is None:
        found = services.drift_compute(team=team, monitor=monitor, start=start)
    return found


def metric_value(team, monitor: Monitor, metric: str, start: datetime) -> float | None:
    if metric in selectors.DRIFT_METRICS or metric.startswith("drift:"):
        result = _drift(team, monitor, start)
        if metric == "drifted_features":
            return float(result.drifted)
        if metric == "drift_share":
            return result.drifted / len(monitor.features) if monitor.features else None
        name = schema.RESERVED if metric == "prediction_drift" else metric.split(":", 1)[1]
        row = next((f for f in result.features if f["feature"] == name), None)
        return row["score"] if row else None
    total = selectors.window_total(team, monitor, start)
    if total is None:
        return None
    value = selectors.window_metrics(monitor, total).get(metric)
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _baseline(team, rule: AlertRule, monitor: Monitor, start: datetime) -> float | None:
    size = timedelta(seconds=services.window_seconds(monitor))
    starts = (
        Window.objects.for_team(team)
        .filter(monitor=monitor, start__lt=start, start__gte=start - size * rule.baseline_windows)
        .values_list("start", flat=True)
        .distinct()
    )
    values = [metric_value(team, monitor, rule.metric, s) for s in sorted(set(starts))]
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def _recipients(rule: AlertRule, monitor: Monitor) -> tuple[list[int], list[int] | None]:
    config = rule.action_config
    if rule.action != Action.NOTIFY:
        return [], [config.get("integration")]
    users = list(config.get("users") or [])
    if config.get("model_owners") and monitor.registered_model.created_by_id:
        users.append(monitor.registered_model.created_by_id)
    return users, []


def _publish(team, rule: AlertRule, monitor: Monitor, incident: AlertIncident, state: str) -> None:
    users, integrations = _recipients(rule, monitor)
    url = reverse("web:monitor-detail", kwargs={"team": team.slug, "monitor": monitor.name})
    verb = "firing" if state == "fired" else "resolved"
    notify.event_publish(
        team=team,
        kind=Kind.AUTOMATION,
        key=f"monitor-alert:{incident.pk}:{state}",
        title=f"Monitor {monitor.name}: {rule.name} {verb}"[:300],
        text=incident.summary,
        url=url,
        recipients=users,
        integrations=integrations,
        data={
            "monitor": monitor.name,
            "rule": rule.pk,
            "metric": rule.metric,
            "state": verb,
            "value": incident.value,
            "window": incident.opened_window.isoformat(),
        },
    )


def _summary(rule: AlertRule, value: float, baseline: float | None, start: datetime) -> str:
    what = f"{rule.metric} = {value:.4g}"
    if rule.mode == "change":
        what = (
            f"{rule.metric} changed {value:+.1%} vs the previous {rule.baseline_windows}"
            f" windows (mean {baseline:.4g})"
        )
    return f"{what} {rule.op} {rule.value:g} (window {start:%Y-%m-%d %H:%M} UTC)"


def evaluate_rule(team, rule: AlertRule, monitor: Monitor, now: datetime) -> int:
    """Evaluate every closed window since the rule's last one, in order; returns the
    number of evaluations stored."""
    size = timedelta(seconds=services.window_seconds(monitor))
    done = 0
    with transaction.atomic():
        rule = AlertRule.objects.for_team(team).select_for_update().filter(pk=rule.pk).first()
        if rule is None or not rule.enabled:
            return 0
        starts = Window.objects.for_team(team).filter(monitor=monitor, start__lte=now - size)
        if rule.evaluated_through is not None:
            starts = starts.filter(start__gt=rule.evaluated_through)
        pending = sorted(set(starts.values_list("start", flat=True)))[:MAX_WINDOWS_PER_RUN]
        for start in pending:
            value = metric_value(team, monitor, rule.metric, start)
            baseline = None
            compared = value
            if rule.mode == "change" and value is not None:
                baseline = _baseline(team, rule, monitor, start)
                compared = (value - baseline) / abs(baseline) if baseline else None
            firing = compared is not None and OPS[rule.op](compared, rule.value)
            AlertEvaluation.objects.for_team(team).get_or_create(
                team=team,
                rule=rule,
                window_start=start,
                defaults={"value": value, "baseline": baseline, "firing": firing},
            )
            done += 1
            rule.evaluated_through = start
            if compared is None:
                continue
            if firing and rule.state != "firing":
                incident = AlertIncident.objects.for_team(team).create(
                    team=team,
                    rule=rule,
                    monitor=monitor,
                    opened_window=start,
                    value=value,
                    summary=_summary(rule, compared, baseline, start)[:500],
                )
                rule.state = "firing"
                _publish(team, rule, monitor, incident, "fired")
            elif not firing and rule.state == "firing":
                incident = (
                    AlertIncident.objects.for_team(team)
                    .filter(rule=rule, resolved_at__isnull=True)
                    .order_by("-opened_at")
                    .first()
                )
                rule.state = "ok"
                if incident is not None:
                    incident.resolved_window = start
                    incident.resolved_at = timezone.now()
                    incident.save(update_fields=["resolved_window", "resolved_at"])
                    _publish(team, rule, monitor, incident, "resolved")
        rule.save(update_fields=["state", "evaluated_through"])
    return done


def refresh_drift(team, monitor: Monitor, now: datetime) -> int:
    """Drift results for closed windows that lack one (the latest MAX_WINDOWS_PER_RUN)
    and for the open window every OPEN_WINDOW_DRIFT_EVERY_S."""
    if monitor.reference_at is None and (monitor.drift or {}).get("baseline") != "previous":
        return 0
    size = timedelta(seconds=services.window_seconds(monitor))
    have = dict(
        selectors.DriftResult.objects.for_team(team)
        .filter(monitor=monitor, version=services.ALL_VERSIONS)
        .values_list("start", "computed_at")
    )
    starts = sorted(
        set(Window.objects.for_team(team).filter(monitor=monitor).values_list("start", flat=True))
    )[-MAX_WINDOWS_PER_RUN:]
    computed = 0
    for start in starts:
        at = have.get(start)
        closed = start + size <= now
        stale = (
            at is None
            or (at < start + size and (now - at).total_seconds() > OPEN_WINDOW_DRIFT_EVERY_S)
            or (closed and at < start + size)
        )
        if stale:
            services.drift_compute(team=team, monitor=monitor, start=start)
            computed += 1
    return computed


def evaluate_monitor(team, monitor: Monitor, now: datetime | None = None) -> int:
    now = now or timezone.now()
    refresh_drift(team, monitor, now)
    return sum(
        evaluate_rule(team, rule, monitor, now)
        for rule in selectors.rules(team, monitor)
        if rule.enabled
    )
