"""`run.summary`: the run's headline values. Automatic entries are the last logged value
of each key (or the define_metric aggregation); values the script sets override them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Callable

from gradline.values import to_jsonable


class Summary:
    def __init__(self, view: Callable[[], dict], on_set: Callable[[dict], None]):
        self._view = view  # current automatic summary (waits for the writer)
        self._on_set = on_set
        self._user: dict = {}

    def _merged(self) -> dict:
        merged = self._view()
        merged.update(self._user)
        return merged

    def __getitem__(self, key: str) -> Any:
        if key in self._user:
            return self._user[key]
        return self._merged()[key]

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):
            raise AttributeError(key)
        try:
            return self[key]
        except KeyError:
            raise AttributeError(f"summary has no key {key!r}") from None

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __setattr__(self, key: str, value: Any) -> None:
        if key.startswith("_"):
            object.__setattr__(self, key, value)
        else:
            self.update({key: value})

    def __delitem__(self, key: str) -> None:
        self._user.pop(key, None)

    def update(self, d: Any = None, **kwargs: Any) -> None:
        data = dict(d or {})
        data.update(kwargs)
        clean = {str(k): to_jsonable(v) for k, v in data.items()}
        self._user.update(clean)
        self._on_set(clean)

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __contains__(self, key: object) -> bool:
        return key in self._user or key in self._merged()

    def __iter__(self) -> Iterator[str]:
        return iter(self._merged())

    def __len__(self) -> int:
        return len(self._merged())

    def keys(self):
        return self._merged().keys()

    def values(self):
        return self._merged().values()

    def items(self):
        return self._merged().items()

    def as_dict(self) -> dict:
        return self._merged()

    _as_dict = as_dict  # wandb spelling

    def __repr__(self) -> str:
        return f"Summary({self._merged()!r})"
