"""The search space of a W&B-style sweep config, as plain data and pure functions.

`parse_space(config)` turns `config["parameters"]` into a `Space`: an ordered list of
`Dim`, one per leaf parameter (`validation.validate(config)` checks the whole config).
Everything here follows the open-source `sweeps` package (W&B's engine, 0.3.0) and
`hpo_bench.Dim`:

* Inference when `distribution` is absent: `value` -> constant; `values` -> categorical
  (`values` + `probabilities` -> categorical_w_probabilities); `min`/`max` both ints
  (not bools) -> int_uniform, otherwise uniform.
* Nested blocks `{"parameters": {...}}` are flattened; flat names join keys with ".".
  Dims are ordered by sorted key at every nesting level, as W&B orders them; that order
  fixes both the random-draw sequence and the grid order.
* Legacy `log_uniform` / `q_log_uniform` take natural-log exponents as min/max and
  `inv_log_uniform` takes exponents of 1/x; they are converted to value bounds here, so
  every log-uniform dim has kind `log_uniform_values` / `q_log_uniform_values`.
  `inv_log_uniform_values` is the same distribution as `log_uniform_values`.
* Quantized kinds round `round(x / q) * q`; the result is an int when `q` is written as an
  int and a float otherwise (`q` defaults to 1.0, so an omitted `q` yields floats).

Model-based engines get, per dim: `kind`, `bounds` (low, high in value space), `log`,
`is_int`, `values`. Unbounded priors are truncated at their 0.1% / 99.9% quantiles
(normal, log_normal and their q_ variants); beta lives on [0, 1].

Unit encoding (`Space.to_unit` / `Space.from_unit`): constants take no column; a numeric
dim takes one column in [0, 1], linear (or in log space when `log`) across `bounds`;
int_uniform spans [low - 0.5, high + 0.5] so that every integer owns an equal slice;
quantized dims are quantized after decoding. Decoding a uniform draw therefore reproduces
the sweep's own distribution for the uniform-family kinds (uniform, int_uniform,
log_uniform_values and their q_ variants) and a truncated uniform for the priors.
Categoricals are one-hot by default (one column per value; decoding takes the argmax);
`onehot=False` gives one column holding `(index + 0.5) / n` (decoding takes
`floor(u * n)`). Values outside `bounds` are clipped into [0, 1] when encoding.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

NEST = "."  # flat-name delimiter for nested parameter blocks
TAIL = 1e-3  # unbounded priors are truncated at the TAIL and 1 - TAIL quantiles

GOALS = ("minimize", "maximize")

# Distribution name -> (required keys, optional keys). Any other key is an error, as in
# W&B's schema (`additionalProperties: false`).
_KEYS: dict[str, tuple[set[str], set[str]]] = {
    "constant": ({"value"}, set()),
    "categorical": ({"values"}, set()),
    "categorical_w_probabilities": ({"values", "probabilities"}, set()),
    "int_uniform": ({"min", "max"}, set()),
    "uniform": ({"min", "max"}, set()),
    "q_uniform": ({"min", "max"}, {"q"}),
    "log_uniform": ({"min", "max"}, set()),
    "log_uniform_values": ({"min", "max"}, set()),
    "q_log_uniform": ({"min", "max"}, {"q"}),
    "q_log_uniform_values": ({"min", "max"}, {"q"}),
    "inv_log_uniform": ({"min", "max"}, set()),
    "inv_log_uniform_values": ({"min", "max"}, set()),
    "normal": (set(), {"mu", "sigma"}),
    "q_normal": (set(), {"mu", "sigma", "q"}),
    "log_normal": (set(), {"mu", "sigma"}),
    "q_log_normal": (set(), {"mu", "sigma", "q"}),
    "beta": (set(), {"a", "b"}),
    "q_beta": (set(), {"a", "b", "q"}),
}
DISTRIBUTIONS = tuple(_KEYS)

# Kinds after normalisation (legacy log forms folded into *_values).
_UNIFORM_FAMILY = (
    "int_uniform",
    "uniform",
    "q_uniform",
    "log_uniform_values",
    "q_log_uniform_values",
)
_MAX_EXP = 709.0  # math.exp overflows above this


def normal_ppf(p: float) -> float:
    """Quantile of the standard normal (Acklam's rational approximation plus one Halley
    step against math.erfc; |error| < 1e-14 on (0, 1)). Avoids a scipy dependency."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"normal_ppf needs 0 < p < 1, got {p}")
    a = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02,
         1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00)  # fmt: skip
    b = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02,
         6.680131188771972e01, -1.328068155288572e01)  # fmt: skip
    c = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00,
         -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00)  # fmt: skip
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00,
         3.754408661907416e00)  # fmt: skip
    lo = 0.02425
    if p < lo:
        t = math.sqrt(-2.0 * math.log(p))
        x = (((((c[0] * t + c[1]) * t + c[2]) * t + c[3]) * t + c[4]) * t + c[5]) / (
            (((d[0] * t + d[1]) * t + d[2]) * t + d[3]) * t + 1.0
        )
    elif p > 1.0 - lo:
        t = math.sqrt(-2.0 * math.log(1.0 - p))
        x = -(((((c[0] * t + c[1]) * t + c[2]) * t + c[3]) * t + c[4]) * t + c[5]) / (
            (((d[0] * t + d[1]) * t + d[2]) * t + d[3]) * t + 1.0
        )
    else:
        t = p - 0.5
        r = t * t
        x = (
            (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5])
            * t
            / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0)
        )
    e = 0.5 * math.erfc(-x / math.sqrt(2.0)) - p
    u = e * math.sqrt(2.0 * math.pi) * math.exp(x * x / 2.0)
    return x - u / (1.0 + x * u / 2.0)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def canonical(value: Any) -> str:
    """A key under which two parameter values are the same suggestion: integral floats
    equal ints (3.0 == 3, as W&B's grid de-duplication treats them), but bools stay apart
    from ints, numpy scalars equal Python ones, tuples equal lists, dict order is ignored."""
    return json.dumps(_plain(value), sort_keys=True, default=str)


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and math.isfinite(v) and v.is_integer():
        return int(v)
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, Mapping):
        return {str(k): _plain(x) for k, x in v.items()}
    return v


