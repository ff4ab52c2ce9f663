"""W&B's scikit-learn plots (`wandb.sklearn.plot_*`), with W&B's signatures and keys.

Each plot computes its numbers with scikit-learn (and numpy) and logs them as a table with
a Vega-Lite chart over it (`gradline.plot_table`, docs/media.md), under W&B's key
(`roc`, `pr`, `confusion_matrix`, `learning_curve`, `feature_importances`,
`class_proportions`, `calibration_curve`, `summary_metrics`, `elbow_curve`,
`silhouette_plot`, `residuals`, `outlier_candidates`). The composite plots
(plot_classifier, plot_regressor, plot_clusterer) log the same set W&B's do. scikit-learn
is imported when a plot is made.
"""

from __future__ import annotations

import warnings
from typing import Any

import gradline
from gradline.integration._run import current_run
from gradline.plot import SCHEMA

__all__ = [
    "plot_calibration_curve",
    "plot_class_proportions",
    "plot_classifier",
    "plot_clusterer",
    "plot_confusion_matrix",
    "plot_elbow_curve",
    "plot_feature_importances",
    "plot_learning_curve",
    "plot_outlier_candidates",
    "plot_precision_recall",
    "plot_regressor",
    "plot_residuals",
    "plot_roc",
    "plot_silhouette",
    "plot_summary_metrics",
]

_MAX_POINTS = 1000  # rows per scatter-type chart, as W&B's chart_limit


def _np():
    import numpy as np

    return np


def _list(values: Any) -> list:
    np = _np()
    return np.asarray(values).tolist()


def _spec(title: str, mark: Any, encoding: dict, **extra: Any) -> dict:
    return {"$schema": SCHEMA, "data": {"name": "table"}, "title": title, "mark": mark,
            "encoding": encoding, **extra}  # fmt: skip


def _q(field: str, title: str | None = None, **extra: Any) -> dict:
    return {"field": field, "type": "quantitative", "title": title or field, **extra}


def _n(field: str, title: str | None = None, **extra: Any) -> dict:
    return {"field": field, "type": "nominal", "title": title or field, **extra}


def _log(key: str, columns: list[str], rows: list[list], spec: dict) -> None:
    run = current_run(f"wandb.sklearn ({key})")
    table = gradline.Table(columns=columns, data=rows)
    run.log({key: gradline.plot_table(spec, table, {})}, commit=False)


def _thin(rows: list, limit: int = _MAX_POINTS) -> list:
    if len(rows) <= limit:
        return rows
    step = len(rows) / limit
    return [rows[int(i * step)] for i in range(limit)]


def _class_names(labels: Any, classes: list) -> list[str]:
    """W&B's rule: labels[i] names class i when the classes are 0..n-1 indices."""
    if labels is None:
        return [str(c) for c in classes]
    labels = list(labels)
    out = []
    for c in classes:
        if isinstance(c, int | _np().integer) and 0 <= int(c) < len(labels):
            out.append(str(labels[int(c)]))
        else:
            out.append(str(c))
    return out


# --------------------------------------------------------------------------- classifiers


def _curve_args(y_true: Any, y_probas: Any, labels: Any) -> tuple[list, list, list[str]]:
    """y_true as probability-column indices and one name per column. The columns are
    the sorted classes (scikit-learn's classes_); W&B names class c labels[c] when c is
    an index into labels, so wine qualities 3..8 with ten labels read 'four'..'nine'."""
    np = _np()
    probas = np.asarray(y_probas)
    columns = probas.shape[1] if probas.ndim == 2 else 1
    truth = np.asarray(y_true).tolist()
    present = sorted(set(truth))
    if all(isinstance(v, int) and 0 <= v < columns for v in present):
        classes = list(range(columns))
    elif len(present) == columns:
        classes = present
    else:
        raise gradline.UsageError(
            f"y_true has classes {present} for {columns} probability columns; pass y_true "
            "as column indices 0..n-1"
        )
    index = {c: i for i, c in enumerate(classes)}
    names = _class_names(labels, classes)
    return [index[v] for v in truth], probas.tolist(), names


