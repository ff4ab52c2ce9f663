"""W&B's LightGBM integration: `wandb_callback()` for `lgb.train(..., callbacks=[...])` and
`log_summary(model)` after training.

What it logs, as W&B does: the training parameters into the run config (log_params);
every evaluation result of every round as `<dataset>_<metric>` (e.g. `validation_l2`)
plus `iteration`; from log_summary the best iteration and scores in the summary, the
feature importance as a bar chart and, with save_model_checkpoint=True, the model as a
"model" artifact. lightgbm is imported only by log_summary's checks; wandb_callback
needs nothing from it.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

import gradline
from gradline.integration._run import current_run

__all__ = ["log_summary", "wandb_callback"]


def wandb_callback(log_params: bool = True, define_metric: bool = True) -> Any:
    """A LightGBM callback logging every round's evaluation results."""
    run = current_run("wandb.lightgbm.wandb_callback")
    state = {"first": True}

    def _callback(env: Any) -> None:
        if state["first"]:
            state["first"] = False
            if log_params and env.params:
                run.config.update(dict(env.params), allow_val_change=True)
            if define_metric:
                for item in env.evaluation_result_list or ():
                    data_name, eval_name, _, higher_better = item[:4]
                    run.define_metric(
                        f"{data_name}_{eval_name}", summary="max" if higher_better else "min"
                    )
        row: dict[str, Any] = {}
        for item in env.evaluation_result_list or ():
            data_name, eval_name, result = item[:3]
            row[f"{data_name}_{eval_name}"] = float(result)
            if len(item) == 5:  # lgb.cv: (data, metric, mean, higher_better, stdv)
                row[f"{data_name}_{eval_name}-stdv"] = float(item[4])
        row["iteration"] = env.iteration
        run.log(row)

    _callback.order = 20  # after LightGBM's own recorders, like W&B's
    return _callback


def log_summary(
    model: Any, log_feature_importance: bool = True, save_model_checkpoint: bool = False
) -> None:
    """Best iteration/scores into the summary, feature importance as a chart, and the model
    as an artifact (save_model_checkpoint)."""
    import lightgbm as lgb

    run = current_run("wandb.lightgbm.log_summary")
    if not isinstance(model, lgb.Booster):
        raise gradline.UsageError("log_summary() takes a trained lightgbm.Booster")
    run.summary["best_iteration"] = model.best_iteration
    for data_name, metrics in (model.best_score or {}).items():
        for metric, value in metrics.items():
            run.summary[f"{data_name}_{metric}"] = float(value)
    if log_feature_importance:
        names = model.feature_name()
        importance = model.feature_importance()
        table = gradline.Table(
            columns=["Feature", "Importance"],
            data=[[str(n), float(v)] for n, v in zip(names, importance, strict=True)],
        )
        chart = gradline.plot.bar(table, "Feature", "Importance", title="Feature Importance")
        run.log({"Feature Importance": chart}, commit=False)
    if save_model_checkpoint:
        folder = tempfile.mkdtemp(prefix="gradline-lgb-")
        path = os.path.join(folder, "model.txt")
        model.save_model(path)
        artifact = gradline.Artifact(name=f"model_{run.id}", type="model")
        artifact.add_file(path)
        run.log_artifact(artifact)