@dataclass
class Dim:
    """One leaf parameter. `kind` is the normalised distribution (legacy log forms folded
    into `log_uniform_values` / `q_log_uniform_values`); `distribution` is as written or
    inferred; `spec` is the parameter's config block untouched."""

    name: str  # flat name, nested keys joined with "."
    path: tuple[str, ...]  # the keys from the top of `parameters` (names may contain ".")
    distribution: str
    kind: str
    spec: dict
    values: list = field(default_factory=list)  # categorical only
    probabilities: list | None = None  # categorical_w_probabilities only
    low: float | None = None  # uniform family: bounds in value space
    high: float | None = None
    q: float | int | None = None  # quantized kinds only

    # ---- what a model-based engine asks ---------------------------------------------
    @property
    def is_constant(self) -> bool:
        return self.kind == "constant"

    @property
    def is_categorical(self) -> bool:
        return self.kind == "categorical"

    @property
    def is_numeric(self) -> bool:
        return not (self.is_constant or self.is_categorical)

    @property
    def is_int(self) -> bool:
        """Values are Python ints: int_uniform, or a quantized kind with an int `q`."""
        return self.kind == "int_uniform" or _is_int(self.q)

    @property
    def log(self) -> bool:
        return self.kind in (
            "log_uniform_values",
            "q_log_uniform_values",
            "log_normal",
            "q_log_normal",
        )

    @property
    def bounds(self) -> tuple[float, float]:
        """(low, high) in value space; priors truncated at their 0.1% / 99.9% quantiles."""
        if not self.is_numeric:
            raise ValueError(f"{self.name} is {self.kind}: it has no numeric bounds")
        if self.kind in _UNIFORM_FAMILY:
            return float(self.low), float(self.high)
        s = self.spec
        if self.kind in ("beta", "q_beta"):
            return 0.0, 1.0
        mu, sigma = float(s.get("mu", 0.0)), float(s.get("sigma", 1.0))
        z = -normal_ppf(TAIL)  # the lower tail is the accurate one
        lo, hi = mu - z * sigma, mu + z * sigma
        if self.log:
            return math.exp(lo), math.exp(hi)
        return lo, hi

    # ---- sampling with W&B semantics (draw for draw the same as hpo_bench.Dim) --------
    def sample(self, rng: np.random.Generator) -> Any:
        k, s = self.kind, self.spec
        if k == "constant":
            return copy.deepcopy(s["value"])
        if k == "categorical":
            if self.probabilities is not None:
                p = np.asarray(self.probabilities, dtype=float)
                idx = rng.choice(len(self.values), p=p / p.sum())
            else:
                idx = rng.integers(len(self.values))
            return copy.deepcopy(self.values[int(idx)])
        if k == "int_uniform":
            return int(rng.integers(int(self.low), int(self.high) + 1))
        if k in ("uniform", "q_uniform"):
            x = float(rng.uniform(self.low, self.high))
            return self.quantize(x) if k == "q_uniform" else x
        if k in ("log_uniform_values", "q_log_uniform_values"):
            x = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
            return self.quantize(x) if k == "q_log_uniform_values" else float(x)
        mu, sigma = s.get("mu", 0.0), s.get("sigma", 1.0)
        if k in ("normal", "q_normal"):
            x = float(rng.normal(mu, sigma))
        elif k in ("log_normal", "q_log_normal"):
            x = math.exp(rng.normal(mu, sigma))
        else:  # beta, q_beta
            x = float(rng.beta(s.get("a", 1.0), s.get("b", 1.0)))
        return self.quantize(x) if self.q is not None else float(x)

    def quantize(self, x: float) -> int | float:
        """W&B's rounding: `round(x / q) * q`, an int when `q` is an int."""
        q = self.q if self.q is not None else 1.0
        v = round(x / q) * q
        return int(v) if _is_int(q) else float(v)

    def contains(self, v: Any) -> bool:
        """Whether `v` is a value this dim could have suggested (hpo_bench's check)."""
        if self.kind == "constant":
            return canonical(v) == canonical(self.spec["value"])
        if self.kind == "categorical":
            return self.index_of(v) is not None
        if not _is_number(v):
            return False
        if self.kind == "int_uniform":
            return float(v).is_integer() and self.low <= v <= self.high
        if self.kind in ("uniform", "log_uniform_values"):
            lo, hi = self.low, self.high
            return lo - 1e-12 * abs(lo) <= v <= hi + 1e-12 * abs(hi)
        return True  # quantized and unbounded kinds: any finite number can come out

    def index_of(self, v: Any) -> int | None:
        """Position of `v` among a categorical's values, or None."""
        key = canonical(v)
        for i, c in enumerate(self.values):
            if canonical(c) == key:
                return i
        return None

    # ---- unit encoding ----------------------------------------------------------------
    def width(self, onehot: bool = True) -> int:
        if self.is_constant:
            return 0
        if self.is_categorical:
            return len(self.values) if onehot else 1
        return 1

    def _unit_box(self) -> tuple[float, float]:
        lo, hi = self.bounds
        if self.kind == "int_uniform":
            lo, hi = lo - 0.5, hi + 0.5
        if self.log:
            return math.log(lo), math.log(hi)
        return lo, hi

    def encode(self, v: Any, onehot: bool = True) -> list[float]:
        """This dim's columns of the unit vector for value `v`."""
        if self.is_constant:
            return []
        if self.is_categorical:
            i = self.index_of(v)
            if i is None:
                raise ValueError(f"{self.name}: {v!r} is not one of its values")
            if not onehot:
                return [(i + 0.5) / len(self.values)]
            cols = [0.0] * len(self.values)
            cols[i] = 1.0
            return cols
        if not _is_number(v):
            raise ValueError(f"{self.name}: {v!r} is not a finite number")
        lo, hi = self._unit_box()
        x = float(v)
        if self.log:
            x = math.log(x) if x > 0 else -math.inf
        return [min(max((x - lo) / (hi - lo), 0.0), 1.0)]

    def decode(self, cols: Sequence[float], onehot: bool = True) -> Any:
        """The value for this dim's columns (inverse of `encode`, clipping to [0, 1])."""
        if self.is_constant:
            return copy.deepcopy(self.spec["value"])
        if self.is_categorical:
            n = len(self.values)
            i = int(np.argmax(cols)) if onehot else math.floor(float(cols[0]) * n)
            return copy.deepcopy(self.values[min(max(i, 0), n - 1)])
        u = min(max(float(cols[0]), 0.0), 1.0)
        lo, hi = self._unit_box()
        x = lo + u * (hi - lo)
        if self.log:
            x = math.exp(x)
        if self.kind == "int_uniform":
            return int(min(max(math.floor(x + 0.5), self.low), self.high))
        if self.q is not None:
            return self.quantize(x)
        return float(x)


