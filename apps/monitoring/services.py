"""Monitoring writes (docs/monitoring.md): monitors, reference profiles, prediction and
ground-truth ingest, drift results, alert rules and their evaluation."""

from __future__ import annotations

import bisect
import math
import time
from datetime import UTC, datetime, timedelta

import numpy as np
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core.errors import Conflict, NotFound, TooLarge, field_error
from apps.monitoring import aggregates, records, schema, storage
from apps.monitoring import profile as profiles
from apps.monitoring.models import (
    DriftResult,
    Monitor,
    ReferenceFeature,
    Window,
)
from apps.realtime import events, groups
from apps.registry.models import AliasEvent, RegisteredModelVersion

MAX_BATCH = 10_000
MAX_REFERENCE_ROWS = 200_000
PREDICTION = schema.RESERVED
ALL_VERSIONS = -1


# --------------------------------------------------------------------------- monitors


def _label_index(label: str) -> int | None:
    return int(label[1:]) if label and label[0] == "v" and label[1:].isdigit() else None


def _model_versions(team, model) -> set[int]:
    return set(
        RegisteredModelVersion.objects.for_team(team)
        .filter(registered_model=model)
        .values_list("index", flat=True)
    )


def _binding(team, model, alias, version) -> tuple[str, int | None]:
    if bool(alias) == (version is not None):
        raise field_error("Give exactly one of alias (followed) and version (fixed).", "alias")
    if alias:
        if not isinstance(alias, str) or len(alias) > 128 or "\x00" in alias:
            raise field_error("alias must be an alias name.", "alias")
        return alias, None
    if isinstance(version, str) and _label_index(version) is not None:
        version = _label_index(version)
    if type(version) is not int or version not in _model_versions(team, model):
        raise field_error(f"version must be a version of {model.name} (v0, v1 …).", "version")
    return "", version


def monitor_save(*, team, monitor: Monitor | None, data: dict, actor, model_of) -> Monitor:
    """Create (monitor None) or update. `model_of(name)` resolves the registered model
    in the caller's team (404 -> a 400 naming registered_model)."""
    if not isinstance(data, dict):
        raise field_error("Give an object.", "name")
    creating = monitor is None
    allowed = {
        "name", "description", "registered_model", "alias", "version", "features",
        "prediction_type", "classes", "threshold", "window", "retention_days", "drift",
    }  # fmt: skip
    unknown = set(data) - allowed
    if unknown:
        raise field_error(f"Unknown field {sorted(unknown)[0]!r}.", sorted(unknown)[0])
    monitor = monitor or Monitor(team=team, created_by=actor)
    if creating or "name" in data:
        name = data.get("name")
        if (
            not isinstance(name, str)
            or not name
            or len(name) > 128
            or not all(c.isalnum() or c in "_.-" for c in name)
            or not name.isascii()
        ):
            raise field_error("name must be 1-128 of A-Z a-z 0-9 _ . -", "name")
        monitor.name = name
    if "description" in data:
        if not isinstance(data["description"], str) or "\x00" in data["description"]:
            raise field_error("description must be a string.", "description")
        monitor.description = data["description"][:5000]
    if creating or "registered_model" in data:
        name = data.get("registered_model")
        if not isinstance(name, str) or not name:
            raise field_error("registered_model must name a registered model.", "registered_model")
        try:
            monitor.registered_model = model_of(name)
        except NotFound as exc:
            raise field_error(exc.message, "registered_model") from None
    if creating or "alias" in data or "version" in data:
        monitor.alias, monitor.version = _binding(
            team, monitor.registered_model, data.get("alias"), data.get("version")
        )
    if not creating and {"features", "prediction_type", "classes"} & set(data):
        # Stored records and aggregates are laid out by the schema.
        raise field_error(
            "features, prediction_type and classes are fixed once a monitor exists.", "features"
        )
    if creating:
        monitor.features = schema.features(data.get("features"))
        monitor.prediction_type, monitor.classes, monitor.threshold = schema.prediction(
            data.get("prediction_type"), data.get("classes"), data.get("threshold")
        )
    elif "threshold" in data:
        _, _, monitor.threshold = schema.prediction(
            monitor.prediction_type, monitor.classes or None, data["threshold"]
        )
    if creating or "window" in data:
        if not creating and data.get("window") != monitor.window:
            raise field_error("window is fixed once a monitor exists.", "window")
        monitor.window = schema.window(data.get("window", "hourly"))
    if creating or "retention_days" in data:
        monitor.retention_days = schema.retention(data.get("retention_days", 30))
    if creating or "drift" in data:
        monitor.drift = schema.drift_config(
            data.get("drift"), {f["name"] for f in monitor.features} | {"prediction"}
        )
    try:
        with transaction.atomic():
            monitor.save()
    except IntegrityError:
        raise Conflict(f"A monitor named {monitor.name!r} exists.", code="exists") from None
    return monitor


