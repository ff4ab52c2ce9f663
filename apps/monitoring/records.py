"""Prediction and ground-truth records off the wire (no Django): each record is checked
on its own, and a bad one is reported by index, id and field while the others go on
(docs/design.md §8).

A prediction record: {"id", "time"? (ISO 8601 or Unix seconds; default now),
"version"?, "features": {name: value}, "prediction", "scores"? (multiclass: one
probability per class, a list in class order or an object), "latency_ms"?, "error"?
(a failed prediction: its message; prediction may then be absent)}.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

MAX_ID = 256
MAX_CATEGORY = 256
MAX_ERROR = 1000
MAX_FUTURE_S = 86400
NUMBER = (int, float)


class Bad(Exception):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def record_id(value) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise Bad("id", "id must be a string (or an integer) naming the prediction.")
    value = str(value)
    if not value or len(value) > MAX_ID or "\x00" in value:
        raise Bad("id", f"id must be 1-{MAX_ID} characters without NUL.")
    return value


def timestamp(value, now: float, oldest: float) -> float:
    if value is None:
        return now
    if isinstance(value, bool):
        raise Bad("time", "time must be ISO 8601 or Unix seconds.")
    if isinstance(value, NUMBER):
        ts = float(value)
    elif isinstance(value, str) and len(value) <= 64:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise Bad("time", "time must be ISO 8601 or Unix seconds.") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        ts = moment.timestamp()
    else:
        raise Bad("time", "time must be ISO 8601 or Unix seconds.")
    if not math.isfinite(ts) or ts > now + MAX_FUTURE_S:
        raise Bad("time", "time lies more than a day in the future.")
    if ts < oldest:
        raise Bad("time", "time is older than the monitor's retention.")
    return ts


def _number(value, where: str, allow_nan: bool) -> float:
    if isinstance(value, str) and value.lower() == "nan":
        value = math.nan
    if isinstance(value, bool) or not isinstance(value, NUMBER):
        raise Bad(where, f"{where} must be a number.")
    value = float(value)
    if math.isnan(value):
        if not allow_nan:
            raise Bad(where, f"{where} is NaN, which this feature does not allow.")
    elif not math.isfinite(value):
        raise Bad(where, f"{where} must be finite.")
    return value


@dataclass
class Decoder:
    """Turns a list of records into columns for one monitor's schema."""

    features: list[dict]
    prediction_type: str
    classes: list[str]
    now: float
    oldest: float
    specs: dict = field(init=False)

    def __post_init__(self):
        self.specs = {f["name"]: f for f in self.features}
        self.num = [f for f in self.features if f["type"] in ("numeric", "text")]
        self.cat = [f for f in self.features if f["type"] == "categorical"]
        self.emb = [f for f in self.features if f["type"] == "embedding"]
        self.emb_dim = sum(f["dim"] for f in self.emb)
        self.class_index = {c: i for i, c in enumerate(self.classes)}

    def prediction(self, value, where: str = "prediction") -> float:
        kind = self.prediction_type
        if kind == "binary":
            if isinstance(value, bool):
                return float(value)
            if not isinstance(value, NUMBER) or not 0 <= value <= 1:
                raise Bad(where, f"{where} must be a probability in [0, 1] or a boolean.")
            return float(value)
        if kind == "regression":
            return _number(value, where, False)
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise Bad(where, f"{where} must be one of the monitor's classes.")
        index = self.class_index.get(str(value))
        if index is None:
            raise Bad(where, f"{where} {value!r} is not one of the monitor's classes.")
        return float(index)

    def _scores(self, value) -> list[float]:
        k = len(self.classes)
        if isinstance(value, dict):
            unknown = set(map(str, value)) - set(self.class_index)
            if unknown:
                raise Bad("scores", f"scores: unknown classes {sorted(unknown)[:5]}.")
            value = [
                value.get(c, value.get(int(c)) if c.isdigit() else None) or 0 for c in self.classes
            ]
        if not isinstance(value, list) or len(value) != k:
            raise Bad("scores", f"scores must give {k} probabilities, one per class.")
        out = []
        for s in value:
            if isinstance(s, bool) or not isinstance(s, NUMBER) or not 0 <= s <= 1:
                raise Bad("scores", "scores must be probabilities in [0, 1].")
            out.append(float(s))
        return out

    def decode(self, records) -> tuple[dict, list[dict]]:
        """(columns of the good records, rejections); the first record of an id wins
        and later ones in the batch count as duplicates (`columns["duplicates"]`)."""
        ids, times, versions, preds, latencies, errors, scores = [], [], [], [], [], [], []
        nums, cats, embs = [], [], []
        rejected: list[dict] = []
        seen: set[str] = set()
        duplicates = 0
        nan = math.nan
        for index, record in enumerate(records):
            rid = record.get("id") if isinstance(record, dict) else None
            try:
                if not isinstance(record, dict):
                    raise Bad("record", "Each record must be an object.")
                unknown = set(record) - {
                    "id", "time", "version", "features", "prediction", "scores",
                    "latency_ms", "error",
                }  # fmt: skip
                if unknown:
                    raise Bad(sorted(unknown)[0], f"Unknown record field {sorted(unknown)[0]!r}.")
                rid = record_id(record.get("id"))
                ts = timestamp(record.get("time"), self.now, self.oldest)
                version = record.get("version")
                if version is not None and (type(version) is not int or not 0 <= version < 2**31):
                    raise Bad("version", "version must be a version index (an integer).")
                feats = record.get("features")
                if not isinstance(feats, dict):
                    raise Bad("features", "features must be an object of feature values.")
                for name in feats:
                    if name not in self.specs:
                        raise Bad(f"features.{name}", f"Unknown feature {name!r}.")
                row_num = []
                for f in self.num:
                    v = feats.get(f["name"])
                    where = f"features.{f['name']}"
                    if v is None:
                        if f.get("required"):
                            raise Bad(where, f"{where} is required.")
                        row_num.append(nan)
                    elif f["type"] == "text":
                        if not isinstance(v, str):
                            raise Bad(where, f"{where} must be a string.")
                        row_num.append(float(len(v)))
                    else:
                        row_num.append(_number(v, where, f.get("allow_nan", False)))
                row_cat = []
                for f in self.cat:
                    v = feats.get(f["name"])
                    where = f"features.{f['name']}"
                    if v is None:
                        if f.get("required"):
                            raise Bad(where, f"{where} is required.")
                        row_cat.append(None)
                        continue
                    if isinstance(v, bool):
                        v = "true" if v else "false"
                    elif isinstance(v, int):
                        v = str(v)
                    if not isinstance(v, str) or len(v) > MAX_CATEGORY or "\x00" in v:
                        raise Bad(where, f"{where} must be a category (a short string).")
                    row_cat.append(v)
                row_emb: list[float] = []
                for f in self.emb:
                    v = feats.get(f["name"])
                    where = f"features.{f['name']}"
                    if v is None:
                        if f.get("required"):
                            raise Bad(where, f"{where} is required.")
                        row_emb.extend([nan] * f["dim"])
                        continue
                    if not isinstance(v, list) or len(v) != f["dim"]:
                        raise Bad(where, f"{where} must be a list of {f['dim']} numbers.")
                    row_emb.extend(_number(x, where, False) for x in v)
                error = record.get("error")
                if error is not None and (not isinstance(error, str) or "\x00" in error):
                    raise Bad("error", "error must be a string (the failure's message).")
                if "prediction" in record and record["prediction"] is not None:
                    pred = self.prediction(record["prediction"])
                elif error is not None:
                    pred = nan
                else:
                    raise Bad("prediction", "prediction is required (or error).")
                row_scores = None
                if self.prediction_type == "multiclass":
                    given = record.get("scores")
                    row_scores = (
                        self._scores(given) if given is not None else [nan] * len(self.classes)
                    )
                elif record.get("scores") is not None:
                    raise Bad("scores", "scores is for multiclass monitors.")
                latency = record.get("latency_ms")
                if latency is None:
                    latency = nan
                else:
                    latency = _number(latency, "latency_ms", False)
                    if latency < 0:
                        raise Bad("latency_ms", "latency_ms must be at least 0.")
            except Bad as bad:
                rejected.append(
                    {
                        "index": index,
                        "id": rid
                        if isinstance(rid, str | int) and not isinstance(rid, bool)
                        else None,
                        "field": bad.field,
                        "message": bad.message,
                    }
                )
                continue
            if rid in seen:
                duplicates += 1
                continue
            seen.add(rid)
            ids.append(rid)
            times.append(ts)
            versions.append(-1 if version is None else version)
            nums.append(row_num)
            cats.append(row_cat)
            embs.append(row_emb)
            preds.append(pred)
            scores.append(row_scores)
            latencies.append(latency)
            errors.append(error[:MAX_ERROR] if error else None)
        n = len(ids)
        columns = {
            "n": n,
            "ids": ids,
            "ts": np.asarray(times, dtype=np.float64),
            "version": np.asarray(versions, dtype=np.int64),
            "num": np.asarray(nums, dtype=np.float64).reshape(n, len(self.num)),
            "cat": cats,
            "emb": np.asarray(embs, dtype=np.float32).reshape(n, self.emb_dim),
            "prediction": np.asarray(preds, dtype=np.float64),
            "scores": (
                np.asarray(scores, dtype=np.float64).reshape(n, len(self.classes))
                if self.prediction_type == "multiclass"
                else None
            ),
            "latency": np.asarray(latencies, dtype=np.float64),
            "error": errors,
            "duplicates": duplicates,
        }
        return columns, rejected


def truth_value(decoder: Decoder, value) -> float:
    """A ground-truth target: binary 0/1 or boolean, a class of the monitor, a number."""
    if decoder.prediction_type == "binary":
        if isinstance(value, bool) or value in (0, 1):
            return float(value)
        raise Bad("target", "target must be 0, 1, true or false.")
    return decoder.prediction(value, "target")
