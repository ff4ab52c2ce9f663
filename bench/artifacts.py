"""Artifact upload, re-log and download: gradline vs MLflow, in one invocation.

    .venv/bin/python bench/artifacts.py [--model-mb 256] [--files 1000] [--file-kb 4]

Data: one random model file of --model-mb MiB and a dataset directory of --files files
of --file-kb KiB each, generated once and used by both clients.
  gradline   a fresh SDK process against a local Gradline server (uvicorn, 1 worker):
             log_artifact(model) + wait(), log_artifact(dataset dir) + wait(), then the
             same model again (content-addressed: only hashes travel); a second process
             with an empty cache downloads both (sha256 checked).
  mlflow     3.17.2 against a local `mlflow server --workers 1` proxying artifacts to a
             local directory (its default `--serve-artifacts`): log_artifact(model),
             log_artifacts(dataset), the model again (MLflow uploads it again), then
             download_artifacts of both into an empty directory.
Prints *_s timings, MiB/s for the model upload, and gradline/mlflow ratios (> 1 means
gradline is faster).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (
    APP_PY,
    ROOT,
    GradlineServer,
    MlflowServer,
    emit,
    emit_context,
    emit_load,
    note,
    parse_lines,
    peers_available,
    run_peer,
)

PROJECT = "artifact-bench"


def make_data(root: Path, model_mb: int, files: int, file_kb: int) -> tuple[Path, Path]:
    model = root / "model.bin"
    with open(model, "wb") as handle:
        for _ in range(model_mb):
            handle.write(os.urandom(1024 * 1024))
    dataset = root / "dataset"
    for i in range(files):
        part = dataset / f"part-{i // 100:03d}"
        part.mkdir(parents=True, exist_ok=True)
        (part / f"sample-{i:06d}.bin").write_bytes(os.urandom(file_kb * 1024))
    return model, dataset


def timed(label: str, action) -> object:
    start = time.perf_counter()
    result = action()
    emit(label, time.perf_counter() - start)
    return result


def child_log(args) -> None:
    """Fresh .venv process: log the model, the dataset, then the model again."""
    import gradline

    run = gradline.init(project=PROJECT, id=args.run_id, name=args.run_id)

    def log(name: str, kind: str, add) -> object:
        artifact = gradline.Artifact(name, type=kind)
        add(artifact)
        run.log_artifact(artifact)
        artifact.wait()
        return artifact

    model = timed(
        "gradline_model_upload_s", lambda: log("model", "model", lambda a: a.add_file(args.model))
    )
    timed(
        "gradline_dataset_upload_s",
        lambda: log("dataset", "dataset", lambda a: a.add_dir(args.dataset)),
    )
    again = timed(
        "gradline_model_relog_s", lambda: log("model", "model", lambda a: a.add_file(args.model))
    )
    emit("gradline_relog_same_version", int(again.version == model.version))
    run.finish()


def child_download(args) -> None:
    """Fresh .venv process with an empty cache: download both artifacts."""
    import gradline

    api = gradline.Api()
    team = os.environ["GRADLINE_ENTITY"]
    for name, label in (
        ("model", "gradline_model_download_s"),
        ("dataset", "gradline_dataset_download_s"),
    ):
        artifact = api.artifact(f"{team}/{PROJECT}/{name}:latest")
        timed(label, lambda a=artifact, n=name: a.download(root=os.path.join(args.out, n)))


def run_gradline(args, model: Path, dataset: Path, server: GradlineServer) -> dict:
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="bench-gradline-") as tmp:
        base_env = {
            **os.environ,
            "GRADLINE_BASE_URL": server.url,
            "GRADLINE_API_KEY": server.api_key,
            "GRADLINE_ENTITY": server.team,
            "GRADLINE_CONFIG_DIR": os.path.join(tmp, "config"),
            "GRADLINE_SILENT": "true",
        }
        script = str(Path(__file__).resolve())
        steps = [
            (
                ["--child", "log", "--model", str(model), "--dataset", str(dataset)],
                {
                    "GRADLINE_DIR": os.path.join(tmp, "log"),
                    "GRADLINE_CACHE_DIR": os.path.join(tmp, "cache-log"),
                },
            ),
            (
                ["--child", "download", "--out", os.path.join(tmp, "downloads")],
                {
                    "GRADLINE_DIR": os.path.join(tmp, "dl"),
                    "GRADLINE_CACHE_DIR": os.path.join(tmp, "cache-dl"),
                },
            ),
        ]
        for child_args, env in steps:
            proc = subprocess.run(
                [str(APP_PY), script, *child_args, "--run-id", f"artifacts-{os.getpid()}"],
                cwd=ROOT,
                env={**base_env, **env},
                capture_output=True,
                text=True,
                timeout=args.child_timeout,
            )
            for line in proc.stderr.strip().splitlines()[-10:]:
                note(f"gradline: {line}")
            if proc.returncode != 0:
                raise RuntimeError(f"gradline child {child_args[1]} exited with {proc.returncode}")
            results.update(parse_lines(proc.stdout))
        downloaded = Path(tmp, "downloads", "model", model.name)
        results["gradline_download_matches"] = int(downloaded.read_bytes() == model.read_bytes())
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model-mb", type=int, default=256)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--file-kb", type=int, default=4)
    parser.add_argument("--child-timeout", type=float, default=900)
    parser.add_argument("--skip", action="append", default=[], choices=["gradline", "mlflow"])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--dataset", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--run-id", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child == "log":
        child_log(args)
        return 0
    if args.child == "download":
        child_download(args)
        return 0

    emit_context("artifacts")
    emit("model_mb", args.model_mb)
    emit("dataset_files", args.files)
    emit("dataset_file_kb", args.file_kb)
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="bench-artifacts-data-") as data:
        model, dataset = make_data(Path(data), args.model_mb, args.files, args.file_kb)
        if "gradline" not in args.skip:
            with GradlineServer(workers=1) as server:
                emit_load("gradline")
                results.update(run_gradline(args, model, dataset, server))
        if "mlflow" not in args.skip and peers_available():
            with MlflowServer(workers=1) as server:
                emit_load("mlflow")
                results.update(
                    run_peer(
                        [
                            "mlflow-artifacts",
                            "--url",
                            server.url,
                            "--model",
                            str(model),
                            "--dataset",
                            str(dataset),
                        ],
                        timeout=args.child_timeout,
                    )
                )
    for name, value in results.items():
        emit(name, value)
    for who in ("gradline", "mlflow"):
        if f"{who}_model_upload_s" in results:
            emit(
                f"{who}_model_upload_mib_s", args.model_mb / float(results[f"{who}_model_upload_s"])
            )
    for what in (
        "model_upload",
        "dataset_upload",
        "model_relog",
        "model_download",
        "dataset_download",
    ):
        ours, theirs = results.get(f"gradline_{what}_s"), results.get(f"mlflow_{what}_s")
        if ours and theirs:
            emit(f"gradline_vs_mlflow_{what}", float(theirs) / float(ours))
    return 0


if __name__ == "__main__":
    sys.exit(main())
