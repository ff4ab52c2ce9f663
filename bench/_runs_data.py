"""The runs-table data set, identical for Gradline and MLflow (stdlib only: both venvs).

Each run has 10 config values and 10 summary metrics. The query: config optimizer ==
"adam" (1 run in 5) AND summary acc > 0.5 (1 in 2), ordered by summary loss ascending,
first 50 rows.
"""

from __future__ import annotations

import random

OPTIMIZERS = ["adam", "sgd", "adamw", "rmsprop", "lamb"]
SCHEDULERS = ["cosine", "linear", "step", "constant"]
METRICS = [
    "loss",
    "acc",
    "val_loss",
    "val_acc",
    "f1",
    "precision",
    "recall",
    "auc",
    "grad_norm",
    "lr_final",
]

FILTER_OPTIMIZER = "adam"
FILTER_ACC_GT = 0.5
ORDER_METRIC = "loss"
PAGE = 50

MLFLOW_FILTER = f"params.optimizer = '{FILTER_OPTIMIZER}' and metrics.acc > {FILTER_ACC_GT}"
MLFLOW_ORDER = [f"metrics.{ORDER_METRIC} ASC"]


def make_runs(count: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    runs = []
    for i in range(count):
        config = {
            "optimizer": rng.choice(OPTIMIZERS),
            "lr": round(10 ** rng.uniform(-5, -1), 8),
            "batch_size": rng.choice([16, 32, 64, 128, 256]),
            "dropout": round(rng.uniform(0, 0.5), 4),
            "layers": rng.randint(2, 48),
            "width": rng.choice([128, 256, 512, 1024]),
            "seed": rng.randint(0, 10_000),
            "warmup": rng.randint(0, 5000),
            "weight_decay": round(rng.uniform(0, 0.1), 5),
            "scheduler": rng.choice(SCHEDULERS),
        }
        summary = {name: rng.random() for name in METRICS}
        runs.append({"name": f"run-{i:05d}", "config": config, "summary": summary})
    return runs


def expected_top(count: int) -> list[str]:
    """Run names the query must return, in order (computed in Python)."""
    rows = [
        run
        for run in make_runs(count)
        if run["config"]["optimizer"] == FILTER_OPTIMIZER and run["summary"]["acc"] > FILTER_ACC_GT
    ]
    rows.sort(key=lambda run: run["summary"][ORDER_METRIC])
    return [run["name"] for run in rows[:PAGE]]


# -- workspace series (bench/workspace.py): long metric series of the first runs ----------

SERIES_KEY_NAMES = ["train/loss", "train/acc", "val/loss", "val/acc"]
SERIES_BATCH = 100_000  # points per write, the ingest protocol's maximum per request
SERIES_WALL0 = 1_700_000_000.0  # wall time of step 0; 0.01 s per step


def series_keys(count: int) -> list[str]:
    """The series keys of the long runs (train/loss first, then train/acc, ...)."""
    names = SERIES_KEY_NAMES + [f"train/metric_{k}" for k in range(max(0, count - 4))]
    return names[:count]


def series_values(run_index: int, key_index: int, first: int, last: int):
    """Steps first..last-1 of one run's series as numpy arrays (step, value, wall).

    A decaying curve whose height depends on the run, with noise seeded per run and key,
    so groups of runs have distinct means and non-zero spread. Both venvs run the same
    numpy, hence the same values on both sides."""
    import numpy as np

    rng = np.random.default_rng([run_index, key_index, first])  # each batch on its own
    step = np.arange(first, last, dtype=np.int64)
    height = 0.5 + (run_index % 17) / 17
    value = height / (1 + step / 10_000) + rng.normal(0, 0.01, last - first)
    wall = SERIES_WALL0 + step * 0.01
    return step, value, wall
