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
import importlib.metadata
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


# W&B's internal modules that integrations written against W&B import by name
# (Lightning's WandbLogger: `from wandb.sdk.lib import RunDisabled`, `from wandb.wandb_run
# import Run`; transformers: `from wandb.sdk.lib.config_util import ConfigError`): module
# name -> {attribute: "gradline.module:name"}. Packages get an empty __path__.
_INTERNALS: dict[str, dict[str, str]] = {
    "wandb.sdk": {"Artifact": "gradline:Artifact", "Settings": "gradline:Settings"},
    "wandb.sdk.lib": {"RunDisabled": "gradline:Run"},  # a disabled run is a Run here
    "wandb.sdk.lib.config_util": {"ConfigError": "gradline:ConfigError"},
    "wandb.wandb_run": {"Run": "gradline:Run"},
    "wandb.sdk.wandb_run": {"Run": "gradline:Run"},
}
_PACKAGES = {"wandb.sdk", "wandb.sdk.lib"}
# What importlib.metadata answers for "wandb" while the alias is on: libraries that gate
# their W&B support on the installed version (Lightning: wandb>=0.12.10) see the W&B
# release whose API Gradline follows.
WANDB_VERSION = "0.31.0"


def _internal_module(fullname: str) -> ModuleType:
    module = ModuleType(fullname, f"Gradline's stand-in for W&B's {fullname}")
    if fullname in _PACKAGES:
        module.__path__ = []
    for attr, where in _INTERNALS[fullname].items():
        mod_name, _, name = where.partition(":")
        setattr(module, attr, getattr(importlib.import_module(mod_name), name))
    return module


class _AliasDistribution(importlib.metadata.Distribution):
    def read_text(self, filename: str) -> str | None:
        if filename == "METADATA":
            return f"Metadata-Version: 2.1\nName: {ALIAS}\nVersion: {WANDB_VERSION}\n"
        return None

    def locate_file(self, path):  # nothing is on disk
        return None


class _AliasFinder(importlib.abc.MetaPathFinder):
    """wandb.X.Y -> the module gradline.X.Y (imported under its own name first)."""

    def find_distributions(self, context=None):
        name = getattr(context, "name", None)
        if name is not None and name.lower().replace("-", "_") == ALIAS:
            yield _AliasDistribution()

    def find_spec(self, fullname: str, path=None, target=None):
        if not fullname.startswith(ALIAS + "."):
            return None
        if fullname in _INTERNALS:
            return importlib.machinery.ModuleSpec(
                fullname, _AliasLoader(_internal_module(fullname)), is_package=fullname in _PACKAGES
            )
        real = "gradline" + fullname[len(ALIAS) :]
        try:
            module = importlib.import_module(real)
        except ModuleNotFoundError as exc:
            if exc.name and real.startswith(exc.name):  # no such module: the usual error
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
