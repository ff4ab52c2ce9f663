"""Model packages: a version's model file, checked by loading it in a child process
(its flavor's loader, the signature it reveals), stored once per content under
DEPLOYMENTS_ROOT/packages/<team>/<digest>/ and reused by every target.

A pickle runs code when loaded. Packages are built only from the team's own artifact
files, and loading happens in a child process (a broken or hostile file cannot take
the worker down with it); the web UI states the risk (templates/deployments)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage

from apps.deployments.models import ModelPackage
from apps.registry import selectors as registry

FORMAT = "gradline-package-1"
# Extension -> flavor, in the order a version's files are searched.
FLAVORS = {
    ".pkl": "sklearn",
    ".pickle": "sklearn",
    ".joblib": "sklearn",
    ".ubj": "xgboost",
    ".bst": "xgboost",
    ".onnx": "onnx",
    ".pt": "torchscript",
    ".torchscript": "torchscript",
}
LOAD_TIMEOUT_S = 120


class PackagingError(Exception):
    """The version cannot be packaged; the message says why (shown on the deployment)."""


def root() -> Path:
    return Path(getattr(settings, "DEPLOYMENTS_ROOT", None) or settings.VAR_DIR / "deployments")


def _pick(files, wanted: str | None):
    if wanted:
        for record in files:
            if record.path == wanted:
                return record, FLAVORS.get(Path(wanted).suffix.lower(), "sklearn")
        raise PackagingError(f"The version has no file {wanted!r} (option model_file).")
    for suffix, flavor in FLAVORS.items():
        for record in files:
            if record.path.lower().endswith(suffix):
                return record, flavor
    listed = ", ".join(r.path for r in files[:10]) or "none"
    raise PackagingError(
        "No model file found in the version (looked for .pkl, .pickle, .joblib, .ubj, "
        f".bst, .onnx, .pt; files: {listed}). Name one with the option model_file."
    )


# Runs in a child process: load with the flavor's loader, report what it learned.
_INSPECT = r"""
import json, sys
path, flavor = sys.argv[1], sys.argv[2]
if flavor == "sklearn":
    import joblib
    model = joblib.load(path)
    if not callable(getattr(model, "predict", None)):
        raise SystemExit(f"the object in the file ({type(model).__name__}) has no predict()")
    sig = {"class": f"{type(model).__module__}.{type(model).__name__}"}
    if hasattr(model, "n_features_in_"):
        shape = [-1, int(model.n_features_in_)]
        sig["inputs"] = [{"name": "input-0", "datatype": "FP64", "shape": shape}]
    if hasattr(model, "classes_"):
        sig["classes"] = [c.item() if hasattr(c, "item") else c for c in model.classes_][:1000]
elif flavor == "xgboost":
    import xgboost
    booster = xgboost.Booster()
    booster.load_model(path)
    shape = [-1, booster.num_features()]
    inputs = [{"name": "input-0", "datatype": "FP32", "shape": shape}]
    sig = {"class": "xgboost.Booster", "inputs": inputs}
else:
    raise SystemExit(f"{flavor} models are packaged but not loadable on this server yet")
print(json.dumps(sig))
"""


def _inspect(path: Path, flavor: str) -> dict:
    try:
        done = subprocess.run(  # noqa: S603 - our interpreter, our script, a stored path
            [sys.executable, "-c", _INSPECT, str(path), flavor],
            capture_output=True,
            text=True,
            timeout=LOAD_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise PackagingError(f"Loading the model took over {LOAD_TIMEOUT_S} s.") from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit status {done.returncode}"
        raise PackagingError(f"The model file cannot be loaded as a {flavor} model: {reason}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def package_dir(package: ModelPackage) -> Path:
    return root() / "packages" / str(package.team_id) / package.digest


def build(team, version, options: dict, log) -> ModelPackage:
    """The package of `version` (existing when its content was packaged before)."""
    files = registry.version_files(team, version)
    record, flavor = _pick(files, options.get("model_file"))
    flavor = options.get("flavor") or flavor
    digest = hashlib.sha256(f"{FORMAT}\0{flavor}\0{record.blob.sha256}".encode()).hexdigest()
    existing = ModelPackage.objects.for_team(team).filter(digest=digest).first()
    if existing is not None and (package_dir(existing) / "package.json").exists():
        log(f"package {digest[:12]} reused ({flavor}, {record.path})")
        return existing
    log(f"packaging {record.path} as {flavor} ({record.blob.size} bytes)")
    suffix = Path(record.path).suffix.lower() or ".bin"
    target = root() / "packages" / str(team.pk) / digest
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        model_path = Path(tmp) / f"model{suffix}"
        with (
            default_storage.open(record.blob.storage_name, "rb") as src,
            open(model_path, "wb") as dst,
        ):
            shutil.copyfileobj(src, dst, 1024 * 1024)
        signature = _inspect(model_path, flavor)
        if isinstance(options.get("signature"), dict):
            signature = {**signature, **options["signature"]}
        meta = {
            "format": FORMAT,
            "flavor": flavor,
            "model_file": model_path.name,
            "source_path": record.path,
            "sha256": record.blob.sha256,
            "signature": signature,
        }
        (Path(tmp) / "package.json").write_text(json.dumps(meta, indent=2))
        if not target.exists():
            os.rename(tmp, target)
            os.makedirs(tmp)  # TemporaryDirectory removes what it created
    package, _ = ModelPackage.objects.for_team(team).get_or_create(
        team=team,
        digest=digest,
        defaults={
            "flavor": flavor,
            "model_file": f"model{suffix}",
            "model_sha256": record.blob.sha256,
            "signature": signature,
        },
    )
    log(f"package {digest[:12]} built")
    return package
