"""`wandb.keras`: W&B's Keras 3 callbacks (the same classes as `wandb.integration.keras`).

W&B's legacy `WandbCallback` (Keras 2, TensorFlow only; W&B itself refuses it on Keras
3) is not provided: use WandbMetricsLogger and WandbModelCheckpoint."""

from typing import Any

__all__ = ["WandbEvalCallback", "WandbMetricsLogger", "WandbModelCheckpoint"]  # noqa: F822


def __getattr__(name: str) -> Any:
    from gradline.integration import keras

    if name == "WandbCallback":
        raise AttributeError(
            "gradline does not provide W&B's legacy keras WandbCallback (Keras 2 only): use "
            "WandbMetricsLogger and WandbModelCheckpoint"
        )
    return getattr(keras, name)