def plot_roc(
    y_true: Any = None,
    y_probas: Any = None,
    labels: Any = None,
    plot_micro: bool = True,
    classes_to_plot: Any = None,
) -> None:
    """ROC curve per class (one vs rest), key "roc"."""
    run = current_run("wandb.sklearn.plot_roc")
    truth, probas, names = _curve_args(y_true, y_probas, labels)
    chart = gradline.plot.roc_curve(truth, probas, labels=names, classes_to_plot=classes_to_plot)
    run.log({"roc": chart}, commit=False)


def plot_precision_recall(
    y_true: Any = None,
    y_probas: Any = None,
    labels: Any = None,
    plot_micro: bool = True,
    classes_to_plot: Any = None,
) -> None:
    """Precision-recall curve per class, key "pr"."""
    run = current_run("wandb.sklearn.plot_precision_recall")
    truth, probas, names = _curve_args(y_true, y_probas, labels)
    chart = gradline.plot.pr_curve(truth, probas, labels=names, classes_to_plot=classes_to_plot)
    run.log({"pr": chart}, commit=False)


def plot_confusion_matrix(
    y_true: Any = None,
    y_pred: Any = None,
    labels: Any = None,
    true_labels: Any = None,
    pred_labels: Any = None,
    normalize: bool = False,
) -> None:
    """Counts (or row-normalised shares) of (actual, predicted), key "confusion_matrix"."""
    np = _np()
    from sklearn.metrics import confusion_matrix

    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    classes = sorted(set(y_true.tolist()) | set(y_pred.tolist()))
    matrix = confusion_matrix(y_true, y_pred, labels=classes).astype(float)
    if normalize:
        with np.errstate(invalid="ignore", divide="ignore"):
            matrix = np.nan_to_num(matrix / matrix.sum(axis=1, keepdims=True))
    names = _class_names(labels, classes)

    def kept(i: int, wanted: Any) -> bool:
        return wanted is None or classes[i] in wanted or names[i] in wanted

    rows = []
    for i, actual in enumerate(names):
        if not kept(i, true_labels):
            continue
        for j, predicted in enumerate(names):
            if not kept(j, pred_labels):
                continue
            value = float(matrix[i, j]) if normalize else int(matrix[i, j])
            rows.append([actual, predicted, value])
    spec = {
        "$schema": SCHEMA,
        "data": {"name": "table"},
        "title": "Confusion Matrix",
        "encoding": {"x": _n("Predicted"), "y": _n("Actual")},
        "layer": [
            {"mark": "rect", "encoding": {"color": _q("Count", scale={"scheme": "blues"})}},
            {"mark": "text", "encoding": {"text": _q("Count")}},
        ],
    }
    _log("confusion_matrix", ["Actual", "Predicted", "Count"], rows, spec)


def plot_feature_importances(
    model: Any = None,
    feature_names: Any = None,
    title: str = "Feature Importance",
    max_num_features: int = 50,
) -> None:
    """feature_importances_ (or |coef_|) by feature, key "feature_importances"."""
    np = _np()
    if hasattr(model, "feature_importances_"):
        importances = np.asarray(model.feature_importances_, dtype=float)
    elif hasattr(model, "coef_"):
        coef = np.asarray(model.coef_, dtype=float)
        importances = np.abs(coef).mean(axis=0) if coef.ndim > 1 else np.abs(coef)
    else:
        warnings.warn(
            "gradline: plot_feature_importances: the model has neither feature_importances_ "
            "nor coef_; nothing logged",
            stacklevel=2,
        )
        return
    names = list(feature_names) if feature_names is not None else None
    if names is None or len(names) != len(importances):
        names = [f"feature_{i}" for i in range(len(importances))]
    order = np.argsort(importances)[::-1][:max_num_features]
    rows = [[str(names[i]), float(importances[i])] for i in order]
    spec = _spec(title, "bar", {"x": _n("feature", sort="-y"), "y": _q("importance")})
    _log("feature_importances", ["feature", "importance"], rows, spec)


