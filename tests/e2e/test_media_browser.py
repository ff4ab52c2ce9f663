"""Media panels in a real browser (Python Playwright, Debian chromium) against the real
ASGI server, with the media logged through the SDK in another process:

the run page's Media tab -> the image panel: two images per step, the step slider moves
to an earlier step -> the table viewer sorts by a column on the server (both ways) and
filters -> the confusion matrix, PR and ROC curves (gradline.plot) drawn with vega-embed ->
the histogram heatmap over every step -> audio, video, 3D -> an Html payload whose script
tries parent.document, document.cookie, storage and a credentialed fetch of the API finds
every one refused, and the page around it is unchanged -> the custom-chart editor: a
Vega-Lite spec typed in is previewed live and saved as a team preset, which the table's
"Chart as" then draws. The product brief's two visualization samples and its
custom-monitoring sample, run unchanged, each drawn on their run page. The workspace's
Media section: one column per run with the step slider. Light and dark (screenshots),
a phone's width, no script errors, no CSP violations in the app's pages.
"""

from __future__ import annotations

import re
import subprocess
import textwrap

import pytest

from tests.e2e.pages import from_media_document, screenshot
from tests.e2e.sdk_server import (
    TEAM,
    no_horizontal_overflow,
    run_script,
    sdk_env,
    sdk_server,
    sign_in,
)
from tests.sdk.test_media import ADVANCED_VISUALIZATION, CUSTOM_MONITORING, SAMPLE_INPUTS

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]

PROJECT = "mediapage"

# What the hostile Html item's script reports into its own body.
HOSTILE_HTML = """<!doctype html><html><body><p id="out">running</p><script>
const found = [];
const show = () => { document.getElementById("out").textContent = found.join(" "); };
try {
  found.push("parent-read:" + parent.document.title);
  parent.document.body.textContent = "owned";
} catch (e) { found.push("parent-blocked"); }
try { found.push("cookie-read:" + document.cookie); }
catch (e) { found.push("cookie-blocked"); }
try { found.push("storage-read:" + localStorage.length); }
catch (e) { found.push("storage-blocked"); }
show();
fetch("/api/v1/teams/sdk-team/projects/mediapage/runs", {credentials: "include"})
  .then((r) => { found.push("fetch-status:" + r.status); show(); })
  .catch(() => { found.push("fetch-blocked"); show(); });
</script></body></html>"""

SEED = """
import numpy as np, gradline
settings = dict(console="off", system_metrics=False, git=False, pip_freeze=False,
                silent=True, exit_hooks=False)
rng = np.random.default_rng(1)
run = gradline.init(project={project!r}, id="media-a", name="vision a", settings=settings)
for step in range(5):
    images = []
    for i in range(2):
        img = np.zeros((32, 48, 3), dtype=np.uint8)
        img[:, :, i] = 60 + 40 * step
        img[4:28, 8 + step * 6: 20 + step * 6, 2] = 255
        box = {{"minX": 8 + step * 6, "maxX": 20 + step * 6, "minY": 4, "maxY": 28}}
        boxes = {{"pred": {{"box_data": [{{"position": box, "domain": "pixel", "class_id": 1}}],
                 "class_labels": {{1: "square"}}}}}} if i == 0 else None
        images.append(gradline.Image(img, caption=f"sample {{i}} step {{step}}", boxes=boxes))
    run.log({{"samples": images, "loss": 1 / (step + 1)}}, step=step)
for step in range(5, 25):
    run.log({{"weights": gradline.Histogram(rng.normal(step / 5, 1, 500))}}, step=step)
labels = ["cat", "dog", "bird"]
rows = [[i, labels[i % 3], round(float(s), 4)] for i, s in enumerate(rng.uniform(0, 1, 120))]
run.log({{"preds": gradline.Table(columns=["id", "label", "score"], data=rows)}}, step=30)
y_true = [i % 3 for i in range(90)]
y_pred = [t if i % 5 else (t + 1) % 3 for i, t in enumerate(y_true)]
probas = [[0.8 if c == p else 0.1 for c in range(3)] for p in y_pred]
run.log({{
    "cm": gradline.plot.confusion_matrix(y_true=y_true, preds=y_pred, class_names=labels),
    "pr": gradline.plot.pr_curve(y_true, probas, labels=labels),
    "roc": gradline.plot.roc_curve(y_true, probas, labels=labels),
    "speech": gradline.Audio(np.sin(np.linspace(0, 400, 8000)), sample_rate=8000),
    "rollout": gradline.Video((rng.uniform(0, 255, (4, 3, 16, 16))).astype(np.uint8), fps=2),
    "cloud": gradline.Object3D(rng.normal(size=(300, 3))),
    "report": gradline.Html({hostile!r}),
}}, step=31)
run.finish()
other = gradline.init(project={project!r}, id="media-b", name="vision b", settings=settings)
for step in (0, 2):
    img = np.full((32, 48, 3), 200, dtype=np.uint8)
    other.log({{"samples": [gradline.Image(img, caption=f"b step {{step}}")]}}, step=step)
other.finish()
"""


