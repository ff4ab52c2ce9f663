"""SDK settings: init(settings=...) > environment > `gradline login` file > netrc (the API
key only) > defaults.

Every setting has one GRADLINE_* environment variable; the common W&B variables
(WANDB_API_KEY, WANDB_BASE_URL, WANDB_ENTITY, WANDB_PROJECT, WANDB_MODE, WANDB_DIR …)
are read as fallbacks so existing job scripts keep working.
"""

from __future__ import annotations

import dataclasses
import netrc
import os
import warnings
from pathlib import Path
from typing import Any

import orjson

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
MODES = ("online", "offline", "disabled")
CONSOLE_MODES = ("auto", "redirect", "wrap", "off")

# setting name -> (env var, W&B fallback env var or None)
_ENV: dict[str, tuple[str, str | None]] = {
    "base_url": ("GRADLINE_BASE_URL", "WANDB_BASE_URL"),
    "api_key": ("GRADLINE_API_KEY", "WANDB_API_KEY"),
    "entity": ("GRADLINE_ENTITY", "WANDB_ENTITY"),
    "project": ("GRADLINE_PROJECT", "WANDB_PROJECT"),
    "mode": ("GRADLINE_MODE", "WANDB_MODE"),
    "dir": ("GRADLINE_DIR", "WANDB_DIR"),
    "run_id": ("GRADLINE_RUN_ID", "WANDB_RUN_ID"),
    "run_name": ("GRADLINE_NAME", "WANDB_NAME"),
    "run_group": ("GRADLINE_RUN_GROUP", "WANDB_RUN_GROUP"),
    "job_type": ("GRADLINE_JOB_TYPE", "WANDB_JOB_TYPE"),
    "notes": ("GRADLINE_NOTES", "WANDB_NOTES"),
    "tags": ("GRADLINE_TAGS", "WANDB_TAGS"),
    "resume": ("GRADLINE_RESUME", "WANDB_RESUME"),
    "silent": ("GRADLINE_SILENT", "WANDB_SILENT"),
    "console": ("GRADLINE_CONSOLE", "WANDB_CONSOLE"),
    "system_metrics": ("GRADLINE_SYSTEM_METRICS", None),
    "system_interval": ("GRADLINE_SYSTEM_INTERVAL", None),
    "git": ("GRADLINE_GIT", None),
    "metadata": ("GRADLINE_METADATA", None),
    "pip_freeze": ("GRADLINE_PIP_FREEZE", None),
    "init_timeout": ("GRADLINE_INIT_TIMEOUT", "WANDB_INIT_TIMEOUT"),
    "offline_fallback": ("GRADLINE_OFFLINE_FALLBACK", None),
    "finish_timeout": ("GRADLINE_FINISH_TIMEOUT", None),
    "http_timeout": ("GRADLINE_HTTP_TIMEOUT", "WANDB_HTTP_TIMEOUT"),
    "retry_max_backoff": ("GRADLINE_RETRY_MAX_BACKOFF", None),
    "flush_interval": ("GRADLINE_FLUSH_INTERVAL", None),
    "batch_max_points": ("GRADLINE_BATCH_MAX_POINTS", None),
    "wal_fsync": ("GRADLINE_WAL_FSYNC", None),
    "heartbeat_interval": ("GRADLINE_HEARTBEAT_INTERVAL", None),
    "live_files_interval": ("GRADLINE_LIVE_FILES_INTERVAL", None),
    "config_dir": ("GRADLINE_CONFIG_DIR", "WANDB_CONFIG_DIR"),
    "cache_dir": ("GRADLINE_CACHE_DIR", "WANDB_CACHE_DIR"),
    "save_code": ("GRADLINE_SAVE_CODE", "WANDB_SAVE_CODE"),
    "artifact_dir": ("GRADLINE_ARTIFACT_DIR", "WANDB_ARTIFACT_DIR"),
    "exit_hooks": ("GRADLINE_EXIT_HOOKS", None),
    "sweep_stop_interval": ("GRADLINE_SWEEP_STOP_INTERVAL", None),
    "sweep_stop_grace": ("GRADLINE_SWEEP_STOP_GRACE", None),
}


