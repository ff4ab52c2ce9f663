"""Media, tables and charts through the SDK against the real server: each data type
round-trips (log -> server -> Api -> equal content), figures and DataFrames passed to
log() become an image and a table, bad media is refused with a clear error while the
rest of the run is kept."""

from __future__ import annotations

import io
import json
import wave

import pytest

import gradline
from gradline import Api
from tests.sdk.conftest import stored_points
from tests.sdk.test_scripts import run_script, script_env  # noqa: F401 - a fixture

np = pytest.importorskip("numpy")
PIL = pytest.importorskip("PIL.Image")


def api_for(server, sdk_db) -> Api:
    return Api(api_key=sdk_db.seed.owner_key, base_url=server.url)


def remote(server, sdk_db, project, run):
    return api_for(server, sdk_db).run(f"sdk-team/{project}/{run.id}")


def pixels(item) -> np.ndarray:
    return np.asarray(item.image().convert("RGB"))


def test_images_of_every_common_layout_round_trip(server, sdk_db, sdk_settings, tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (16, 24, 3), dtype=np.uint8)
    gray = rng.integers(0, 256, (10, 12), dtype=np.uint8)
    unit = rgb.astype(np.float32) / 255.0  # floats in 0..1 are scaled by 255
    chw = np.transpose(rgb, (2, 0, 1))
    rgba = np.dstack([rgb, np.full((16, 24), 255, np.uint8)])
    path = tmp_path / "photo.png"
    PIL.fromarray(rgb).save(path)
    run = gradline.init(project="media-img", settings=sdk_settings())
    run.log(
        {
            "rgb": gradline.Image(rgb, caption="hello"),
            "gray": gradline.Image(gray),
            "unit": gradline.Image(unit),
            "chw": gradline.Image(chw),
            "rgba": gradline.Image(rgba),
            "pil": gradline.Image(PIL.fromarray(rgb)),
            "path": gradline.Image(str(path)),
            "grid": [gradline.Image(rgb), gradline.Image(gray)],
            "loss": 0.5,
        }
    )
    rgb[:] = 0  # mutation after log() does not change what was logged
    run.finish()
    r = remote(server, sdk_db, "media-img", run)
    by_key = {(m.key, m.index): m for m in r.logged_media(type="image")}
    original = rng = np.random.default_rng(0).integers(0, 256, (16, 24, 3), dtype=np.uint8)
    for key in ("rgb", "unit", "chw", "pil", "path"):
        assert np.array_equal(pixels(by_key[(key, 0)]), original), key
    assert np.array_equal(np.asarray(by_key[("rgba", 0)].image())[:, :, :3], original)
    assert np.array_equal(np.asarray(by_key[("gray", 0)].image()), gray)
    assert by_key[("rgb", 0)].caption == "hello"
    assert by_key[("rgb", 0)].metadata["width"] == 24
    assert by_key[("rgb", 0)].format == "png"
    assert {i for k, i in by_key if k == "grid"} == {0, 1}
    assert r.summary["rgb"]["_type"] == "image-file"
    assert r.summary["loss"] == 0.5
    del rng


def test_masks_and_boxes_travel_with_the_image(server, sdk_db, sdk_settings):
    image = np.zeros((8, 8, 3), np.uint8)
    mask = np.zeros((8, 8), np.uint8)
    mask[2:5, 2:5] = 1
    boxes = {
        "predictions": {
            "box_data": [
                {
                    "position": {"minX": 1, "maxX": 4, "minY": 1, "maxY": 4},
                    "domain": "pixel",
                    "class_id": 1,
                    "box_caption": "cat",
                }
            ],
            "class_labels": {1: "cat"},
        }
    }
    run = gradline.init(project="media-masks", settings=sdk_settings())
    run.log(
        {
            "seg": gradline.Image(
                image,
                masks={"truth": {"mask_data": mask, "class_labels": {1: "cat"}}},
                boxes=boxes,
            )
        }
    )
    run.finish()
    [item] = remote(server, sdk_db, "media-masks", run).logged_media(key="seg")
    assert item.metadata["boxes"]["predictions"]["box_data"][0]["box_caption"] == "cat"
    assert item.metadata["masks"]["truth"]["class_labels"] == {"1": "cat"}
    with pytest.raises(gradline.media.MediaError, match="box_data"):
        gradline.Image(image, boxes={"p": {}})