def _python(script: str, env: dict, cwd) -> subprocess.CompletedProcess:
    done = run_script(script, env, cwd)
    assert "refused" not in done.stderr and "cannot log" not in done.stderr, done.stderr
    return done


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    """A uvicorn server on its own database; runs media-a and media-b logged with every
    media kind, and the brief's samples' run (its id in `brief_run`)."""
    var_dir = tmp_path_factory.mktemp("media-server")
    with sdk_server("media", var_dir) as (server, seed):
        env = sdk_env(server, seed.owner_key, var_dir)
        _python(textwrap.dedent(SEED.format(project=PROJECT, hostile=HOSTILE_HTML)), env, var_dir)
        brief = _python(SAMPLE_INPUTS + ADVANCED_VISUALIZATION + CUSTOM_MONITORING, env, var_dir)
        yield server, brief.stdout.split()[0]


def _app_errors(page) -> list[str]:
    """Script errors of the app's own pages (a sandboxed media document's refusals are
    what the security check provokes on purpose)."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: (
            errors.append(msg.text)
            if msg.type == "error"
            and not msg.text.startswith("Failed to load resource")
            and not from_media_document(msg)
            else None
        ),
    )
    return errors


def _panel(page, key: str):
    return page.locator(f'.media-panel[data-key="{key}"]')


def _ready(panel) -> None:
    from playwright.sync_api import expect

    panel.scroll_into_view_if_needed()
    expect(panel).to_have_attribute("data-state", "ready")


def _chart_drawn(panel, marks: str) -> None:
    """The Vega chart of a chart panel drew its marks (SVG renderer)."""
    from playwright.sync_api import expect

    _ready(panel)
    chart = panel.get_by_test_id("custom-chart")
    expect(chart.locator("svg.marks")).to_be_visible()
    assert chart.locator(f"g.{marks} path").count() >= 1, marks


def _table_column(panel, index: int) -> list[str]:
    return panel.locator(f".media-table tbody tr td:nth-child({index + 2})").all_inner_texts()


@pytest.mark.parametrize("color_scheme", ["light", "dark"])
def test_run_page_media_panels(logged, browser, screenshots_dir, color_scheme):
    from playwright.sync_api import expect

    server, _ = logged
    shot = f"{color_scheme}-media-"
    context, page = sign_in(browser, server, color_scheme)
    errors = _app_errors(page)
    frame_requests: list[str] = []
    page.on(
        "request",
        lambda r: frame_requests.append(r.url) if r.frame != page.main_frame else None,
    )
    page.goto(f"/{TEAM}/{PROJECT}/runs/media-a#media")
    section = page.locator("[data-media-section]")
    expect(section).to_have_attribute("data-state", "ready")
    expect(page.locator("[data-media-count]")).to_have_text("10")

    # Images: the last step's two, then an earlier step with the slider.
    images = _panel(page, "samples")
    _ready(images)
    expect(images).to_have_attribute("data-step", "4")
    expect(images.locator(".media-image img")).to_have_count(2)
    expect(images.locator(".media-caption").first).to_have_text("sample 0 step 4")
    expect(images.locator(".media-boxes rect")).to_have_count(1)
    images.get_by_test_id("step-slider").fill("1")
    expect(images).to_have_attribute("data-step", "1")
    expect(images.locator(".media-caption").first).to_have_text("sample 0 step 1")
    expect(images.locator(".media-run-step")).to_have_text("step 1")
    for img in images.locator("img").all():
        img.evaluate("i => i.decode()")
    screenshot(page, screenshots_dir, shot + "01-images")

    # The table viewer: sorted and filtered by the server.
    preds = _panel(page, "preds")
    _ready(preds)
    viewer = preds.get_by_test_id("table-viewer")
    expect(viewer).to_have_attribute("data-total", "120")
    expect(viewer.locator(".table-viewer-where")).to_have_text("1\u201325 of 120")
    viewer.get_by_role("button", name="score").click()
    expect(viewer.locator('th[aria-sort="ascending"]')).to_have_text(re.compile("score"))
    expect(viewer).to_have_attribute("data-state", "ready")
    ascending = [float(v) for v in _table_column(preds, 2)]
    assert ascending == sorted(ascending) and len(ascending) == 25
    viewer.get_by_role("button", name="score").click()
    expect(viewer.locator('th[aria-sort="descending"]')).to_have_text(re.compile("score"))
    expect(viewer).to_have_attribute("data-state", "ready")
    descending = [float(v) for v in _table_column(preds, 2)]
    assert descending == sorted(descending, reverse=True) and descending[0] > ascending[-1]
    viewer.get_by_label("Filter column").select_option("label")
    viewer.get_by_label("Filter value").fill("bird")
    viewer.get_by_role("button", name="Filter", exact=True).click()
    expect(viewer).to_have_attribute("data-total", "40")
    assert set(_table_column(preds, 1)) == {"bird"}
    screenshot(page, screenshots_dir, shot + "02-table")

    # Charts from gradline.plot: confusion matrix (rects), PR and ROC curves (lines).
    _chart_drawn(_panel(page, "cm"), "mark-rect")
    _chart_drawn(_panel(page, "pr"), "mark-line")
    _chart_drawn(_panel(page, "roc"), "mark-line")
    _panel(page, "cm").scroll_into_view_if_needed()
    screenshot(page, screenshots_dir, shot + "03-charts")

    # The histogram heatmap: every one of the 20 steps, binned by the server.
    weights = _panel(page, "weights")
    _ready(weights)
    expect(weights.locator("canvas.heatmap-canvas")).to_have_attribute("data-steps", "20")

    # Players and 3D.
    for key, selector in (("speech", "audio"), ("rollout", "img"), ("cloud", ".pointcloud-stage")):
        panel = _panel(page, key)
        _ready(panel)
        expect(panel.locator(selector)).to_have_count(1)
    expect(_panel(page, "cloud").locator(".media-pointcloud")).to_have_attribute(
        "data-points", "300"
    )

    # The hostile Html: its script finds the app out of reach, and the page is intact.
    report = _panel(page, "report")
    _ready(report)
    frame = report.locator("iframe")
    expect(frame).to_have_attribute("sandbox", "allow-scripts")
    out = report.frame_locator("iframe").locator("#out")
    expect(out).to_contain_text("fetch-")
    text = out.inner_text()
    assert "parent-blocked" in text and "cookie-blocked" in text and "storage-blocked" in text
    assert "fetch-blocked" in text, text
    assert "read:" not in text and "fetch-status" not in text, text
    assert not [u for u in frame_requests if "/runs" in u and not u.endswith("/file")], (
        frame_requests
    )
    expect(page.get_by_test_id("run-header")).to_contain_text("media-a")
    assert page.evaluate("document.body.textContent.includes('owned')") is False
    screenshot(page, screenshots_dir, shot + "04-players")

    # The custom-chart editor over the table: live preview, saved as a team preset.
    preset = f"Score by label {color_scheme}"
    preds.scroll_into_view_if_needed()
    preds.get_by_test_id("open-chart-editor").click()
    editor = page.get_by_test_id("chart-editor")
    expect(editor).to_be_visible()
    expect(editor.get_by_test_id("chart-editor-preview")).to_have_attribute("data-state", "ready")
    spec = (
        '{"data": {"name": "table"}, "mark": "bar", "encoding": {'
        '"x": {"field": "label", "type": "nominal"},'
        '"y": {"aggregate": "mean", "field": "score", "type": "quantitative"}}}'
    )
    editor.get_by_label("Vega-Lite spec (JSON)").fill("{ not json")
    expect(editor.locator(".chart-editor-error")).to_contain_text("Not valid JSON")
    editor.get_by_label("Vega-Lite spec (JSON)").fill(spec)
    preview = editor.get_by_test_id("chart-editor-preview")
    expect(preview.locator("g.mark-rect path")).to_have_count(3)
    expect(editor.locator(".chart-editor-error")).to_be_hidden()
    editor.get_by_label("Preset name").fill(preset)
    editor.get_by_role("button", name="Save as preset").click()
    expect(editor.locator(".chart-editor-status")).to_contain_text("Saved")
    if screenshots_dir is not None:  # the dialog itself (a full-page shot blanks it)
        editor.screenshot(path=str(screenshots_dir / f"{shot}05-editor.png"))
    editor.get_by_role("button", name="Close").click()
    expect(editor).to_have_count(0)
    chart_as = preds.get_by_test_id("chart-as")
    expect(chart_as.locator("option", has_text=preset)).to_have_count(1)
    chart_as.select_option(label=preset)
    expect(preds.locator(".media-chart g.mark-rect path")).to_have_count(3)
    expect(preds).to_have_attribute("data-state", "ready")

    assert not errors, errors
    context.close()

    # A phone's width holds the Media tab.
    context, phone = sign_in(
        browser, server, color_scheme, viewport={"width": 390, "height": 844}, is_mobile=True
    )
    phone_errors = _app_errors(phone)
    phone.goto(f"/{TEAM}/{PROJECT}/runs/media-a#media")
    expect(phone.locator("[data-media-section]")).to_have_attribute("data-state", "ready")
    _ready(_panel(phone, "samples"))
    _ready(_panel(phone, "preds"))
    no_horizontal_overflow(phone)
    phone.evaluate("window.scrollTo(0, 0)")
    screenshot(phone, screenshots_dir, shot + "06-phone")
    assert not phone_errors, phone_errors
    context.close()


@pytest.mark.parametrize("color_scheme", ["light", "dark"])
def test_brief_samples_drawn_on_the_run_page(logged, browser, screenshots_dir, color_scheme):
    from playwright.sync_api import expect

    server, brief_run = logged
    context, page = sign_in(browser, server, color_scheme)
    errors = _app_errors(page)
    page.goto(f"/{TEAM}/brief-visualization/runs/{brief_run}#media")
    expect(page.locator("[data-media-section]")).to_have_attribute("data-state", "ready")
    _chart_drawn(_panel(page, "confusion_matrix"), "mark-rect")
    _chart_drawn(_panel(page, "embeddings"), "mark-symbol")
    _chart_drawn(_panel(page, "custom_plot"), "mark-line")
    scatter = _panel(page, "embeddings").get_by_test_id("custom-chart")
    expect(scatter).to_have_attribute("data-rows", "60")
    expect(_panel(page, "custom_plot").get_by_test_id("custom-chart")).to_contain_text(
        "Training Loss"
    )
    screenshot(page, screenshots_dir, f"{color_scheme}-media-07-brief")
    assert not errors, errors
    context.close()


@pytest.mark.parametrize("color_scheme", ["light", "dark"])
def test_workspace_media_section(logged, browser, screenshots_dir, color_scheme):
    from playwright.sync_api import expect

    server, _ = logged
    context, page = sign_in(browser, server, color_scheme)
    errors = _app_errors(page)
    page.goto(f"/{TEAM}/{PROJECT}/")
    media = page.get_by_test_id("workspace-media")
    expect(media).to_be_visible()
    images = _panel(page, "samples")
    _ready(images)
    columns = images.locator(".media-column")
    expect(columns).to_have_count(2)
    # At the last step (4) run b shows its nearest earlier step, 2; at step 1, its step 0.
    b = images.locator('.media-column[data-run="media-b"]')
    expect(b.locator(".media-run-step")).to_have_text("step 2")
    images.get_by_test_id("step-slider").fill("1")
    expect(images).to_have_attribute("data-step", "1")
    expect(b.locator(".media-run-step")).to_have_text("step 0")
    expect(images.locator('.media-column[data-run="media-a"] .media-run-step')).to_have_text(
        "step 1"
    )
    # Keys only run a logged: no empty column for run b; the heatmap picks run a.
    expect(_panel(page, "rollout").locator(".media-column")).to_have_count(1)
    weights = _panel(page, "weights")
    _ready(weights)
    expect(weights.locator("canvas.heatmap-canvas")).to_have_attribute("data-steps", "20")
    images.scroll_into_view_if_needed()
    screenshot(page, screenshots_dir, f"{color_scheme}-media-08-workspace")
    assert not errors, errors
    context.close()