def monitor_delete(*, monitor: Monitor) -> None:
    with transaction.atomic():
        storage.delete_monitor_rows(monitor.pk)
        Monitor.objects.for_team(monitor.team).filter(pk=monitor.pk).delete()


# --------------------------------------------------------------------------- reference


def _column(data: dict, name: str, n: int | None):
    values = data.get(name)
    if not isinstance(values, list):
        raise field_error(f"columns.{name} must be a list of values.", f"columns.{name}")
    if n is not None and len(values) != n:
        raise field_error("Every column must have the same number of rows.", f"columns.{name}")
    return values


def _numeric_column(values: list, where: str) -> np.ndarray:
    out = np.empty(len(values), dtype=np.float64)
    for i, v in enumerate(values):
        if v is None or (isinstance(v, str) and v.lower() == "nan"):
            out[i] = np.nan
        elif isinstance(v, bool) or not isinstance(v, int | float):
            raise field_error(f"{where}[{i}] must be a number.", where)
        else:
            out[i] = v
    return out


def reference_set(*, team, monitor: Monitor, data: dict) -> list[ReferenceFeature]:
    """Profile the reference data: {"columns": {feature: [values]}, "predictions": [...]}
    (at most MAX_REFERENCE_ROWS rows; the SDK samples larger frames). Replaces the
    previous profile."""
    if not isinstance(data, dict) or not isinstance(data.get("columns"), dict):
        raise field_error("Give {columns: {feature: [values]}}.", "columns")
    columns = data["columns"]
    specs = {f["name"]: f for f in monitor.features}
    unknown = set(columns) - set(specs)
    if unknown:
        name = sorted(unknown)[0]
        raise field_error(f"Unknown feature {name!r}.", f"columns.{name}")
    n = None
    out: list[tuple[str, str, dict, bytes]] = []
    for name, spec in specs.items():
        if name not in columns:
            continue
        values = _column(columns, name, n)
        n = len(values)
        if n > MAX_REFERENCE_ROWS:
            raise TooLarge(f"At most {MAX_REFERENCE_ROWS} reference rows per request.")
        where = f"columns.{name}"
        kind = spec["type"]
        if kind == "numeric":
            prof, sample = profiles.numeric_profile(_numeric_column(values, where))
        elif kind == "text":
            if not all(v is None or isinstance(v, str) for v in values):
                raise field_error(f"{where} must hold strings.", where)
            lengths = np.array([np.nan if v is None else len(v) for v in values], dtype=float)
            prof, sample = profiles.numeric_profile(lengths)
        elif kind == "categorical":
            cats = []
            for v in values:
                if isinstance(v, bool):
                    v = "true" if v else "false"
                elif isinstance(v, int):
                    v = str(v)
                if v is not None and (not isinstance(v, str) or "\x00" in v):
                    raise field_error(f"{where} must hold categories (strings).", where)
                cats.append(v)
            prof, sample = profiles.categorical_profile(cats), b""
        else:
            dim = spec["dim"]
            matrix = np.full((len(values), dim), np.nan)
            for i, v in enumerate(values):
                if v is None:
                    continue
                if not isinstance(v, list) or len(v) != dim:
                    raise field_error(f"{where}[{i}] must be a list of {dim} numbers.", where)
                matrix[i] = _numeric_column(v, where)
            prof, sample = profiles.embedding_profile(matrix), b""
        out.append((name, kind, prof, sample))
    if "predictions" in data:
        values = _column(data, "predictions", n)
        if len(values) > MAX_REFERENCE_ROWS:
            raise TooLarge(f"At most {MAX_REFERENCE_ROWS} reference rows per request.")
        decoder = _decoder(monitor)
        preds = []
        for i, v in enumerate(values):
            try:
                preds.append(decoder.prediction(v, f"predictions[{i}]"))
            except records.Bad as bad:
                raise field_error(bad.message, "predictions") from None
        arr = np.asarray(preds, dtype=np.float64)
        if monitor.prediction_type == "multiclass":
            labels = [monitor.classes[int(p)] for p in arr]
            out.append((PREDICTION, "categorical", profiles.categorical_profile(labels), b""))
        else:
            prof, sample = profiles.numeric_profile(arr)
            out.append((PREDICTION, "numeric", prof, sample))
    if not out:
        raise field_error("Give at least one feature column.", "columns")
    with transaction.atomic():
        ReferenceFeature.objects.for_team(team).filter(monitor=monitor).delete()
        rows = ReferenceFeature.objects.for_team(team).bulk_create(
            [
                ReferenceFeature(
                    team=team, monitor=monitor, feature=name, kind=kind, profile=prof, sample=sample
                )
                for name, kind, prof, sample in out
            ]
        )
        monitor.reference_at = timezone.now()
        monitor.save(update_fields=["reference_at"])
        DriftResult.objects.for_team(team).filter(monitor=monitor).delete()
    return rows