@dataclasses.dataclass
class Settings:
    """Everything the SDK can be told. Pass a Settings or a dict as init(settings=...)."""

    base_url: str = DEFAULT_BASE_URL
    api_key: str | None = None
    entity: str | None = None
    project: str | None = None
    mode: str = "online"
    dir: str | None = None  # root of run directories; default ./gradline-runs
    run_id: str | None = None
    run_name: str | None = None
    run_group: str | None = None
    job_type: str | None = None
    notes: str | None = None
    tags: str | None = None  # comma separated (environment form)
    resume: str | None = None
    silent: bool = False
    # "auto" (redirect where it works, else wrap) | "redirect" (file descriptors 1/2, catches
    # C extensions and child processes) | "wrap" (sys.stdout/sys.stderr only) | "off"
    console: str = "auto"
    system_metrics: bool = True
    system_interval: float = 10.0
    git: bool = True
    metadata: bool = True  # python/platform/host/cmdline
    pip_freeze: bool = True
    init_timeout: float = 15.0
    offline_fallback: bool = True  # False: init raises when the server is unreachable
    finish_timeout: float = 60.0
    http_timeout: float = 30.0
    retry_max_backoff: float = 15.0
    flush_interval: float = 0.1  # buffer -> WAL cadence (seconds)
    batch_max_points: int = 20000
    wal_fsync: str = "interval"  # "always" | "interval" (about once a second) | "never"
    heartbeat_interval: float = 30.0
    live_files_interval: float = 15.0
    config_dir: str | None = None
    exit_hooks: bool = True
    cache_dir: str | None = None  # artifact content cache; default <dir>/artifact-cache
    artifact_dir: str | None = None  # where download() puts artifacts; default ./artifacts
    sweep_stop_interval: float = 5.0  # agent: seconds between early-termination checks
    sweep_stop_grace: float = 10.0  # gradline agent: SIGTERM -> SIGKILL of a stopped program
    save_code: bool = False  # store the main script under the run's files as code/<path>

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    @property
    def root_dir(self) -> Path:
        """Where run directories go: `dir`, else ./gradline-runs when the working directory
        is writable, else ~/.cache/gradline/runs. (Not ./gradline: with an editable
        install that folder would shadow the package itself.)"""
        if self.dir:
            return Path(self.dir).expanduser()
        cwd = os.getcwd()
        if os.access(cwd, os.W_OK):
            return Path(cwd) / "gradline-runs"
        return Path(os.path.expanduser("~")) / ".cache" / "gradline" / "runs"


# W&B setting names with a Gradline equivalent: name -> (our name, value translation).
_WANDB_NAMES: dict[str, tuple[str, Any]] = {
    "x_disable_stats": ("system_metrics", lambda v: not v),
    "_disable_stats": ("system_metrics", lambda v: not v),
    "x_stats_sampling_interval": ("system_interval", float),
    "_stats_sample_rate_seconds": ("system_interval", float),
    "x_disable_meta": ("metadata", lambda v: not v),
    "_disable_meta": ("metadata", lambda v: not v),
    "disable_git": ("git", lambda v: not v),
    "quiet": ("silent", bool),
    "root_dir": ("dir", str),
    "run_notes": ("notes", str),
    "run_tags": ("tags", lambda v: v if isinstance(v, str) else ",".join(v)),
    "run_job_type": ("job_type", str),
    "run_mode": ("mode", str),
}


def translate_names(values: dict, where: str) -> dict:
    """Settings given by W&B name become ours; names neither knows are dropped with one
    warning naming them, so W&B code that passes, say, start_method="thread" still runs."""
    ours = {f.name for f in dataclasses.fields(Settings)}
    out, ignored = {}, []
    for name, value in values.items():
        if name in ours:
            out[name] = value
        elif name in _WANDB_NAMES:
            target, convert = _WANDB_NAMES[name]
            out.setdefault(target, None if value is None else convert(value))
        else:
            ignored.append(name)
    if ignored:
        warnings.warn(
            f"gradline: {where} ignores setting(s) it does not have: {', '.join(sorted(ignored))}",
            stacklevel=3,
        )
    return out


_generated_init = Settings.__init__


def _settings_init(self: Settings, **values: Any) -> None:
    _generated_init(self, **translate_names(values, "Settings()"))


_settings_init.__doc__ = Settings.__init__.__doc__
Settings.__init__ = _settings_init  # keyword-only, accepting W&B's names (translate_names)


