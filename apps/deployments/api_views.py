"""Deployment API views (docs/deployments.md): thin — resolve the deployment inside the
URL's team, call a selector or service, shape the answer."""

from __future__ import annotations

import time

import httpx
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema

from apps.api.base import GradlineAPIView
from apps.api.responses import json_response
from apps.core.errors import Conflict, DomainError, field_error
from apps.deployments import manifests, selectors, services
from apps.deployments import serializers as out
from apps.deployments.models import State
from apps.runs.bodies import request_json

OBJECT = extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
# Redeploy, rollback and stop answer 202: the change runs in a Celery job.
ACCEPTED = extend_schema(request=OpenApiTypes.OBJECT, responses={202: OpenApiTypes.OBJECT})


class DeploymentsAPIView(GradlineAPIView):
    def get_deployment(self, deployment_id: int):
        return selectors.deployment_get(self.team, deployment_id)

    def body(self, deployment) -> dict:
        deployment = selectors.deployment_get(self.team, deployment.pk)
        return out.deployment_out(deployment, selectors.deployment_history(self.team, deployment))


class DeploymentListView(DeploymentsAPIView):
    @OBJECT
    def get(self, request, team):
        platform = request.query_params.get("platform")
        rows = selectors.deployments_list(self.team, platform=platform)
        return json_response({"deployments": [out.deployment_out(d) for d in rows]})

    @OBJECT
    def post(self, request, team):
        deployment, created = services.deployment_deploy(
            team=self.team,
            data=request_json(request),
            actor=request.user,
            membership=self.scope.membership,
            user=request.user,
        )
        return json_response(self.body(deployment), status=201 if created else 200)


class DeploymentDetailView(DeploymentsAPIView):
    @OBJECT
    def get(self, request, team, deployment_id):
        return json_response(self.body(self.get_deployment(deployment_id)))

    @extend_schema(responses={202: OpenApiTypes.OBJECT, 204: None})
    def delete(self, request, team, deployment_id):
        deployment = self.get_deployment(deployment_id)
        if services.deployment_delete(deployment=deployment):
            return HttpResponse(status=204)
        return json_response(self.body(deployment), status=202)


class DeploymentRedeployView(DeploymentsAPIView):
    @ACCEPTED
    def post(self, request, team, deployment_id):
        deployment = self.get_deployment(deployment_id)
        deployment = services.deployment_redeploy(
            deployment=deployment,
            data=request_json(request),
            membership=self.scope.membership,
            user=request.user,
        )
        return json_response(self.body(deployment), status=202)


class DeploymentRollbackView(DeploymentsAPIView):
    @ACCEPTED
    def post(self, request, team, deployment_id):
        deployment = services.deployment_rollback(deployment=self.get_deployment(deployment_id))
        return json_response(self.body(deployment), status=202)


class DeploymentStopView(DeploymentsAPIView):
    @ACCEPTED
    def post(self, request, team, deployment_id):
        deployment = services.deployment_stop(deployment=self.get_deployment(deployment_id))
        return json_response(self.body(deployment), status=202)


class DeploymentEventsView(DeploymentsAPIView):
    @OBJECT
    def get(self, request, team, deployment_id):
        deployment = self.get_deployment(deployment_id)
        raw = request.query_params.get("after", "0")
        if not raw.isdigit() or len(raw) > 18:
            raise field_error("after must be an event id (a non-negative integer).", "after")
        rows = selectors.deployment_events(self.team, deployment, after=int(raw))
        return json_response(
            {"state": deployment.state, "events": [out.event_out(e) for e in rows]}
        )


class DeploymentManifestsView(DeploymentsAPIView):
    @extend_schema(responses={(200, "application/yaml"): OpenApiTypes.STR})
    def get(self, request, team, deployment_id):
        deployment = self.get_deployment(deployment_id)
        text = manifests.render_yaml(deployment)
        response = HttpResponse(text, content_type="application/yaml; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{deployment.endpoint_name}.yaml"'
        return response


class DeploymentPredictView(DeploymentsAPIView):
    """A V2 inference request relayed to the endpoint (local target): the body is an
    Open Inference Protocol request, the answer the server's."""

    @OBJECT
    def post(self, request, team, deployment_id):
        deployment = self.get_deployment(deployment_id)
        body = request_json(request)
        if not isinstance(body.get("inputs"), list) or not body["inputs"]:
            raise field_error("inputs must be a non-empty list of V2 input tensors.", "inputs")
        if deployment.platform != "local":
            raise DomainError(
                f"Predictions through Gradline are relayed to local endpoints; call the "
                f"{deployment.platform} endpoint with its own client.",
                code="not_supported",
            )
        if deployment.state != State.HEALTHY or not deployment.url:
            raise Conflict(f"The deployment is {deployment.state}, not healthy.")
        started = time.perf_counter()
        try:
            answer = httpx.post(f"{deployment.url}/infer", json=body, timeout=30)
        except httpx.HTTPError as exc:
            raise DomainError(
                f"The model server did not answer: {type(exc).__name__}.",
                code="endpoint_unavailable",
                status=503,
            ) from None
        if answer.status_code >= 500:
            raise DomainError(
                "The model server failed on this request.",
                code="endpoint_error",
                detail=answer.text[:2000],
                status=502,
            )
        try:
            data = answer.json()
        except ValueError:
            raise DomainError(
                "The model server answered no JSON.", code="endpoint_error", status=502
            ) from None
        if answer.status_code >= 400:
            raise DomainError(
                (data.get("error") if isinstance(data, dict) else None)
                or "The model refused the request.",
                code="invalid_inputs",
                detail={"field": "inputs"},
            )
        latency_ms = (time.perf_counter() - started) * 1000
        report = services.predictions_logged(
            deployment=deployment, request=body, response=data, latency_ms=latency_ms
        )
        headers = {"Gradline-Monitored": str(report.get("accepted", 0))} if report else {}
        return json_response(data, headers=headers)
