"""W&B's Keras 3 callbacks: `WandbMetricsLogger`, `WandbModelCheckpoint`,
`WandbEvalCallback`, built on the installed Keras (any backend; tested on JAX).

- WandbMetricsLogger(log_freq="epoch" | "batch" | N, initial_global_step=0): each epoch's
  logs as `epoch/<name>` with `epoch/epoch` and `epoch/learning_rate` (W&B's keys, each
  charted against `epoch/epoch`); with batch logging also `batch/<name>`,
  `batch/batch_step` and `batch/learning_rate` every N batches.
- WandbModelCheckpoint(filepath, monitor="val_loss", ...): Keras' ModelCheckpoint that
  also logs every file it writes as a "model" artifact `run_<run id>_model` (aliases
  `latest` and `epoch_<n>`).
- WandbEvalCallback(data_table_columns, pred_table_columns): subclass it and fill
  `self.data_table` in add_ground_truth() and `self.pred_table` in
  add_model_predictions(); the data table is logged once as `val_data` at the start of
  training, the predictions as `eval_data` after every epoch. (W&B stores these tables
  in artifacts; here they are run tables, read with Api().run(...).table(key).)

keras is imported when one of these names is first used.
"""

from __future__ import annotations

from typing import Any

__all__ = ["WandbEvalCallback", "WandbMetricsLogger", "WandbModelCheckpoint"]


def _learning_rate(model: Any) -> float | None:
    optimizer = getattr(model, "optimizer", None)
    rate = getattr(optimizer, "learning_rate", None)
    if rate is None:
        return None
    try:
        import numpy as np

        return float(np.asarray(rate))
    except (TypeError, ValueError):
        return None


def _plain(logs: dict | None) -> dict:
    out = {}
    for key, value in (logs or {}).items():
        try:
            out[key] = float(value)
        except (TypeError, ValueError):
            out[key] = value
    return out


def _build() -> dict[str, type]:
    import os

    import keras

    import gradline
    from gradline.integration._run import current_run

    class WandbMetricsLogger(keras.callbacks.Callback):
        def __init__(
            self, log_freq: Any = "epoch", initial_global_step: int = 0, *args: Any, **kwargs: Any
        ):
            super().__init__(*args, **kwargs)
            self.run = current_run("WandbMetricsLogger")
            if log_freq == "batch":
                log_freq = 1
            self.logging_batch_wise = isinstance(log_freq, int) and not isinstance(log_freq, bool)
            self.log_freq = log_freq if self.logging_batch_wise else None
            self.global_batch = 0
            self.global_step = initial_global_step
            self.run.define_metric("epoch/epoch", hidden=True)
            self.run.define_metric("epoch/*", step_metric="epoch/epoch")
            if self.logging_batch_wise:
                self.run.define_metric("batch/batch_step", hidden=True)
                self.run.define_metric("batch/*", step_metric="batch/batch_step")

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            row = {f"epoch/{k}": v for k, v in _plain(logs).items()}
            row["epoch/epoch"] = epoch
            rate = _learning_rate(self.model)
            if rate is not None:
                row["epoch/learning_rate"] = rate
            self.run.log(row)

        def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
            self.global_step += 1
            if self.logging_batch_wise and batch % self.log_freq == 0:
                row = {f"batch/{k}": v for k, v in _plain(logs).items()}
                row["batch/batch_step"] = self.global_batch
                rate = _learning_rate(self.model)
                if rate is not None:
                    row["batch/learning_rate"] = rate
                self.run.log(row)
                self.global_batch += self.log_freq

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            self.on_batch_end(batch, logs)

    class WandbModelCheckpoint(keras.callbacks.ModelCheckpoint):
        def __init__(
            self,
            filepath: Any,
            monitor: str = "val_loss",
            verbose: int = 0,
            save_best_only: bool = False,
            save_weights_only: bool = False,
            mode: str = "auto",
            save_freq: Any = "epoch",
            initial_value_threshold: float | None = None,
            **kwargs: Any,
        ):
            super().__init__(
                filepath=str(filepath),
                monitor=monitor,
                verbose=verbose,
                save_best_only=save_best_only,
                save_weights_only=save_weights_only,
                mode=mode,
                save_freq=save_freq,
                initial_value_threshold=initial_value_threshold,
                **kwargs,
            )
            self.run = current_run("WandbModelCheckpoint")
            self._logged: dict[str, float] = {}

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            super().on_train_batch_end(batch, logs)
            if self.save_freq != "epoch" and self._batches_seen_since_last_saving == 0:
                self._log_saved(self._current_epoch, batch, logs, [f"batch_{batch}"])

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            super().on_epoch_end(epoch, logs)
            if self.save_freq == "epoch":
                self._log_saved(epoch, None, logs, [f"epoch_{epoch}"])

        def _log_saved(self, epoch: int, batch: Any, logs: Any, aliases: list[str]) -> None:
            path = self._get_file_path(epoch, batch, logs)
            if not os.path.exists(path):
                return
            changed = os.stat(path).st_mtime_ns
            if self._logged.get(path) == changed:  # save_best_only and not better: not saved
                return
            self._logged[path] = changed
            artifact = gradline.Artifact(f"run_{self.run.id}_model", type="model")
            if os.path.isdir(path):
                artifact.add_dir(path)
            else:
                artifact.add_file(path)
            self.run.log_artifact(artifact, aliases=["latest", *aliases])

    class WandbEvalCallback(keras.callbacks.Callback):
        def __init__(
            self, data_table_columns: list, pred_table_columns: list, *args: Any, **kwargs: Any
        ):
            super().__init__(*args, **kwargs)
            self.run = current_run("WandbEvalCallback")
            self.data_table_columns = list(data_table_columns)
            self.pred_table_columns = list(pred_table_columns)
            self.data_table: Any = None
            self.pred_table: Any = None

        def on_train_begin(self, logs: dict | None = None) -> None:
            self.init_data_table(column_names=self.data_table_columns)
            self.add_ground_truth(logs)
            self.log_data_table()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            self.init_pred_table(column_names=self.pred_table_columns)
            self.add_model_predictions(epoch, logs)
            self.log_pred_table()

        def add_ground_truth(self, logs: dict | None = None) -> None:
            raise NotImplementedError(f"{self.__class__.__name__}.add_ground_truth")

        def add_model_predictions(self, epoch: int, logs: dict | None = None) -> None:
            raise NotImplementedError(f"{self.__class__.__name__}.add_model_predictions")

        def init_data_table(self, column_names: list) -> None:
            self.data_table = gradline.Table(columns=column_names, allow_mixed_types=True)

        def init_pred_table(self, column_names: list) -> None:
            self.pred_table = gradline.Table(columns=column_names, allow_mixed_types=True)

        def log_data_table(
            self, name: str = "val", type: str = "dataset", table_name: str = "val_data"
        ) -> None:
            self.run.log({table_name: self.data_table}, commit=False)

        def log_pred_table(
            self, type: str = "evaluation", table_name: str = "eval_data", aliases: Any = None
        ) -> None:
            self.run.log({table_name: self.pred_table}, commit=False)

    classes = {
        "WandbMetricsLogger": WandbMetricsLogger,
        "WandbModelCheckpoint": WandbModelCheckpoint,
        "WandbEvalCallback": WandbEvalCallback,
    }
    for cls in classes.values():
        cls.__module__ = __name__
    return classes


def __getattr__(name: str) -> Any:
    if name in __all__:
        classes = _build()
        globals().update(classes)
        return classes[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
