"""URL converter of sweep routes (see apps/core/converters.py for why not `<str:…>`).

- `sweep_id`: a sweep id, 8 lowercase base-36 characters (as W&B's sweep ids look).
"""

from __future__ import annotations

from django.urls import register_converter


class SweepIdConverter:
    regex = r"[a-z0-9]{8}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value) -> str:
        return str(value)


def register() -> None:
    register_converter(SweepIdConverter, "sweep_id")
