"""Gradline SDK: W&B-compatible experiment logging that never loses a point.

import gradline as wandb

wandb.init(project="my-project", config={"lr": 0.01})
wandb.log({"loss": 0.5})
wandb.finish()
"""

from __future__ import annotations

__version__ = "0.1.0"

import warnings
from typing import Any

from gradline import plot
from gradline import settings as _settings_mod
from gradline import sweeps as _sweeps
from gradline.alerts import AlertLevel
from gradline.api import Api
from gradline.artifacts import Artifact, ArtifactTTL
from gradline.data_types import Histogram
from gradline.hooks import HOOKS as _HOOKS
from gradline.later import NotAvailableYet
from gradline.media import Audio, Html, Image, Object3D, Plotly, Video
from gradline.metrics import Metric
from gradline.plot import plot_table
from gradline.run_config import Config, ConfigError
from gradline.settings import Settings
from gradline.sweeps import sweep
from gradline.sweeps_local import agent
from gradline.table import Table
from gradline.tracked_run import Run, start_run
from gradline.transport import CommError, GradlineError, UsageError

Error = GradlineError

__all__ = [
    "AlertLevel",
    "Api",
    "Artifact",
    "ArtifactTTL",
    "Audio",
    "CommError",
    "Config",
    "ConfigError",
    "Error",
    "Histogram",
    "Html",
    "Image",
    "Metric",
    "NotAvailableYet",
    "Object3D",
    "Plotly",
    "Run",
    "Settings",
    "Table",
    "UsageError",
    "Video",
    "agent",
    "alert",
    "config",
    "define_metric",
    "deploy",
    "finish",
    "init",
    "join",
    "link_artifact",
    "link_model",
    "log",
    "log_artifact",
    "log_model",
    "login",
    "plot",
    "plot_table",
    "require",
    "run",
    "save",
    "summary",
    "sweep",
    "termerror",
    "termlog",
    "termwarn",
    "unwatch",
    "use_artifact",
    "use_model",
    "watch",
]


class _PreInit:
    """Stands in for wandb.config / wandb.summary before init(), with a clear error."""

    def __init__(self, name: str):
        object.__setattr__(self, "_name", name)

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise UsageError(f"You must call gradline.init() before using gradline.{self._name}")

    __getattr__ = __getitem__ = __setitem__ = _fail

    def __setattr__(self, key: str, value: Any) -> None:
        self._fail()

    def __repr__(self) -> str:
        return f"<gradline.{self._name} (call gradline.init() first)>"


run: Run | None = None
config: Any = _PreInit("config")
summary: Any = _PreInit("summary")


def _preinit_log(
    data: Any, step: int | None = None, commit: bool | None = None, sync: bool | None = None
) -> None:
    raise UsageError("You must call gradline.init() before gradline.log()")


log = _preinit_log


def init(
    project: str | None = None,
    entity: str | None = None,
    name: str | None = None,
    id: str | None = None,
    config: Any = None,
    tags: Any | None = None,
    notes: str | None = None,
    group: str | None = None,
    job_type: str | None = None,
    dir: str | None = None,
    mode: str | None = None,
    resume: Any = None,
    reinit: Any = None,
    settings: Any = None,
    **kwargs: Any,
) -> Run:
    """Start a run (see sdk/README.md for every setting). Returns the Run."""
    started_by = kwargs.pop("_started_by", None)
    global run
    if run is not None and not run._finished and reinit != "create_new":
        if reinit in (True, "finish_previous"):
            run.finish()
        else:
            if config:
                run.config.update(config, allow_val_change=True)
            return run
    overrides: dict = {}
    if isinstance(settings, Settings):
        overrides = {k: v for k, v in vars(settings).items() if v != getattr(Settings(), k)}
    elif settings:
        overrides = dict(settings)
    if mode is not None:
        overrides["mode"] = mode
    if dir is not None:
        overrides["dir"] = str(dir)
    run_id = id or kwargs.pop("run_id", None)
    if kwargs.get("save_code") is not None:
        overrides["save_code"] = bool(kwargs.pop("save_code"))
    config = _config_subset(
        config, kwargs.pop("config_include_keys", None), kwargs.pop("config_exclude_keys", None)
    )
    sync_tensorboard = bool(kwargs.pop("sync_tensorboard", None)) | bool(
        kwargs.pop("tensorboard", None)
    )
    for key in _NOT_BUILT:
        if kwargs.pop(key, None):
            _warn_not_built(key)
    for key in ("anonymous", "magic", "force", "allow_val_change"):
        kwargs.pop(key, None)  # W&B's: nothing to do here (no anonymous mode, no magic)
    if kwargs:
        raise TypeError(f"init() got unexpected keyword arguments: {', '.join(kwargs)}")
    resolved = _settings_mod.load(overrides)
    trial = _sweeps.claim_trial() if resolved.mode != "disabled" else None
    sweep_params = None
    if trial is not None:
        chosen = _sweeps.init_arguments(trial, project, entity, job_type, resume)
        project, entity, run_id = chosen["project"], chosen["entity"], chosen["run_id"]
        resume = chosen["resume"]
        job_type, sweep_params = chosen["job_type"], chosen["sweep_params"]
    new = start_run(
        settings=resolved,
        project=project,
        entity=entity,
        name=name,
        run_id=run_id,
        config=config,
        tags=tags,
        notes=notes,
        group=group,
        job_type=job_type,
        resume=resume,
        started_by=started_by,
        sweep_params=sweep_params,
    )
    if trial is not None:
        trial.run = new
        new.sweep_id = str(trial.sweep_id).rstrip("/").rsplit("/", 1)[-1]
    _live.append(new)
    _set_current(new)
    _start_tensorboard_sync(new, sync_tensorboard)
    if resolved.exit_hooks and new.mode != "disabled":
        _HOOKS.install(_finish_at_exit)
    return new


