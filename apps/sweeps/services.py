"""Sweep writes: create, change state, delete, hand out the next trial, decide early stops.

The server is the sweep's controller (docs/sweeps.md "Sweeps on the server"): each
`trial_next` computes one suggestion with the sweep's strategy under a lock on the sweep
row, so concurrent agents never get the same trial. Every function receives objects
already resolved inside the caller's team scope.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

import orjson
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.automations import hooks as automation_hooks
from apps.core import jsonlimits
from apps.core.errors import Conflict, NotFound, field_error
from apps.projects import services as project_services
from apps.runs.models import Run, RunState
from apps.runs.selectors import history
from apps.runs.selectors import runs as run_selectors
from apps.sweeps import selectors
from apps.sweeps.models import Sweep, SweepState, SweepTrial, TrialState
from apps.sweeps.strategies import bayes, grid, hyperband, random, space, validation

UID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
STRATEGIES = {"grid": grid.suggest, "random": random.suggest, "bayes": bayes.suggest}
MAX_NAME = 128
MAX_AGENT = 128
MAX_RUN_CAP = 2**31 - 1  # Sweep.run_cap is an integer column


def _uid() -> str:
    return "".join(secrets.choice(UID_ALPHABET) for _ in range(8))


# --------------------------------------------------------------------------- create

_PARAMETER = re.compile(r"^parameter (['\"])(.*?)\1")
_EARLY_TERMINATE = re.compile(r"^early_terminate(\.[a-z_]+)?")


def _config_field(message: str) -> str:
    """Which part of the config a validation message of `strategies.space` /
    `strategies.hyperband` is about, as `detail.field` (e.g. config.parameters.lr)."""
    if "needs the sweep's metric" in message or "needs metric.name" in message:
        return "config.metric.name"
    if match := _EARLY_TERMINATE.match(message):
        return f"config.{match.group(0)}"
    if message.startswith("metric.goal"):
        return "config.metric.goal"
    if message.startswith("run_cap"):
        return "config.run_cap"
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


def sweep_create(*, team, project, project_name: str, actor, data: dict) -> Sweep:
    """POST /sweeps: a new sweep in `project`, created on first use when `project` is
    None (as runs do). The config is validated before anything is written."""
    config = validate_config(data.get("config"))
    metric_name, metric_goal = space.metric(config) if "metric" in config else ("", "")
    if project is None:
        project = project_services.project_get_or_create(team=team, name=project_name, actor=actor)
    for _ in range(10):
        uid = _uid()
        try:
            with transaction.atomic():
                sweep = Sweep.objects.for_team(team).create(
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
        except IntegrityError:
            continue  # the id is taken in this project; draw another
        sweep.team, sweep.project = team, project
        return sweep
    raise Conflict("Could not allocate a sweep id; try again.", code="sweep_id_taken")


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
    locked.team, locked.project = sweep.team, sweep.project
    return locked


def sweep_update_state(*, sweep: Sweep, state: str) -> Sweep:
    return sweep_update(sweep=sweep, data={"state": state})


def sweep_delete(*, sweep: Sweep) -> None:
    """The sweep and its trials; the runs stay."""
    Sweep.objects.for_team(sweep.team).filter(pk=sweep.pk).delete()


# --------------------------------------------------------------------------- next trial


class SweepDone(Conflict):
    code = "sweep_done"


def _done(sweep: Sweep, reason: str, message: str) -> SweepDone:
    return SweepDone(message, detail={"state": sweep.state, "reason": reason})


def _seed(sweep: Sweep, trial_count: int) -> int:
    """Deterministic per (sweep, trial number): the same history gives the same trial."""
    return (sweep.pk * 1_000_003 + trial_count) % 2**32


def _json_plain(params: Any) -> Any:
    """Engine output as plain JSON values (numpy scalars become Python numbers)."""
    return orjson.loads(orjson.dumps(params, option=orjson.OPT_SERIALIZE_NUMPY))


def _store_observed(team, trials: list[SweepTrial]) -> None:
    changed = [t for t in trials if t.changed]
    if changed:
        SweepTrial.objects.for_team(team).bulk_update(changed, ["state", "metric"])


def _engine_inputs(trials: list[SweepTrial]) -> tuple[list, list]:
    """(finished, pending) as the strategies take them: ended runs with their metric
    (None for failed or crashed runs, and for finished runs that never logged it),
    oldest first; params of trials whose run has not started or still runs."""
    finished, pending = [], []
    for trial in trials:
        if trial.run_state in selectors.ENDED_RUN_STATES:
            finished.append((trial.params, trial.metric))
        else:
            pending.append(trial.params)
    return finished, pending


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
        trials = selectors.trials_observed(team, locked)
        _store_observed(team, trials)

        requeued = [t for t in trials if t.state == TrialState.REQUEUED]
        if locked.state != SweepState.RUNNING:
            done = _done(locked, locked.state, f"The sweep is {locked.state}.")
        elif requeued:
            # A crashed or preempted trial first: same run id and params, one more attempt
            # (not a new trial, so run_cap does not count it again).
            trial = _trial_rerun(team, requeued[0], agent or "")
        elif locked.run_cap is not None and len(trials) >= locked.run_cap:
            done = _done(locked, "run_cap", f"The sweep reached its run_cap of {locked.run_cap}.")
        else:
            finished, pending = _engine_inputs(trials)
            suggest = STRATEGIES[locked.method]
            try:
                params = suggest(
                    locked.config, finished, seed=_seed(locked, len(trials)), pending=pending
                )
            except grid.SweepExhausted:
                done = _done(locked, "exhausted", "Every combination of the grid has been used.")
            else:
                if isinstance(params, tuple):  # (params, info) from model-based engines
                    params = params[0]
                trial = _trial_create(team, locked, _json_plain(params), agent or "")
                locked.updated_at = timezone.now()
                locked.save(update_fields=["updated_at"])
    if done is not None:
        raise done
    return trial


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


def _finite_values(team, run: Run, key: str, limit: int | None) -> list[float]:
    """The run's finite values of `key` in step order (the first `limit` of them)."""
    values: list[float] = []
    cursor = None
    while True:
        page = history.scan(team, run, keys=[key], cursor=cursor, page_size=history.MAX_SCAN_PAGE)
        for row in page.rows:
            value = row.get(key)  # non-finite values come back as strings: skipped
            if isinstance(value, int | float) and not isinstance(value, bool):
                values.append(float(value))
                if limit is not None and len(values) >= limit:
                    return values
        if page.next_cursor is None:
            return values
        cursor = page.next_cursor


