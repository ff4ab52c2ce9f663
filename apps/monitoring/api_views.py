"""Monitoring API (team routes; docs/monitoring.md "REST"). Views resolve the monitor in
the URL's team first (another team's monitor is a 404 whatever the body holds), then
hand the body to services."""

from __future__ import annotations

from datetime import UTC, datetime

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from apps.api.base import GradlineAPIView
from apps.comments.api_views import body_of
from apps.core.errors import field_error
from apps.monitoring import alerting, selectors, services
from apps.registry import selectors as registry_selectors

Any = OpenApiTypes.OBJECT


def monitor_out(m) -> dict:
    return {
        "id": m.pk,
        "name": m.name,
        "description": m.description,
        "registered_model": m.registered_model.name,
        "alias": m.alias or None,
        "version": m.version,
        "features": m.features,
        "prediction_type": m.prediction_type,
        "classes": m.classes,
        "threshold": m.threshold,
        "window": m.window,
        "retention_days": m.retention_days,
        "drift": m.drift,
        "reference_at": m.reference_at.isoformat() if m.reference_at else None,
        "created_at": m.created_at.isoformat(),
    }


def rule_out(r) -> dict:
    return {
        "id": r.pk,
        "name": r.name,
        "metric": r.metric,
        "op": r.op,
        "value": r.value,
        "mode": r.mode,
        "baseline_windows": r.baseline_windows,
        "action": r.action,
        "action_config": r.action_config,
        "enabled": r.enabled,
        "state": r.state,
        "evaluated_through": r.evaluated_through.isoformat() if r.evaluated_through else None,
    }


def incident_out(i) -> dict:
    return {
        "id": i.pk,
        "rule": i.rule_id,
        "rule_name": i.rule.name,
        "metric": i.rule.metric,
        "summary": i.summary,
        "value": i.value,
        "opened_window": i.opened_window.isoformat(),
        "opened_at": i.opened_at.isoformat(),
        "resolved_window": i.resolved_window.isoformat() if i.resolved_window else None,
        "resolved_at": i.resolved_at.isoformat() if i.resolved_at else None,
    }


def drift_out(d) -> dict:
    return {
        "start": d.start.isoformat(),
        "version": None if d.version < 0 else f"v{d.version}",
        "computed_at": d.computed_at.isoformat(),
        "count": d.count,
        "baseline": d.baseline,
        "drifted": d.drifted,
        "features": d.features,
    }


class MonitorAPIView(GradlineAPIView):
    def monitor(self, name: str):
        return selectors.monitor_get(self.team, name)

    def model_of(self, name: str):
        return registry_selectors.registered_model_get(self.team, name)


class MonitorListView(MonitorAPIView):
    @extend_schema(responses=Any)
    def get(self, request, team):
        return Response({"results": [monitor_out(m) for m in selectors.monitors_list(self.team)]})

    @extend_schema(request=Any, responses={201: Any})
    def post(self, request, team):
        monitor = services.monitor_save(
            team=self.team,
            monitor=None,
            data=body_of(request),
            actor=request.user,
            model_of=self.model_of,
        )
        return Response(monitor_out(monitor), status=201)


class MonitorDetailView(MonitorAPIView):
    @extend_schema(responses=Any)
    def get(self, request, team, monitor):
        return Response(monitor_out(self.monitor(monitor)))

    @extend_schema(request=Any, responses=Any)
    def patch(self, request, team, monitor):
        found = self.monitor(monitor)
        found = services.monitor_save(
            team=self.team,
            monitor=found,
            data=body_of(request),
            actor=request.user,
            model_of=self.model_of,
        )
        return Response(monitor_out(found))

    @extend_schema(responses={204: None})
    def delete(self, request, team, monitor):
        services.monitor_delete(monitor=self.monitor(monitor))
        return Response(status=204)


class PredictionsView(MonitorAPIView):
    @extend_schema(request=Any, responses=Any)
    def post(self, request, team, monitor):
        found = self.monitor(monitor)
        return Response(services.predictions_log(team=self.team, monitor=found, body=request.data))


class GroundTruthView(MonitorAPIView):
    @extend_schema(request=Any, responses=Any)
    def post(self, request, team, monitor):
        found = self.monitor(monitor)
        return Response(services.ground_truth_log(team=self.team, monitor=found, body=request.data))


class ReferenceView(MonitorAPIView):
    @extend_schema(responses=Any)
    def get(self, request, team, monitor):
        found = self.monitor(monitor)
        rows = selectors.reference(self.team, found)
        return Response(
            {
                "reference_at": found.reference_at.isoformat() if found.reference_at else None,
                "features": [{"feature": r.feature, "kind": r.kind, **r.profile} for r in rows],
            }
        )

    @extend_schema(request=Any, responses=Any)
    def put(self, request, team, monitor):
        found = self.monitor(monitor)
        rows = services.reference_set(team=self.team, monitor=found, data=body_of(request))
        return Response({"features": [r.feature for r in rows]})