# --------------------------------------------------------------------------- ingest


def window_seconds(monitor: Monitor) -> int:
    return schema.WINDOWS[monitor.window]


def _decoder(monitor: Monitor, now: float | None = None) -> records.Decoder:
    now = time.time() if now is None else now
    return records.Decoder(
        features=monitor.features,
        prediction_type=monitor.prediction_type,
        classes=monitor.classes,
        now=now,
        oldest=now - monitor.retention_days * 86400,
    )


def alias_timeline(team, monitor: Monitor) -> list[tuple[float, int | None, str]]:
    """(time, version index or None when removed, actor-free label) of the monitored
    alias's moves, oldest first."""
    events = (
        AliasEvent.objects.for_team(team)
        .filter(registered_model_id=monitor.registered_model_id, alias=monitor.alias)
        .order_by("at", "pk")
        .values_list("at", "to_version")
    )
    return [(at.timestamp(), _label_index(to), to) for at, to in events]


def _fill_versions(team, monitor: Monitor, columns: dict, rejected: list[dict]) -> dict:
    """Give each record without a version the one the monitor served at its time: the
    fixed version, or where the alias pointed then (before its first move: its first
    version; after a removal: the version it last named)."""
    versions = columns["version"]
    given = versions >= 0
    if given.any():
        known = _model_versions(team, monitor.registered_model)
        bad = given & ~np.isin(versions, list(known) or [-2])
        if bad.any():
            keep = ~bad
            for i in np.flatnonzero(bad):
                rejected.append(
                    {
                        "index": None,
                        "id": columns["ids"][i],
                        "field": "version",
                        "message": f"v{versions[i]} is not a version of the registered model.",
                    }
                )
            columns = _subset(columns, keep)
            versions = columns["version"]
    missing = versions < 0
    if not missing.any():
        return columns
    if monitor.version is not None:
        versions[missing] = monitor.version
        return columns
    timeline = alias_timeline(team, monitor)
    times, filled, last = [], [], None
    for at, index, _ in timeline:
        last = index if index is not None else last
        times.append(at)
        filled.append(last)
    first = next((v for v in filled if v is not None), None)
    if first is None:
        raise Conflict(
            f"Alias {monitor.alias!r} of {monitor.registered_model.name} has never named a "
            "version; give each record a version.",
            code="no_version",
        )
    ts = columns["ts"]
    for i in np.flatnonzero(missing):
        at = bisect.bisect_right(times, ts[i]) - 1
        v = filled[at] if at >= 0 else None
        versions[i] = first if v is None else v
    return columns


def _subset(columns: dict, mask: np.ndarray) -> dict:
    idx = np.flatnonzero(mask)
    out = dict(columns)
    out["n"] = len(idx)
    for key in ("ts", "version", "num", "emb", "prediction", "latency"):
        out[key] = columns[key][idx]
    if columns["scores"] is not None:
        out["scores"] = columns["scores"][idx]
    for key in ("ids", "cat", "error"):
        out[key] = [columns[key][i] for i in idx]
    return out


