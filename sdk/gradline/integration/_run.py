"""The run an integration logs to: the current one, or a clear error before init()."""

from __future__ import annotations

from typing import Any

from gradline.transport import UsageError


def current_run(integration: str) -> Any:
    import gradline

    if gradline.run is None:
        raise UsageError(f"You must call gradline.init() before using {integration}")
    return gradline.run
