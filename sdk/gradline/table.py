"""`wandb.Table`: columns and rows of numbers, strings, bools, None and media.

Logged tables travel as a JSON-lines file (`media/tables/….table.jsonl`: a header line
`{"columns": [...], "nrows": n}`, then one JSON array per row), so the server ingests
them row by row without holding the whole table; media cells are written as their own
files first and the cell holds their descriptor.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import orjson

from gradline.media import Media, MediaError, MediaSink, as_media, write_media_file


class Table(Media):
    _type = "table-file"
    _folder = "tables"
    MAX_ROWS = 1_000_000

    def __init__(
        self,
        columns: Sequence[str] | None = None,
        data: Sequence[Sequence[Any]] | None = None,
        rows: Sequence[Sequence[Any]] | None = None,
        dataframe: Any = None,
        dtype: Any = None,
        optional: Any = True,
        allow_mixed_types: bool = False,
        log_mode: str | None = "IMMUTABLE",
    ):
        self.log_mode = log_mode
        if dataframe is not None:
            columns = [str(c) for c in dataframe.columns]
            data = dataframe.itertuples(index=False, name=None)
        data = rows if data is None else data
        if data is not None and type(data).__module__ == "numpy":
            data = data.tolist()
        self.data: list[list] = [list(row) for row in data] if data is not None else []
        if columns is None:
            width = len(self.data[0]) if self.data else 0
            columns = [f"col{i}" for i in range(width)]
        self.columns: list[str] = [str(c) for c in columns]
        if len(set(self.columns)) != len(self.columns):
            raise MediaError("Table column names must be unique")
        for i, row in enumerate(self.data):
            if len(row) != len(self.columns):
                raise MediaError(
                    f"Table row {i} has {len(row)} values for {len(self.columns)} columns"
                )

    # -- W&B's methods -------------------------------------------------------------------
    def add_data(self, *data: Any) -> None:
        if len(data) != len(self.columns):
            raise MediaError(
                f"add_data got {len(data)} values for {len(self.columns)} columns {self.columns}"
            )
        self.data.append(list(data))

    add_row = add_data

    def add_column(self, name: str, data: Sequence[Any], optional: bool = False) -> None:
        name = str(name)
        if name in self.columns:
            raise MediaError(f"Table already has a column {name!r}")
        values = list(data.tolist() if hasattr(data, "tolist") else data)
        if self.columns and len(values) != len(self.data):
            raise MediaError(f"add_column: {len(values)} values for {len(self.data)} rows")
        if not self.columns:
            self.data = [[] for _ in values]
        for row, value in zip(self.data, values):
            row.append(value)
        self.columns.append(name)

    def add_computed_columns(self, fn: Any) -> None:
        for index, row in enumerate(self.data):
            new = fn(index, dict(zip(self.columns, row)))
            for name in new:
                if name not in self.columns:
                    self.columns.append(name)
                    for r in self.data:
                        r.append(None)
            for name, value in new.items():
                row[self.columns.index(name)] = value

    def get_column(self, name: str, convert_to: str | None = None) -> Any:
        if name not in self.columns:
            raise KeyError(f"Table has no column {name!r}; columns: {self.columns}")
        i = self.columns.index(name)
        values = [row[i] for row in self.data]
        if convert_to == "numpy":
            import numpy as np

            return np.array(values)
        return values

    def get_index(self) -> list[int]:
        return list(range(len(self.data)))

    def get_dataframe(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.data, columns=self.columns)

    def iterrows(self) -> Iterator[tuple[int, list]]:
        yield from enumerate(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Table) and self.columns == other.columns and self.data == other.data
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<Table {len(self.data)} rows x {len(self.columns)} columns>"

    # -- logging --------------------------------------------------------------------------
    def _frozen(self) -> Table:
        """A copy for log(): later add_data() on the caller's table cannot change what
        was logged (rows are copied shallowly; cell values are immutable or media)."""
        copy = Table.__new__(Table)
        copy.log_mode = self.log_mode
        copy.columns = list(self.columns)
        copy.data = [list(row) for row in self.data]
        if len(copy.data) > self.MAX_ROWS:
            raise MediaError(f"a logged Table has at most {self.MAX_ROWS} rows")
        plain = _PLAIN.issuperset
        for row in copy.data:
            if not plain(map(type, row)):  # the common all-plain row is checked in C
                for i, value in enumerate(row):
                    if type(value) not in _PLAIN:
                        row[i] = _frozen_cell(value)
        return copy

    def materialize(self, sink: MediaSink, key: str, step: int, index: int) -> dict:
        body = self.jsonl(sink, key, step)
        ref = write_media_file(sink, self._folder, key, step, index, body, "table.jsonl")
        return ref | {
            "_type": self._type,
            "columns": self.columns,
            "nrows": len(self.data),
            "ncols": len(self.columns),
        }

    def jsonl(self, sink: MediaSink, key: str, step: int) -> bytes:
        """The table file; media cells are written as files first (writer thread)."""
        lines = [orjson.dumps({"columns": self.columns, "nrows": len(self.data)})]
        dumps = orjson.dumps
        option = orjson.OPT_SERIALIZE_NUMPY
        for r, row in enumerate(self.data):
            if any(isinstance(v, Media) for v in row):
                row = [
                    v.materialize(sink, f"{key}_cell", step, r * 1000 + c)
                    if isinstance(v, Media)
                    else v
                    for c, v in enumerate(row)
                ]
            try:
                lines.append(dumps(row, option=option))
            except TypeError:
                lines.append(dumps([_cell_json(v) for v in row], option=option))
        return b"\n".join(lines) + b"\n"

    def files(self) -> list[str]:  # pragma: no cover - W&B compatibility shim
        return []


_PLAIN = frozenset({int, float, str, bool, type(None)})


def _frozen_cell(value: Any) -> Any:
    value = as_media(value)
    if isinstance(value, Media):
        return value
    if isinstance(value, (list, dict, tuple)):
        return orjson.loads(orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY, default=str))
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return value.item()
    return value


def _cell_json(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    return str(value)
