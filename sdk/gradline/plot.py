"""`wandb.plot.*`: charts as Vega-Lite specs over a Table (a "custom chart").

Every preset takes W&B's table-based signature (`plot.line(table, "x", "y")`) and the
array form the product brief uses (`plot.line(x=epochs, y=losses, title=...)`,
`plot.scatter(x=..., y=..., color=...)`, `plot.confusion_matrix(y_true=..., y_pred=...,
class_names=...)`). A chart is logged as its table (paged from the server like any
table) plus the resolved Vega-Lite spec, whose data source is named "table".

`plot_table(spec, table, fields, string_fields)` takes a preset name ("gradline/line/v0",
W&B's "wandb/line/v0" names map to ours) or a Vega-Lite spec of your own; in a spec,
"${field:NAME}" is replaced by fields[NAME] and "${string:NAME}" by string_fields[NAME].
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from typing import Any

from gradline.media import Media, MediaError, MediaSink
from gradline.table import Table

SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
_PLACEHOLDER = re.compile(r"\$\{(field|string):([^}]+)\}")


def _spec(mark: Any, encoding: dict, **extra: Any) -> dict:
    return {
        "$schema": SCHEMA,
        "data": {"name": "table"},
        "title": "${string:title}",
        "mark": mark,
        "encoding": encoding,
        **extra,
    }


def _q(field: str, **extra: Any) -> dict:
    return {"field": f"${{field:{field}}}", "type": "quantitative", **extra}


def _n(field: str, **extra: Any) -> dict:
    return {"field": f"${{field:{field}}}", "type": "nominal", **extra}


PRESETS: dict[str, dict] = {
    "gradline/line/v0": _spec(
        {"type": "line", "point": False},
        {"x": _q("x"), "y": _q("y"), "color": _n("stroke")},
    ),
    "gradline/scatter/v0": _spec(
        {"type": "point", "filled": True},
        {"x": _q("x"), "y": _q("y"), "color": _n("color")},
    ),
    "gradline/bar/v0": _spec("bar", {"x": _n("label"), "y": _q("value")}),
    "gradline/histogram/v0": _spec(
        "bar",
        {
            "x": _q("value", bin={"maxbins": 64}),
            "y": {"aggregate": "count", "type": "quantitative"},
        },
    ),
    "gradline/line_series/v0": _spec(
        "line", {"x": _q("step"), "y": _q("lineVal"), "color": _n("lineKey")}
    ),
    "gradline/confusion_matrix/v0": {
        "$schema": SCHEMA,
        "data": {"name": "table"},
        "title": "${string:title}",
        "encoding": {"x": _n("Predicted"), "y": _n("Actual")},
        "layer": [
            {
                "mark": "rect",
                "encoding": {"color": _q("nPredictions", scale={"scheme": "blues"})},
            },
            {
                "mark": {"type": "text"},
                "encoding": {"text": _q("nPredictions")},
            },
        ],
    },
    "gradline/pr_curve/v0": _spec(
        "line",
        {
            "x": _q("recall", scale={"domain": [0, 1]}),
            "y": _q("precision", scale={"domain": [0, 1]}),
            "color": _n("class"),
        },
    ),
    "gradline/roc_curve/v0": _spec(
        "line",
        {
            "x": _q("fpr", title="False positive rate", scale={"domain": [0, 1]}),
            "y": _q("tpr", title="True positive rate", scale={"domain": [0, 1]}),
            "color": _n("class"),
        },
    ),
}
_WANDB_NAMES = {
    "wandb/line/v0": "gradline/line/v0",
    "wandb/scatter/v0": "gradline/scatter/v0",
    "wandb/bar/v0": "gradline/bar/v0",
    "wandb/histogram/v0": "gradline/histogram/v0",
    "wandb/lineseries/v0": "gradline/line_series/v0",
    "wandb/confusion_matrix/v1": "gradline/confusion_matrix/v0",
    "wandb/area-under-curve/v0": "gradline/pr_curve/v0",
}


def resolve_spec(spec: Any, fields: dict, string_fields: dict) -> dict:
    """The Vega-Lite spec with its placeholders filled; encodings whose field is not
    given (an optional colour) are dropped."""

    def fill(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                filled = fill(value)
                if filled is _DROP:
                    if key == "field":  # an encoding of a field not given: drop it
                        return _DROP
                    continue
                out[key] = filled
            return out
        if isinstance(node, list):
            return [v for v in (fill(v) for v in node) if v is not _DROP]
        if isinstance(node, str):
            whole = _PLACEHOLDER.fullmatch(node)
            if whole:
                source = fields if whole.group(1) == "field" else string_fields
                name = whole.group(2)
                if name not in source or source[name] is None:
                    return _DROP if whole.group(1) == "field" else ""
                return source[name]
            return _PLACEHOLDER.sub(
                lambda m: str(
                    (fields if m.group(1) == "field" else string_fields).get(m.group(2), "")
                ),
                node,
            )
        return node

    resolved = fill(copy.deepcopy(spec))
    if isinstance(resolved, dict) and isinstance(resolved.get("encoding"), dict):
        resolved["encoding"] = {k: v for k, v in resolved["encoding"].items() if v is not _DROP}
    if isinstance(resolved, dict) and resolved.get("title") == "":
        resolved.pop("title")
    return resolved


_DROP = object()


class CustomChart(Media):
    """A table and the Vega-Lite spec drawn over it (`wandb.plot_table`'s result)."""

    _type = "custom-chart"
    _folder = "tables"

    def __init__(
        self,
        spec_name: str,
        table: Table,
        fields: dict,
        string_fields: dict | None = None,
        spec: dict | None = None,
    ):
        if not isinstance(table, Table):
            raise MediaError("a custom chart needs a gradline.Table")
        self.spec_name = spec_name
        self.table = table
        self.fields = {str(k): v for k, v in (fields or {}).items()}
        self.string_fields = {str(k): v for k, v in (string_fields or {}).items()}
        for name, column in self.fields.items():
            if column is not None and column not in table.columns:
                raise MediaError(
                    f"field {name!r} names column {column!r}, not one of {table.columns}"
                )
        base = spec if spec is not None else PRESETS[spec_name]
        self.spec = resolve_spec(base, self.fields, self.string_fields)

    def _frozen(self) -> CustomChart:
        frozen = copy.copy(self)
        frozen.table = self.table._frozen()
        return frozen

    def materialize(self, sink: MediaSink, key: str, step: int, index: int) -> dict:
        ref = self.table.materialize(sink, key, step, index)
        ref["_type"] = self._type
        ref["spec_name"] = self.spec_name
        ref["spec"] = self.spec
        ref["fields"] = self.fields
        if self.string_fields:
            ref["string_fields"] = self.string_fields
        return ref

    def __repr__(self) -> str:
        return f"<CustomChart {self.spec_name} over {self.table!r}>"


def plot_table(
    vega_spec_name: str | dict,
    data_table: Table,
    fields: dict,
    string_fields: dict | None = None,
    split_table: bool = False,
) -> CustomChart:
    """A custom chart: a preset name or your own Vega-Lite spec (a dict) over a table."""
    if isinstance(vega_spec_name, dict):
        return CustomChart("custom", data_table, fields, string_fields, spec=vega_spec_name)
    name = _WANDB_NAMES.get(vega_spec_name, vega_spec_name)
    if name not in PRESETS:
        raise MediaError(
            f"unknown chart preset {vega_spec_name!r}; presets: {sorted(PRESETS)}, or pass a "
            "Vega-Lite spec (a dict)"
        )
    return CustomChart(name, data_table, fields, string_fields)


# --------------------------------------------------------------------------- presets


def _values(data: Any) -> list:
    if type(data).__module__.startswith("torch"):
        data = data.detach().to("cpu").numpy()
    if hasattr(data, "tolist"):
        return data.tolist()
    return list(data)


def _is_column(value: Any) -> bool:
    return isinstance(value, str)


def _xy_table(x: Any, y: Any, extra: dict) -> tuple[Table, dict]:
    xs, ys = _values(x), _values(y)
    if len(xs) != len(ys):
        raise MediaError(f"x has {len(xs)} values and y {len(ys)}")
    columns, data = ["x", "y"], [xs, ys]
    fields = {"x": "x", "y": "y"}
    for name, values in extra.items():
        if values is None:
            continue
        values = _values(values)
        if len(values) != len(xs):
            raise MediaError(f"{name} has {len(values)} values for {len(xs)} points")
        columns.append(name)
        data.append(values)
        fields[name] = name
    return Table(columns=columns, data=[list(row) for row in zip(*data)]), fields


def line(
    table: Table | None = None,
    x: Any = None,
    y: Any = None,
    stroke: Any = None,
    title: str = "",
    split_table: bool = False,
) -> CustomChart:
    """`plot.line(table, "x", "y", stroke=None, title="")` or `plot.line(x=[...], y=[...])`."""
    if isinstance(table, Table):
        return plot_table(
            "gradline/line/v0", table, {"x": x, "y": y, "stroke": stroke}, {"title": title}
        )
    data, fields = _xy_table(x, y, {"stroke": stroke})
    return plot_table("gradline/line/v0", data, fields, {"title": title})


def scatter(
    table: Table | None = None,
    x: Any = None,
    y: Any = None,
    title: str = "",
    split_table: bool = False,
    color: Any = None,
) -> CustomChart:
    """`plot.scatter(table, "x", "y", title="")` or `plot.scatter(x=[...], y=[...],
    color=[...])` (one colour per distinct value)."""
    if isinstance(table, Table):
        fields = {"x": x, "y": y, "color": color if _is_column(color) else None}
        return plot_table("gradline/scatter/v0", table, fields, {"title": title})
    data, fields = _xy_table(x, y, {"color": color})
    return plot_table("gradline/scatter/v0", data, fields, {"title": title})


def bar(
    table: Table | None = None,
    label: Any = None,
    value: Any = None,
    title: str = "",
    split_table: bool = False,
) -> CustomChart:
    """`plot.bar(table, "label", "value")` or `plot.bar(label=[...], value=[...])`."""
    if not isinstance(table, Table):
        labels, values = _values(label), _values(value)
        table = Table(columns=["label", "value"], data=[list(r) for r in zip(labels, values)])
        label, value = "label", "value"
    return plot_table("gradline/bar/v0", table, {"label": label, "value": value}, {"title": title})


def histogram(
    table: Table | None = None, value: Any = None, title: str = "", split_table: bool = False
) -> CustomChart:
    """`plot.histogram(table, "value")` or `plot.histogram(value=[...])`."""
    if not isinstance(table, Table):
        table = Table(columns=["value"], data=[[v] for v in _values(value)])
        value = "value"
    return plot_table("gradline/histogram/v0", table, {"value": value}, {"title": title})


def line_series(
    xs: Any,
    ys: Sequence[Any],
    keys: Sequence[str] | None = None,
    title: str | None = None,
    xname: str | None = None,
    split_table: bool = False,
) -> CustomChart:
    """Several lines: `xs` one list for all (or one per line), `ys` a list of lists."""
    series = [_values(y) for y in ys]
    xs_values = _values(xs)
    shared = not xs_values or not isinstance(xs_values[0], (list, tuple))
    keys = list(keys) if keys is not None else [f"key_{i}" for i in range(len(series))]
    if len(keys) != len(series):
        raise MediaError(f"{len(keys)} keys for {len(series)} lines")
    rows = []
    for i, (name, values) in enumerate(zip(keys, series)):
        line_xs = xs_values if shared else _values(xs_values[i])
        if len(line_xs) != len(values):
            raise MediaError(f"line {name!r}: {len(line_xs)} x values for {len(values)} y values")
        rows.extend([x, str(name), y] for x, y in zip(line_xs, values))
    table = Table(columns=["step", "lineKey", "lineVal"], data=rows)
    return plot_table(
        "gradline/line_series/v0",
        table,
        {"step": "step", "lineKey": "lineKey", "lineVal": "lineVal"},
        {"title": title or "", "xname": xname or "x"},
    )


def _labels(values: list, class_names: Sequence[str] | None) -> list[str]:
    if class_names is None:
        return [str(v) for v in values]
    names = list(class_names)
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < len(names):
            raise MediaError(f"label {v!r} is not an index into class_names ({len(names)} names)")
        out.append(str(names[v]))
    return out


def confusion_matrix(
    probs: Any = None,
    y_true: Any = None,
    preds: Any = None,
    class_names: Sequence[str] | None = None,
    title: str | None = None,
    split_table: bool = False,
    y_pred: Any = None,
) -> CustomChart:
    """Counts of (actual, predicted) pairs: from `preds` / `y_pred` (class indices, or
    labels when class_names is None) or from `probs` (argmax per row)."""
    if y_true is None:
        raise MediaError("confusion_matrix needs y_true")
    predicted = preds if preds is not None else y_pred
    actual = _values(y_true)
    if predicted is None:
        if probs is None:
            raise MediaError("confusion_matrix needs preds (or y_pred) or probs")
        predicted = [max(range(len(row)), key=row.__getitem__) for row in _values(probs)]
    predicted = _values(predicted)
    if len(actual) != len(predicted):
        raise MediaError(f"y_true has {len(actual)} values and the predictions {len(predicted)}")
    actual_names, predicted_names = _labels(actual, class_names), _labels(predicted, class_names)
    names = (
        [str(n) for n in class_names]
        if class_names is not None
        else sorted(set(actual_names) | set(predicted_names))
    )
    counts = {(a, p): 0 for a in names for p in names}
    for a, p in zip(actual_names, predicted_names):
        counts[(a, p)] += 1
    table = Table(
        columns=["Actual", "Predicted", "nPredictions"],
        data=[[a, p, n] for (a, p), n in counts.items()],
    )
    fields = {"Actual": "Actual", "Predicted": "Predicted", "nPredictions": "nPredictions"}
    return plot_table(
        "gradline/confusion_matrix/v0", table, fields, {"title": title or "Confusion Matrix"}
    )


def _curve_inputs(y_true: Any, y_probas: Any, labels: Any, classes_to_plot: Any):
    truth = _values(y_true)
    probas = [_values(row) for row in _values(y_probas)]
    if len(truth) != len(probas):
        raise MediaError(f"y_true has {len(truth)} values and y_probas {len(probas)} rows")
    n_classes = len(probas[0]) if probas else 0
    names = [str(n) for n in labels] if labels is not None else [str(i) for i in range(n_classes)]
    if len(names) != n_classes:
        raise MediaError(f"{len(names)} labels for {n_classes} probability columns")
    wanted = range(n_classes) if classes_to_plot is None else list(classes_to_plot)
    return truth, probas, names, wanted


def _ranked(truth: list, scores: list, positive: Any) -> tuple[list, int, int]:
    """(tp, fp) after each distinct score, highest first; total positives, negatives."""
    pairs = sorted(zip(scores, truth), key=lambda p: -p[0])
    positives = sum(1 for t in truth if t == positive)
    out, tp, fp = [], 0, 0
    for i, (score, t) in enumerate(pairs):
        if t == positive:
            tp += 1
        else:
            fp += 1
        if i + 1 == len(pairs) or pairs[i + 1][0] != score:
            out.append((tp, fp))
    return out, positives, len(truth) - positives


def _thin(points: list, size: int) -> list:
    if len(points) <= size:
        return points
    step = (len(points) - 1) / (size - 1)
    return [points[round(i * step)] for i in range(size)]


def pr_curve(
    y_true: Any = None,
    y_probas: Any = None,
    labels: Sequence[str] | None = None,
    classes_to_plot: Sequence[Any] | None = None,
    interp_size: int = 21,
    title: str | None = None,
    split_table: bool = False,
) -> CustomChart:
    """One precision-recall curve per class (one vs rest)."""
    truth, probas, names, wanted = _curve_inputs(y_true, y_probas, labels, classes_to_plot)
    rows = []
    for c in wanted:
        ranked, positives, _ = _ranked(truth, [row[c] for row in probas], c)
        if not positives:
            continue
        points = [(1.0, 0.0)] + [(tp / (tp + fp), tp / positives) for tp, fp in ranked]
        for precision, recall in _thin(points, max(2, interp_size * 5)):
            rows.append([names[c], round(recall, 6), round(precision, 6)])
    table = Table(columns=["class", "recall", "precision"], data=rows)
    fields = {"recall": "recall", "precision": "precision", "class": "class"}
    return plot_table(
        "gradline/pr_curve/v0", table, fields, {"title": title or "Precision v. Recall"}
    )


def roc_curve(
    y_true: Any = None,
    y_probas: Any = None,
    labels: Sequence[str] | None = None,
    classes_to_plot: Sequence[Any] | None = None,
    title: str | None = None,
    split_table: bool = False,
) -> CustomChart:
    """One ROC curve per class (one vs rest)."""
    truth, probas, names, wanted = _curve_inputs(y_true, y_probas, labels, classes_to_plot)
    rows = []
    for c in wanted:
        ranked, positives, negatives = _ranked(truth, [row[c] for row in probas], c)
        if not positives or not negatives:
            continue
        points = [(0.0, 0.0)] + [(fp / negatives, tp / positives) for tp, fp in ranked]
        for fpr, tpr in _thin(points, 200):
            rows.append([names[c], round(fpr, 6), round(tpr, 6)])
    table = Table(columns=["class", "fpr", "tpr"], data=rows)
    fields = {"fpr": "fpr", "tpr": "tpr", "class": "class"}
    return plot_table("gradline/roc_curve/v0", table, fields, {"title": title or "ROC"})
