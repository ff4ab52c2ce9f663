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
