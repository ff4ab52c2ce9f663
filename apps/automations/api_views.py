"""Automation API views (team routes; docs/api.md "Automations"): admins (team:manage)
create and change them; members read those on projects they may see and their firings."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from apps.api.base import GradlineAPIView
from apps.automations import hooks, selectors, services
from apps.comments.api_views import body_of
from apps.core.errors import NotFound, field_error
from apps.registry import selectors as registry_selectors

Any = OpenApiTypes.OBJECT  # free-form JSON objects, documented in docs/api.md


def automation_out(a) -> dict:
    return {
        "id": a.pk,
        "name": a.name,
        "project": a.project.name if a.project_id else None,
        "registered_model": a.registered_model.name if a.registered_model_id else None,
        "trigger": a.trigger,
        "condition": a.condition,
        "action": a.action,
        "action_config": a.action_config,
        "enabled": a.enabled,
        "created_at": a.created_at.isoformat(),
    }


def firing_out(f) -> dict:
    return {
        "id": f.pk,
        "subject": f.subject,
        "summary": f.summary,
        "detail": f.detail,
        "event": f.event_id,
        "fired_at": f.fired_at.isoformat(),
    }


class AutomationsView(GradlineAPIView):
    def scope_of(self, data: dict):
        project_name, model_name = data.get("project"), data.get("registered_model")
        if bool(project_name) == bool(model_name):
            raise field_error("Name exactly one of project or registered_model.", "project")
        try:
            if project_name:
                if not isinstance(project_name, str):
                    raise NotFound("Project not found.")
                project = registry_selectors.project_visible(
                    self.team,
                    project_name,
                    membership=self.scope.membership,
                    user=self.request.user,
                )
                return project, None
            if not isinstance(model_name, str):
                raise NotFound("Registered model not found.")
            return None, registry_selectors.registered_model_get(self.team, model_name)
        except NotFound as exc:
            raise field_error(
                exc.message, "project" if project_name else "registered_model"
            ) from None

    def visible(self, automation_id: int):
        automation = services.automation_get(self.team, automation_id)
        if automation.project_id and not selectors.project_ids_visible(
            self.team, self.scope.membership, self.request.user, [automation.project_id]
        ):
            raise NotFound("Automation not found.")
        return automation


class AutomationListView(AutomationsView):
    @extend_schema(responses=Any)
    def get(self, request, team):
        rows = selectors.automations_visible(
            self.team, membership=self.scope.membership, user=request.user
        )
        return Response({"results": [automation_out(a) for a in rows]})

    @extend_schema(request=Any, responses={201: Any})
    def post(self, request, team):
        automation = services.automation_save(
            team=self.team,
            automation=None,
            data=body_of(request),
            actor=request.user,
            scope_of=self.scope_of,
        )
        hooks.rules_changed(self.team.pk, automation.project_id)
        return Response(automation_out(automation), status=201)


class AutomationDetailView(AutomationsView):
    @extend_schema(responses=Any)
    def get(self, request, team, automation_id):
        return Response(automation_out(self.visible(automation_id)))

    @extend_schema(request=Any, responses=Any)
    def patch(self, request, team, automation_id):
        automation = self.visible(automation_id)
        automation = services.automation_save(
            team=self.team,
            automation=automation,
            data=body_of(request),
            actor=request.user,
            scope_of=self.scope_of,
        )
        hooks.rules_changed(self.team.pk, automation.project_id)
        return Response(automation_out(automation))

    @extend_schema(responses={204: None})
    def delete(self, request, team, automation_id):
        automation = self.visible(automation_id)
        services.automation_delete(automation=automation)
        hooks.rules_changed(self.team.pk, automation.project_id)
        return Response(status=204)


class FiringListView(AutomationsView):
    @extend_schema(responses=Any)
    def get(self, request, team, automation_id):
        automation = self.visible(automation_id)
        return Response(
            {"results": [firing_out(f) for f in selectors.firings_of(self.team, automation)]}
        )
