"""Notification API views: the signed-in user's notifications and preferences (user
routes), a team's integrations and their delivery logs (team:manage), and alerts from a
run (`wandb.alert`). Thin: parse, call a selector or service, shape output."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers as s
from rest_framework.response import Response

from apps.api.base import GradlineAPIView
from apps.api.pagination import int_param
from apps.comments.api_views import body_of
from apps.core.errors import field_error
from apps.notifications import selectors, services
from apps.runs.selectors import runs as run_selectors

Any = OpenApiTypes.OBJECT  # free-form JSON objects, documented in docs/api.md


class NotificationListView(GradlineAPIView):
    @extend_schema(
        responses=inline_serializer(
            "NotificationList",
            {
                "results": s.ListField(child=s.JSONField()),
                "unread": s.IntegerField(),
                "next_before": s.IntegerField(allow_null=True),
            },
        )
    )
    def get(self, request):
        limit = int_param(request, "limit", 50, minimum=1, maximum=200)
        before = request.query_params.get("before")
        before_id = int_param(request, "before", 0, minimum=1, maximum=2**62) if before else None
        unread_only = request.query_params.get("unread") in ("1", "true")
        rows = selectors.notifications_of(
            request.user, unread_only=unread_only, before_id=before_id, limit=limit
        )
        return Response(
            {
                "results": [services.notification_out(n) for n in rows],
                "unread": selectors.unread_count(request.user),
                "next_before": rows[-1].pk if len(rows) == limit else None,
            }
        )


class NotificationReadView(GradlineAPIView):
    """Mark read: `{"ids": [...]}` or `{"all": true}`."""

    @extend_schema(
        request=Any,
        responses=inline_serializer(
            "MarkedRead", {"marked": s.IntegerField(), "unread": s.IntegerField()}
        ),
    )
    def post(self, request):
        data = body_of(request)
        if data.get("all") is True:
            ids = None
        else:
            ids = data.get("ids")
            if (
                not isinstance(ids, list)
                or not ids
                or not all(type(i) is int for i in ids)
                or len(ids) > 1000
            ):
                raise field_error("Give ids (a list of notification ids) or all: true.", "ids")
        marked = services.notifications_mark_read(user=request.user, ids=ids)
        return Response({"marked": marked, "unread": selectors.unread_count(request.user)})


class NotificationDetailView(GradlineAPIView):
    @extend_schema(responses=Any)
    def get(self, request, notification_id):
        return Response(
            services.notification_out(selectors.notification_get(request.user, notification_id))
        )

    @extend_schema(request=Any, responses=Any)
    def patch(self, request, notification_id):
        note = selectors.notification_get(request.user, notification_id)
        data = body_of(request)
        if data.get("read") is not True:
            raise field_error("read must be true.", "read")
        services.notifications_mark_read(user=request.user, ids=[note.pk])
        return Response(
            services.notification_out(selectors.notification_get(request.user, notification_id))
        )


class PreferencesView(GradlineAPIView):
    @extend_schema(responses=Any)
    def get(self, request):
        return Response({"preferences": services.preferences_of(request.user)})

    @extend_schema(request=Any, responses=Any)
    def patch(self, request):
        data = body_of(request)
        prefs = services.preferences_update(user=request.user, data=data.get("preferences", data))
        return Response({"preferences": prefs})


def integration_out(integration, *, with_secret: bool = False) -> dict:
    out = {
        "id": integration.pk,
        "name": integration.name,
        "type": integration.type,
        "url": integration.url,
        "kinds": integration.kinds,
        "enabled": integration.enabled,
        "created_at": integration.created_at.isoformat(),
    }
    if with_secret:
        out["secret"] = integration.secret
    return out


def delivery_out(delivery, attempts=None) -> dict:
    out = {
        "id": delivery.pk,
        "event": {
            "id": delivery.event.pk,
            "kind": delivery.event.kind,
            "title": delivery.event.title,
        },
        "channel": delivery.channel,
        "state": delivery.state,
        "attempts": delivery.attempts,
        "created_at": delivery.created_at.isoformat(),
        "updated_at": delivery.updated_at.isoformat(),
    }
    if attempts is not None:
        out["log"] = [
            {
                "number": a.number,
                "at": a.at.isoformat(),
                "status_code": a.status_code,
                "response": a.response,
                "error": a.error,
                "duration_ms": a.duration_ms,
            }
            for a in attempts
        ]
    return out


class IntegrationListView(GradlineAPIView):
    @extend_schema(responses=Any)
    def get(self, request, team):
        return Response(
            {
                "results": [
                    integration_out(i, with_secret=True)
                    for i in selectors.integrations_list(self.team)
                ]
            }
        )

    @extend_schema(request=Any, responses={201: Any})
    def post(self, request, team):
        integration = services.integration_create(
            team=self.team, actor=request.user, data=body_of(request)
        )
        return Response(integration_out(integration, with_secret=True), status=201)


class IntegrationDetailView(GradlineAPIView):
    @extend_schema(responses=Any)
    def get(self, request, team, integration_id):
        return Response(
            integration_out(services.integration_get(self.team, integration_id), with_secret=True)
        )

    @extend_schema(request=Any, responses=Any)
    def patch(self, request, team, integration_id):
        integration = services.integration_get(self.team, integration_id)
        integration = services.integration_update(integration=integration, data=body_of(request))
        return Response(integration_out(integration, with_secret=True))

    @extend_schema(responses={204: None})
    def delete(self, request, team, integration_id):
        services.integration_delete(integration=services.integration_get(self.team, integration_id))
        return Response(status=204)


class DeliveryListView(GradlineAPIView):
    @extend_schema(responses=Any)
    def get(self, request, team, integration_id):
        integration = services.integration_get(self.team, integration_id)
        return Response(
            {"results": [delivery_out(d) for d in selectors.deliveries_of(self.team, integration)]}
        )


class DeliveryDetailView(GradlineAPIView):
    @extend_schema(responses=Any)
    def get(self, request, team, integration_id, delivery_id):
        integration = services.integration_get(self.team, integration_id)
        delivery = selectors.delivery_get(self.team, integration, delivery_id)
        return Response(delivery_out(delivery, selectors.attempts_of(self.team, delivery)))


class DeliveryReplayView(GradlineAPIView):
    @extend_schema(request=None, responses={202: Any})
    def post(self, request, team, integration_id, delivery_id):
        integration = services.integration_get(self.team, integration_id)
        delivery = selectors.delivery_get(self.team, integration, delivery_id)
        delivery = services.delivery_replay(delivery=delivery)
        return Response(
            delivery_out(delivery, selectors.attempts_of(self.team, delivery)), status=202
        )


class RunAlertListView(GradlineAPIView):
    """`wandb.alert()`: POST stores an alert of the URL's run (run ownership applies);
    GET lists the run's alerts, newest first."""

    def _run(self, uid):
        run = run_selectors.run_get(self.team, self.project, uid)
        self.scope.require_owner(run.created_by_id, what="run")
        return run

    @extend_schema(responses=Any)
    def get(self, request, team, project, run):
        from apps.notifications.models import Alert

        target = self._run(run)
        rows = Alert.objects.for_team(self.team).filter(run=target).order_by("-at", "-id")[:200]
        return Response({"results": [services.alert_out(a) for a in rows]})

    @extend_schema(request=Any, responses={201: Any, 200: Any})
    def post(self, request, team, project, run):
        target = self._run(run)
        alert, created = services.alert_record(run=target, data=body_of(request))
        return Response(services.alert_out(alert), status=201 if created else 200)
