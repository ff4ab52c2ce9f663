"""Sweeps API views (docs/sweeps.md): thin — resolve what the URL names inside the scope,
call a selector or service, shape the answer."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema

from apps.api.base import GradlineAPIView
from apps.api.responses import json_response
from apps.runs.bodies import request_json
from apps.sweeps import selectors, services
from apps.sweeps import serializers as out

OBJECT = extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)


class SweepsAPIView(GradlineAPIView):
    def get_sweep(self, uid: str):
        return selectors.sweep_get(self.team, self.project, uid)

    def sweep_body(self, sweep, *, with_trials: bool = False) -> dict:
        trials = selectors.trials_observed(self.team, sweep)
        body = out.sweep_out(sweep, selectors.sweep_stats(sweep, trials))
        if with_trials:
            body["trials"] = [out.trial_out(t) for t in reversed(trials)]
        return body


class SweepListView(SweepsAPIView):
    @OBJECT
    def get(self, request, team, project):
        sweeps = selectors.sweeps_list(self.team, self.project)
        trials = selectors.observe_trials(self.team, sweeps)
        body = [out.sweep_out(s, selectors.sweep_stats(s, trials[s.pk])) for s in sweeps]
        return json_response({"sweeps": body})

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={201: OpenApiTypes.OBJECT},
        summary="Create a sweep from a W&B sweep config (creates the project on first use)",
    )
    def post(self, request, team, project):
        sweep = services.sweep_create(
            team=self.team,
            project=self.project,
            project_name=project,
            actor=request.user,
            data=request_json(request),
        )
        return json_response(self.sweep_body(sweep), status=201)


class SweepImportView(SweepsAPIView):
    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={200: OpenApiTypes.OBJECT, 201: OpenApiTypes.OBJECT},
        summary="Import a sweep that ran offline (id, config, trial ledger); idempotent",
    )
    def post(self, request, team, project):
        sweep, created = services.sweep_import(
            team=self.team,
            project=self.project,
            project_name=project,
            actor=request.user,
            data=request_json(request),
        )
        return json_response(
            self.sweep_body(sweep, with_trials=True), status=201 if created else 200
        )


class SweepDetailView(SweepsAPIView):
    @OBJECT
    def get(self, request, team, project, sweep):
        return json_response(self.sweep_body(self.get_sweep(sweep), with_trials=True))

    @OBJECT
    def patch(self, request, team, project, sweep):
        target = self.get_sweep(sweep)  # what the URL names first: 404 before 400
        updated = services.sweep_update(sweep=target, data=request_json(request))
        return json_response(self.sweep_body(updated))

    @extend_schema(responses={204: None})
    def delete(self, request, team, project, sweep):
        services.sweep_delete(sweep=self.get_sweep(sweep))
        return HttpResponse(status=204)


class SweepNextView(SweepsAPIView):
    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses=OpenApiTypes.OBJECT,
        summary="The next trial (run id and params), or 409 sweep_done",
    )
    def post(self, request, team, project, sweep):
        target = self.get_sweep(sweep)
        data = request_json(request)
        trial = services.trial_next(team=self.team, sweep=target, agent=data.get("agent"))
        return json_response(out.next_out(target, trial))


class TrialStopView(SweepsAPIView):
    @extend_schema(responses=OpenApiTypes.OBJECT, summary="Whether early termination stops it")
    def get(self, request, team, project, sweep, run):
        stop, reason = services.trial_should_stop(
            team=self.team, sweep=self.get_sweep(sweep), run_uid=run
        )
        return json_response({"stop": stop, "reason": reason})


class TrialPreemptingView(SweepsAPIView):
    @extend_schema(
        request=None,
        responses=OpenApiTypes.OBJECT,
        summary="The trial's run is being preempted: re-queue the trial if it ends unfinished",
    )
    def post(self, request, team, project, sweep, trial):
        trial = services.trial_mark_preempting(
            team=self.team, sweep=self.get_sweep(sweep), run_uid=trial
        )
        return json_response({"run": trial.run_uid, "preempting": True, "attempts": trial.attempts})