def _missing_counts(monitor: Monitor, columns: dict, rows: np.ndarray) -> np.ndarray:
    """Missing values per feature in schema order, over `rows`."""
    lay = schema.layout(monitor.features)
    num_pos = {name: i for i, name in enumerate(lay["num"])}
    cat_pos = {name: i for i, name in enumerate(lay["cat"])}
    emb_pos = {name: (off, dim) for name, off, dim in lay["emb"]}
    out = np.zeros(len(monitor.features))
    num = columns["num"][rows]
    emb = columns["emb"][rows]
    cats = [columns["cat"][i] for i in rows] if lay["cat"] else []
    for j, f in enumerate(monitor.features):
        name = f["name"]
        if name in num_pos:
            out[j] = np.isnan(num[:, num_pos[name]]).sum()
        elif name in cat_pos:
            k = cat_pos[name]
            out[j] = sum(1 for r in cats if r[k] is None)
        else:
            off, dim = emb_pos[name]
            out[j] = np.isnan(emb[:, off : off + dim]).any(axis=1).sum()
    return out


def _windows_of(monitor: Monitor, ts: np.ndarray) -> np.ndarray:
    size = window_seconds(monitor)
    return (np.floor(ts / size) * size).astype(np.int64)


def _window_rows(monitor: Monitor, columns: dict) -> list[dict]:
    starts = _windows_of(monitor, columns["ts"])
    versions = columns["version"]
    keys = np.stack([starts, versions], axis=1)
    uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    k = len(monitor.classes)
    out = []
    for g, (start, version) in enumerate(uniq.tolist()):
        rows = np.flatnonzero(inverse == g)
        pred = columns["prediction"][rows]
        out.append(
            {
                "start": datetime.fromtimestamp(start, UTC),
                "version": int(version),
                "count": len(rows),
                "errors": sum(1 for i in rows if columns["error"][i] is not None),
                "latency": aggregates.latency_hist(columns["latency"][rows]),
                "missing": _missing_counts(monitor, columns, rows),
                "predictions": aggregates.prediction_summary(monitor.prediction_type, pred, k),
            }
        )
    return out


def predictions_log(*, team, monitor: Monitor, body) -> dict:
    """Store a batch of prediction records exactly once per prediction id; bad records
    are reported by index, id and field, the others stored (docs/design.md §8)."""
    batch = body.get("records") if isinstance(body, dict) else body
    if not isinstance(batch, list):
        raise field_error("Give {records: [...]}: a list of prediction records.", "records")
    if len(batch) > MAX_BATCH:
        raise TooLarge(f"At most {MAX_BATCH} records per batch.")
    columns, rejected = _decoder(monitor).decode(batch)
    columns = _fill_versions(team, monitor, columns, rejected) if columns["n"] else columns
    with transaction.atomic():
        fresh = storage.insert_predictions(monitor.pk, columns)
        stored = _subset(columns, fresh) if not fresh.all() else columns
        if stored["n"]:
            storage.upsert_windows(team.pk, monitor.pk, _window_rows(monitor, stored))
            _publish_windows(team, monitor, "predictions", int(stored["n"]))
    accepted = int(stored["n"]) if columns["n"] else 0
    return {
        "accepted": accepted,
        "duplicates": columns["duplicates"] + (columns["n"] - accepted),
        "rejected": rejected,
    }


