"""Sweep writes: create, change state, delete, hand out the next trial, decide early stops.

`trial_next` hands out trials under a lock on the sweep row, so concurrent agents never
get the same trial: a re-queued (crashed or preempted) trial first, else the first
suggestion the Celery controller queued, else one computed inline (docs/sweeps.md "The
controller"; apps/sweeps/controller.py). Every function receives objects already
resolved inside the caller's team scope.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.automations import hooks as automation_hooks
from apps.comments.cleanup import comments_remove
from apps.core import jsonlimits
from apps.core.errors import Conflict, NotFound, field_error
from apps.projects import services as project_services
from apps.realtime import events, groups
from apps.runs.models import MetricKey, Run, RunState
from apps.runs.selectors import history
from apps.runs.selectors import runs as run_selectors
from apps.sweeps import controller, selectors, tasks
from apps.sweeps.models import Sweep, SweepState, SweepTrial, TrialState
from gradline.sweep_engines import grid, hyperband, space, validation
from gradline.sweep_engines.history import STRATEGIES

UID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
MAX_NAME = 128
MAX_AGENT = 128
MAX_RUN_CAP = 2**31 - 1  # Sweep.run_cap is an integer column


def _uid() -> str:
    return "".join(secrets.choice(UID_ALPHABET) for _ in range(8))


# --------------------------------------------------------------------------- create

_PARAMETER = re.compile(r"^parameter (['\"])(.*?)\1")
_EARLY_TERMINATE = re.compile(r"^early_terminate(\.[a-z_]+)?")


def _config_field(message: str) -> str:
    """Which part of the config a validation message of `sweep_engines.space` /
    `sweep_engines.hyperband` is about, as `detail.field` (e.g. config.parameters.lr)."""
    if "needs the sweep's metric" in message or "needs metric.name" in message:
        return "config.metric.name"
    if match := _EARLY_TERMINATE.match(message):
        return f"config.{match.group(0)}"
    if message.startswith("metric.goal"):
        return "config.metric.goal"
    if message.startswith("run_cap"):
        return "config.run_cap"
    if message.startswith("seed"):
        return "config.seed"
    if message.startswith("method"):
        return "config.method"
    if match := _PARAMETER.match(message):
        return f"config.parameters.{match.group(2)}"
    if "parameter" in message:
        return "config.parameters"
    return "config"


def validate_config(config: Any) -> dict:
    """The sweep config, checked as a whole; 400 naming the bad field otherwise."""
    if not isinstance(config, dict):
        raise field_error("config must be a JSON object (a W&B sweep config).", "config")
    found = jsonlimits.problem(config, "config")
    if found:  # detail.field is the place inside the config, as for the checks below
        raise field_error(found[1], found[0])
    try:
        validation.validate(config)
        if config.get("method") == "bayes" or "early_terminate" in config:
            space.metric(config)
        # A dry first suggestion: whatever the engine cannot handle is refused now, not
        # when the first agent asks.
        STRATEGIES[config["method"]](config, [], seed=0)
    except (ValueError, TypeError, KeyError, ArithmeticError) as exc:
        message = str(exc) or exc.__class__.__name__
        raise field_error(message, _config_field(message)) from None
    run_cap = config.get("run_cap")
    if run_cap is not None and run_cap > MAX_RUN_CAP:  # validation.validate: a positive integer
        raise field_error(f"run_cap must be at most {MAX_RUN_CAP}.", "config.run_cap")
    for key in ("name", "description", "program"):
        value = config.get(key)
        limit = MAX_NAME if key == "name" else 100_000
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            raise field_error(
                f"config.{key} must be a string of at most {limit} characters.", f"config.{key}"
            )
    attempts = config.get("max_attempts", selectors.DEFAULT_MAX_ATTEMPTS)
    if not isinstance(attempts, int) or isinstance(attempts, bool) or not 1 <= attempts <= 100:
        raise field_error(
            "config.max_attempts must be an integer from 1 to 100 (times a crashed or "
            "preempted trial is run in all).",
            "config.max_attempts",
        )
    command = config.get("command")
    if command is not None and (
        not isinstance(command, list) or not all(isinstance(c, str) for c in command)
    ):
        raise field_error("config.command must be a list of strings.", "config.command")
    return config


def _sweep_row(team, project, uid: str, config: dict, actor) -> Sweep:
    """The sweep row for a validated config (created, imported)."""
    metric_name, metric_goal = space.metric(config) if "metric" in config else ("", "")
    return Sweep.objects.for_team(team).create(
        team=team,
        project=project,
        uid=uid,
        name=config.get("name") or uid,
        description=config.get("description") or "",
        method=config["method"],
        config=config,
        metric_name=metric_name,
        metric_goal=metric_goal,
        run_cap=config.get("run_cap"),
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )


def sweep_create(*, team, project, project_name: str, actor, data: dict) -> Sweep:
    """POST /sweeps: a new sweep in `project`, created on first use when `project` is
    None (as runs do). The config is validated before anything is written."""
    config = validate_config(data.get("config"))
    prior_uids = _prior_run_ids(data.get("prior_runs"))
    if project is None:
        if prior_uids:  # a new project has no runs to seed with
            raise field_error(f"Run {prior_uids[0]!r} is not in this project.", "prior_runs")
        project = project_services.project_get_or_create(team=team, name=project_name, actor=actor)
    prior_runs = _prior_runs(team, project, prior_uids)
    for _ in range(10):
        uid = _uid()
        try:
            with transaction.atomic():
                sweep = _sweep_row(team, project, uid, config, actor)
                _seed_prior(team, sweep, project, prior_runs)
        except IntegrityError:
            continue  # the id is taken in this project; draw another
        sweep.team, sweep.project = team, project
        tasks.request_refill(team, sweep)  # the controller prepares the first trials
        return sweep
    raise Conflict("Could not allocate a sweep id; try again.", code="sweep_id_taken")


MAX_PRIOR_RUNS = 10_000
RUN_UID_RE = re.compile(r"^[a-z0-9_-]{1,64}$")  # as run ids are (apps/runs/services.py)


def _prior_run_ids(value: Any) -> list[str]:
    """W&B's `prior_runs`: ids of existing runs of the project ("team/project/id" paths
    are accepted too; the last part is the id)."""
    if value is None:
        return []
    if (
        not isinstance(value, list)
        or len(value) > MAX_PRIOR_RUNS
        or not all(isinstance(v, str) and 0 < len(v) <= 256 for v in value)
    ):
        raise field_error(
            f"prior_runs must be a list of at most {MAX_PRIOR_RUNS} run ids.", "prior_runs"
        )
    ids = list(dict.fromkeys(v.rstrip("/").rsplit("/", 1)[-1] for v in value))
    for uid in ids:
        if not RUN_UID_RE.match(uid):
            raise field_error(f"prior_runs: {uid[:80]!r} is not a run id.", "prior_runs")
    return ids


def _prior_runs(team, project, uids: list[str]) -> list[Run]:
    if not uids:
        return []
    found = {r.uid: r for r in Run.objects.for_team(team).filter(project=project, uid__in=uids)}
    missing = [uid for uid in uids if uid not in found]
    if missing:
        raise field_error(f"Run {missing[0]!r} is not in this project.", "prior_runs")
    return [found[uid] for uid in uids]


def _seed_prior(team, sweep: Sweep, project, runs: list[Run]) -> None:
    """One trial per prior run, oldest run first, params = its config values of the
    sweep's parameters (a run missing some fits no point of the space: the engines skip
    it, as for a config change)."""
    names = list((sweep.config.get("parameters") or {}).keys())
    _add_trials(
        team,
        sweep,
        project,
        (
            (run.uid, {k: run.config[k] for k in names if k in (run.config or {})}, "")
            for run in sorted(runs, key=lambda r: (r.created_at, r.pk))
        ),
        prior=True,
    )


def _add_trials(team, sweep: Sweep, project, rows, *, prior: bool = False):
    """Trials written in one INSERT from (run id, params, agent) rows, oldest first, all
    stamped now; returns the time stamped."""
    now = timezone.now()
    SweepTrial.objects.for_team(team).bulk_create(
        SweepTrial(
            team=team,
            sweep=sweep,
            project=project,
            run_uid=run,
            params=params,
            agent=agent,
            prior=prior,
            created_at=now,
        )
        for run, params, agent in rows
    )
    return now


# --------------------------------------------------------------------------- import

MAX_IMPORT_TRIALS = 10_000
SWEEP_UID_RE = re.compile(r"^[a-z0-9]{8}$")  # as the sweep_id URL converter


class SweepExists(Conflict):
    code = "sweep_exists"


def sweep_import(*, team, project, project_name: str, actor, data: dict) -> tuple[Sweep, bool]:
    """POST /sweeps/import: a sweep that ran offline (`gradline agent --local`, then
    `gradline sync`), with its id, config and trial ledger (run id and params per trial,
    oldest first). The trials follow their runs as any trial does: their state and metric
    come from the runs, uploaded before or after. Idempotent: importing the same id and
    config again adds only the trials not there yet (first write wins). Returns (sweep,
    created)."""
    if not isinstance(data, dict):
        raise field_error("The body must be a JSON object.", "body")
    uid = data.get("id")
    if not isinstance(uid, str) or not SWEEP_UID_RE.match(uid):
        raise field_error("id must be a sweep id: 8 characters a-z, 0-9.", "id")
    config = validate_config(data.get("config"))
    trials = _import_trials(data.get("trials"))
    if project is None:
        project = project_services.project_get_or_create(team=team, name=project_name, actor=actor)
    with transaction.atomic():
        sweep = Sweep.objects.for_team(team).select_for_update().filter(project=project, uid=uid)
        sweep = sweep.first()
        created = sweep is None
        if created:
            try:
                with transaction.atomic():
                    sweep = _sweep_row(team, project, uid, config, actor)
            except IntegrityError:  # a concurrent import of the same id: retried, idempotent
                raise SweepExists(
                    "The sweep is being imported by another request; retry."
                ) from None
        elif sweep.config != config:
            raise SweepExists(
                f"Sweep {uid} already exists in this project with another config.",
                detail={"field": "id"},
            )
        have = set(
            SweepTrial.objects.for_team(team).filter(sweep=sweep).values_list("run_uid", flat=True)
        )
        new = [(i, run, params) for i, (run, params, _) in enumerate(trials) if run not in have]
        taken = dict(
            SweepTrial.objects.for_team(team)
            .filter(project=project, prior=False, run_uid__in=[r for _, r, _ in new])
            .exclude(sweep=sweep)
            .values_list("run_uid", "sweep__uid")
        )
        for i, run, _ in new:
            if run in taken:
                raise field_error(
                    f"Run {run!r} is a trial of sweep {taken[run]} in this project.",
                    f"trials[{i}].run",
                )
        now = _add_trials(
            team, sweep, project, ((run, params, trials[i][2]) for i, run, params in new)
        )
        if new:
            sweep.updated_at = now
            sweep.save(update_fields=["updated_at"])
    sweep.team, sweep.project = team, project
    if new and sweep.state == SweepState.RUNNING:
        tasks.request_refill(team, sweep)  # the sweep may go on online
    return sweep, created


def _import_trials(value: Any) -> list[tuple[str, dict, str]]:
    """The ledger of an imported sweep: [(run id, params, agent label)], oldest first."""
    if not isinstance(value, list) or len(value) > MAX_IMPORT_TRIALS:
        raise field_error(
            f"trials must be a list of at most {MAX_IMPORT_TRIALS} trials "
            '({"run": "<run id>", "params": {...}}).',
            "trials",
        )
    out: list[tuple[str, dict, str]] = []
    seen: set[str] = set()
    for i, trial in enumerate(value):
        where = f"trials[{i}]"
        if not isinstance(trial, dict):
            raise field_error(f"{where} must be an object with run and params.", where)
        run, params, agent = trial.get("run"), trial.get("params"), trial.get("agent", "")
        if not isinstance(run, str) or not RUN_UID_RE.match(run):
            raise field_error(f"{where}.run must be a run id.", f"{where}.run")
        if run in seen:
            raise field_error(f"{where}.run: run {run!r} is in the ledger twice.", f"{where}.run")
        seen.add(run)
        if not isinstance(params, dict):
            raise field_error(f"{where}.params must be an object.", f"{where}.params")
        found = jsonlimits.problem(params, f"{where}.params", depth=1)
        if found:
            raise field_error(found[1], found[0])
        if not isinstance(agent, str) or len(agent) > MAX_AGENT or "\x00" in agent:
            raise field_error(
                f"{where}.agent must be a string of at most {MAX_AGENT} characters.",
                f"{where}.agent",
            )
        out.append((run, params, agent))
    return out


# --------------------------------------------------------------------------- update


def sweep_update(*, sweep: Sweep, data: dict) -> Sweep:
    """PATCH: `state` (any of running, paused, finished, cancelled), `name`, `description`."""
    changes: dict[str, Any] = {}
    if "state" in data:
        if data["state"] not in SweepState.values:
            raise field_error(
                f"state must be one of {', '.join(SweepState.values)}.",
                "state",
            )
        changes["state"] = data["state"]
    for key, limit in (("name", MAX_NAME), ("description", 100_000)):
        if key in data:
            value = data[key]
            if not isinstance(value, str) or len(value) > limit or "\x00" in value:
                raise field_error(f"{key} must be a string of at most {limit} characters.", key)
            changes[key] = value
    if not changes:
        raise field_error("Nothing to change: give state, name or description.", "state")
    with transaction.atomic():
        locked = Sweep.objects.for_team(sweep.team).select_for_update().filter(pk=sweep.pk).first()
        if locked is None:  # deleted a moment ago
            raise NotFound("Sweep not found.")
        for key, value in changes.items():
            setattr(locked, key, value)
        locked.updated_at = timezone.now()
        locked.save()
        automation_hooks.sweep_changed(locked, changes)  # "sweep finished" notice, after commit
        if changes.get("state") == SweepState.RUNNING:
            tasks.request_refill(sweep.team, locked)  # resumed: the kept queue is checked
    locked.team, locked.project = sweep.team, sweep.project
    return locked


def sweep_update_state(*, sweep: Sweep, state: str) -> Sweep:
    return sweep_update(sweep=sweep, data={"state": state})


def sweep_delete(*, sweep: Sweep) -> None:
    """The sweep and its trials (and its comments); the runs stay."""
    with transaction.atomic():
        Sweep.objects.for_team(sweep.team).filter(pk=sweep.pk).delete()
        comments_remove(sweep.team, "sweep", [sweep.pk])


# --------------------------------------------------------------------------- next trial


class SweepDone(Conflict):
    code = "sweep_done"


def _done(sweep: Sweep, reason: str, message: str) -> SweepDone:
    return SweepDone(message, detail={"state": sweep.state, "reason": reason})


def _new_run_uid(team, project) -> str:
    """A run id no run and no trial of the project has (checked under the sweep lock;
    the unique constraint catches a concurrent trial of another sweep)."""
    for _ in range(20):
        uid = _uid()
        taken = (
            Run.objects.for_team(team).filter(project=project, uid=uid).exists()
            or SweepTrial.objects.for_team(team).filter(project=project, run_uid=uid).exists()
        )
        if not taken:
            return uid
    raise Conflict("Could not allocate a run id; try again.", code="run_id_taken")


def _handed_out(team, sweep: Sweep) -> int:
    return SweepTrial.objects.for_team(team).filter(sweep=sweep, prior=False).count()


def trial_next(*, team, sweep: Sweep, agent: Any = None) -> SweepTrial:
    """The next trial of a running sweep (409 `sweep_done` with the reason otherwise)."""
    if agent is not None and (not isinstance(agent, str) or len(agent) > MAX_AGENT):
        raise field_error(f"agent must be a string of at most {MAX_AGENT} characters.", "agent")
    if agent and "\x00" in agent:
        raise field_error("agent must not contain NUL characters.", "agent")
    done = None
    with transaction.atomic():
        locked = Sweep.objects.for_team(team).select_for_update().filter(pk=sweep.pk).first()
        if locked is None:
            raise NotFound("Sweep not found.")
        locked.team, locked.project = team, sweep.project
        # Only the trials in flight can have changed (ended ones are final): a trial ended
        # (or changed): a new history, for which the controller computes ahead.
        active = selectors.trials_observed(team, locked, selectors.IN_FLIGHT_STATES)
        refill = controller.store_observed(team, locked, active)

        requeued = [t for t in active if t.state == TrialState.REQUEUED]
        if locked.state != SweepState.RUNNING:
            done = _done(locked, locked.state, f"The sweep is {locked.state}.")
        elif requeued:
            # A crashed or preempted trial first: same run id and params, one more attempt
            # (not a new trial, so run_cap does not count it again).
            trial = _trial_rerun(team, requeued[0], agent or "")
        elif locked.run_cap is not None and _handed_out(team, locked) >= locked.run_cap:
            done = _done(locked, "run_cap", f"The sweep reached its run_cap of {locked.run_cap}.")
        else:
            queued = controller.pop(team, locked)
            try:
                if queued is not None:
                    params = queued.params
                else:  # no worker, or it has not caught up: inline, never a stall
                    refill = True
                    trials = selectors.trials_observed(team, locked)  # all, for the engine
                    controller.store_observed(team, locked, trials)
                    finished, pending = controller.engine_inputs(trials)
                    params = controller.suggest(locked, finished, pending, len(trials))
            except grid.SweepExhausted:
                done = _done(locked, "exhausted", "Every combination of the grid has been used.")
            else:
                trial = _trial_create(team, locked, params, agent or "")
                trial.served_from = "queue" if queued is not None else "inline"
                refill = True  # top the queue up again (a no-op when it is full)
                locked.updated_at = timezone.now()
                locked.save(update_fields=["updated_at"])
        if refill and locked.state == SweepState.RUNNING:
            tasks.request_refill(team, locked)
        if done is None:
            _publish_trial(team, locked, trial)
    if done is not None:
        raise done
    return trial


def _publish_trial(team, sweep: Sweep, trial: SweepTrial) -> None:
    """A live event for the sweep page (on the project's events socket, after commit):
    a trial was handed out. Its run's own events say the rest (created, state)."""
    events.publish_on_commit(
        [groups.project_group(team.pk, sweep.project_id)],
        # No "run" key: the workspace reads those as run rows (this run may not exist yet).
        {"type": "sweep_trial", "sweep": sweep.uid, "trial": trial.run_uid},
    )


def _trial_rerun(team, trial: SweepTrial, agent: str) -> SweepTrial:
    trial.attempts += 1
    trial.attempt_at = timezone.now()
    trial.state = TrialState.PENDING
    trial.preempting = False
    trial.agent = agent
    trial.save(update_fields=["attempts", "attempt_at", "state", "preempting", "agent"])
    return trial


def trial_mark_preempting(*, team, sweep: Sweep, run_uid: str) -> SweepTrial:
    """run.mark_preempting() / SIGTERM to the agent: if the trial's run now ends without
    finishing (failed, or crashed), the trial is preempted and re-queued while attempts
    are left. A run that still finishes normally stays finished."""
    trial = selectors.trial_get(team, sweep, run_uid)
    SweepTrial.objects.for_team(team).filter(pk=trial.pk).update(preempting=True)
    trial.preempting = True
    return trial


def _trial_create(team, sweep: Sweep, params: dict, agent: str) -> SweepTrial:
    for _ in range(5):
        try:
            with transaction.atomic():
                return SweepTrial.objects.for_team(team).create(
                    team=team,
                    sweep=sweep,
                    project=sweep.project,
                    run_uid=_new_run_uid(team, sweep.project),
                    params=params,
                    agent=agent,
                )
        except IntegrityError:
            continue  # another sweep of the project took the same id a moment ago
    raise Conflict("Could not allocate a run id; try again.", code="run_id_taken")


# --------------------------------------------------------------------------- early stop


def _finite_values(team, run: Run, key: str, limit: int) -> list[float]:
    """The run's first `limit` finite values of `key`, in step order."""
    values: list[float] = []
    cursor = None
    while True:
        page = history.scan(team, run, keys=[key], cursor=cursor, page_size=history.MAX_SCAN_PAGE)
        for row in page.rows:
            value = row.get(key)  # non-finite values come back as strings: skipped
            if isinstance(value, int | float) and not isinstance(value, bool):
                values.append(float(value))
                if len(values) >= limit:
                    return values
        if page.next_cursor is None:
            return values
        cursor = page.next_cursor


def _fill_milestones(team, trial: SweepTrial, run: Run, key: str, bands: list[int]) -> bool:
    """Add the run's values at `bands` (those it has reached) to `trial.milestones`, with
    one history read of the first max(bands) values. True if anything was added."""
    missing = [b for b in bands if str(b) not in trial.milestones]
    if not missing:
        return False
    values = _finite_values(team, run, key, max(missing))
    added = {str(b): values[b - 1] for b in missing if b <= len(values)}
    trial.milestones = {**trial.milestones, **added}
    return bool(added)


def trial_should_stop(*, team, sweep: Sweep, run_uid: str) -> tuple[bool, str]:
    """Whether early termination says the trial's run should stop now, and why. A stop
    decision is stored on the trial (state `stopped`) and sticks.

    Reads rollups, not histories: each run's count and best of the metric come from its
    key summary (MetricKey), and the values at milestones are read from the history once
    per (run, milestone) and kept on the trial (`milestones`)."""
    trial = selectors.trial_get(team, sweep, run_uid)
    if trial.state == TrialState.STOPPED:
        return True, trial.stop_reason or "stopped by early termination"
    if sweep.state == SweepState.CANCELLED:
        return True, "the sweep was cancelled"
    if "early_terminate" not in sweep.config:
        return False, "the sweep has no early termination"
    run = Run.objects.for_team(team).filter(project=sweep.project, uid=run_uid).first()
    if run is None:
        return False, "the run has not started"
    if run.state != RunState.RUNNING:
        return False, f"the run is {run.state}"
    run.team, run.project = team, sweep.project
    hb = hyperband.parse_early_terminate(sweep.config)
    key = sweep.metric_name

    trials = {
        t.run_uid: t
        for t in SweepTrial.objects.for_team(team).filter(sweep=sweep).only("run_uid", "milestones")
    }
    # Upper bounds on each run's finite values of the metric (count less NaNs; an inf is
    # counted, the read then finds fewer values) and its best so far, from the rollups.
    rollups = {
        uid: (count - nan_count, low, high)
        for uid, count, nan_count, low, high in MetricKey.objects.for_team(team)
        .filter(run__project=sweep.project, run__uid__in=list(trials), name=key)
        .values_list("run__uid", "count", "nan_count", "min", "max")
    }
    own = trials[run_uid]
    own_count, low, high = rollups.get(run_uid, (0, None, None))
    changed: list[SweepTrial] = []
    if _fill_milestones(team, own, run, key, [b for b in hb.bands if b <= own_count]):
        changed.append(own)
    reached = [b for b in hb.bands if str(b) in own.milestones]
    if not reached:
        _store_milestones(team, changed)
        return False, (
            f"the run logged {own_count} values of {key}; the first milestone is {hb.bands[0]}"
        )
    # Other runs' values at the milestones the run reached, highest first, read once each.
    others = [t for uid, t in trials.items() if uid != run_uid]
    for band in reversed(reached):
        unread = [
            o.run_uid
            for o in others
            if str(band) not in o.milestones and rollups.get(o.run_uid, (0,))[0] >= band
        ]
        for other_run in run_selectors.runs_get_many(team, sweep.project, unread):
            other = trials[other_run.uid]
            if _fill_milestones(team, other, other_run, key, [b for b in hb.bands if b <= band]):
                changed.append(other)
        if any(str(band) in o.milestones for o in others):
            break  # the highest milestone with a comparison: judged there
    _store_milestones(team, changed)

    best = (high if hb.goal == "maximize" else low) if low is not None else None
    decision = hyperband.decide_at_milestones(
        sweep.config,
        {int(b): v for b, v in own.milestones.items()},
        [{int(b): v for b, v in o.milestones.items()} for o in others],
        best=best,
    )
    if decision.threshold is None:
        return False, (
            f"hyperband: no other run has reached milestone {reached[-1]} or below with {key} yet"
        )
    sign = -1.0 if hb.goal == "maximize" else 1.0
    value, threshold, milestone = (
        sign * decision.value,
        sign * decision.threshold,
        decision.milestone,
    )
    if not decision.stop:
        return False, (
            f"hyperband: {key} = {value:g} at milestone {milestone} is not "
            f"worse than the threshold {threshold:g}"
        )
    reason = (
        f"hyperband: {key} = {value:g} at milestone {milestone} is worse than "
        f"the threshold {threshold:g}"
    )
    SweepTrial.objects.for_team(team).filter(pk=trial.pk).exclude(state=TrialState.STOPPED).update(
        state=TrialState.STOPPED, stop_reason=reason[:512]
    )
    return True, reason


def _store_milestones(team, trials: list[SweepTrial]) -> None:
    if trials:
        SweepTrial.objects.for_team(team).bulk_update(
            list({t.pk: t for t in trials}.values()), ["milestones"]
        )
