"""`wandb.plots`: W&B's old chart helpers (deprecated by W&B in favour of `wandb.plot`),
still called by public examples (`wandb.log({"roc": wandb.plots.ROC(...)})`). Each
builds the `gradline.plot` chart of the same data and says once that it is the old name.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from gradline import plot

_warned: set[str] = set()


def _old(name: str, new: str) -> None:
    if name not in _warned:
        _warned.add(name)
        warnings.warn(
            f"gradline: wandb.plots.{name} is W&B's deprecated name; use {new}",
            DeprecationWarning,
            stacklevel=3,
        )


def _as_many_labels(labels: Any, y_probas: Any) -> list | None:
    """The old helpers read labels[i] per probability column, so extra labels (all three
    iris names for a binary model, in W&B's own example) were ignored: so here."""
    if labels is None or y_probas is None:
        return labels
    columns = len(y_probas[0]) if len(y_probas) else 0
    return list(labels)[:columns] if columns else list(labels)


def ROC(
    y_true: Any = None,
    y_probas: Any = None,
    labels: Sequence[str] | None = None,
    classes_to_plot: Sequence[Any] | None = None,
) -> plot.CustomChart:
    _old("ROC", "wandb.plot.roc_curve")
    labels = _as_many_labels(labels, y_probas)
    return plot.roc_curve(y_true, y_probas, labels=labels, classes_to_plot=classes_to_plot)


def precision_recall(
    y_true: Any = None,
    y_probas: Any = None,
    labels: Sequence[str] | None = None,
    plot_micro: bool = True,
    classes_to_plot: Sequence[Any] | None = None,
) -> plot.CustomChart:
    _old("precision_recall", "wandb.plot.pr_curve")
    labels = _as_many_labels(labels, y_probas)
    return plot.pr_curve(y_true, y_probas, labels=labels, classes_to_plot=classes_to_plot)


__all__ = ["ROC", "precision_recall"]
