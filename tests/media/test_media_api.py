"""The media API over HTTP: registering uploaded run files as media (validated by
content), the index, serving files sandboxed, and tables paged, sorted and filtered by
the server."""

from __future__ import annotations

import hashlib
import io
import random
import struct
import zlib

import orjson
import pytest
from PIL import Image as PILImage

from tests.runs.conftest import ingest, post_json, run_url


def png_bytes(width: int = 4, height: int = 3) -> bytes:
    buf = io.BytesIO()
    PILImage.new("RGB", (width, height), (200, 10, 10)).save(buf, format="PNG")
    return buf.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height, with next to no pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def put_file(client, uid: str, path: str, data: bytes) -> None:
    r = client.generic(
        "PUT", run_url(uid, f"/files/{path}"), data=data, content_type="application/octet-stream"
    )
    assert r.status_code == 201, r.content


def register(client, uid: str, *items: dict):
    r = post_json(client, run_url(uid, "/media"), {"items": list(items)})
    assert r.status_code == 200, r.content
    return r.json()


def image_item(key: str, path: str, data: bytes, step: int = 0) -> dict:
    return {
        "key": key,
        "step": step,
        "_type": "image-file",
        "path": path,
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def test_bad_media_is_refused_by_content_and_nothing_else_is_lost(admin_api, run):
    good = png_bytes()
    truncated = good[: len(good) - 20]
    bomb = png_header_only(50_000, 50_000)
    html = b"<html><body><script>document.cookie</script></body></html>"
    files = {
        "media/images/good.png": good,
        "media/images/truncated.png": truncated,
        "media/images/bomb.png": bomb,
        "media/images/fake.png": html,
    }
    for path, data in files.items():
        put_file(admin_api, run.uid, path, data)
    assert ingest(admin_api, run.uid, {"points": [["loss", 0, 1.0, 1.7e9]]}).status_code == 200
    out = register(
        admin_api,
        run.uid,
        *(image_item(path.split("/")[-1], path, data) for path, data in files.items()),
    )
    assert (out["accepted"], out["rejected"]) == (1, 3)
    errors = {e["key"]: e for e in out["errors"]}
    assert errors["truncated.png"]["code"] == "invalid_media"
    assert "not a readable PNG image" in errors["truncated.png"]["message"]
    assert errors["bomb.png"]["code"] == "image_too_large"
    assert "50000 x 50000" in errors["bomb.png"]["message"]
    assert errors["fake.png"]["code"] == "invalid_media"
    assert "its content is HTML" in errors["fake.png"]["message"]
    # The good image, the points and the files are all still there.
    listing = admin_api.get(run_url(run.uid, "/media")).json()["items"]
    assert [i["key"] for i in listing] == ["good.png"]
    assert listing[0]["metadata"]["width"] == 4 and listing[0]["content_type"] == "image/png"
    history = admin_api.get(run_url(run.uid, "/history?keys=loss")).json()
    assert history
    assert len(admin_api.get(run_url(run.uid, "/files")).json()["files"]) == 4


def test_register_is_idempotent_and_names_bad_fields(admin_api, run):
    data = png_bytes()
    put_file(admin_api, run.uid, "media/images/a.png", data)
    item = image_item("a", "media/images/a.png", data, step=3)
    assert register(admin_api, run.uid, item)["accepted"] == 1
    again = register(admin_api, run.uid, item)
    assert (again["accepted"], again["duplicates"]) == (0, 1)
    out = register(
        admin_api,
        run.uid,
        {**item, "step": -1},
        {**item, "_type": "exe"},
        {**item, "path": "media/none.png", "step": 9},
        {**item, "sha256": "0" * 64, "step": 10},
    )
    fields = [e["detail"]["field"] for e in out["errors"]]
    assert fields == ["items[0].step", "items[1]._type", "items[2].path", "items[3].sha256"]
    r = post_json(admin_api, run_url(run.uid, "/media"), {"items": "nope"})
    assert r.status_code == 400 and r.json()["error"]["detail"]["field"] == "items"


def test_histograms_and_the_key_index(admin_api, run):
    items = [
        {"key": "weights", "step": s, "_type": "histogram", "bins": [0, 1, 2], "values": [s, 1]}
        for s in range(3)
    ]
    assert register(admin_api, run.uid, *items)["accepted"] == 3
    bad = register(admin_api, run.uid, {**items[0], "step": 7, "bins": [0, 1]})
    assert bad["errors"][0]["detail"]["field"] == "items[0].bins"
    keys = admin_api.get(run_url(run.uid, "/media/keys")).json()["keys"]
    assert keys == [
        {"key": "weights", "type": "histogram", "count": 3, "min_step": 0, "max_step": 2}
    ]
    page = admin_api.get(run_url(run.uid, "/media?key=weights&min_step=1")).json()
    assert [(i["step"], i["metadata"]["values"]) for i in page["items"]] == [
        (1, [1, 1]),
        (2, [2, 1]),
    ]


@pytest.mark.parametrize(
    ("media_type", "path", "body", "csp"),
    [
        ("html-file", "media/html/r.html", b"<script>parent.document</script>", "allow-scripts"),
        ("image-file", "media/images/v.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", ""),
    ],
)
def test_html_and_svg_are_served_only_sandboxed(admin_api, run, media_type, path, body, csp):
    put_file(admin_api, run.uid, path, body)
    assert (
        register(admin_api, run.uid, {"key": "k", "step": 0, "_type": media_type, "path": path})[
            "accepted"
        ]
        == 1
    )
    [item] = admin_api.get(run_url(run.uid, "/media")).json()["items"]
    r = admin_api.get(item["file_url"])
    assert r.status_code == 200 and r.content == body
    policy = r["Content-Security-Policy"]
    assert policy.startswith("sandbox")
    assert "allow-same-origin" not in policy
    assert ("allow-scripts" in policy) == bool(csp)
    assert "default-src 'none'" in policy
    assert r["Content-Disposition"].startswith("inline;")
    assert r["X-Content-Type-Options"] == "nosniff"


def test_a_replaced_file_is_not_served_as_the_validated_media(admin_api, run):
    data = png_bytes()
    put_file(admin_api, run.uid, "media/images/a.png", data)
    register(admin_api, run.uid, image_item("a", "media/images/a.png", data))
    [item] = admin_api.get(run_url(run.uid, "/media")).json()["items"]
    put_file(admin_api, run.uid, "media/images/a.png", b"<html>swapped</html>")
    r = admin_api.get(item["file_url"])
    assert r.status_code == 410 and r.json()["error"]["code"] == "gone"


def test_a_large_table_pages_sorts_and_filters_on_the_server(admin_api, run):
    n = 100_000
    rng = random.Random(7)
    rows = [[i, f"name-{rng.randrange(10**6):06d}", rng.random(), i % 3 == 0] for i in range(n)]
    body = orjson.dumps({"columns": ["id", "name", "score", "flag"], "nrows": n}) + b"\n"
    body += b"\n".join(orjson.dumps(r) for r in rows) + b"\n"
    put_file(admin_api, run.uid, "media/tables/big.table.jsonl", body)
    out = register(
        admin_api,
        run.uid,
        {"key": "big", "step": 0, "_type": "table-file", "path": "media/tables/big.table.jsonl"},
    )
    assert out["accepted"] == 1, out
    [item] = admin_api.get(run_url(run.uid, "/media?type=table")).json()["items"]
    assert item["metadata"]["nrows"] == n
    rows_url = item["rows_url"]

    first = admin_api.get(rows_url + "?limit=50").json()
    assert first["total"] == n and first["columns"] == ["id", "name", "score", "flag"]
    assert [r["cells"] for r in first["rows"]] == rows[:50]

    top = admin_api.get(rows_url + "?sort=score&order=desc&limit=20&offset=10").json()
    expected = sorted(rows, key=lambda r: (-r[2], r[0]))[10:30]
    assert [r["cells"] for r in top["rows"]] == expected
    assert [r["index"] for r in top["rows"]] == [r[0] for r in expected]

    by_name = admin_api.get(rows_url + "?sort=name&limit=5").json()
    assert [r["cells"] for r in by_name["rows"]] == sorted(rows, key=lambda r: (r[1], r[0]))[:5]

    filters = orjson.dumps(
        [
            {"column": "score", "op": "gte", "value": 0.5},
            {"column": "flag", "op": "eq", "value": True},
            {"column": "name", "op": "contains", "value": "-1"},
        ]
    ).decode()
    got = admin_api.get(rows_url, {"filters": filters, "sort": "id", "limit": 1000}).json()
    want = [r for r in rows if r[2] >= 0.5 and r[3] and "-1" in r[1]]
    assert got["total"] == len(want)
    assert [r["cells"] for r in got["rows"]] == want[:1000]

    for query, field in (
        ({"sort": "nope"}, "sort"),
        ({"filters": "[{"}, "filters"),
        ({"filters": '[{"column": "x", "op": "eq", "value": 1}]'}, "filters"),
        ({"filters": '[{"column": "id", "op": "regex", "value": 1}]'}, "filters"),
        ({"limit": "0"}, "limit"),
    ):
        r = admin_api.get(rows_url, query)
        assert r.status_code == 400 and r.json()["error"]["detail"]["field"] == field, query


def test_a_malformed_table_is_refused_whole(admin_api, run):
    body = b'{"columns": ["a", "b"]}\n[1, 2]\n[3]\n'
    put_file(admin_api, run.uid, "media/tables/bad.table.jsonl", body)
    out = register(
        admin_api,
        run.uid,
        {"key": "bad", "step": 0, "_type": "table-file", "path": "media/tables/bad.table.jsonl"},
    )
    assert out["errors"][0]["code"] == "invalid_table"
    assert "row 1 must be a list of 2 values" in out["errors"][0]["message"]
    assert admin_api.get(run_url(run.uid, "/media")).json()["items"] == []


def test_viewers_read_media_and_cannot_register(api_for, viewer_user, admin_api, run):
    viewer = api_for(viewer_user)
    assert viewer.get(run_url(run.uid, "/media")).status_code == 200
    r = post_json(viewer, run_url(run.uid, "/media"), {"items": []})
    assert r.status_code == 403