# init() arguments that W&B has and Gradline does not do yet: said once, never silently.
_NOT_BUILT = ("monitor_gym", "fork_from", "resume_from")
_warned_not_built: set[str] = set()
# Unfinished runs of this process; with reinit="create_new" there can be several.
_live: list[Run] = []


def _start_tensorboard_sync(new: Run, requested: bool) -> None:
    """sync_tensorboard=True, or wandb.tensorboard.patch() called before init()."""
    import sys

    if new.mode == "disabled":
        return
    module = sys.modules.get("gradline.integration.tensorboard")
    if not requested and not (module is not None and module.patched()):
        return
    from gradline.integration import tensorboard

    if requested:
        tensorboard.patch()
    tensorboard.attach(new)


def _warn_not_built(argument: str) -> None:
    if argument not in _warned_not_built:
        _warned_not_built.add(argument)
        warnings.warn(
            f"gradline: init({argument}=...) is not supported yet and has no effect",
            stacklevel=3,
        )


def _config_subset(config: Any, include: Any, exclude: Any) -> Any:
    """W&B's config_include_keys / config_exclude_keys on a dict-like config."""
    if not (include or exclude) or config is None:
        return config
    if not isinstance(config, dict):
        config = dict(config) if hasattr(config, "keys") else vars(config)
    if include:
        config = {k: v for k, v in config.items() if k in set(include)}
    return {k: v for k, v in config.items() if k not in set(exclude or ())}


def _set_current(new: Run) -> None:
    global run, config, summary, log
    run = new
    config = new.config
    summary = new.summary
    log = new.log


def _clear_current(old: Run) -> None:
    global run, config, summary, log
    if old in _live:
        _live.remove(old)
    if run is old:
        run = None
        log = _preinit_log
        # config/summary stay readable after finish, as in W&B


def _finish_at_exit(exit_code: int) -> None:
    if _sweeps.stopped_by_sweep():
        exit_code = 0  # `gradline agent` ended it for early termination: not a failure
    for live in reversed(list(_live)):  # the current run first, then any created alongside
        if not live._finished:
            live.finish(exit_code=exit_code)


def _current() -> Run:
    if run is None:
        raise UsageError("You must call gradline.init() first")
    return run


def define_metric(
    name: str,
    step_metric: str | None = None,
    step_sync: bool | None = None,
    hidden: bool | None = None,
    summary: str | None = None,
    goal: str | None = None,
    overwrite: bool | None = None,
) -> Metric:
    return _current().define_metric(
        name,
        step_metric=step_metric,
        step_sync=step_sync,
        hidden=hidden,
        summary=summary,
        goal=goal,
    )


def _run_for(call: str, job_type: str) -> Run:
    """The active run, or (for the model calls, as the product brief uses them without
    init()) a run started for this call, finished when the script exits."""
    if run is not None and not run._finished:
        return run
    return init(job_type=job_type, _started_by=call)


def log_artifact(
    artifact_or_path: Any,
    name: str | None = None,
    type: str | None = None,
    aliases: list[str] | None = None,
    tags: list[str] | None = None,
) -> Artifact:
    return _current().log_artifact(
        artifact_or_path, name=name, type=type, aliases=aliases, tags=tags
    )


def use_artifact(artifact_or_name: Any, type: str | None = None) -> Artifact:
    return _current().use_artifact(artifact_or_name, type=type)


def link_artifact(artifact: Artifact, target_path: str, aliases: list[str] | None = None) -> None:
    _current().link_artifact(artifact, target_path, aliases=aliases)


def log_model(path: Any, name: str | None = None, aliases: list[str] | None = None) -> Artifact:
    """W&B's log_model(path, name); the product brief's log_model(name, path) works too."""
    return _run_for("log_model", "log-model").log_model(path, name=name, aliases=aliases)


def use_model(name: str) -> str:
    """Download a model ("name:alias", "team/model-registry/name:production"); returns the
    local path (the file of a single-file model, else the directory)."""
    return _run_for("use_model", "use-model").use_model(name)


