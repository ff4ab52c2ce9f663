"""`wandb.watch` / `wandb.unwatch` for PyTorch models, as W&B has them.

`watch(model, log="gradients")` puts a hook on every trainable parameter; each
`log_freq`-th backward pass of a parameter logs `gradients/<name>` as a 64-bin
histogram. `log="parameters"` puts a forward hook on the model; each `log_freq`-th
forward pass logs `parameters/<name>`. `log="all"` does both. Like W&B, the values join
the run's pending step (commit=False), so they land on the step of the next
`log()`; a second model watched in the same run gets the prefix `graph_<n>` ("graph_1"
before the parameter name), and `log_graph=True` records the module tree as the
run's `graph_<n>` summary value (W&B draws it; here it is stored, not drawn).

Hooks go on `unwatch(model)` (all models without an argument) and when the run
finishes. torch is imported only when `watch` is called.
"""

from __future__ import annotations

import itertools
import warnings
from typing import Any

LOG_CHOICES = ("gradients", "parameters", "all", None)
BINS = 64


class _Watched:
    """The hooks of one watched model."""

    def __init__(self, run: Any, model: Any, prefix: str, log: str | None, log_freq: int):
        self.run = run
        self.model = model
        self.prefix = prefix
        self.log_freq = log_freq
        self.handles: list = []
        self.forward_calls = 0
        self.grad_calls: dict[str, int] = {}
        if log in ("parameters", "all"):
            self.handles.append(model.register_forward_hook(self._on_forward))
        if log in ("gradients", "all"):
            for name, param in model.named_parameters():
                if param.requires_grad:
                    self.handles.append(param.register_hook(self._grad_hook(name)))

    def _on_forward(self, module: Any, inputs: Any, output: Any) -> None:
        if not module.training:
            return  # W&B logs parameters on training passes only
        self.forward_calls += 1
        if self.forward_calls % self.log_freq:
            return
        row = {}
        for name, param in module.named_parameters():
            if param.requires_grad:
                row[f"parameters/{self.prefix}{name}"] = _histogram(param.detach())
        self._log(row)

    def _grad_hook(self, name: str):
        def hook(grad: Any) -> None:
            calls = self.grad_calls.get(name, 0) + 1
            self.grad_calls[name] = calls
            if calls % self.log_freq == 0:
                self._log({f"gradients/{self.prefix}{name}": _histogram(grad.detach())})

        return hook

    def _log(self, row: dict) -> None:
        row = {k: v for k, v in row.items() if v is not None}
        if row and not self.run._finished:
            self.run.log(row, commit=False)

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles = []


def _histogram(tensor: Any) -> Any:
    """A 64-bin histogram of a tensor (NaN/Inf dropped, as W&B does); None when nothing
    finite is left."""
    import torch

    from gradline.data_types import Histogram

    flat = tensor.reshape(-1).to("cpu", dtype=torch.float64)
    flat = flat[torch.isfinite(flat)]
    if flat.numel() == 0:
        return None
    low, high = flat.min().item(), flat.max().item()
    if low == high:  # a constant tensor: one bin around the value
        low, high = low - 0.5, high + 0.5
    counts = torch.histc(flat, bins=BINS, min=low, max=high)
    edges = torch.linspace(low, high, BINS + 1)
    return Histogram(np_histogram=(counts.tolist(), edges.tolist()))


def _watches(run: Any) -> list[_Watched]:
    if not hasattr(run, "_torch_watches"):
        run._torch_watches = []
        run._torch_watch_count = itertools.count()
        run._finish_hooks.append(lambda: unwatch_run(run))
    return run._torch_watches


def watch(
    run: Any,
    models: Any,
    criterion: Any = None,
    log: str | None = "gradients",
    log_freq: int = 1000,
    idx: int | None = None,
    log_graph: bool = False,
) -> None:
    """Hook `models` (one torch.nn.Module or a list) into `run` (see module doc)."""
    import torch

    if log not in LOG_CHOICES:
        raise ValueError(f"watch: log must be one of {LOG_CHOICES}, not {log!r}")
    if isinstance(log_freq, bool) or not isinstance(log_freq, int) or log_freq < 1:
        raise ValueError(f"watch: log_freq must be a positive integer, not {log_freq!r}")
    if not isinstance(models, (list, tuple)):
        models = [models]
    for model in models:
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"watch: expected a torch.nn.Module, got {type(model).__name__}")
    if criterion is not None:
        _warn_once("criterion", "watch(criterion=...) is accepted and not used (as in W&B)")
    watched = _watches(run)
    for model in models:
        if any(w.model is model for w in watched):
            _warn_once("twice", "watch: this model is already watched; call unwatch() first")
            continue
        number = next(run._torch_watch_count) if idx is None else idx
        prefix = f"graph_{number}" if number > 0 else ""
        watched.append(_Watched(run, model, prefix, log, log_freq))
        if log_graph:
            run.summary[f"graph_{number}"] = {
                "_type": "graph",
                "modules": [
                    {"name": name, "class": type(module).__name__}
                    for name, module in model.named_modules()
                    if name
                ],
            }


def unwatch(run: Any, models: Any = None) -> None:
    """Remove the hooks of `models` (every watched model when None)."""
    watched = getattr(run, "_torch_watches", [])
    if models is None:
        unwatch_run(run)
        return
    if not isinstance(models, (list, tuple)):
        models = [models]
    for w in [w for w in watched if any(w.model is m for m in models)]:
        w.remove()
        watched.remove(w)


def unwatch_run(run: Any) -> None:
    for w in getattr(run, "_torch_watches", []):
        w.remove()
    if hasattr(run, "_torch_watches"):
        run._torch_watches.clear()


_warned: set[str] = set()


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        warnings.warn(f"gradline: {message}", stacklevel=4)