@dataclass
class Space:
    """The dims of a sweep, in W&B order, with the flat <-> nested and unit mappings."""

    dims: list[Dim]

    def __post_init__(self) -> None:
        self._by_name = {d.name: d for d in self.dims}

    def __getitem__(self, name: str) -> Dim:
        return self._by_name[name]

    def __iter__(self):
        return iter(self.dims)

    def __len__(self) -> int:
        return len(self.dims)

    @property
    def names(self) -> list[str]:
        return [d.name for d in self.dims]

    @property
    def free(self) -> list[Dim]:
        """The searchable dims (constants excluded)."""
        return [d for d in self.dims if not d.is_constant]

    def sample(self, rng: np.random.Generator) -> dict:
        """One random configuration, W&B random-search semantics, nested like the config."""
        return self.unflatten({d.name: d.sample(rng) for d in self.dims})

    def flatten(self, params: Mapping) -> dict:
        return flatten_params(params, self)

    def unflatten(self, flat: Mapping) -> dict:
        """Nested params from flat ones, following each dim's key path (so a parameter
        whose own name contains "." is not split)."""
        out: dict = {}
        for name, v in flat.items():
            d = self._by_name.get(name)
            path = d.path if d is not None else tuple(name.split(NEST))
            cur = out
            for p in path[:-1]:
                cur = cur.setdefault(p, {})
            cur[path[-1]] = v
        return out

    def key(self, params: Mapping, dims: Iterable[Dim] | None = None) -> str:
        """A canonical string for a configuration (over `dims`, default all): two
        suggestions with the same key are the same point."""
        flat = self.flatten(params)
        return canonical([flat[d.name] for d in (self.dims if dims is None else dims)])

    # ---- unit vectors -----------------------------------------------------------------
    def width(self, onehot: bool = True) -> int:
        return sum(d.width(onehot) for d in self.dims)

    def columns(self, onehot: bool = True) -> list[tuple[str, int | None]]:
        """What each vector column is: (dim name, category index for one-hot columns,
        else None)."""
        cols: list[tuple[str, int | None]] = []
        for d in self.dims:
            if d.is_categorical and onehot:
                cols += [(d.name, i) for i in range(len(d.values))]
            elif not d.is_constant:
                cols.append((d.name, None))
        return cols

    def to_unit(self, params: Mapping, onehot: bool = True) -> np.ndarray:
        flat = self.flatten(params)
        out: list[float] = []
        for d in self.dims:
            out += d.encode(flat[d.name], onehot)
        return np.asarray(out, dtype=float)

    def to_unit_many(self, params_list: Iterable[Mapping], onehot: bool = True) -> np.ndarray:
        rows = [self.to_unit(p, onehot) for p in params_list]
        return np.asarray(rows, dtype=float).reshape(len(rows), self.width(onehot))

    def from_unit(self, vector: Sequence[float], onehot: bool = True) -> dict:
        vec = np.asarray(vector, dtype=float).ravel()
        if vec.shape[0] != self.width(onehot):
            raise ValueError(
                f"expected a vector of {self.width(onehot)} columns, got {vec.shape[0]}"
            )
        flat, at = {}, 0
        for d in self.dims:
            w = d.width(onehot)
            flat[d.name] = d.decode(vec[at : at + w], onehot)
            at += w
        return self.unflatten(flat)


