"""W&B's XGBoost integration: `WandbCallback` for `xgb.train(..., callbacks=[...])` and the
scikit-learn estimators (`XGBClassifier(callbacks=[...])`).

What it logs, as W&B does: the booster's configuration (`save_config()`) into the run
config before training; after every round each evaluation metric as
`<dataset>-<metric>` (e.g. `train-rmse`, `test-mlogloss`) plus `epoch`; after training
the feature importance as a bar chart ("Feature Importance"), `best_score` /
`best_iteration` in the summary when early stopping set them, and with log_model=True
the booster as a "model" artifact. xgboost is imported when WandbCallback is first used.
"""

from __future__ import annotations

from typing import Any

__all__ = ["WandbCallback"]

# Metrics where higher is better (W&B's list); the rest are summarised by their minimum.
_MAXIMISED = ("auc", "aucpr", "map", "ndcg", "pre")


def _build() -> type:
    import json
    import os
    import tempfile

    import xgboost as xgb

    import gradline
    from gradline.integration._run import current_run

    class WandbCallback(xgb.callback.TrainingCallback):
        """`WandbCallback(log_model=False, log_feature_importance=True,
        importance_type="gain", define_metric=True)`."""

        def __init__(
            self,
            log_model: bool = False,
            log_feature_importance: bool = True,
            importance_type: str = "gain",
            define_metric: bool = True,
        ):
            super().__init__()
            self.log_model = log_model
            self.log_feature_importance = log_feature_importance
            self.importance_type = importance_type
            self.define_metric = define_metric
            self._defined: set[str] = set()
            self.run = current_run("wandb.xgboost.WandbCallback")

        def before_training(self, model: Any) -> Any:
            booster = model.get_booster() if hasattr(model, "get_booster") else model
            try:
                config = json.loads(booster.save_config())
            except (AttributeError, ValueError, xgb.core.XGBoostError):
                config = None
            if config:
                self.run.config.update(config, allow_val_change=True)
            return model

        def after_iteration(self, model: Any, epoch: int, evals_log: dict) -> bool:
            row: dict[str, Any] = {}
            for data, metrics in evals_log.items():
                for metric_name, values in metrics.items():
                    key = f"{data}-{metric_name}"
                    value = values[-1]
                    if isinstance(value, tuple):  # xgb.cv: (mean, std)
                        value = value[0]
                    row[key] = float(value)
                    if self.define_metric and key not in self._defined:
                        self._defined.add(key)
                        goal = "max" if metric_name.split("@")[0] in _MAXIMISED else "min"
                        self.run.define_metric(key, summary=goal)
            row["epoch"] = epoch
            self.run.log(row)
            return False  # never asks to stop

        def after_training(self, model: Any) -> Any:
            booster = model.get_booster() if hasattr(model, "get_booster") else model
            if self.log_model:
                self._log_model(booster)
            if self.log_feature_importance:
                self._log_feature_importance(booster)
            best_score = booster.attr("best_score")
            if best_score is not None:
                self.run.summary.update(
                    {
                        "best_score": float(best_score),
                        "best_iteration": int(booster.attr("best_iteration")),
                    }
                )
            return model

        def _log_model(self, booster: Any) -> None:
            name = f"{self.run.id}_model.json"
            folder = tempfile.mkdtemp(prefix="gradline-xgb-")
            path = os.path.join(folder, name)
            booster.save_model(path)
            artifact = gradline.Artifact(name=name, type="model")
            artifact.add_file(path)
            self.run.log_artifact(artifact)

        def _log_feature_importance(self, booster: Any) -> None:
            scores = booster.get_score(importance_type=self.importance_type)
            if not scores:
                return
            table = gradline.Table(
                columns=["Feature", "Importance"], data=[[k, float(v)] for k, v in scores.items()]
            )
            chart = gradline.plot.bar(
                table, "Feature", "Importance", title=f"Feature Importance ({self.importance_type})"
            )
            self.run.log({"Feature Importance": chart}, commit=False)

    WandbCallback.__module__ = __name__
    return WandbCallback


def __getattr__(name: str) -> Any:
    if name == "WandbCallback":
        cls = _build()
        globals()["WandbCallback"] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
