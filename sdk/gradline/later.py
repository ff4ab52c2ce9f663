"""Names from the W&B API whose features arrive with later issues. They exist so
`import gradline as wandb` scripts import and fail at the call with a clear message
instead of an AttributeError. (`deploy` arrived: gradline/deployments.py.)"""

from __future__ import annotations

from typing import NoReturn

from gradline.transport import GradlineError


class NotAvailableYet(GradlineError, NotImplementedError):
    pass


def _missing(feature: str, issue: str) -> NoReturn:
    raise NotAvailableYet(f"gradline: {feature} is not available yet (it arrives with {issue}).")
