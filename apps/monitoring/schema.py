"""Validation of a monitor's configuration: the feature schema, prediction type,
window, retention and drift settings. Each error is a 400 naming the field."""

from __future__ import annotations

import math

from apps.core.errors import field_error
from apps.monitoring import drift

FEATURE_TYPES = ("numeric", "categorical", "text", "embedding")
PREDICTION_TYPES = ("binary", "multiclass", "regression")
WINDOWS = {"hourly": 3600, "daily": 86400}
MAX_FEATURES = 500
MAX_CLASSES = 100
MAX_DIM = 4096
MAX_NAME = 128
MAX_RETENTION_DAYS = 3660
RESERVED = "__prediction__"


def _name(value, field: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_NAME or "\x00" in value:
        raise field_error(f"{field} must be a string of 1-{MAX_NAME} characters.", field)
    return value


def features(value) -> list[dict]:
    if not isinstance(value, list) or not value:
        raise field_error("features must be a non-empty list of {name, type}.", "features")
    if len(value) > MAX_FEATURES:
        raise field_error(f"At most {MAX_FEATURES} features.", "features")
    out, seen = [], set()
    for i, spec in enumerate(value):
        where = f"features[{i}]"
        if not isinstance(spec, dict):
            raise field_error(f"{where} must be an object.", where)
        unknown = set(spec) - {"name", "type", "dim", "allow_nan", "required"}
        if unknown:
            raise field_error(f"{where}: unknown keys {sorted(unknown)}.", where)
        name = _name(spec.get("name"), f"{where}.name")
        if name in seen or name == RESERVED:
            raise field_error(f"{where}.name {name!r} is used twice or reserved.", f"{where}.name")
        seen.add(name)
        kind = spec.get("type")
        if kind not in FEATURE_TYPES:
            raise field_error(
                f"{where}.type must be one of {', '.join(FEATURE_TYPES)}.", f"{where}.type"
            )
        item = {"name": name, "type": kind}
        if kind == "embedding":
            dim = spec.get("dim")
            if type(dim) is not int or not 1 <= dim <= MAX_DIM:
                raise field_error(
                    f"{where}.dim must be an integer from 1 to {MAX_DIM}.", f"{where}.dim"
                )
            item["dim"] = dim
        elif "dim" in spec:
            raise field_error(f"{where}.dim is for embeddings only.", f"{where}.dim")
        for flag in ("allow_nan", "required"):
            if flag in spec:
                if type(spec[flag]) is not bool:
                    raise field_error(f"{where}.{flag} must be true or false.", f"{where}.{flag}")
                item[flag] = spec[flag]
        out.append(item)
    return out


def prediction(kind, classes, threshold) -> tuple[str, list[str], float]:
    if kind not in PREDICTION_TYPES:
        raise field_error(
            f"prediction_type must be one of {', '.join(PREDICTION_TYPES)}.", "prediction_type"
        )
    labels: list[str] = []
    if kind == "multiclass":
        if not isinstance(classes, list) or not 2 <= len(classes) <= MAX_CLASSES:
            raise field_error(f"classes must list 2-{MAX_CLASSES} class labels.", "classes")
        for c in classes:
            if isinstance(c, bool) or not isinstance(c, str | int):
                raise field_error("classes must be strings or integers.", "classes")
            labels.append(_name(str(c), "classes"))
        if len(set(labels)) != len(labels):
            raise field_error("classes must be distinct.", "classes")
    elif classes not in (None, []):
        raise field_error("classes is for multiclass monitors only.", "classes")
    if threshold is None:
        threshold = 0.5
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or not 0 < threshold < 1
    ):
        raise field_error("threshold must be a number between 0 and 1.", "threshold")
    return kind, labels, float(threshold)


def window(value) -> str:
    if value not in WINDOWS:
        raise field_error(f"window must be one of {', '.join(WINDOWS)}.", "window")
    return value


def retention(value) -> int:
    if type(value) is not int or not 1 <= value <= MAX_RETENTION_DAYS:
        raise field_error(
            f"retention_days must be an integer from 1 to {MAX_RETENTION_DAYS}.", "retention_days"
        )
    return value


def drift_config(value, feature_names: set[str]) -> dict:
    """{"baseline": "reference"|"previous", "share": 0.5, "<type>": {"method", "threshold"},
    "features": {"<name>": {"method", "threshold"}}}"""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise field_error("drift must be an object.", "drift")
    out: dict = {}

    def method_config(cfg, where: str) -> dict:
        if not isinstance(cfg, dict) or not set(cfg) <= {"method", "threshold"}:
            raise field_error(f"{where} takes {{method, threshold}}.", where)
        item = {}
        if "method" in cfg:
            if cfg["method"] not in drift.METHODS:
                raise field_error(
                    f"{where}.method must be one of {', '.join(drift.METHODS)}.",
                    f"{where}.method",
                )
            item["method"] = cfg["method"]
        if "threshold" in cfg:
            t = cfg["threshold"]
            if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t):
                raise field_error(f"{where}.threshold must be a number.", f"{where}.threshold")
            item["threshold"] = float(t)
        return item

    for key, cfg in value.items():
        if key == "baseline":
            if cfg not in ("reference", "previous"):
                raise field_error("drift.baseline must be reference or previous.", "drift.baseline")
            out[key] = cfg
        elif key == "share":
            if isinstance(cfg, bool) or not isinstance(cfg, int | float) or not 0 < cfg <= 1:
                raise field_error("drift.share must be in (0, 1].", "drift.share")
            out[key] = float(cfg)
        elif key in FEATURE_TYPES or key == "prediction":
            out[key] = method_config(cfg, f"drift.{key}")
        elif key == "features":
            if not isinstance(cfg, dict):
                raise field_error("drift.features must be an object.", "drift.features")
            out["features"] = {}
            for name, fcfg in cfg.items():
                if name not in feature_names:
                    raise field_error(
                        f"drift.features: unknown feature {name!r}.", "drift.features"
                    )
                out["features"][name] = method_config(fcfg, f"drift.features.{name}")
        else:
            raise field_error(f"drift: unknown key {key!r}.", "drift")
    return out


def layout(features_: list[dict]) -> dict:
    """Where each feature lives in a stored record: numeric and text lengths in `num`
    columns, categoricals in `cat`, embeddings in `emb` slices."""
    num, cat, emb = [], [], []
    offset = 0
    for f in features_:
        if f["type"] in ("numeric", "text"):
            num.append(f["name"])
        elif f["type"] == "categorical":
            cat.append(f["name"])
        else:
            emb.append((f["name"], offset, f["dim"]))
            offset += f["dim"]
    return {"num": num, "cat": cat, "emb": emb, "emb_dim": offset}
