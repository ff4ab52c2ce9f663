"""`wandb.tensorboard`: patch(), unpatch(), log() (see gradline.integration.tensorboard)."""

from gradline.integration.tensorboard import log, patch, unpatch

__all__ = ["log", "patch", "unpatch"]
