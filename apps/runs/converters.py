"""URL converters of run routes (see apps/core/converters.py for why not `<str:…>`).

- `run_uid`: a run id as clients choose them ([a-z0-9_-], 1-64 characters).
- `run_file`: a run file path: no control characters (NUL would reach the database);
  the service validates the rest (relative, no '..').
"""

from __future__ import annotations

from django.urls import register_converter


class RunUidConverter:
    regex = r"[a-z0-9_\-]{1,64}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value) -> str:
        return str(value)


class RunFileConverter(RunUidConverter):
    regex = r"[^\x00-\x1f\x7f]{1,512}"


def register() -> None:
    register_converter(RunUidConverter, "run_uid")
    register_converter(RunFileConverter, "run_file")
