"""`wandb.xgboost`: the same names as `wandb.integration.xgboost` (W&B's short path)."""

from typing import Any

__all__ = ["WandbCallback"]  # noqa: F822


def __getattr__(name: str) -> Any:
    from gradline.integration import xgboost

    return getattr(xgboost, name)
