"""Offline sweeps: `gradline agent --local CONFIG` runs a sweep with no server at all
(docs/sweeps.md "Offline sweeps"), and `gradline sync` uploads it afterwards.

The agent runs the same engines as the server (`gradline.sweep_engines.history
.suggest_next`, with the same per-trial seed derivation), starts the config's program
per trial exactly as `gradline agent` does (same command macros and environment), with
the run in offline mode so that it writes its local run directory (WAL), and reads the
trial's outcome back from that WAL: the run's state from its finish record, the metric
from its summary. Each trial is recorded in the sweep's ledger,
`<run root>/sweep-<id>/ledger.json`, next to the offline runs.

`gradline sync` finds these ledgers (`find_local_sweeps`), creates the sweep on the
server with its id, config and trials (`POST .../sweeps/import`, idempotent), then
uploads its runs; on the server the trials then follow their runs like any trial.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
import secrets
import socket
import subprocess
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote

import orjson

from gradline import settings as settings_mod
from gradline.pipeline import stderr_report
from gradline.sweeps import (
    ATTEMPT_ENV,
    PARAMS_ENV,
    STOP_FILE_ENV,
    SWEEP_ID_ENV,
    build_command,
    read_sweep_config,
)
from gradline.sweeps import agent as online_agent
from gradline.transport import CommError, HttpClient, UsageError
from gradline.uploader import WAL_FILE

LEDGER_FILE = "ledger.json"
LEDGER_PREFIX = "sweep-"
LEDGER_VERSION = 1
UID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"  # as the server's ids
ENDED = ("finished", "failed", "crashed")  # trial states the engines see as finished


def _uid() -> str:
    return "".join(secrets.choice(UID_ALPHABET) for _ in range(8))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _engines():
    """The engines, imported on use: they need numpy (the `gradline[sweeps]` extra)."""
    from gradline.sweep_engines import grid, history, space, validation

    return grid, history, space, validation


# -- the ledger ---------------------------------------------------------------------
class LocalSweep:
    """One offline sweep's ledger (ledger.json): id, config, where it syncs to, and its
    trials oldest first: {run, params, state, metric, order, run_dir, agent}."""

    def __init__(self, path: Path, data: dict):
        self.path = Path(path)  # the ledger.json file
        self.data = data

    @property
    def dir(self) -> Path:
        return self.path.parent

    @property
    def id(self) -> str:
        return self.data["id"]

    @property
    def config(self) -> dict:
        return self.data["config"]

    @property
    def trials(self) -> list:
        return self.data["trials"]

    @classmethod
    def create(
        cls, root: Path, config: dict, *, entity: str | None, project: str | None
    ) -> LocalSweep:
        root.mkdir(parents=True, exist_ok=True)
        for _ in range(20):
            uid = _uid()
            folder = root / f"{LEDGER_PREFIX}{uid}"
            try:
                folder.mkdir()
            except FileExistsError:
                continue
            sweep = cls(
                folder / LEDGER_FILE,
                {
                    "version": LEDGER_VERSION,
                    "id": uid,
                    "entity": entity,
                    "project": project,
                    "config": config,
                    "created_at": _now(),
                    "trials": [],
                    "synced": None,
                },
            )
            sweep.save()
            return sweep
        raise UsageError(f"cannot allocate a sweep id in {root}")

    @classmethod
    def load(cls, path: Path) -> LocalSweep:
        path = Path(path)
        if path.is_dir():
            path = path / LEDGER_FILE
        try:
            data = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise UsageError(f"{path}: not a readable offline sweep ledger ({exc})") from None
        if not isinstance(data, dict) or not isinstance(data.get("config"), dict):
            raise UsageError(f"{path}: not an offline sweep ledger")
        data.setdefault("trials", [])
        return cls(path, data)

    def save(self) -> None:
        """Atomically (a crash leaves the old ledger or the new one, never half)."""
        fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".sweep-", suffix=".json")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(orjson.dumps(self.data, option=orjson.OPT_INDENT_2))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    @contextlib.contextmanager
    def locked(self):
        """One agent or sync at a time per ledger."""
        fd = os.open(self.dir / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise UsageError(
                    f"offline sweep {self.id} is in use by another process ({self.dir})"
                ) from None
            yield self
        finally:
            os.close(fd)

    def engine_inputs(self) -> tuple[list, list]:
        _, history, _, _ = _engines()
        return history.engine_inputs(
            (t["params"], t.get("state") in ENDED, t.get("metric")) for t in self.trials
        )

    def trial_ids(self) -> set:
        return {t["run"] for t in self.trials}


def find_local_sweeps(paths: list[str] | None, root: Path) -> list[Path]:
    """Ledgers named by `paths` (a ledger file, a sweep folder, or a folder of them);
    with no paths, every ledger under the run root."""
    roots = [Path(p).expanduser() for p in paths] if paths else [root]
    found: list[Path] = []
    for where in roots:
        if where.is_file() and where.name == LEDGER_FILE:
            found.append(where)
        elif (where / LEDGER_FILE).is_file():
            found.append(where / LEDGER_FILE)
        elif where.is_dir():
            found.extend(
                sorted(
                    child / LEDGER_FILE
                    for child in where.iterdir()
                    if child.name.startswith(LEDGER_PREFIX) and (child / LEDGER_FILE).is_file()
                )
            )
    return list(dict.fromkeys(found))


def unsynced_sweeps(root: Path) -> tuple[list[Path], list[Path]]:
    """(every ledger under `root`, those with trials the server has not been sent)."""
    ledgers = find_local_sweeps(None, root)
    unsynced = []
    for path in ledgers:
        try:
            sweep = LocalSweep.load(path)
        except UsageError:
            unsynced.append(path)
            continue
        synced = sweep.data.get("synced") or {}
        if synced.get("trials") != len(sweep.trials):
            unsynced.append(path)
    return ledgers, unsynced


# -- reading a finished offline run ---------------------------------------------------
def find_run_dir(root: Path, run_id: str) -> Path | None:
    """The run directory the program's offline run wrote for `run_id` (newest first)."""
    from gradline.wal import read_all

    candidates = sorted(
        (p for p in root.glob(f"*-{run_id}*") if (p / WAL_FILE).exists()),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for path in candidates:
        read = read_all(str(path / WAL_FILE))
        record = next((r.data for r in read.records if r.kind == "run"), None)
        if record is not None and record.get("id") == run_id:
            return path
    return None


def run_outcome(run_dir: Path, metric_name: str | None) -> tuple[str, float | None, dict]:
    """(state, metric, summary) of a finished offline run as the server will see it once
    synced: the state of its finish record (none: the process died, and sync marks it
    failed), the metric from its summary for a finished run only (finite numbers)."""
    from gradline.wal import read_all

    read = read_all(str(run_dir / WAL_FILE))
    logged: dict = {}  # key -> (step, value) of its last point: the summary's default
    summary: dict = {}  # set explicitly (run.summary[...] = ...), or sent with a batch
    state = "failed"
    for record in read.records:
        data = record.data
        for key, step, value, *_ in _points(record):
            if key not in logged or step >= logged[key][0]:
                logged[key] = (step, value)
        part = data.get("summary")
        if isinstance(part, dict):
            summary.update(part)
        if record.kind == "fin":
            state = data.get("state") or ("finished" if data.get("exit_code") == 0 else "failed")
    summary = {**{k: v for k, (_, v) in logged.items()}, **summary}
    metric = None
    if metric_name and state == "finished":
        value = summary.get(metric_name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = float(value)
            metric = value if math.isfinite(value) else None
    return state, metric, summary


def _points(record) -> list:
    """The [key, step, value, wall_time] points of a WAL record, binary or JSON."""
    from gradline.batchfmt import Decoded
    from gradline.wal import BINARY_KIND

    if record.kind == BINARY_KIND:
        try:
            return Decoded(record.payload).records()[0]
        except (ValueError, KeyError, TypeError):
            return []
    points = record.data.get("points")
    return points if isinstance(points, list) else []


# -- the agent ------------------------------------------------------------------------
class LocalAgent:
    """`gradline agent --local`: a sweep run here with no server (see the module doc)."""

    def __init__(
        self,
        config: dict | None = None,
        *,
        sweep: LocalSweep | None = None,
        count: int | None = None,
        entity: str | None = None,
        project: str | None = None,
        settings: Any = None,
    ):
        if count is not None and int(count) < 1:
            raise ValueError("count must be at least 1")
        self.settings = settings or settings_mod.load()
        self.count = None if count is None else int(count)
        self.report = stderr_report(self.settings.silent)
        self.always = stderr_report(False)
        self.root = self.settings.root_dir
        if sweep is None:
            if not isinstance(config, dict):
                raise TypeError("agent(local=True) takes a sweep config dict")
            config = self._checked(dict(config))
            entity = entity or config.get("entity") or self.settings.entity
            project = project or config.get("project") or self.settings.project
            sweep = LocalSweep.create(
                self.root, config, entity=entity, project=project or "uncategorized"
            )
            self.report(
                f"gradline: created offline sweep {sweep.id} in {sweep.dir} "
                f"(upload it with `gradline sync`)"
            )
        else:
            self.root = sweep.dir.parent  # its runs go beside its ledger
        self.sweep = sweep
        self.label = f"local:{socket.gethostname()}-{os.getpid()}"

    def _checked(self, config: dict) -> dict:
        """The config checked as the server checks it (same engines and messages); a
        config without `seed` gets a random one, kept in it, so the synced sweep goes on
        from the same sequence online."""
        _, history, space, validation = _engines()
        try:
            validation.validate(config)
            if config.get("method") == "bayes" or "early_terminate" in config:
                space.metric(config)
            history.STRATEGIES[config["method"]](config, [], seed=0)
        except (ValueError, TypeError, KeyError, ArithmeticError) as exc:
            raise UsageError(f"the sweep config is invalid: {exc}") from None
        if not config.get("program") and not config.get("command"):
            raise UsageError(
                "an offline sweep runs the config's program per trial: add `program: train.py`"
            )
        if history.config_seed(config) is None:
            config["seed"] = secrets.randbelow(2**31)
        return config

    def run(self) -> int:
        """Runs trials until the engine is exhausted, run_cap or `count`; returns how many
        trials it ran."""
        with self.sweep.locked():
            return self._loop()

    def _loop(self) -> int:
        grid, history, space, _ = _engines()
        sweep, config = self.sweep, self.sweep.config
        metric_name = space.metric(config)[0] if "metric" in config else None
        if "early_terminate" in config:
            self.always(
                "gradline: early_terminate is not supported offline: every trial runs to "
                "its end (the synced sweep stops trials only when run online)"
            )
        for trial in sweep.trials:  # an agent killed mid-trial left it pending
            if trial.get("state") == "pending" and not trial.get("run_dir"):
                self._record(trial, metric_name)
        done = 0
        while self.count is None or done < self.count:
            handed = len(sweep.trials)
            cap = config.get("run_cap")
            if cap is not None and handed >= cap:
                self.always(f"gradline: sweep {sweep.id} has no more runs (run_cap)")
                break
            finished, pending = sweep.engine_inputs()
            seed = history.trial_seed(config, 0, handed)
            try:
                params = history.suggest_next(config, finished, pending, seed=seed)
            except grid.SweepExhausted:
                self.always(f"gradline: sweep {sweep.id} has no more runs (exhausted)")
                break
            run_id = _uid()
            while run_id in sweep.trial_ids():
                run_id = _uid()
            trial = {
                "run": run_id,
                "params": params,
                "state": "pending",
                "metric": None,
                "order": handed,
                "agent": self.label,
                "created_at": _now(),
                "run_dir": None,
            }
            sweep.trials.append(trial)
            sweep.save()  # handed out before it runs: a crash here leaves it pending
            done += 1
            self.report(
                f"gradline: offline sweep {sweep.id}: trial {handed + 1}: starting run "
                f"{run_id} with {orjson.dumps(params).decode()}"
            )
            try:
                code = self._run_program(trial)
            finally:
                self._record(trial, metric_name)
            shown = "" if trial["metric"] is None else f", {metric_name} = {trial['metric']:g}"
            self.report(f"gradline: run {run_id} {trial['state']}{shown}")
            if code != 0 and trial["state"] != "finished":
                self.always(f"gradline: run {run_id} exited with code {code}; the agent goes on")
        self.report(
            f"gradline: offline agent done: {done} run(s); `gradline sync` uploads sweep "
            f"{sweep.id} and its runs"
        )
        return done

    def _record(self, trial: dict, metric_name: str | None) -> None:
        run_dir = find_run_dir(self.root, trial["run"])
        if run_dir is None:  # the program never called init(): on the server it stays pending
            trial["state"] = "pending"
        else:
            trial["state"], trial["metric"], _ = run_outcome(run_dir, metric_name)
            trial["run_dir"] = run_dir.name
        self.sweep.save()

    def _run_program(self, trial: dict) -> int:
        sweep = self.sweep
        with tempfile.TemporaryDirectory(prefix="gradline-agent-") as tmp:
            argv = build_command(sweep.config, trial["params"], Path(tmp))
            env = {
                **os.environ,
                SWEEP_ID_ENV: sweep.id,
                "GRADLINE_RUN_ID": trial["run"],
                PARAMS_ENV: orjson.dumps(trial["params"]).decode(),
                "GRADLINE_PROJECT": sweep.data.get("project") or "uncategorized",
                STOP_FILE_ENV: str(Path(tmp) / "stopped"),  # never created offline
                ATTEMPT_ENV: "1",
                "GRADLINE_MODE": "offline",
                "WANDB_MODE": "offline",
                "GRADLINE_DIR": str(self.root),
            }
            if sweep.data.get("entity"):
                env["GRADLINE_ENTITY"] = sweep.data["entity"]
            else:
                env.pop("GRADLINE_ENTITY", None)
            try:
                proc = subprocess.Popen(argv, env=env)  # noqa: S603 - the sweep's own command
            except OSError as exc:
                raise UsageError(f"cannot start the sweep's program {argv}: {exc}") from None
            try:
                return proc.wait()
            except KeyboardInterrupt:
                proc.terminate()  # its own handler finishes its run as failed
                try:
                    proc.wait(self.settings.sweep_stop_grace)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                raise


def run_local(
    config: dict | str,
    *,
    count: int | None = None,
    entity: str | None = None,
    project: str | None = None,
) -> str:
    """`gradline agent --local`: a new offline sweep from a config (a dict, or the path
    of a JSON / YAML file), or more trials of an existing one (the path of its folder or
    ledger). Returns the sweep id."""
    sweep = None
    if isinstance(config, (str, os.PathLike)):
        path = Path(config)
        if path.is_dir() or path.name == LEDGER_FILE:
            sweep = LocalSweep.load(path)
            config = None
        else:
            config = read_sweep_config(str(path))
    agent = LocalAgent(config, sweep=sweep, count=count, entity=entity, project=project)
    try:
        agent.run()
    except KeyboardInterrupt:
        agent.always(f"gradline: offline agent stopped (Ctrl-C); sweep {agent.sweep.id} kept")
    return agent.sweep.id


def agent(
    sweep_id: Any,
    function: Callable[[], Any] | None = None,
    entity: str | None = None,
    project: str | None = None,
    count: int | None = None,
    local: bool = False,
) -> str | None:
    """`gradline.agent` / `wandb.agent`: the online agent (gradline.sweeps.agent), or with
    `local=True` an offline sweep (`gradline agent --local`): `sweep_id` is then the sweep
    config (a dict or a file path) or an offline sweep's folder; no server is contacted,
    the program's runs are offline runs and `gradline sync` uploads the sweep later.
    Returns the offline sweep's id."""
    if not local:
        online_agent(sweep_id, function, entity=entity, project=project, count=count)
        return None
    if function is not None:
        raise UsageError(
            "agent(local=True) runs the config's program per trial; a function is not "
            "supported offline"
        )
    return run_local(sweep_id, count=count, entity=entity, project=project)


# -- gradline sync --------------------------------------------------------------------
class SweepSyncResult:
    def __init__(self, path: Path):
        self.path = path
        self.sweep_id: str | None = None
        self.status = "pending"  # synced | already | failed
        self.message = ""
        self.url: str | None = None
        self.run_dirs: list[Path] = []
        self.entity: str | None = None  # where its runs go (set once resolved)
        self.project: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("synced", "already")


def sync_sweep(
    path: Path,
    settings: Any,
    *,
    entity: str | None = None,
    project: str | None = None,
    base_url: str | None = None,
    force: bool = False,
    report: Callable[[str], None] | None = None,
) -> SweepSyncResult:
    """Create the offline sweep on the server (idempotent import of its id, config and
    trials). Its runs are uploaded by the caller (`sync_paths`), into the same team and
    project (`result.run_dirs`, with `entity` / `project` set on the result)."""
    result = SweepSyncResult(Path(path))
    try:
        sweep = LocalSweep.load(path)
    except UsageError as exc:
        result.status, result.message = "failed", str(exc)
        return result
    result.sweep_id = sweep.id
    root = sweep.dir.parent  # its runs wait for it, whatever happens below
    result.run_dirs = [root / t["run_dir"] for t in sweep.trials if t.get("run_dir")]
    try:
        with sweep.locked():
            _sync_locked(sweep, result, settings, entity, project, base_url, force)
    except UsageError as exc:  # an agent is running on it: synced once it is done
        result.status, result.message = "active", str(exc)
    if report and result.status == "failed":
        report(f"gradline: sweep {sweep.id}: {result.message}")
    return result


def _sync_locked(sweep, result, settings, entity, project, base_url, force) -> None:
    sweep.data = LocalSweep.load(sweep.path).data  # as the last agent left it
    root = sweep.dir.parent
    result.run_dirs = [root / t["run_dir"] for t in sweep.trials if t.get("run_dir")]
    url = (base_url or settings.base_url).rstrip("/")
    if not settings.api_key:
        result.status = "failed"
        result.message = "no API key: run `gradline login` or set GRADLINE_API_KEY"
        return
    client = HttpClient(url, settings.api_key, settings.http_timeout)
    try:
        team = entity or sweep.data.get("entity") or settings.entity
        if not team:
            team = (client.json("GET", "/api/v1/viewer") or {}).get("default_team")
            if not team:
                raise UsageError("this API key has no default team: pass --entity")
        name = project or sweep.data.get("project") or settings.project or "uncategorized"
        result.entity, result.project = team, name
        synced = sweep.data.get("synced") or {}
        where = {"base_url": url, "entity": team, "project": name}
        if (
            not force
            and {k: synced.get(k) for k in where} == where
            and synced.get("trials") == len(sweep.trials)
        ):
            result.status, result.message = "already", "already synced"
            result.url = synced.get("url")
            return
        body = {
            "id": sweep.id,
            "config": sweep.config,
            "trials": [
                {"run": t["run"], "params": t["params"], "agent": t.get("agent") or ""}
                for t in sweep.trials
            ],
        }
        base = f"/api/v1/teams/{quote(team, safe='')}/projects/{quote(name, safe='')}/sweeps"
        created = client.json("POST", f"{base}/import", json=body) or {}
        result.url = f"{url}/{team}/{name}/sweeps/{sweep.id}"
        sweep.data["synced"] = {
            **where,
            "trials": len(sweep.trials),
            "url": result.url,
            "at": _now(),
        }
        sweep.save()
        result.status = "synced"
        result.message = (
            f"{len(sweep.trials)} trial(s); {created.get('run_count', 0)} on the server"
        )
    except (CommError, UsageError) as exc:
        result.status = "failed"
        result.message = getattr(exc, "message", None) or str(exc)
    finally:
        client.close()


__all__ = [
    "LocalAgent",
    "LocalSweep",
    "agent",
    "find_local_sweeps",
    "run_local",
    "sync_sweep",
]