# --------------------------------------------------------------------------------------
# Parsing and validation
# --------------------------------------------------------------------------------------


def _infer(name: str, s: Mapping) -> str:
    if "distribution" in s:
        dist = s["distribution"]
        if dist not in _KEYS:
            raise ValueError(
                f"parameter {name!r}: unknown distribution {dist!r} "
                f"(one of: {', '.join(DISTRIBUTIONS)})"
            )
        return dist
    if "value" in s:
        return "constant"
    if "values" in s:
        return "categorical_w_probabilities" if "probabilities" in s else "categorical"
    if "min" in s and "max" in s:
        return "int_uniform" if _is_int(s["min"]) and _is_int(s["max"]) else "uniform"
    raise ValueError(
        f"parameter {name!r}: cannot infer a distribution from keys {sorted(s)}: "
        "give 'value', 'values', 'min' and 'max', or 'distribution'"
    )


def _number(name: str, s: Mapping, key: str, default: float | None = None) -> float:
    v = s.get(key, default)
    if not _is_number(v):
        raise ValueError(f"parameter {name!r}: {key} must be a finite number, got {v!r}")
    return v


def _parse_dim(name: str, path: tuple[str, ...], s: Mapping) -> Dim:
    dist = _infer(name, s)
    required, optional = _KEYS[dist]
    missing = sorted(required - set(s))
    if missing:
        raise ValueError(f"parameter {name!r}: distribution {dist} needs {', '.join(missing)}")
    extra = sorted(set(s) - required - optional - {"distribution"})
    if extra:
        raise ValueError(
            f"parameter {name!r}: key(s) {', '.join(extra)} not allowed with distribution {dist}"
        )
    d = Dim(name=name, path=path, distribution=dist, kind=dist, spec=dict(s))
    if dist == "constant":
        return d
    if dist in ("categorical", "categorical_w_probabilities"):
        values = s["values"]
        if not isinstance(values, list) or not values:
            raise ValueError(f"parameter {name!r}: values must be a non-empty list")
        d.kind, d.values = "categorical", list(values)
        if dist == "categorical_w_probabilities":
            probs = s["probabilities"]
            if not isinstance(probs, list) or len(probs) != len(values):
                raise ValueError(
                    f"parameter {name!r}: probabilities must be a list as long as values"
                )
            if not all(_is_number(p) and p >= 0 for p in probs):
                raise ValueError(f"parameter {name!r}: probabilities must be non-negative numbers")
            if not math.isclose(sum(probs), 1.0, rel_tol=1e-5, abs_tol=1e-8):
                raise ValueError(f"parameter {name!r}: probabilities sum to {sum(probs)}, not 1")
            d.probabilities = list(probs)
        return d

    if dist.startswith("q_"):
        q = s.get("q", 1.0)
        if not _is_number(q) or q <= 0:
            raise ValueError(f"parameter {name!r}: q must be a number > 0, got {q!r}")
        d.q = q
    if dist in ("normal", "q_normal", "log_normal", "q_log_normal"):
        _number(name, s, "mu", 0.0)
        if _number(name, s, "sigma", 1.0) <= 0:
            raise ValueError(f"parameter {name!r}: sigma must be > 0")
        return d
    if dist in ("beta", "q_beta"):
        for k in ("a", "b"):
            if _number(name, s, k, 1.0) <= 0:
                raise ValueError(f"parameter {name!r}: {k} must be > 0")
        return d

    lo, hi = _number(name, s, "min"), _number(name, s, "max")
    if dist == "int_uniform" and not (_is_int(lo) and _is_int(hi)):
        raise ValueError(
            f"parameter {name!r}: int_uniform needs integer min and max, got {lo!r}, {hi!r}"
        )
    if lo >= hi:
        raise ValueError(f"parameter {name!r}: min {lo} is not less than max {hi}")
    if dist in ("log_uniform", "q_log_uniform", "inv_log_uniform"):
        # legacy: bounds are natural-log exponents (of 1/x for inv_log_uniform)
        if max(abs(lo), abs(hi)) > _MAX_EXP:
            raise ValueError(
                f"parameter {name!r}: {dist} takes exponents; exp({lo}..{hi}) overflows"
            )
        if dist == "inv_log_uniform":
            lo, hi = math.exp(-hi), math.exp(-lo)
        else:
            lo, hi = math.exp(lo), math.exp(hi)
        d.kind = "q_log_uniform_values" if dist == "q_log_uniform" else "log_uniform_values"
    elif dist in ("log_uniform_values", "q_log_uniform_values", "inv_log_uniform_values"):
        if lo <= 0:
            raise ValueError(f"parameter {name!r}: {dist} needs min > 0 (log scale), got {lo}")
        if dist == "inv_log_uniform_values":
            d.kind = "log_uniform_values"
    d.low, d.high = lo, hi
    return d