def plot_class_proportions(y_train: Any = None, y_test: Any = None, labels: Any = None) -> None:
    """Class counts of the train and test targets, key "class_proportions"."""
    np = _np()
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    classes = sorted(set(y_train.tolist()) | set(y_test.tolist()))
    names = _class_names(labels, classes)
    rows = []
    for split, values in (("train", y_train), ("test", y_test)):
        counts = {c: int((values == c).sum()) for c in classes}
        rows += [[names[i], split, counts[c]] for i, c in enumerate(classes)]
    spec = _spec(
        "Class Proportions",
        "bar",
        {"x": _n("class"), "y": _q("count"), "color": _n("dataset"), "xOffset": _n("dataset")},
    )
    _log("class_proportions", ["class", "dataset", "count"], rows, spec)


def _codes(y: Any) -> Any:
    return _np().unique(y, return_inverse=True)[1]


def plot_calibration_curve(
    clf: Any = None, X: Any = None, y: Any = None, clf_name: str = "Classifier"
) -> None:
    """Reliability of predicted probabilities (binary targets), key "calibration_curve":
    the model, its isotonic and sigmoid calibrations and logistic regression."""
    np = _np()
    from sklearn.base import clone
    from sklearn.calibration import CalibratedClassifierCV, calibration_curve
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    y = np.asarray(y)
    if len(set(y.tolist())) != 2:
        return  # W&B draws it for binary targets only
    # W&B's split (10% to fit), stratified: unstratified, a small or skewed set leaves a
    # class with one example and the cv=2 calibrations raise (W&B's own binary example
    # does, one run in a few).
    x_train, x_test, y_train, y_test = train_test_split(
        X,
        y,
        test_size=0.9,
        random_state=42,
        stratify=y if min(np.bincount(_codes(y))) >= 2 else None,
    )
    models = [
        ("Logistic regression", LogisticRegression(max_iter=1000)),
        (clf_name, clone(clf)),
        (f"{clf_name} + Isotonic", CalibratedClassifierCV(clone(clf), cv=2, method="isotonic")),
        (f"{clf_name} + Sigmoid", CalibratedClassifierCV(clone(clf), cv=2, method="sigmoid")),
    ]
    rows = [["Perfectly calibrated", 0.0, 0.0], ["Perfectly calibrated", 1.0, 1.0]]
    for name, model in models:
        model.fit(x_train, y_train)
        if hasattr(model, "predict_proba"):
            scores = model.predict_proba(x_test)[:, 1]
        else:
            scores = model.decision_function(x_test)
            scores = (scores - scores.min()) / (scores.max() - scores.min() or 1.0)
        fraction, mean_predicted = calibration_curve(y_test, scores, n_bins=10)
        rows += [[name, float(m), float(f)] for m, f in zip(mean_predicted, fraction, strict=True)]
    spec = _spec(
        "Calibration Curve",
        {"type": "line", "point": True},
        {
            "x": _q("mean_predicted_value", "Mean predicted value"),
            "y": _q("fraction_of_positives", "Fraction of positives"),
            "color": _n("model"),
        },
    )
    _log("calibration_curve", ["model", "mean_predicted_value", "fraction_of_positives"], rows,
         spec)  # fmt: skip


def plot_summary_metrics(
    model: Any = None, X: Any = None, y: Any = None, X_test: Any = None, y_test: Any = None
) -> None:
    """Accuracy, precision, recall, f1 (classifiers) or MAE, MSE, R² (regressors) on the
    test data, key "summary_metrics"."""
    from sklearn import metrics
    from sklearn.base import is_classifier, is_regressor

    y_pred = model.predict(X_test)
    if is_classifier(model):
        average = "binary" if len(set(_list(y))) <= 2 else "weighted"
        values = {
            "accuracy": metrics.accuracy_score(y_test, y_pred),
            "precision": metrics.precision_score(y_test, y_pred, average=average, zero_division=0),
            "recall": metrics.recall_score(y_test, y_pred, average=average, zero_division=0),
            "f1": metrics.f1_score(y_test, y_pred, average=average, zero_division=0),
        }
    elif is_regressor(model):
        values = {
            "mae": metrics.mean_absolute_error(y_test, y_pred),
            "mse": metrics.mean_squared_error(y_test, y_pred),
            "r2": metrics.r2_score(y_test, y_pred),
        }
    else:
        return
    rows = [[name, round(float(v), 4)] for name, v in values.items()]
    spec = _spec("Summary Metrics", "bar", {"x": _n("metric_name"), "y": _q("metric_value")})
    _log("summary_metrics", ["metric_name", "metric_value"], rows, spec)