def deploy(
    model: Any = None, platform: Any = None, endpoint_name: Any = None, **options: Any
) -> Any:
    """Serve a registry version on an endpoint: `deploy(model="model:latest",
    platform="local"|"sagemaker"|"kubernetes"|..., endpoint_name="churn", **options)`.
    Returns a `Deployment` handle at once (`.status`, `.wait()`, `.logs()`, `.url`,
    `.predict()`); a Celery job on the server does the work (docs/deployments.md)."""
    from gradline import deployments as _deployments

    if not platform or not endpoint_name or model is None:
        raise UsageError("deploy() needs model=, platform= and endpoint_name=")
    api = Api._from_settings(run.settings) if run is not None and not run._finished else Api()
    project = (
        options.pop("project", None)
        or (run.settings.project if run is not None else None)
        or api._default_project
    )
    return _deployments.deploy(api, model, platform, endpoint_name, project=project, **options)


def link_model(
    path: Any,
    registered_model_name: str,
    name: str | None = None,
    aliases: list[str] | None = None,
) -> Artifact:
    return _run_for("link_model", "log-model").link_model(
        path, registered_model_name, name=name, aliases=aliases
    )


def save(glob_str: str, base_path: str | None = None, policy: str = "live") -> list:
    return _current().save(glob_str, base_path=base_path, policy=policy)


def alert(title: str, text: str, level: Any = "INFO", wait_duration: Any = None) -> None:
    _current().alert(title, text, level=level, wait_duration=wait_duration)


def watch(
    models: Any,
    criterion: Any = None,
    log: str | None = "gradients",
    log_freq: int = 1000,
    idx: int | None = None,
    log_graph: bool = False,
) -> None:
    """W&B's `wandb.watch` on the active run (Run.watch)."""
    _current().watch(models, criterion, log, log_freq, idx, log_graph)


def require(requirement: str | None = None, experiment: str | None = None) -> None:
    """W&B's feature switches (`wandb.require("service")`, "core"): Gradline has one way
    of running, so there is nothing to switch."""


def termlog(string: str = "", newline: bool = True, repeat: bool = True, **_: Any) -> None:
    """W&B's console helpers, used by integrations written against W&B."""
    _term("", string, newline, repeat)


def termwarn(string: str, newline: bool = True, repeat: bool = True, **_: Any) -> None:
    _term("WARNING ", string, newline, repeat)


def termerror(string: str, newline: bool = True, repeat: bool = True, **_: Any) -> None:
    _term("ERROR ", string, newline, repeat)


_termed: set[str] = set()


def _term(level: str, string: str, newline: bool, repeat: bool) -> None:
    import sys

    if not repeat and string in _termed:
        return
    _termed.add(string)
    sys.stderr.write(f"gradline: {level}{string}" + ("\n" if newline else ""))


def unwatch(models: Any = None) -> None:
    if run is not None:
        run.unwatch(models)


def finish(exit_code: int | None = None, quiet: bool | None = None) -> None:
    if run is not None:
        run.finish(exit_code=exit_code, quiet=quiet)


def login(
    key: str | None = None,
    host: str | None = None,
    relogin: bool | None = None,
    verify: bool = True,
    anonymous: Any = None,
    timeout: Any = None,
    force: Any = None,
    **kwargs: Any,
) -> bool:
    """W&B's login(). With `key`: verify it against the server and store it (mode 0600)
    for later runs. Without: use the key already configured (GRADLINE_API_KEY /
    WANDB_API_KEY, a saved `gradline login`, netrc for the host) and return True; with
    none configured, ask on a terminal, else raise UsageError saying where a key goes."""
    from gradline.cli import do_login, login_with_saved_key

    if anonymous not in (None, "never"):
        _warn_unsupported("login(anonymous=...)", "Gradline has no anonymous mode")
    if key:
        return do_login(key=key, host=host, verify=verify, interactive=False)
    if not relogin:
        found = login_with_saved_key(host=host, verify=verify)
        if found is not None:
            return found
    import sys

    if sys.stdin is not None and sys.stdin.isatty():
        return do_login(host=host, verify=verify, interactive=True)
    raise UsageError(
        "login() found no API key: pass key=..., set GRADLINE_API_KEY (or WANDB_API_KEY), "
        "run `gradline login`, or add the host to ~/.netrc"
    )


def join(exit_code: int | None = None, quiet: bool | None = None) -> None:
    """W&B's old name for finish()."""
    finish(exit_code=exit_code, quiet=quiet)


_warned_unsupported: set[str] = set()


def _warn_unsupported(what: str, why: str) -> None:
    """One warning per W&B argument Gradline does not support: never silently ignored."""
    if what not in _warned_unsupported:
        _warned_unsupported.add(what)
        warnings.warn(f"gradline: {what} is not supported ({why}); it has no effect", stacklevel=3)


# W&B's integration modules, imported on first use (`wandb.xgboost.WandbCallback()`,
# `wandb.sklearn.plot_roc(...)`): importing gradline imports none of the frameworks.
_LAZY_MODULES = (
    "integration", "keras", "lightgbm", "plots", "sklearn", "tensorboard", "xgboost",
)  # fmt: skip


def __getattr__(name: str) -> Any:
    if name in _LAZY_MODULES:
        import importlib

        return importlib.import_module(f"gradline.{name}")
    raise AttributeError(f"module 'gradline' has no attribute {name!r}")