def ground_truth_log(*, team, monitor: Monitor, body) -> dict:
    """Join targets to logged predictions by id: [{id, target}]. Each prediction takes
    its first target; the same again is a duplicate, a different one a rejection."""
    batch = body.get("records") if isinstance(body, dict) else body
    if not isinstance(batch, list):
        raise field_error("Give {records: [{id, target}]}.", "records")
    if len(batch) > MAX_BATCH:
        raise TooLarge(f"At most {MAX_BATCH} records per batch.")
    decoder = _decoder(monitor)
    ids, targets, rejected, seen = [], [], [], set()
    duplicates = 0
    for index, record in enumerate(batch):
        rid = record.get("id") if isinstance(record, dict) else None
        try:
            if not isinstance(record, dict):
                raise records.Bad("record", "Each record must be an object.")
            extra = set(record) - {"id", "target"}
            if extra:
                raise records.Bad(sorted(extra)[0], f"Unknown field {sorted(extra)[0]!r}.")
            rid = records.record_id(record.get("id"))
            if record.get("target") is None:
                raise records.Bad("target", "target is required.")
            target = records.truth_value(decoder, record["target"])
        except records.Bad as bad:
            rejected.append(
                {
                    "index": index,
                    "id": rid if isinstance(rid, str) else None,
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
        targets.append(target)
    if not ids:
        return {"accepted": 0, "duplicates": duplicates, "rejected": rejected}
    with transaction.atomic():
        labelled, before = storage.set_targets(monitor.pk, ids, targets)
        done = {row[0] for row in labelled}
        target_of = dict(zip(ids, targets, strict=True))
        for rid in ids:
            if rid in done:
                continue
            if rid not in before:
                rejected.append(
                    {
                        "index": None,
                        "id": rid,
                        "field": "id",
                        "message": "No prediction with this id.",
                    }
                )
            elif before[rid] is None:
                rejected.append(
                    {
                        "index": None,
                        "id": rid,
                        "field": "id",
                        "message": "This prediction failed (error); it takes no target.",
                    }
                )
            elif before[rid] == target_of[rid]:
                duplicates += 1
            else:
                message = f"This prediction already has target {before[rid]:g}."
                rejected.append({"index": None, "id": rid, "field": "target", "message": message})
        if labelled:
            storage.upsert_windows(team.pk, monitor.pk, _truth_rows(monitor, labelled))
            _publish_windows(team, monitor, "ground_truth", len(labelled))
    return {"accepted": len(labelled), "duplicates": duplicates, "rejected": rejected}


def _publish_windows(team, monitor: Monitor, kind: str, accepted: int) -> None:
    """Tell the monitor's open pages (ws:monitor-events) once the rows are committed;
    they re-read the window metrics. Best effort: a page also polls while disconnected."""
    events.publish_on_commit(
        [groups.monitor_group(team.pk, monitor.pk)],
        {"type": kind, "monitor": monitor.name, "accepted": accepted},
    )


def _truth_rows(monitor: Monitor, labelled: list) -> list[dict]:
    ts = np.array([row[1].timestamp() for row in labelled])
    starts = _windows_of(monitor, ts)
    versions = np.array([row[2] for row in labelled], dtype=np.int64)
    pred = np.array([row[3] for row in labelled], dtype=np.float64)
    target = np.array([row[5] for row in labelled], dtype=np.float64)
    k = len(monitor.classes)
    scores = None
    if monitor.prediction_type == "multiclass":
        scores = np.array(
            [
                np.frombuffer(bytes(row[4]), dtype="<f8") if row[4] else np.full(k, np.nan)
                for row in labelled
            ]
        ).reshape(len(labelled), k)
    keys = np.stack([starts, versions], axis=1)
    uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    out = []
    for g, (start, version) in enumerate(uniq.tolist()):
        rows = np.flatnonzero(inverse == g)
        out.append(
            {
                "start": datetime.fromtimestamp(start, UTC),
                "version": int(version),
                "labeled": len(rows),
                "truth": aggregates.truth_summary(
                    monitor.prediction_type,
                    pred[rows],
                    target[rows],
                    scores[rows] if scores is not None else None,
                    monitor.threshold,
                ),
            }
        )
    return out


# --------------------------------------------------------------------------- drift


def _feature_config(monitor: Monitor, name: str, kind: str) -> dict:
    cfg = monitor.drift or {}
    if name == PREDICTION:
        return dict(cfg.get("prediction", {}))
    return {**cfg.get(kind, {}), **cfg.get("features", {}).get(name, {})}


def _current_columns(monitor: Monitor, values: dict) -> dict:
    """feature name -> current values (as profile.compare takes them)."""
    lay = schema.layout(monitor.features)
    out: dict = {}
    for i, name in enumerate(lay["num"]):
        out[name] = values["num"][:, i]
    for i, name in enumerate(lay["cat"]):
        out[name] = [row[i] for row in values["cat"]]
    for name, off, dim in lay["emb"]:
        out[name] = values["emb"][:, off : off + dim]
    pred = values["prediction"]
    if monitor.prediction_type == "multiclass":
        out[PREDICTION] = [None if np.isnan(p) else monitor.classes[int(p)] for p in pred]
    else:
        out[PREDICTION] = pred
    return out


def _load_values(monitor: Monitor, start: datetime, version: int) -> dict:
    lay = schema.layout(monitor.features)
    end = start + timedelta(seconds=window_seconds(monitor))
    return storage.window_values(
        monitor.pk, start, end, version, len(lay["num"]), len(lay["cat"]), lay["emb_dim"],
        len(monitor.classes),
    )  # fmt: skip


def _baseline_profiles(team, monitor: Monitor, start: datetime, version: int) -> dict:
    """feature -> (kind, profile, sample): the stored reference, or the previous window's
    data profiled the same way (drift.baseline = previous)."""
    if (monitor.drift or {}).get("baseline") != "previous":
        return {
            r.feature: (
                r.kind,
                r.profile,
                np.frombuffer(bytes(r.sample), dtype="<f8") if r.sample else None,
            )
            for r in ReferenceFeature.objects.for_team(team).filter(monitor=monitor)
        }
    previous = start - timedelta(seconds=window_seconds(monitor))
    current = _current_columns(monitor, _load_values(monitor, previous, version))
    kinds = {f["name"]: f["type"] for f in monitor.features}
    out = {}
    for name, values in current.items():
        kind = kinds.get(name) or (
            "categorical" if monitor.prediction_type == "multiclass" else "numeric"
        )
        if kind in ("numeric", "text"):
            prof, sample = profiles.numeric_profile(values)
            out[name] = ("numeric", prof, np.frombuffer(sample, dtype="<f8") if sample else None)
        elif kind == "categorical":
            out[name] = ("categorical", profiles.categorical_profile(values), None)
        elif len(values):
            out[name] = ("embedding", profiles.embedding_profile(values), None)
    return out


def drift_compute(
    *, team, monitor: Monitor, start: datetime, version: int = ALL_VERSIONS
) -> DriftResult:
    """Drift of the window starting at `start` (one version, or all) against the
    baseline; stored (replacing an earlier result for the same window and version)."""
    values = _load_values(monitor, start, version)
    current = _current_columns(monitor, values)
    baseline = _baseline_profiles(team, monitor, start, version)
    rows = []
    order = [f["name"] for f in monitor.features] + [PREDICTION]
    kinds = {f["name"]: f["type"] for f in monitor.features}
    for name in order:
        if name not in baseline or name not in current:
            continue
        kind, prof, sample = baseline[name]
        ftype = kinds.get(name, kind)
        config = _feature_config(monitor, name, ftype)
        cmp_kind = "numeric" if kind in ("numeric", "text") else kind
        result = profiles.compare(cmp_kind, prof, sample, current[name], config)
        result["feature"] = name
        result["type"] = ftype
        result["missing_rate"] = _missing_rate(current[name], kind)
        rows.append(_finite(result))
    drifted = sum(1 for r in rows if r["drifted"] and r["feature"] != PREDICTION)
    with transaction.atomic():
        found, _ = DriftResult.objects.for_team(team).update_or_create(
            team=team,
            monitor=monitor,
            start=start,
            version=version,
            defaults={
                "computed_at": timezone.now(),
                "count": values["n"],
                "baseline": (monitor.drift or {}).get("baseline", "reference"),
                "drifted": drifted,
                "features": rows,
            },
        )
    return found


def _missing_rate(values, kind: str) -> float | None:
    n = len(values)
    if not n:
        return None
    if kind == "categorical":
        return sum(1 for v in values if v is None) / n
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 2:
        return float(np.isnan(arr).any(axis=1).mean())
    return float(np.isnan(arr).mean())


def _finite(value):
    """JSON-safe: NaN and infinities become None."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.floating | np.integer):
        return _finite(value.item())
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def retention_apply(*, team, monitor: Monitor, now: datetime | None = None) -> int:
    cutoff = (now or timezone.now()) - timedelta(days=monitor.retention_days)
    with transaction.atomic():
        deleted = storage.delete_monitor_rows(monitor.pk, cutoff)
        Window.objects.for_team(team).filter(monitor=monitor, start__lt=cutoff).delete()
        DriftResult.objects.for_team(team).filter(monitor=monitor, start__lt=cutoff).delete()
    return deleted
