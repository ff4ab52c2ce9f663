"""`import wandb` resolving to Gradline, for W&B code run unchanged (docs/compatibility.md).

`install()` makes `sys.modules["wandb"]` this package and every `wandb.<sub>` import
(`from wandb.integration.xgboost import WandbCallback`, `import wandb.sklearn`) the same
module object as `gradline.<sub>`, so there is one copy of each module, not two. A
two-line `wandb/__init__.py` on the path that calls it is the whole shim:

    import gradline.wandb_alias
    gradline.wandb_alias.install()

It replaces nothing when the real wandb is already imported in the process.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from types import ModuleType

ALIAS = "wandb"


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target: ModuleType):
        self._target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return self._target

    def exec_module(self, module: ModuleType) -> None:
        return None  # already imported under its gradline name


class _AliasFinder(importlib.abc.MetaPathFinder):
    """wandb.X.Y -> the module gradline.X.Y (imported under its own name first)."""

    def find_spec(self, fullname: str, path=None, target=None):
        if not fullname.startswith(ALIAS + "."):
            return None
        real = "gradline" + fullname[len(ALIAS) :]
        try:
            module = importlib.import_module(real)
        except ModuleNotFoundError as exc:
            if exc.name == real:  # no such gradline module: the usual ImportError follows
                return None
            raise
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(module))


_FINDER = _AliasFinder()


def install() -> ModuleType:
    """Alias `wandb` to gradline in this process; returns the gradline package."""
    import gradline

    current = sys.modules.get(ALIAS)
    if current is not None and current is not gradline and hasattr(current, "init"):
        return current  # the real wandb, imported already: leave it alone (a shim has no init)
    sys.modules[ALIAS] = gradline
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
    return gradline
