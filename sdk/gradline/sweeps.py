"""Sweeps: `wandb.sweep()`, `wandb.agent()` and the `gradline sweep` / `gradline agent`
commands. The server is the controller (docs/sweeps.md): the agent only asks it for the
next trial, starts that run, and asks whether early termination wants the run stopped.

How a trial reaches `init()`:
- `agent(sweep_id, function)` sets the trial this process runs next; the first `init()`
  inside `function` starts exactly that run (id, project, locked config).
- `gradline agent` starts the sweep's program with the trial in the environment
  (GRADLINE_SWEEP_ID, GRADLINE_RUN_ID, GRADLINE_SWEEP_PARAMS as JSON, GRADLINE_PROJECT,
  GRADLINE_ENTITY); the first `init()` of that program starts it the same way.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote

import orjson

from gradline import settings as settings_mod
from gradline.pipeline import stderr_report
from gradline.transport import Backoff, CommError, HttpClient, UsageError

SWEEP_ID_ENV = "GRADLINE_SWEEP_ID"
PARAMS_ENV = "GRADLINE_SWEEP_PARAMS"
# `gradline agent` creates this file just before it SIGTERMs a program that early
# termination stopped, so the program finishes its run as finished, not failed (143).
STOP_FILE_ENV = "GRADLINE_SWEEP_STOP_FILE"
# The trial's attempt (1, then 2, ... when a crashed or preempted trial is re-run).
ATTEMPT_ENV = "GRADLINE_SWEEP_ATTEMPT"
DEFAULT_COMMAND = ["${env}", "${interpreter}", "${program}", "${args}"]
NEXT_ATTEMPTS = 8  # tries of one `next` request on connection errors / 5xx


@dataclasses.dataclass
class Trial:
    sweep_id: str
    entity: str | None
    project: str | None
    run_id: str
    params: dict
    run: Any = None  # the gradline Run that init() started for it
    stop_file: str | None = None
    attempt: int = 1  # > 1: a re-run of a crashed or preempted trial; its run resumes
    preempting: bool = False  # the agent told the server (SIGTERM)


_next_trial: Trial | None = None  # set by agent() around function()
_env_trial_taken = False
_created: dict[str, tuple[str, str]] = {}  # sweep id -> (team, project) created here


# -- the trial the next init() starts -------------------------------------------------
def claim_trial() -> Trial | None:
    """The trial the next `init()` starts, each handed out once: the one `agent()` runs
    in this process, else the one `gradline agent` passed in the environment."""
    global _next_trial, _env_trial_taken
    if _next_trial is not None:
        trial, _next_trial = _next_trial, None
        return trial
    sweep_id = os.environ.get(SWEEP_ID_ENV)
    run_id = os.environ.get("GRADLINE_RUN_ID")
    if _env_trial_taken or not sweep_id or not run_id:
        return None
    _env_trial_taken = True
    try:
        params = orjson.loads(os.environ.get(PARAMS_ENV) or "{}")
    except orjson.JSONDecodeError as exc:
        raise UsageError(f"{PARAMS_ENV} is not valid JSON: {exc}") from None
    try:
        attempt = max(1, int(os.environ.get(ATTEMPT_ENV) or 1))
    except ValueError:
        attempt = 1
    return Trial(
        sweep_id=sweep_id,
        entity=os.environ.get("GRADLINE_ENTITY"),
        project=os.environ.get("GRADLINE_PROJECT"),
        run_id=run_id,
        params=params if isinstance(params, dict) else {},
        stop_file=os.environ.get(STOP_FILE_ENV),
        attempt=attempt,
    )


def init_arguments(
    trial: Trial,
    project: str | None,
    entity: str | None,
    job_type: str | None,
    resume: Any = None,
) -> dict:
    """What init() uses for a sweep run: the sweep's project and team win over the
    script's (the trial belongs to them), with one line saying so. A re-run (attempt
    > 1) resumes its run unless the script chose a resume mode itself."""
    report = stderr_report(False)
    pairs = (("project", project, trial.project), ("entity", entity, trial.entity))
    for what, given, of_sweep in pairs:
        if given and of_sweep and given != of_sweep:
            report(
                f"gradline: run {trial.run_id} belongs to sweep {trial.sweep_id} in "
                f"{trial.entity}/{trial.project}; ignoring {what}={given!r}"
            )
    return {
        "project": trial.project or project,
        "entity": trial.entity or entity,
        "run_id": trial.run_id,
        "job_type": job_type or "sweep",
        "sweep_params": trial.params,
        "resume": "allow" if resume is None and trial.attempt > 1 else resume,
    }


def stopped_by_sweep() -> bool:
    """In a program `gradline agent` runs: did the agent stop it for early termination?"""
    path = os.environ.get(STOP_FILE_ENV)
    return bool(path) and os.path.exists(path)


def mark_preempting(run: Any) -> bool:
    """W&B's `run.mark_preempting()`: tell the sweep that this trial's run is being
    preempted, so that when it ends unfinished (failed, e.g. by SIGTERM, or crashed) the
    trial is re-queued and re-run, resuming this run. False (and one line) for a run that
    is not a sweep trial, or when the server cannot be told."""
    report = stderr_report(False)
    if getattr(run, "mode", None) != "online" or not getattr(run, "sweep_id", None):
        report("gradline: mark_preempting(): this run is not an online sweep trial; nothing to do")
        return False
    settings = run.settings
    client = HttpClient(settings.base_url, settings.api_key, settings.http_timeout)
    path = (
        f"/api/v1/teams/{_q(run.entity)}/projects/{_q(run.project)}/sweeps/"
        f"{_q(run.sweep_id)}/trials/{_q(run.id)}/preempting"
    )
    try:
        client.json("POST", path, json={})
    except CommError as exc:
        report(f"gradline: mark_preempting(): the server was not told ({exc.message})")
        return False
    finally:
        client.close()
    return True


# -- server access --------------------------------------------------------------------
def _q(part: str) -> str:
    return quote(str(part), safe="")


class _Sweeps:
    """The sweep routes of one project (settings from the environment / login file)."""

    def __init__(self, entity: str | None, project: str | None, settings: Any = None):
        self.settings = settings or settings_mod.load()
        if not self.settings.api_key:
            raise UsageError(
                "No API key. Run `gradline login` or set GRADLINE_API_KEY "
                f"(server: {self.settings.base_url})."
            )
        self.client = HttpClient(
            self.settings.base_url, self.settings.api_key, self.settings.http_timeout
        )
        self.entity = entity or self.settings.entity or self._default_team()
        self.project = project or self.settings.project or "uncategorized"

    def _default_team(self) -> str:
        viewer = self.client.json("GET", "/api/v1/viewer") or {}
        team = viewer.get("default_team")
        if not team:
            raise UsageError("this API key has no default team: pass entity=")
        return team

    @property
    def base(self) -> str:
        return f"/api/v1/teams/{_q(self.entity)}/projects/{_q(self.project)}/sweeps"

    def url(self, sweep_id: str) -> str:
        return f"{self.settings.base_url}/{self.entity}/{self.project}/sweeps/{sweep_id}"


def parse_sweep_path(
    sweep_id: str, entity: str | None, project: str | None
) -> tuple[str, str | None, str | None]:
    """ "id", "project/id" or "team/project/id" -> (id, team, project)."""
    parts = [p for p in str(sweep_id).strip("/").split("/") if p]
    if not parts or len(parts) > 3:
        raise ValueError(f"sweep id {sweep_id!r}: expected 'id', 'project/id' or 'team/project/id'")
    sid = parts[-1]
    if len(parts) == 3:
        return sid, parts[0], parts[1]
    if len(parts) == 2:
        return sid, entity, parts[0]
    if project is None and sid in _created:
        created_entity, project = _created[sid]
        entity = entity or created_entity
    return sid, entity, project


# -- wandb.sweep ----------------------------------------------------------------------
def sweep(
    sweep: Any,
    entity: str | None = None,
    project: str | None = None,
    prior_runs: list[str] | None = None,
) -> str:
    """Create a sweep from a W&B sweep config (a dict, or a callable returning one);
    returns its id."""
    config = sweep() if callable(sweep) else sweep
    if hasattr(config, "items") and not isinstance(config, dict):
        config = dict(config.items())
    if not isinstance(config, dict):
        raise TypeError("sweep() takes a sweep config dict")
    api = _Sweeps(entity or config.get("entity"), project or config.get("project"))
    report = stderr_report(api.settings.silent)
    body: dict = {"config": config}
    if prior_runs:  # existing runs (ids or paths) the engines learn from
        body["prior_runs"] = [getattr(r, "id", r) for r in prior_runs]
    try:
        created = api.client.json("POST", api.base, json=body)
    except CommError as exc:
        raise _refused(exc, "the server refused the sweep config") from None
    sweep_id = created["id"]
    _created[sweep_id] = (api.entity, api.project)
    report(
        f"gradline: created sweep {sweep_id} in {api.entity}/{api.project}: {api.url(sweep_id)} "
        f"(run it with `gradline agent {api.entity}/{api.project}/{sweep_id}`)"
    )
    return sweep_id


def read_sweep_config(path: str) -> dict:
    """JSON, or YAML when PyYAML is installed (it is not a dependency)."""
    with open(path, "rb") as fh:
        raw = fh.read()
    if path.endswith((".yaml", ".yml")):
        try:
            import yaml
        except ImportError:
            raise ValueError(
                f"{path}: reading YAML needs PyYAML (pip install pyyaml); or write the "
                "config as JSON"
            ) from None
        try:
            config = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise ValueError(f"{path} is not valid YAML: {exc}") from None
    else:
        try:
            config = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(config, dict):
        raise ValueError(f"{path}: a sweep config is a mapping (method, metric, parameters …)")
    return config


def _refused(exc: CommError, what: str) -> Exception:
    if exc.status is not None and 400 <= exc.status < 500 and exc.status != 429:
        field = (exc.detail or {}).get("field") if isinstance(exc.detail, dict) else None
        return UsageError(f"{what}: {exc.message}" + (f" (field {field})" if field else ""))
    return exc


# -- wandb.agent ----------------------------------------------------------------------
def agent(
    sweep_id: str,
    function: Callable[[], Any] | None = None,
    entity: str | None = None,
    project: str | None = None,
    count: int | None = None,
) -> None:
    """Run trials of a sweep until the server says it is done, or `count` runs. Without
    `function`, runs the sweep config's `program` per trial, as `gradline agent` does.
    (`gradline.agent(..., local=True)`: an offline sweep, gradline/sweeps_local.py.)"""
    sid, entity, project = parse_sweep_path(sweep_id, entity, project)
    Agent(sid, entity, project, function=function, count=count).run()


class Agent:
    def __init__(
        self,
        sweep_id: str,
        entity: str | None,
        project: str | None,
        *,
        function: Callable[[], Any] | None = None,
        count: int | None = None,
        settings: Any = None,
    ):
        if count is not None and int(count) < 1:
            raise ValueError("count must be at least 1")
        self.sweep_id = sweep_id
        self.api = _Sweeps(entity, project, settings)
        self.function = function
        self.count = None if count is None else int(count)
        self.report = stderr_report(self.api.settings.silent)
        self.always = stderr_report(False)
        self.label = f"{socket.gethostname()}-{os.getpid()}"
        self._config: dict | None = None

    # -- the loop ----------------------------------------------------------------------
    def run(self) -> int:
        """Returns the number of trials run. SIGTERM (a preemption) marks the current
        trial preempting, ends its run and stops the agent; the sweep re-runs the trial."""
        previous = None
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGTERM, _raise_preempted)
        try:
            return self._loop()
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    def _loop(self) -> int:
        done = 0
        trial: Trial | None = None
        try:
            while self.count is None or done < self.count:
                trial = self._next()
                if trial is None:
                    return done
                done += 1
                self.report(
                    f"gradline: sweep {self.sweep_id}: starting run {trial.run_id} with "
                    f"{orjson.dumps(trial.params).decode()}"
                )
                if self.function is not None:
                    self._run_function(trial)
                else:
                    self._run_program(trial)
                trial = None
        except KeyboardInterrupt:
            if trial is not None:
                self._finish(trial, 130)
            which = f"; run {trial.run_id} finished as failed" if trial is not None else ""
            self.always(f"gradline: agent stopped (Ctrl-C){which}")
            return done
        except _Preempted:
            which = ""
            if trial is not None:
                if trial.run is not None or self.function is None:
                    self._mark_preempting(trial)  # the program's run: marked before it ends
                self._finish(trial, 128 + signal.SIGTERM)
                which = f"; run {trial.run_id} is re-run by the next agent (attempts left)"
            self.always(f"gradline: agent preempted (SIGTERM){which}")
            return done
        self.report(f"gradline: agent done: {done} run(s) (count={self.count})")
        return done

    def _next(self) -> Trial | None:
        path = f"{self.api.base}/{_q(self.sweep_id)}/next"
        backoff = Backoff(cap=self.api.settings.retry_max_backoff)
        for attempt in range(NEXT_ATTEMPTS):
            try:
                data = self.api.client.json("POST", path, json={"agent": self.label})
            except CommError as exc:
                if exc.status == 409 and exc.code == "sweep_done":
                    detail = exc.detail if isinstance(exc.detail, dict) else {}
                    reason = detail.get("reason") or detail.get("state") or "done"
                    self.always(f"gradline: sweep {self.sweep_id} has no more runs ({reason})")
                    return None
                if exc.status == 404:
                    raise UsageError(
                        f"sweep {self.sweep_id} not found in {self.api.entity}/"
                        f"{self.api.project}; give 'team/project/{self.sweep_id}'"
                    ) from None
                if not exc.retryable or attempt == NEXT_ATTEMPTS - 1:
                    raise
                time.sleep(backoff.next(exc.retry_after))
                continue
            return Trial(
                sweep_id=self.sweep_id,
                entity=self.api.entity,
                project=self.api.project,
                run_id=data["run"],
                params=dict(data.get("params") or {}),
                attempt=int(data.get("attempt") or 1),
            )
        return None

    def _mark_preempting(self, trial: Trial) -> None:
        if trial.preempting:
            return
        path = f"{self.api.base}/{_q(self.sweep_id)}/trials/{_q(trial.run_id)}/preempting"
        try:
            self.api.client.json("POST", path, json={})
        except CommError as exc:
            self.always(f"gradline: could not mark run {trial.run_id} preempting ({exc.message})")
        trial.preempting = True

    def _stop_path(self, trial: Trial) -> str:
        return f"{self.api.base}/{_q(self.sweep_id)}/trials/{_q(trial.run_id)}/stop"

    # -- a function in this process ----------------------------------------------------
    def _run_function(self, trial: Trial) -> None:
        global _next_trial
        interrupt = _MainInterrupt()
        watcher = StopWatcher(self.api.settings, self._stop_path(trial), interrupt.stop)
        _next_trial = trial
        exit_code, outcome = 0, "finished"
        with interrupt:
            watcher.start()
            try:
                interrupt.armed = True
                self.function()
                interrupt.armed = False
            except KeyboardInterrupt:
                interrupt.armed = False
                if not interrupt.stop_requested:
                    raise  # Ctrl-C: run() finishes the run as failed and stops
                outcome = "stopped"
            except SystemExit as exc:
                interrupt.armed = False
                code = exc.code
                exit_code = code if isinstance(code, int) else (0 if code is None else 1)
                outcome = "finished" if exit_code == 0 else f"failed (sys.exit({exc.code!r}))"
            except Exception:
                interrupt.armed = False
                traceback.print_exc()  # before finish: the run's console keeps it
                exit_code, outcome = 1, "failed (exception)"
            finally:
                interrupt.armed = False
                watcher.close()
                _next_trial = None
        if trial.run is None:
            self.always(
                f"gradline: the function did not call gradline.init(); trial run "
                f"{trial.run_id} of sweep {self.sweep_id} was not started"
            )
            return
        if outcome == "stopped":
            self.always(
                f"gradline: early termination stopped run {trial.run_id}"
                + (f" ({watcher.reason})" if watcher.reason else "")
            )
        self._finish(trial, exit_code)
        if outcome.startswith("failed"):
            self.always(f"gradline: run {trial.run_id} {outcome}; the agent goes on")

    def _finish(self, trial: Trial, exit_code: int) -> None:
        run = trial.run
        if run is not None and not run._finished:
            run.finish(exit_code=exit_code)

    # -- the sweep's program in a subprocess -------------------------------------------
    def _sweep_config(self) -> dict:
        if self._config is None:
            data = self.api.client.json("GET", f"{self.api.base}/{_q(self.sweep_id)}")
            self._config = dict((data or {}).get("config") or {})
        return self._config

    def _run_program(self, trial: Trial) -> None:
        config = self._sweep_config()
        if not config.get("program") and not config.get("command"):
            raise UsageError(
                f"sweep {self.sweep_id} has no program in its config; add `program: train.py` "
                "or use gradline.agent(sweep_id, function=train)"
            )
        with tempfile.TemporaryDirectory(prefix="gradline-agent-") as tmp:
            stop_file = str(Path(tmp) / "stopped")
            argv = build_command(config, trial.params, Path(tmp))
            env = {
                **os.environ,
                SWEEP_ID_ENV: self.sweep_id,
                "GRADLINE_RUN_ID": trial.run_id,
                PARAMS_ENV: orjson.dumps(trial.params).decode(),
                "GRADLINE_PROJECT": self.api.project,
                "GRADLINE_ENTITY": self.api.entity,
                STOP_FILE_ENV: stop_file,
                ATTEMPT_ENV: str(trial.attempt),
            }
            try:
                proc = subprocess.Popen(argv, env=env)  # noqa: S603 - the sweep's own command
            except OSError as exc:
                raise UsageError(f"cannot start the sweep's program {argv}: {exc}") from None
            stop = threading.Event()
            watcher = StopWatcher(self.api.settings, self._stop_path(trial), stop.set)
            watcher.start()
            try:
                while proc.poll() is None:
                    if stop.wait(0.2):
                        Path(stop_file).touch()
                        self.always(
                            f"gradline: early termination stops run {trial.run_id}"
                            + (f" ({watcher.reason})" if watcher.reason else "")
                        )
                        self._terminate(proc)
                        break
            except KeyboardInterrupt:
                self._terminate(proc)  # its own Ctrl-C finishes its run as failed
                raise
            except _Preempted:
                # Marked first, so the run the program ends (SIGTERM: failed, 143) re-queues.
                self._mark_preempting(trial)
                self._terminate(proc)
                raise
            finally:
                watcher.close()
            code = proc.wait()
            if code != 0 and not stop.is_set():
                self.always(
                    f"gradline: run {trial.run_id} exited with code {code}; the agent goes on"
                )

    def _terminate(self, proc: subprocess.Popen) -> None:
        """SIGTERM, then SIGKILL after the sweep_stop_grace setting."""
        if proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(self.api.settings.sweep_stop_grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def build_command(config: dict, params: dict, tmp: Path) -> list[str]:
    """W&B's `command` with its macros; default `${env} ${interpreter} ${program} ${args}`."""
    flags, no_hyphens, no_booleans = [], [], []
    for key, value in params.items():
        flag = f"{key}={value}"  # W&B formats values with str()
        flags.append(f"--{flag}")
        no_hyphens.append(flag)
        if isinstance(value, bool):
            if value:
                no_booleans.append(f"--{key}")
        else:
            no_booleans.append(f"--{flag}")
    json_file = tmp / "args.json"
    json_file.write_bytes(orjson.dumps(params))
    env = ["/usr/bin/env"] if os.path.exists("/usr/bin/env") else []
    macros: dict[str, list[str]] = {
        "${env}": env,
        "${interpreter}": [sys.executable],
        "${program}": [str(config.get("program") or "")],
        "${args}": flags,
        "${args_no_hyphens}": no_hyphens,
        "${args_no_boolean_flags}": no_booleans,
        "${args_json}": [orjson.dumps(params).decode()],
        "${args_json_file}": [str(json_file)],
    }
    argv: list[str] = []
    for part in config.get("command") or DEFAULT_COMMAND:
        part = str(part)
        argv.extend(macros.get(part, [part]))
    return argv


