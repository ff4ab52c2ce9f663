"""Alert levels, as `wandb.AlertLevel`: `run.alert(title, text, level=AlertLevel.WARN)`."""

from __future__ import annotations

from enum import Enum


class AlertLevel(str, Enum):
    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"


def alert_level(level: object) -> str:
    """The level's name; a string is accepted in any case ("warn", "WARN")."""
    name = str(getattr(level, "value", level) or "INFO").upper()
    if name not in AlertLevel.__members__:
        raise ValueError(f"alert level must be INFO, WARN or ERROR; got {level!r}")
    return name


DEFAULT_WAIT_S = 60.0  # W&B: another alert with the same title waits a minute by default


def alert_wait_seconds(wait_duration: object) -> float:
    """`wait_duration` as seconds: None (one minute), a number, or a timedelta."""
    if wait_duration is None:
        return DEFAULT_WAIT_S
    seconds = getattr(wait_duration, "total_seconds", None)
    value = seconds() if callable(seconds) else wait_duration
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"wait_duration must be seconds or a timedelta; got {wait_duration!r}")
    return float(value)