def trial_should_stop(*, team, sweep: Sweep, run_uid: str) -> tuple[bool, str]:
    """Whether early termination says the trial's run should stop now, and why. A stop
    decision is stored on the trial (state `stopped`) and sticks."""
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
    own = _finite_values(team, run, sweep.metric_name, None)
    reached = [b for b in hb.bands if b <= len(own)]
    if not reached:
        return False, (
            f"the run logged {len(own)} values of {sweep.metric_name}; "
            f"the first milestone is {hb.bands[0]}"
        )
    # Thresholds at the run's milestone need the other runs' first `milestone` values.
    milestone = reached[-1]
    uids = list(
        SweepTrial.objects.for_team(team)
        .filter(sweep=sweep)
        .exclude(run_uid=run_uid)
        .values_list("run_uid", flat=True)
    )
    histories = {run_uid: own}
    for other in run_selectors.runs_get_many(team, sweep.project, uids):
        histories[other.uid] = _finite_values(team, other, sweep.metric_name, milestone)
    decision = hyperband.decide(sweep.config, histories, [run_uid])[0]
    sign = -1.0 if hb.goal == "maximize" else 1.0
    value, threshold = sign * decision.value, sign * decision.threshold
    if not decision.stop:
        return False, (
            f"hyperband: {sweep.metric_name} = {value:g} at milestone {milestone} is not "
            f"worse than the threshold {threshold:g}"
        )
    reason = (
        f"hyperband: {sweep.metric_name} = {value:g} at milestone {milestone} is worse than "
        f"the threshold {threshold:g}"
    )
    SweepTrial.objects.for_team(team).filter(pk=trial.pk).exclude(state=TrialState.STOPPED).update(
        state=TrialState.STOPPED, stop_reason=reason[:512]
    )
    return True, reason