def test_matplotlib_figure_and_dataframe_passed_to_log(server, sdk_db, sdk_settings):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pd = pytest.importorskip("pandas")
    fig, ax = plt.subplots(figsize=(2, 1.5), dpi=50)
    ax.plot([0, 1, 2], [2, 1, 3])
    frame = pd.DataFrame({"name": ["a", "b", "c"], "score": [0.5, 0.25, 1.0], "ok": [1, 0, 1]})
    run = gradline.init(project="media-figure", settings=sdk_settings())
    run.log({"figure": fig, "frame": frame})
    plt.close(fig)
    frame.loc[0, "name"] = "changed"  # the logged table is a copy
    run.finish()
    r = remote(server, sdk_db, "media-figure", run)
    [image] = r.logged_media(key="figure")
    assert image.type == "image" and image.format == "png"
    assert image.image().size == (100, 75)
    table = r.table("frame")
    assert table.columns == ["name", "score", "ok"]
    assert table.data == [["a", 0.5, 1], ["b", 0.25, 0], ["c", 1.0, 1]]
    assert r.logged_media(key="frame")[0].to_dataframe()["score"].tolist() == [0.5, 0.25, 1.0]


def test_table_with_media_cells_round_trips(server, sdk_db, sdk_settings):
    table = gradline.Table(columns=["id", "label", "ok", "missing", "thumb"])
    for i in range(5):
        table.add_data(
            i, f"item {i}", i % 2 == 0, None, gradline.Image(np.full((4, 4), i * 40, np.uint8))
        )
    table.add_column("score", [0.1 * i for i in range(5)])
    assert table.get_column("id") == [0, 1, 2, 3, 4]
    run = gradline.init(project="media-table", settings=sdk_settings())
    run.log({"samples": table})
    table.add_data(9, "late", False, None, None, 0.0)  # after log(): not in the logged copy
    run.finish()
    r = remote(server, sdk_db, "media-table", run)
    back = r.table("samples")
    assert back.columns == ["id", "label", "ok", "missing", "thumb", "score"]
    assert [row[:4] + row[5:] for row in back.data] == [
        [i, f"item {i}", i % 2 == 0, None, 0.1 * i] for i in range(5)
    ]
    cell = back.data[3][4]
    assert cell["_type"] == "image-file" and cell["media_id"]
    assert r.logged_media(key="samples")[0].metadata["nrows"] == 5


def test_audio_video_html_object3d_plotly_histogram_round_trip(
    server, sdk_db, sdk_settings, tmp_path
):
    t = np.linspace(0, 1, 800, endpoint=False)
    tone = 0.5 * np.sin(2 * np.pi * 440 * t)
    frames = np.random.default_rng(1).integers(0, 256, (3, 3, 8, 8), dtype=np.uint8)
    points = np.random.default_rng(2).normal(size=(50, 3))
    run = gradline.init(project="media-kinds", settings=sdk_settings())
    run.log(
        {
            "audio": gradline.Audio(tone, sample_rate=8000, caption="A4"),
            "video": gradline.Video(frames, fps=2),
            "html": gradline.Html("<h1>report</h1><script>1</script>"),
            "cloud": gradline.Object3D(points),
            "plotly": gradline.Plotly({"data": [{"type": "bar", "y": [1, 2]}], "layout": {}}),
            "hist": gradline.Histogram([1, 2, 2, 3, 3, 3], num_bins=3),
        }
    )
    run.finish()
    r = remote(server, sdk_db, "media-kinds", run)
    media = {m.key: m for m in r.logged_media()}
    with wave.open(io.BytesIO(media["audio"].read())) as wav:
        assert (wav.getframerate(), wav.getnframes()) == (8000, 800)
        samples = np.frombuffer(wav.readframes(800), "<i2")
    assert np.allclose(samples / 32767, tone, atol=1e-4)
    assert media["audio"].caption == "A4"
    gif = PIL.open(io.BytesIO(media["video"].read()))
    assert (gif.format, gif.n_frames, gif.size) == ("GIF", 3, (8, 8))
    assert media["html"].read() == b"<h1>report</h1><script>1</script>"
    cloud = json.loads(media["cloud"].read())
    assert np.allclose(np.array(cloud["points"]), points)
    assert json.loads(media["plotly"].read())["data"][0]["y"] == [1, 2]
    assert media["hist"].type == "histogram"
    assert media["hist"].metadata["values"] == [1, 2, 3]
    assert len(media["hist"].metadata["bins"]) == 4


