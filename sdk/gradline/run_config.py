"""`run.config`: hyperparameters with attribute and item access, as `wandb.config`."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any, Callable

from gradline.values import to_jsonable


class ConfigError(Exception):
    """Changing a config value that was already set (without allow_val_change)."""


def _as_mapping(data: Any) -> dict:
    if data is None:
        return {}
    if isinstance(data, dict):
        return dict(data)
    if hasattr(data, "items"):
        return dict(data.items())
    if hasattr(data, "__dict__"):  # argparse.Namespace, simple objects
        return {k: v for k, v in vars(data).items() if not k.startswith("_")}
    raise TypeError(f"config expects a dict-like object, got {type(data).__name__}")


class Config:
    """Dict-like and attribute-like; every change is sent to the server in order.

    Keys set by a sweep are locked: later assignments from the script are ignored with a
    warning, so the sweep's choice always wins (W&B behaviour).
    """

    def __init__(self, on_change: Callable[[dict], None] | None = None):
        object.__setattr__(self, "_items", {})
        object.__setattr__(self, "_locked", {})
        object.__setattr__(self, "_on_change", on_change)

    # -- mutation ----------------------------------------------------------------------
    def _set(self, updates: dict, allow_val_change: bool, *, source: str = "user") -> None:
        changes = {}
        for key, value in updates.items():
            key = str(key).strip("-")
            if key.startswith("_gradline"):
                continue
            clean = to_jsonable(value)
            if key in self._locked and source != self._locked[key]:
                if self._items.get(key) != clean:
                    print(
                        f"gradline: config item {key!r} was locked by {self._locked[key]} "
                        "(ignored update)",
                        file=sys.stderr,
                    )
                continue
            if (
                not allow_val_change
                and key in self._items
                and self._items[key] != clean
                and source == "user"
            ):
                raise ConfigError(
                    f"Attempted to change value of key {key!r} from {self._items[key]!r} to "
                    f"{clean!r}. If you really want to do this, pass allow_val_change=True "
                    "to config.update()."
                )
            if self._items.get(key, _MISSING) != clean:
                changes[key] = clean
            self._items[key] = clean
        if changes and self._on_change is not None:
            self._on_change(changes)

    def update(self, d: Any = None, allow_val_change: bool = False, **kwargs: Any) -> None:
        data = _as_mapping(d)
        data.update(kwargs)
        self._set(data, allow_val_change)

    def setdefaults(self, d: Any) -> None:
        data = {k: v for k, v in _as_mapping(d).items() if str(k) not in self._items}
        self._set(data, True)

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self._items:
            self._set({key: default}, True)
        return self._items[key]

    def _lock(self, data: dict, source: str = "sweep") -> None:
        """Set and lock keys (sweep parameters)."""
        for key in data:
            self._locked[str(key)] = source
        self._set(data, True, source=source)

    def _load(self, data: dict) -> None:
        """Values the server already has (resume): no change event."""
        for key, value in (data or {}).items():
            if not str(key).startswith("_gradline"):
                self._items[str(key)] = value

    def __setitem__(self, key: str, value: Any) -> None:
        self._set({key: value}, False)

    def __setattr__(self, key: str, value: Any) -> None:
        if key.startswith("_"):
            object.__setattr__(self, key, value)
        else:
            self._set({key: value}, False)

    def __delitem__(self, key: str) -> None:
        del self._items[key]

    # -- reading -----------------------------------------------------------------------
    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            raise AttributeError(key)
        try:
            return self._items[key]
        except KeyError:
            raise AttributeError(f"config has no key {key!r}") from None

    def get(self, key: str, default: Any = None) -> Any:
        return self._items.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def keys(self):
        return self._items.keys()

    def values(self):
        return self._items.values()

    def items(self):
        return self._items.items()

    def as_dict(self) -> dict:
        return dict(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Config):
            return self._items == other._items
        return self._items == other

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Config({self._items!r})"


_MISSING = object()