def plot_learning_curve(
    model: Any = None,
    X: Any = None,
    y: Any = None,
    cv: Any = None,
    shuffle: bool = False,
    random_state: Any = None,
    train_sizes: Any = None,
    n_jobs: int = 1,
    scoring: Any = None,
) -> None:
    """Train and cross-validation score against the training set size, key
    "learning_curve"."""
    np = _np()
    from sklearn.model_selection import learning_curve

    sizes, train_scores, test_scores = learning_curve(
        model,
        X,
        y,
        cv=cv,
        shuffle=shuffle,
        random_state=random_state,
        train_sizes=np.linspace(0.1, 1.0, 5) if train_sizes is None else train_sizes,
        n_jobs=n_jobs,
        scoring=scoring,
    )
    rows = []
    for size, train, test in zip(sizes, train_scores, test_scores, strict=True):
        rows.append(["train", int(size), float(np.mean(train))])
        rows.append(["test", int(size), float(np.mean(test))])
    spec = _spec(
        "Learning Curve",
        {"type": "line", "point": True},
        {"x": _q("train_size", "Training set size"), "y": _q("score"), "color": _n("dataset")},
    )
    _log("learning_curve", ["dataset", "train_size", "score"], rows, spec)


def plot_classifier(
    model: Any,
    X_train: Any,
    X_test: Any,
    y_train: Any,
    y_test: Any,
    y_pred: Any,
    y_probas: Any,
    labels: Any = None,
    is_binary: bool = False,
    model_name: str = "Classifier",
    feature_names: Any = None,
    log_learning_curve: bool = False,
) -> None:
    """All the classifier plots W&B's plot_classifier logs."""
    plot_feature_importances(model, feature_names)
    plot_class_proportions(y_train, y_test, labels)
    if log_learning_curve:
        plot_learning_curve(model, X_train, y_train)
    plot_roc(y_test, y_probas, labels)
    plot_precision_recall(y_test, y_probas, labels)
    plot_summary_metrics(model, X_train, y_train, X_test, y_test)
    plot_confusion_matrix(y_test, y_pred, labels)
    if is_binary:
        plot_calibration_curve(model, X_train, y_train, model_name)
    current_run("wandb.sklearn.plot_classifier").log({}, commit=True)


# --------------------------------------------------------------------------- regressors


def plot_residuals(regressor: Any = None, X: Any = None, y: Any = None) -> None:
    """Residuals against predictions for train and test splits, key "residuals"."""
    np = _np()
    from sklearn.base import clone
    from sklearn.model_selection import train_test_split

    x_train, x_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)
    model = clone(regressor).fit(x_train, y_train)
    rows = []
    for split, xs, ys in (("train", x_train, y_train), ("test", x_test, y_test)):
        predicted = model.predict(xs)
        residual = np.asarray(ys) - predicted
        rows += [[split, float(p), float(r)] for p, r in zip(predicted, residual, strict=True)]
    spec = _spec(
        "Residuals Plot",
        {"type": "point", "filled": True, "opacity": 0.6},
        {"x": _q("predicted", "Predicted value"), "y": _q("residual"), "color": _n("dataset")},
    )
    _log("residuals", ["dataset", "predicted", "residual"], _thin(rows), spec)