class _Preempted(BaseException):
    """SIGTERM reached the agent (a preemption); not an Exception, so train() code that
    catches Exception does not swallow it."""


def _raise_preempted(signum: int, frame: Any) -> None:
    raise _Preempted


# -- early termination ----------------------------------------------------------------
class StopWatcher(threading.Thread):
    """Asks the server every `sweep_stop_interval` seconds whether early termination
    wants this trial stopped; calls `on_stop` once when it does."""

    def __init__(self, settings: Any, path: str, on_stop: Callable[[], None]):
        super().__init__(name="gradline-sweep-stop", daemon=True)
        self.settings = settings
        self.path = path
        self.on_stop = on_stop
        self.reason: str | None = None
        self._closed = threading.Event()

    def run(self) -> None:
        client = HttpClient(self.settings.base_url, self.settings.api_key, 10.0)
        try:
            while not self._closed.wait(self.settings.sweep_stop_interval):
                try:
                    answer = client.json("GET", self.path) or {}
                except CommError as exc:
                    if exc.retryable:
                        continue
                    stderr_report(False)(
                        f"gradline: early-termination checks stopped ({exc.message}); "
                        "the run goes on"
                    )
                    return
                if answer.get("stop") and not self._closed.is_set():
                    self.reason = answer.get("reason")
                    self.on_stop()
                    return
        finally:
            client.close()

    def close(self) -> None:
        self._closed.set()
        if self.is_alive() and self is not threading.current_thread():
            self.join(15)


class _MainInterrupt:
    """Interrupts `function()` in the main thread with KeyboardInterrupt when early
    termination stops its run, as W&B does. A real SIGINT (not interrupt_main) so a
    blocking sleep or wait is woken too; our handler ignores a stop that arrives after
    the function returned."""

    def __init__(self) -> None:
        self.armed = False
        self.stop_requested = False
        self._main = threading.current_thread() is threading.main_thread()
        self._previous: Any = None

    def __enter__(self) -> _MainInterrupt:
        if self._main:
            self._previous = signal.signal(signal.SIGINT, self._on_sigint)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._main and self._previous is not None:  # None: installed outside Python
            signal.signal(signal.SIGINT, self._previous)

    def _on_sigint(self, signum: int, frame: Any) -> None:
        if self.stop_requested and not self.armed:
            return  # the function already returned; nothing to interrupt
        raise KeyboardInterrupt

    def stop(self) -> None:
        self.stop_requested = True
        if not self._main:
            stderr_report(False)(
                "gradline: early termination asks to stop the run, but agent() does not run "
                "in the main thread, so the function cannot be interrupted"
            )
            return
        if hasattr(signal, "pthread_kill"):
            signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
        else:  # Windows
            import _thread

            _thread.interrupt_main()