class MetricsView(MonitorAPIView):
    """The dashboard's data from aggregates only: columnar series per version (default;
    ?metrics=a,b narrows them), or ?view=windows for every metric of each window
    (calibration bins, per-feature missing rates) as objects."""

    @extend_schema(responses=Any)
    def get(self, request, team, monitor):
        found = self.monitor(monitor)
        start, end = selectors.parse_range(request.query_params, found)
        if request.query_params.get("view") == "windows":
            return Response(selectors.dashboard(self.team, found, start, end))
        raw = request.query_params.get("metrics") or ""
        metrics = [m for m in raw.split(",") if m][:50] or None
        return Response(selectors.dashboard_series(self.team, found, start, end, metrics))


def _window_param(params, monitor) -> datetime:
    raw = params.get("window")
    if raw in (None, ""):
        latest = selectors.latest_window_start(monitor.team, monitor)
        if latest is None:
            raise field_error("This monitor has no predictions yet.", "window")
        return latest
    try:
        ts = float(raw)
        moment = datetime.fromtimestamp(ts, UTC)
    except (ValueError, OverflowError, OSError):
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            raise field_error("window must be Unix seconds or ISO 8601.", "window") from None
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    size = services.window_seconds(monitor)
    start = int(moment.timestamp() // size * size)
    return datetime.fromtimestamp(start, UTC)


def _version_param(params) -> int:
    raw = params.get("version")
    if raw in (None, "", "all"):
        return services.ALL_VERSIONS
    text = raw[1:] if raw.startswith("v") else raw
    if not text.isdigit() or len(text) > 9:
        raise field_error("version must be v<N> or all.", "version")
    return int(text)


class DriftView(MonitorAPIView):
    """Drift of one window (?window=, default the latest; ?version=vN or all) against the
    monitor's baseline. GET returns the stored result, computing it on first request;
    POST recomputes."""

    @extend_schema(responses=Any)
    def get(self, request, team, monitor):
        found = self.monitor(monitor)
        found.team = self.team
        start = _window_param(request.query_params, found)
        version = _version_param(request.query_params)
        result = selectors.drift_get(self.team, found, start, version)
        if result is None:
            result = services.drift_compute(
                team=self.team, monitor=found, start=start, version=version
            )
        return Response(drift_out(result))

    @extend_schema(request=None, responses=Any)  # no body: the window is in the query
    def post(self, request, team, monitor):
        found = self.monitor(monitor)
        found.team = self.team
        start = _window_param(request.query_params, found)
        version = _version_param(request.query_params)
        result = services.drift_compute(team=self.team, monitor=found, start=start, version=version)
        return Response(drift_out(result))


class AlertRuleListView(MonitorAPIView):
    @extend_schema(responses=Any)
    def get(self, request, team, monitor):
        found = self.monitor(monitor)
        return Response({"results": [rule_out(r) for r in selectors.rules(self.team, found)]})

    @extend_schema(request=Any, responses={201: Any})
    def post(self, request, team, monitor):
        found = self.monitor(monitor)
        rule = alerting.rule_save(
            team=self.team, monitor=found, rule=None, data=body_of(request), actor=request.user
        )
        return Response(rule_out(rule), status=201)


class AlertRuleDetailView(MonitorAPIView):
    @extend_schema(responses=Any)
    def get(self, request, team, monitor, rule_id):
        found = self.monitor(monitor)
        rule = selectors.rule_get(self.team, found, rule_id)
        out = rule_out(rule)
        out["evaluations"] = [
            {
                "window_start": e.window_start.isoformat(),
                "value": e.value,
                "baseline": e.baseline,
                "firing": e.firing,
                "evaluated_at": e.evaluated_at.isoformat(),
            }
            for e in selectors.evaluations(self.team, rule)
        ]
        return Response(out)

    @extend_schema(request=Any, responses=Any)
    def patch(self, request, team, monitor, rule_id):
        found = self.monitor(monitor)
        rule = selectors.rule_get(self.team, found, rule_id)
        rule = alerting.rule_save(
            team=self.team, monitor=found, rule=rule, data=body_of(request), actor=request.user
        )
        return Response(rule_out(rule))

    @extend_schema(responses={204: None})
    def delete(self, request, team, monitor, rule_id):
        found = self.monitor(monitor)
        alerting.rule_delete(rule=selectors.rule_get(self.team, found, rule_id))
        return Response(status=204)


class AlertListView(MonitorAPIView):
    @extend_schema(responses=Any)
    def get(self, request, team, monitor):
        found = self.monitor(monitor)
        return Response(
            {"results": [incident_out(i) for i in selectors.incidents(self.team, found)]}
        )