def test_bad_media_is_refused_clearly_and_the_rest_of_the_run_is_kept(
    server, sdk_db, sdk_settings, tmp_path, capfd
):
    good = tmp_path / "good.png"
    PIL.fromarray(np.zeros((4, 4, 3), np.uint8)).save(good)
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(good.read_bytes()[:-30])
    fake = tmp_path / "fake.png"
    fake.write_bytes(b"<html><script>alert(1)</script></html>")
    run = gradline.init(project="media-bad", settings=sdk_settings(silent=False))
    run.log(
        {
            "truncated": gradline.Image(str(truncated)),
            "fake": gradline.Image(str(fake)),
            "good": gradline.Image(str(good)),
            "loss": 1.0,
        }
    )
    run.log({"loss": 0.5})
    run.finish()
    err = capfd.readouterr().err
    assert "not a readable PNG image" in err
    assert "its content is HTML" in err
    r = remote(server, sdk_db, "media-bad", run)
    assert [m.key for m in r.logged_media()] == ["good"]
    assert [v for k, _, v in stored_points(sdk_db, run.id, "media-bad")] == [1.0, 0.5]
    assert r.state == "finished"


def test_constructors_refuse_bad_shapes_at_the_call():
    with pytest.raises(gradline.media.MediaError, match="shape"):
        gradline.Image(np.zeros((7, 4, 5)))
    with pytest.raises(gradline.media.MediaError, match="sample_rate"):
        gradline.Audio(np.zeros(10))
    with pytest.raises(gradline.media.MediaError, match="rows"):
        gradline.Table(columns=["a"]).add_column("b", [1, 2])
    with pytest.raises(gradline.media.MediaError, match="columns"):
        gradline.Table(columns=["a", "b"], data=[[1]])


def test_plot_presets_in_both_signatures(server, sdk_db, sdk_settings):
    table = gradline.Table(columns=["step", "loss"], data=[[i, 1 / (i + 1)] for i in range(10)])
    y_true = [0, 1, 2, 1, 0, 2]
    probas = np.eye(3)[[0, 1, 1, 1, 0, 2]] * 0.8 + 0.05
    run = gradline.init(project="media-plots", settings=sdk_settings())
    run.log(
        {
            "line_table": gradline.plot.line(table, "step", "loss", title="Loss"),
            "line_arrays": gradline.plot.line(x=[1, 2, 3], y=[3, 2, 1], title="Arrays"),
            "scatter": gradline.plot.scatter(x=[1, 2, 3], y=[4, 5, 6], color=["a", "b", "a"]),
            "bar": gradline.plot.bar(gradline.Table(columns=["l", "v"], data=[["x", 1]]), "l", "v"),
            "histogram": gradline.plot.histogram(value=[1, 2, 2, 3]),
            "series": gradline.plot.line_series(xs=[0, 1], ys=[[1, 2], [3, 4]], keys=["a", "b"]),
            "cm": gradline.plot.confusion_matrix(
                y_true=y_true, y_pred=[0, 1, 1, 1, 0, 2], class_names=["a", "b", "c"]
            ),
            "pr": gradline.plot.pr_curve(y_true, probas, labels=["a", "b", "c"]),
            "roc": gradline.plot.roc_curve(y_true, probas),
            "custom": gradline.plot_table(
                {"mark": "point", "encoding": {"x": {"field": "${field:x}"}}},
                table,
                {"x": "step"},
            ),
        }
    )
    run.finish()
    r = remote(server, sdk_db, "media-plots", run)
    charts = {m.key: m for m in r.logged_media(type="chart")}
    assert set(charts) == {
        "line_table", "line_arrays", "scatter", "bar", "histogram", "series", "cm", "pr",
        "roc", "custom",
    }  # fmt: skip
    line = charts["line_table"].metadata["spec"]
    assert line["encoding"]["x"]["field"] == "step" and line["title"] == "Loss"
    assert "color" not in line["encoding"]  # no stroke column given
    assert charts["line_arrays"].table().data == [[1, 3], [2, 2], [3, 1]]
    assert charts["scatter"].metadata["spec"]["encoding"]["color"]["field"] == "color"
    cm = {(a, p): n for a, p, n in charts["cm"].table().data}
    assert cm[("b", "b")] == 2 and cm[("c", "c")] == 1 and cm[("b", "a")] == 0
    assert sum(cm.values()) == 6
    pr = charts["pr"].table()
    assert pr.columns == ["class", "recall", "precision"]
    assert {row[0] for row in pr.data} == {"a", "b", "c"}
    roc = charts["roc"].table().data
    assert max(row[2] for row in roc if row[0] == "0") == 1.0
    assert charts["custom"].metadata["spec"]["encoding"]["x"]["field"] == "step"


