"""Names from the W&B API whose features arrive with later issues (media and charts,
deployments). They exist so `import gradline as wandb` scripts import
and fail at the call with a clear message instead of an AttributeError."""

from __future__ import annotations

from typing import Any, NoReturn

from gradline.transport import GradlineError


class NotAvailableYet(GradlineError, NotImplementedError):
    pass


def _missing(feature: str, issue: str) -> NoReturn:
    raise NotAvailableYet(f"gradline: {feature} is not available yet (it arrives with {issue}).")


class Table:
    def __init__(self, *args: Any, **kwargs: Any):
        _missing("Table", "media and charts")


class Image:
    def __init__(self, *args: Any, **kwargs: Any):
        _missing("Image", "media and charts")


def deploy(
    model: Any = None, platform: Any = None, endpoint_name: Any = None, **kwargs: Any
) -> Any:
    _missing("deploy", "deployments")


class _Plot:
    """`wandb.plot.*` presets (confusion_matrix, scatter, line …)."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)

        def preset(*args: Any, **kwargs: Any) -> Any:
            _missing(f"plot.{name}", "media and charts")

        return preset


plot = _Plot()
