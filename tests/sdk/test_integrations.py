"""W&B's framework integrations against the real libraries (XGBoost, LightGBM, Keras 3 on
JAX) and a live server: what W&B would log is stored and reads back through Api. Code is
written in the W&B idiom through the `wandb` -> gradline alias (gradline.wandb_alias)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from gradline import Api, wandb_alias

os.environ.setdefault("KERAS_BACKEND", "jax")  # Keras 3 without TensorFlow or torch


@pytest.fixture
def wandb():
    return wandb_alias.install()


def remote_run(server, sdk_db, run):
    return Api(api_key=sdk_db.seed.owner_key, base_url=server.url).run(
        f"{sdk_db.seed.team}/{run.project}/{run.id}"
    )


def _classification(n=300, features=5, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int)
    return x, y


def test_integrations_import_without_their_frameworks():
    code = (
        "import sys\n"
        "for name in ('xgboost', 'lightgbm', 'keras', 'sklearn', 'tensorboard', 'jax', 'torch'):\n"
        "    sys.modules[name] = None  # importing it now raises ImportError\n"
        "import gradline.wandb_alias\n"
        "wandb = gradline.wandb_alias.install()\n"
        "import wandb.integration.xgboost, wandb.integration.lightgbm\n"
        "import wandb.integration.keras, wandb.integration.sklearn, wandb.xgboost\n"
        "import wandb.lightgbm, wandb.keras, wandb.sklearn, wandb.tensorboard\n"
        "import wandb.integration.torch, wandb.plots\n"
        "assert callable(wandb.watch) and callable(wandb.unwatch)\n"
        "assert wandb.xgboost is sys.modules['gradline.xgboost']\n"
        "try:\n"
        "    wandb.xgboost.WandbCallback\n"
        "except ImportError:\n"
        "    print('needs xgboost')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "needs xgboost", out.stderr


def test_xgboost_callback_logs_metrics_config_importance_and_model(
    server, sdk_db, sdk_settings, wandb
):
    import xgboost as xgb
    from wandb.integration.xgboost import WandbCallback

    assert WandbCallback is wandb.xgboost.WandbCallback
    x, y = _classification()
    dtrain = xgb.DMatrix(x[:200], label=y[:200], feature_names=[f"f{i}" for i in range(5)])
    dtest = xgb.DMatrix(x[200:], label=y[200:], feature_names=[f"f{i}" for i in range(5)])
    run = wandb.init(project="integrations", settings=sdk_settings())
    params = {"objective": "binary:logistic", "eval_metric": ["logloss", "auc"], "max_depth": 3}
    booster = xgb.train(
        params,
        dtrain,
        num_boost_round=30,
        evals=[(dtrain, "train"), (dtest, "test")],
        early_stopping_rounds=5,
        callbacks=[WandbCallback(log_model=True)],
        verbose_eval=False,
    )
    wandb.finish()

    remote = remote_run(server, sdk_db, run)
    history = remote.history(pandas=False)
    rounds = booster.num_boosted_rounds()
    logged = [r for r in history if "test-auc" in r]
    assert len(logged) == rounds
    assert [r["epoch"] for r in logged] == list(range(rounds))
    assert {"train-logloss", "train-auc", "test-logloss", "test-auc"} <= set(logged[0])
    # Integers come back as integers (epoch), metrics as floats.
    assert all(type(r["epoch"]) is int for r in logged)
    assert remote.config["learner"]["objective"]["name"] == "binary:logistic"
    assert remote.summary["best_iteration"] == booster.best_iteration
    assert remote.summary["best_score"] == pytest.approx(booster.best_score)
    chart = remote.logged_media(key="Feature Importance")[0]
    assert chart.type == "chart"
    importance = dict(chart.table().data)
    assert importance == pytest.approx(booster.get_score(importance_type="gain"))
    model = Api(api_key=sdk_db.seed.owner_key, base_url=server.url).artifact(
        f"{sdk_db.seed.team}/integrations/{run.id}_model.json:latest"
    )
    assert model.type == "model"
    path = model.download()
    loaded = xgb.Booster(model_file=f"{path}/{run.id}_model.json")
    assert loaded.num_boosted_rounds() == rounds


def test_xgboost_sklearn_estimator_with_callback(server, sdk_db, sdk_settings, wandb):
    import xgboost as xgb

    x, y = _classification(seed=1)
    run = wandb.init(project="integrations", settings=sdk_settings())
    model = xgb.XGBClassifier(
        n_estimators=8, max_depth=2, callbacks=[wandb.xgboost.WandbCallback()]
    )
    model.fit(x[:200], y[:200], eval_set=[(x[200:], y[200:])], verbose=False)
    wandb.finish()
    history = remote_run(server, sdk_db, run).history(pandas=False)
    assert [r["epoch"] for r in history if "validation_0-logloss" in r] == list(range(8))


def test_lightgbm_callback_and_log_summary(server, sdk_db, sdk_settings, wandb):
    import lightgbm as lgb
    from wandb.lightgbm import log_summary, wandb_callback

    rng = np.random.default_rng(2)
    x = rng.normal(size=(400, 4))
    y = 3 * x[:, 0] - x[:, 1] + rng.normal(scale=0.1, size=400)
    train = lgb.Dataset(x[:300], y[:300])
    valid = lgb.Dataset(x[300:], y[300:], reference=train)
    run = wandb.init(project="integrations", settings=sdk_settings())
    params = {"objective": "regression", "metric": ["l2", "l1"], "verbosity": -1}
    wandb.config.update(params)
    gbm = lgb.train(
        params,
        train,
        num_boost_round=15,
        valid_sets=[valid],
        valid_names=["validation"],
        callbacks=[wandb_callback(), lgb.early_stopping(stopping_rounds=5, verbose=False)],
    )
    log_summary(gbm, save_model_checkpoint=True)
    wandb.finish()

    remote = remote_run(server, sdk_db, run)
    history = [r for r in remote.history(pandas=False) if "validation_l2" in r]
    assert [r["iteration"] for r in history] == list(range(len(history)))
    assert len(history) == gbm.current_iteration()
    assert remote.config["objective"] == "regression"
    assert remote.summary["best_iteration"] == gbm.best_iteration
    assert remote.summary["validation_l2"] == pytest.approx(gbm.best_score["validation"]["l2"])
    chart = remote.logged_media(key="Feature Importance")[0]
    assert [row[0] for row in chart.table().data] == gbm.feature_name()
    model = Api(api_key=sdk_db.seed.owner_key, base_url=server.url).artifact(
        f"{sdk_db.seed.team}/integrations/model_{run.id}:latest"
    )
    booster = lgb.Booster(model_file=f"{model.download()}/model.txt")
    assert booster.num_trees() == gbm.num_trees()


def _keras_model():
    import keras

    model = keras.Sequential(
        [keras.Input(shape=(5,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)]
    )
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="mse", metrics=["mae"])
    return model


def test_keras_metrics_logger_checkpoint_and_eval_tables(
    server, sdk_db, sdk_settings, wandb, tmp_path
):
    import keras
    from wandb.integration.keras import WandbEvalCallback, WandbMetricsLogger, WandbModelCheckpoint

    assert keras.backend.backend() == "jax"
    x, y = _classification(n=128, seed=3)
    y = y.astype("float32")

    class PredictionTable(WandbEvalCallback):
        def __init__(self):
            super().__init__(["index", "label"], ["epoch", "index", "prediction"])

        def add_ground_truth(self, logs=None):
            for i in range(4):
                self.data_table.add_data(i, float(y[i]))

        def add_model_predictions(self, epoch, logs=None):
            predictions = self.model.predict(x[:4], verbose=0)
            for i in range(4):
                self.pred_table.add_data(epoch, i, float(predictions[i][0]))

    run = wandb.init(project="integrations", settings=sdk_settings())
    model = _keras_model()
    model.fit(
        x,
        y,
        epochs=3,
        batch_size=32,
        validation_split=0.25,
        verbose=0,
        callbacks=[
            WandbMetricsLogger(log_freq=2),
            WandbModelCheckpoint(str(tmp_path / "model.keras")),
            PredictionTable(),
        ],
    )
    wandb.finish()

    remote = remote_run(server, sdk_db, run)
    epochs = [r for r in remote.history(pandas=False) if "epoch/loss" in r]
    assert [r["epoch/epoch"] for r in epochs] == [0, 1, 2]
    assert {"epoch/val_loss", "epoch/mae", "epoch/val_mae"} <= set(epochs[0])
    assert epochs[0]["epoch/learning_rate"] == pytest.approx(0.01)
    batches = [r for r in remote.history(pandas=False) if "batch/loss" in r]
    # 3 training batches an epoch (96 rows), every second one logged: 0, 2, 0, 2, 0, 2
    assert [r["batch/batch_step"] for r in batches] == [0, 2, 4, 6, 8, 10]
    api = Api(api_key=sdk_db.seed.owner_key, base_url=server.url)
    checkpoint = api.artifact(f"{sdk_db.seed.team}/integrations/run_{run.id}_model:latest")
    assert checkpoint.type == "model"
    assert "epoch_2" in checkpoint.aliases
    restored = keras.saving.load_model(f"{checkpoint.download()}/model.keras")
    assert restored.predict(x[:2], verbose=0).shape == (2, 1)
    assert remote.table("val_data").data == [[i, float(y[i])] for i in range(4)]
    predictions = remote.table("eval_data").data
    assert [row[:2] for row in predictions] == [[2, i] for i in range(4)]


def test_tensorboard_sync_scalars_histograms_images(server, sdk_db, sdk_settings, wandb, tmp_path):
    from tensorboardX import SummaryWriter

    run = wandb.init(project="integrations", sync_tensorboard=True, settings=sdk_settings())
    train = SummaryWriter(str(tmp_path / "tb" / "train"))
    valid = SummaryWriter(str(tmp_path / "tb" / "validation"))
    rng = np.random.default_rng(4)
    for step in range(5):
        train.add_scalar("loss", 1.0 / (step + 1), step)
        valid.add_scalar("loss", 2.0 / (step + 1), step)
    train.add_histogram("weights", rng.normal(size=500), 4)
    train.add_image("sample", rng.random((3, 16, 24)), 4)
    train.close()
    valid.close()
    wandb.finish()

    remote = remote_run(server, sdk_db, run)
    rows = remote.history(pandas=False)
    train_loss = {r["global_step"]: r["loss"] for r in rows if "loss" in r}
    valid_loss = {r["global_step"]: r["validation/loss"] for r in rows if "validation/loss" in r}
    assert train_loss == pytest.approx({s: 1.0 / (s + 1) for s in range(5)})
    assert valid_loss == pytest.approx({s: 2.0 / (s + 1) for s in range(5)})
    histogram = remote.logged_media(key="weights")
    assert [m.type for m in histogram] == ["histogram"]
    image = remote.logged_media(key="sample")[0]
    assert image.type == "image"
    assert image.image().size == (24, 16)


def test_tensorboard_patch_before_init_with_root_logdir(
    server, sdk_db, sdk_settings, wandb, tmp_path
):
    from tensorboard.summary.writer.event_file_writer import EventFileWriter
    from tensorboardX import SummaryWriter

    root = tmp_path / "logs"
    wandb.tensorboard.patch(root_logdir=str(root))
    try:
        assert EventFileWriter.__init__.__wrapped__  # the tensorboard package's writer too
        run = wandb.init(project="integrations", settings=sdk_settings())
        writer = SummaryWriter(str(root / "exp1"))
        for step in range(3):
            writer.add_scalar("acc", step / 2, step)
        writer.close()
        wandb.finish()
    finally:
        wandb.tensorboard.unpatch()
    rows = remote_run(server, sdk_db, run).history(pandas=False)
    assert [(r["global_step"], r["exp1/acc"]) for r in rows if "exp1/acc" in r] == [
        (0, 0.0),
        (1, 0.5),
        (2, 1.0),
    ]


def test_sklearn_plots_log_tables_and_charts(server, sdk_db, sdk_settings, wandb):
    from sklearn.cluster import KMeans
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import train_test_split

    x, y = _classification(n=240, seed=5)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=0)
    run = wandb.init(project="integrations", settings=sdk_settings())
    model = RandomForestClassifier(n_estimators=10, random_state=0).fit(x_train, y_train)
    wandb.sklearn.plot_classifier(
        model,
        x_train,
        x_test,
        y_train,
        y_test,
        model.predict(x_test),
        model.predict_proba(x_test),
        ["no", "yes"],
        is_binary=True,
        model_name="RandomForest",
        feature_names=[f"f{i}" for i in range(5)],
        log_learning_curve=True,
    )
    reg_y = x @ np.arange(1, 6) + 0.1
    ridge = Ridge().fit(x_train, reg_y[:180])
    wandb.sklearn.plot_regressor(ridge, x_train, x_test, reg_y[:180], reg_y[180:])
    iris = load_iris()
    kmeans = KMeans(n_clusters=3, random_state=1, n_init=3)
    wandb.sklearn.plot_clusterer(kmeans, iris.data, kmeans.fit_predict(iris.data), None, "KMeans")
    wandb.finish()

    remote = remote_run(server, sdk_db, run)
    charts = {m.key: m for m in remote.logged_media(type="chart")}
    assert set(charts) == {
        "feature_importances", "class_proportions", "learning_curve", "roc", "pr",
        "summary_metrics", "confusion_matrix", "calibration_curve", "outlier_candidates",
        "residuals", "elbow_curve", "silhouette_plot",
    }  # fmt: skip
    assert all(c.metadata["spec"]["data"] == {"name": "table"} for c in charts.values())
    counts = {(a, p): n for a, p, n in charts["confusion_matrix"].table().data}
    assert sum(counts.values()) == len(y_test)
    assert set(counts) <= {(a, p) for a in ("no", "yes") for p in ("no", "yes")}
    importances = charts["feature_importances"].table().data
    assert sorted(f for f, _ in importances) == [f"f{i}" for i in range(5)]
    proportions = charts["class_proportions"].table().data
    assert sum(n for _, split, n in proportions if split == "test") == len(y_test)
    elbow = charts["elbow_curve"].table().data
    assert [k for k, _, _ in elbow] == [1, 3, 5, 7, 9]
    assert len(charts["silhouette_plot"].table().data) == len(iris.data)
    assert len(charts["outlier_candidates"].table().data) == 180