def parse_space(config: Mapping) -> Space:
    """The `Space` of a sweep config's `parameters` (the whole config is passed). Raises
    ValueError naming the bad parameter."""
    if not isinstance(config, Mapping):
        raise ValueError("sweep config must be a mapping")
    params = config.get("parameters")
    if not isinstance(params, Mapping) or not params:
        raise ValueError("sweep config needs a non-empty 'parameters' mapping")
    dims: list[Dim] = []

    def walk(block: Mapping, path: tuple[str, ...]) -> None:
        for key in sorted(block, key=str):
            if not isinstance(key, str) or not key:
                raise ValueError(f"parameter names must be non-empty strings, got {key!r}")
            spec = block[key]
            sub = (*path, key)
            name = NEST.join(sub)
            if not isinstance(spec, Mapping):
                raise ValueError(
                    f"parameter {name!r}: expected a mapping, got {type(spec).__name__}"
                )
            if "parameters" in spec:
                if set(spec) != {"parameters"}:
                    raise ValueError(f"parameter {name!r}: a nested block holds only 'parameters'")
                inner = spec["parameters"]
                if not isinstance(inner, Mapping) or not inner:
                    raise ValueError(
                        f"parameter {name!r}: nested 'parameters' must be a non-empty mapping"
                    )
                walk(inner, sub)
            else:
                dims.append(_parse_dim(name, sub, spec))

    walk(params, ())
    seen: set[str] = set()
    for d in dims:
        if d.name in seen:
            raise ValueError(f"parameter {d.name!r} is defined twice (once as a nested block)")
        seen.add(d.name)
    return Space(dims)