def config_dir(settings: Settings | None = None) -> Path:
    raw = (settings and settings.config_dir) or _env("config_dir")
    if raw:
        return Path(raw).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "gradline"


def credentials_path(settings: Settings | None = None) -> Path:
    return config_dir(settings) / "settings.json"


def read_login_file(settings: Settings | None = None) -> dict:
    """The file `gradline login` writes: {"base_url", "api_key", "entity"}; {} if absent."""
    path = credentials_path(settings)
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_login_file(values: dict, settings: Settings | None = None) -> Path:
    """Store credentials with mode 0600 (created that way, never world-readable)."""
    path = credentials_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    current = read_login_file(settings)
    current.update({k: v for k, v in values.items() if v is not None})
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, orjson.dumps(current, option=orjson.OPT_INDENT_2))
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def netrc_api_key(base_url: str) -> str | None:
    """The password of the netrc entry for `base_url`'s host (W&B's `wandb login` stores
    its key as `machine <host> login user password <key>`); $NETRC, else ~/.netrc.
    Tried by host:port, then host alone. None when there is no readable entry."""
    from urllib.parse import urlsplit

    path = os.environ.get("NETRC") or os.path.join(os.path.expanduser("~"), ".netrc")
    if not os.path.isfile(path):
        return None
    try:
        entries = netrc.netrc(path)
    except (OSError, netrc.NetrcParseError):
        return None
    parts = urlsplit(base_url if "//" in base_url else f"//{base_url}")
    for host in dict.fromkeys(h for h in (parts.netloc, parts.hostname) if h):
        found = entries.authenticators(host)
        if found and found[2]:
            return found[2]
    return None


def _env(name: str) -> str | None:
    primary, fallback = _ENV[name]
    value = os.environ.get(primary)
    if value in (None, "") and fallback:
        value = os.environ.get(fallback)
    return value if value not in (None, "") else None


def _coerce(field: dataclasses.Field, raw: Any) -> Any:
    if raw is None:
        return None
    kind = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", "")
    if "bool" in kind:
        if isinstance(raw, bool):
            return raw
        return str(raw).strip().lower() in {"1", "true", "yes", "on"}
    if "float" in kind:
        return float(raw)
    if "int" in kind:
        return int(raw)
    return raw


def normalize_mode(mode: str | None) -> str:
    mode = (mode or "online").strip().lower()
    # W&B spellings
    mode = {"run": "online", "dryrun": "offline", "shared": "online"}.get(mode, mode)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
    return mode


def normalize_console(console: str | None) -> str:
    console = str("auto" if console is None else console).strip().lower()
    # W&B's wrap variants (how a terminal emulator or raw bytes are stored) are both "wrap" here
    console = {"wrap_raw": "wrap", "wrap_emu": "wrap"}.get(console, console)
    if console not in CONSOLE_MODES:
        raise ValueError(f"console must be one of {', '.join(CONSOLE_MODES)}; got {console!r}")
    return console


def load(overrides: Any = None) -> Settings:
    """Resolve settings: explicit overrides > environment > login file > defaults."""
    if isinstance(overrides, Settings):
        overrides = {
            f.name: getattr(overrides, f.name)
            for f in dataclasses.fields(Settings)
            if getattr(overrides, f.name) != f.default
        }
    overrides = translate_names(dict(overrides or {}), "init(settings=...)")
    values: dict[str, Any] = {}
    login = read_login_file(Settings(config_dir=overrides.get("config_dir")))
    for field in dataclasses.fields(Settings):
        if field.name in overrides and overrides[field.name] is not None:
            values[field.name] = _coerce(field, overrides[field.name])
            continue
        raw = _env(field.name) if field.name in _ENV else None
        if raw is None and field.name in ("base_url", "api_key", "entity"):
            raw = login.get(field.name)
        if raw is not None:
            values[field.name] = _coerce(field, raw)
    settings = Settings(**values)
    if not settings.api_key:  # last: a key W&B's own login left in netrc for this host
        settings.api_key = netrc_api_key(settings.base_url or DEFAULT_BASE_URL)
    settings.mode = normalize_mode(settings.mode)
    settings.console = normalize_console(settings.console)
    settings.base_url = (settings.base_url or DEFAULT_BASE_URL).rstrip("/")
    if settings.wal_fsync not in ("always", "interval", "never"):
        raise ValueError("wal_fsync must be always, interval or never")
    return settings
