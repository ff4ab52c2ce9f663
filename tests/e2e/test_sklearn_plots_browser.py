"""Every scikit-learn plot W&B's `wandb.sklearn` makes, drawn on the run page in a real
browser (Python Playwright, Debian chromium) against the real ASGI server. The run is
logged by W&B code, unchanged, in another process with `import wandb` resolved to
gradline (tests/sdk/wandb_shim): plot_classifier, plot_regressor and plot_clusterer,
which between them make all twelve charts. Each panel of the Media tab must draw its
Vega-Lite chart (SVG marks) from its table; light and dark screenshots."""

from __future__ import annotations

import textwrap

import pytest

from tests.e2e.pages import screenshot
from tests.e2e.sdk_server import TEAM, run_script, sdk_env, sdk_server, sign_in
from tests.sdk.harness import REPO

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]

PROJECT = "sklearn-plots"
RUN_ID = "sk-plots"

# The chart keys W&B's three plot_* wrappers log, and a mark each draws.
CHARTS = {
    "feature_importances": "mark-rect",
    "class_proportions": "mark-rect",
    "learning_curve": "mark-line",
    "roc": "mark-line",
    "pr": "mark-line",
    "summary_metrics": "mark-rect",
    "confusion_matrix": "mark-rect",
    "calibration_curve": "mark-line",
    "outlier_candidates": "mark-rect",
    "residuals": "mark-symbol",
    "elbow_curve": "mark-line",
    "silhouette_plot": "mark-rect",
}

SCRIPT = f"""
import numpy as np
import wandb
from sklearn.cluster import KMeans
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import Ridge
from sklearn.model_selection import train_test_split

rng = np.random.default_rng(5)
x = rng.normal(size=(240, 5))
y = (x[:, 0] + 0.5 * x[:, 1] + rng.normal(0, 0.8, 240) > 0).astype(int)  # not separable
reg_y = x @ np.arange(1, 6) + rng.normal(0, 0.5, 240)
x_train, x_test, y_train, y_test, r_train, r_test = train_test_split(
    x, y, reg_y, test_size=0.25, random_state=0
)
run = wandb.init(project={PROJECT!r}, id={RUN_ID!r}, name="sklearn plots")
model = RandomForestClassifier(n_estimators=10, random_state=0).fit(x_train, y_train)
wandb.sklearn.plot_classifier(
    model, x_train, x_test, y_train, y_test, model.predict(x_test),
    model.predict_proba(x_test), ["no", "yes"], is_binary=True, model_name="RandomForest",
    feature_names=[f"f{{i}}" for i in range(5)], log_learning_curve=True,
)
ridge = Ridge().fit(x_train, r_train)
wandb.sklearn.plot_regressor(ridge, x_train, x_test, r_train, r_test, "Ridge")
iris = load_iris()
kmeans = KMeans(n_clusters=3, random_state=1, n_init=3)
wandb.sklearn.plot_clusterer(kmeans, iris.data, kmeans.fit_predict(iris.data), None, "KMeans")
wandb.finish()
"""


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    var_dir = tmp_path_factory.mktemp("sklearn-server")
    with sdk_server("sklearn", var_dir) as (server, seed):
        env = sdk_env(server, seed.owner_key, var_dir)
        env["PYTHONPATH"] = f"{REPO / 'tests' / 'sdk' / 'wandb_shim'}:{env['PYTHONPATH']}"
        env["GRADLINE_SILENT"] = "true"
        done = run_script(textwrap.dedent(SCRIPT), env, var_dir)
        assert "cannot log" not in done.stderr and "refused" not in done.stderr, done.stderr
        yield server


def _panel(page, key: str):
    return page.locator(f'.media-panel[data-key="{key}"]')


@pytest.mark.parametrize("color_scheme", ["light", "dark"])
def test_every_sklearn_plot_renders_on_the_run_page(logged, browser, screenshots_dir, color_scheme):
    from playwright.sync_api import expect

    context, page = sign_in(browser, logged, color_scheme)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"/{TEAM}/{PROJECT}/runs/{RUN_ID}#media")
    expect(page.locator("[data-media-section]")).to_have_attribute("data-state", "ready")
    expect(page.locator("[data-media-count]")).to_have_text(str(len(CHARTS)))
    for key, mark in CHARTS.items():
        panel = _panel(page, key)
        panel.scroll_into_view_if_needed()
        expect(panel).to_have_attribute("data-state", "ready")
        chart = panel.get_by_test_id("custom-chart")
        expect(chart.locator("svg.marks")).to_be_visible()
        drawn = chart.locator(f'g[class*="{mark}"] path')
        expect(drawn.first).to_be_attached()
        assert drawn.count() >= 1, key
    screenshot(page, screenshots_dir, f"{color_scheme}-sklearn-plots")
    assert errors == []
    context.close()