def metric(config: Mapping) -> tuple[str, str]:
    """(name, goal) of the sweep's metric; goal defaults to "minimize"."""
    m = config.get("metric")
    if not isinstance(m, Mapping) or not isinstance(m.get("name"), str) or not m["name"]:
        raise ValueError("sweep config needs metric.name (the metric to optimize)")
    goal = m.get("goal", "minimize")
    if goal not in GOALS:
        raise ValueError(f"metric.goal must be minimize or maximize, got {goal!r}")
    return m["name"], goal


GRID_KINDS = ("constant", "categorical", "int_uniform", "q_uniform")


def grid_values(d: Dim) -> list:
    """The values a grid enumerates for `d`, W&B's way: categorical values in order,
    int_uniform min..max inclusive, q_uniform `numpy.arange(min, max, q)` (max excluded,
    as in W&B). Raises ValueError for anything else."""
    if d.kind == "constant":
        return [d.spec["value"]]
    if d.kind == "categorical" and d.probabilities is None:
        return list(d.values)
    if d.kind == "int_uniform":
        return list(range(int(d.low), int(d.high) + 1))
    if d.distribution == "q_uniform":
        return np.arange(d.spec["min"], d.spec["max"], d.q).tolist()
    what = "categorical with probabilities" if d.is_categorical else d.distribution
    raise ValueError(
        f"parameter {d.name!r}: grid search cannot enumerate a {what} parameter; "
        "use values, value, int_uniform or q_uniform"
    )


# --------------------------------------------------------------------------------------
# Flat <-> nested params
# --------------------------------------------------------------------------------------


def flatten_params(params: Mapping, space: Space | Iterable[Dim]) -> dict:
    """{flat name: value} for every dim of `space`, read from nested `params`. Raises
    ValueError naming the first parameter `params` lacks."""
    out = {}
    for d in space:
        cur: Any = params
        for part in d.path:
            if not isinstance(cur, Mapping) or part not in cur:
                raise ValueError(f"params lack parameter {d.name!r}")
            cur = cur[part]
        out[d.name] = cur
    return out


def unflatten_params(flat: Mapping) -> dict:
    """Nested params from {flat name: value}, splitting names on "." (use
    `Space.unflatten` when a parameter's own name may contain ".")."""
    out: dict = {}
    for name, v in flat.items():
        parts = name.split(NEST)
        cur = out
        for p in parts[:-1]:
            cur = cur.setdefault(p, {})
        cur[parts[-1]] = v
    return out