# The product brief's "Advanced Visualization" and "Custom Monitoring" samples, verbatim.
ADVANCED_VISUALIZATION = """
# Create custom plots
wandb.log({
    "confusion_matrix": wandb.plot.confusion_matrix(
        y_true=y_true,
        y_pred=y_pred,
        class_names=class_names
    )
})

# Log 3D visualizations
wandb.log({
    "embeddings": wandb.plot.scatter(
        x=embeddings[:, 0],
        y=embeddings[:, 1],
        color=labels
    )
})
"""
CUSTOM_MONITORING = """
# Custom monitoring dashboard
wandb.log({
    "custom_metric": value,
    "custom_plot": wandb.plot.line(
        x=epochs,
        y=losses,
        title="Training Loss"
    )
})
"""
# Only what the samples leave undefined: the run, and their inputs.
SAMPLE_INPUTS = """
import gradline as wandb
import numpy as np

wandb.init(project="brief-visualization")
print(wandb.run.id)
rng = np.random.default_rng(0)
class_names = ["cat", "dog", "bird"]
y_true = rng.integers(0, 3, 60).tolist()
y_pred = [t if i % 4 else (t + 1) % 3 for i, t in enumerate(y_true)]
embeddings = rng.normal(size=(60, 8))
labels = [class_names[t] for t in y_true]
value = 0.75
epochs = list(range(10))
losses = [1 / (e + 1) for e in epochs]
"""


def test_product_brief_visualization_samples_run_unchanged(
    script_env,  # noqa: F811 - the fixture imported above
    tmp_path,
    server,
    sdk_db,
):

    script = SAMPLE_INPUTS + ADVANCED_VISUALIZATION + CUSTOM_MONITORING
    result = run_script(script, script_env, tmp_path)
    assert result.returncode == 0, result.stderr
    run_id = result.stdout.split()[0]
    r = api_for(server, sdk_db).run(f"sdk-team/brief-visualization/{run_id}")
    charts = {m.key: m for m in r.logged_media(type="chart")}
    assert set(charts) == {"confusion_matrix", "embeddings", "custom_plot"}
    cm = charts["confusion_matrix"].table()
    assert cm.columns == ["Actual", "Predicted", "nPredictions"]
    assert sum(row[2] for row in cm.data) == 60
    assert len(charts["embeddings"].table().data) == 60
    line = charts["custom_plot"]
    assert line.metadata["spec"]["title"] == "Training Loss"
    assert [row[1] for row in line.table().data] == [1 / (e + 1) for e in range(10)]
    assert r.summary["custom_metric"] == 0.75
