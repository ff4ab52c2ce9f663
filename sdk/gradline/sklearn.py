"""`wandb.sklearn`: the same plots as `wandb.integration.sklearn` (W&B's short path)."""

from gradline.integration.sklearn import *  # noqa: F403
from gradline.integration.sklearn import __all__  # noqa: F401