def plot_outlier_candidates(regressor: Any = None, X: Any = None, y: Any = None) -> None:
    """Cook's distance of every training point (ordinary least squares on X), points above
    4/n flagged as outlier candidates, key "outlier_candidates"."""
    np = _np()

    x = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    design = np.column_stack([np.ones(len(x)), x])
    beta, *_ = np.linalg.lstsq(design, y, rcond=None)
    residuals = y - design @ beta
    n, p = design.shape
    hat = np.einsum("ij,ji->i", design, np.linalg.pinv(design.T @ design) @ design.T)
    mse = float(residuals @ residuals) / max(1, n - p)
    with np.errstate(divide="ignore", invalid="ignore"):
        cooks = np.nan_to_num(residuals**2 / (p * mse) * hat / (1 - hat) ** 2)
    threshold = 4.0 / n
    rows = [[i, float(d), bool(d > threshold)] for i, d in enumerate(cooks)]
    spec = _spec(
        f"Cook's Distance Outlier Detection (threshold {threshold:.4g})",
        "bar",
        {"x": _q("instance"), "y": _q("distance", "Cook's distance"), "color": _n("outlier")},
    )
    _log("outlier_candidates", ["instance", "distance", "outlier"], _thin(rows), spec)


def plot_regressor(
    model: Any, X_train: Any, X_test: Any, y_train: Any, y_test: Any, model_name: str = "Regressor"
) -> None:
    """All the regressor plots W&B's plot_regressor logs."""
    plot_summary_metrics(model, X_train, y_train, X_test, y_test)
    plot_learning_curve(model, X_train, y_train)
    plot_outlier_candidates(model, X_train, y_train)
    plot_residuals(model, X_train, y_train)
    current_run("wandb.sklearn.plot_regressor").log({}, commit=True)


# --------------------------------------------------------------------------- clusterers


def plot_elbow_curve(
    clusterer: Any = None,
    X: Any = None,
    cluster_ranges: Any = None,
    n_jobs: int = 1,
    show_cluster_time: bool = True,
) -> None:
    """Sum of squared distances (KMeans inertia) and fit time for each cluster count,
    key "elbow_curve"."""
    import time

    from sklearn.base import clone

    ranges = list(cluster_ranges) if cluster_ranges is not None else list(range(1, 10, 2))
    rows = []
    for k in ranges:
        model = clone(clusterer).set_params(n_clusters=k)
        started = time.perf_counter()
        model.fit(X)
        rows.append([int(k), float(model.inertia_), time.perf_counter() - started])
    spec = _spec(
        "Elbow Plot",
        {"type": "line", "point": True},
        {
            "x": _q("cluster_ranges", "Number of clusters"),
            "y": _q("errors", "Sum of squared errors"),
        },
    )
    _log("elbow_curve", ["cluster_ranges", "errors", "clustering_time"], rows, spec)


def plot_silhouette(
    clusterer: Any = None,
    X: Any = None,
    cluster_labels: Any = None,
    labels: Any = None,
    metric: str = "euclidean",
    kmeans: bool = True,
) -> None:
    """Silhouette coefficient of every sample, grouped by cluster, key "silhouette_plot"
    (the mean in the chart's title)."""
    np = _np()
    from sklearn.metrics import silhouette_samples, silhouette_score

    if cluster_labels is None:
        cluster_labels = clusterer.fit_predict(X)
    cluster_labels = np.asarray(cluster_labels)
    values = silhouette_samples(X, cluster_labels, metric=metric)
    average = float(silhouette_score(X, cluster_labels, metric=metric))
    rows, position = [], 0
    for cluster in sorted(set(cluster_labels.tolist())):
        for value in sorted(values[cluster_labels == cluster].tolist()):
            rows.append([position, str(cluster), float(value)])
            position += 1
    spec = _spec(
        f"Silhouette analysis (average {average:.3f})",
        "bar",
        {
            "y": _q("sample", "Sample", axis=None),
            "x": _q("silhouette", "Silhouette coefficient"),
            "color": _n("cluster"),
        },
    )
    _log("silhouette_plot", ["sample", "cluster", "silhouette"], _thin(rows), spec)


def plot_clusterer(
    model: Any, X_train: Any, cluster_labels: Any, labels: Any = None, model_name: str = "Clusterer"
) -> None:
    """W&B's plot_clusterer: elbow curve (for clusterers with n_clusters) and silhouette."""
    if "n_clusters" in model.get_params():
        plot_elbow_curve(model, X_train)
    plot_silhouette(model, X_train, cluster_labels, labels=labels)
    current_run("wandb.sklearn.plot_clusterer").log({}, commit=True)
