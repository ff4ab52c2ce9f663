"""`wandb.lightgbm`: the same names as `wandb.integration.lightgbm` (W&B's short path)."""

from gradline.integration.lightgbm import log_summary, wandb_callback

__all__ = ["log_summary", "wandb_callback"]
