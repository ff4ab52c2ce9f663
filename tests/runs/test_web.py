"""Run pages through the Django test client against PostgreSQL: the run page (overview,
config and summary tables, git diff, system and metric keys for the charts, files,
artifacts logged and used, the sweep it belongs to), which controls each role is
offered, the compare page (config side by side with differences marked, summary,
chart keys, the run picker), sweep and registry pages linking to run pages, and
another team's run answering 404."""

from __future__ import annotations

import hashlib
import io
import json
import re
from html import unescape

import pytest
from django.urls import reverse

from apps.registry import services as registry_services
from apps.runs import services as run_services
from apps.sweeps import services as sweep_services
from tests.factories import make_project
from tests.runs.conftest import make_run
from tests.web.conftest import login

pytestmark = pytest.mark.django_db

DIFF = """diff --git a/train.py b/train.py
index 1111111..2222222 100644
--- a/train.py
+++ b/train.py
@@ -1,3 +1,3 @@
 import torch
-lr = 0.1
+lr = 0.01  # <script>alert(1)</script>
"""


def url(route: str, **kwargs) -> str:
    return reverse(route, kwargs={"team": "team-a", "project": "resnet", **kwargs})


def _html(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def _section(html: str, testid: str) -> str:
    return html.split(f'data-testid="{testid}"')[1].split("</section>")[0]


def _page_data(html: str, name: str = "run-page-data") -> dict:
    match = re.search(rf'<script id="{name}" type="application/json">(.*?)</script>', html)
    assert match, f"no {name} in the page"
    return json.loads(match.group(1))


@pytest.fixture
def logged_run(team, project, member_user):
    """Run `run1` by the member: config, git commit and diff, host and command, metrics,
    system metrics, a console line on each stream, a text file and an image."""
    run = make_run(
        team,
        project,
        member_user,
        "run1",
        name="baseline",
        tags=["resnet", "v2"],
        notes="First try.",
        config={"lr": 0.01, "optimizer": {"name": "adam", "betas": [0.9, 0.999]}},
        host="gpu-box-7",
        program="/home/ada/train.py",
        args=["--epochs", "3", "--name", "my run"],
        git={
            "commit": "a1b2c3d4e5f6a7b8c9d0",
            "remote": "git@example.com:ada/nets.git",
            "diff": DIFF,
        },
        metadata={"python": "3.11.9", "python_implementation": "CPython", "os": "linux"},
    )
    points = [["loss", step, 1.0 / (step + 1), 1.7e9 + step] for step in range(5)]
    system = [["system/cpu", step, 20.0 + step, 1.7e9 + step] for step in range(3)]
    run_services.run_ingest(
        run=run,
        body={
            "points": points,
            "system": system,
            "console": [["stdout", 1.7e9, "epoch 1"], ["stderr", 1.7e9, "warning!"]],
            "console_offset": 0,
        },
    )
    run_services.run_file_put(run=run, path="notes/readme.txt", stream=io.BytesIO(b"hello"))
    run_services.run_file_put(
        run=run,
        path="media/sample image.png",
        stream=io.BytesIO(b"\x89PNG"),
        content_type="image/png",
    )
    return run


# --------------------------------------------------------------------------- run page


def test_run_page_overview(logged_run, member_user):
    html = _html(login(member_user).get(url("web:run-detail", run="run1")))
    header = _section(html, "run-header")
    assert "baseline" in header and 'data-state="running"' in header
    assert "member@a.example" in header
    assert re.findall(r'<li class="tag">([^<]+)</li>', header) == ["resnet", "v2"]
    info = _section(html, "run-info")
    assert "gpu-box-7" in info
    assert "/home/ada/train.py --epochs 3 --name &#x27;my run&#x27;" in info
    assert "CPython 3.11.9" in info
    assert "a1b2c3d4e5f6" in info and "git@example.com:ada/nets.git" in info
    assert "First try." in _section(html, "run-notes")


def test_run_page_config_and_summary_tables(logged_run, member_user):
    html = _html(login(member_user).get(url("web:run-detail", run="run1")))
    config = _section(html, "run-config")
    rows = re.findall(
        r'<tr data-key="([^"]+)"><td class="mono key">[^<]+</td><td[^>]*>([^<]*)</td>', config
    )
    assert rows == [
        ("lr", "0.01"),
        ("optimizer.betas", "[0.9,0.999]"),
        ("optimizer.name", "adam"),
    ]
    summary = _section(html, "run-summary")
    loss = summary.split('data-key="loss"')[1].split("</tr>")[0]
    # Last value, min, max and number of points of the logged key.
    assert re.findall(r"<td[^>]*>([^<]*)</td>", loss) == ["loss", "0.2", "0.2", "1", "5"]


def test_run_page_renders_the_git_diff_as_text(logged_run, member_user):
    html = _html(login(member_user).get(url("web:run-detail", run="run1")))
    diff = html.split('data-testid="git-diff"')[1].split("</details>")[0]
    assert '<span class="diff-line diff-file">diff --git a/train.py b/train.py</span>' in diff
    assert '<span class="diff-line diff-hunk">@@ -1,3 +1,3 @@</span>' in diff
    assert '<span class="diff-line diff-del">-lr = 0.1</span>' in diff
    # The diff's content is text, never markup.
    assert "<script>alert(1)</script>" not in html
    added = "+lr = 0.01  # &lt;script&gt;alert(1)&lt;/script&gt;"
    assert f'<span class="diff-line diff-add">{added}</span>' in diff
    assert "1 file" in diff and "+1" in diff


def test_diff_from_the_diff_patch_file_when_not_sent_with_the_run(team, project, member_user):
    run = make_run(team, project, member_user, "big-diff", git={"commit": "abc123", "diff": ""})
    run_services.run_file_put(run=run, path="diff.patch", stream=io.BytesIO(DIFF.encode()))
    html = _html(login(member_user).get(url("web:run-detail", run="big-diff")))
    assert '<span class="diff-line diff-del">-lr = 0.1</span>' in html


def test_run_page_data_for_charts_console_and_live_updates(logged_run, member_user):
    html = _html(login(member_user).get(url("web:run-detail", run="run1")))
    data = _page_data(html)
    assert data["api_base"] == "/api/v1/teams/team-a/projects/resnet"
    assert data["ws_path"] == "/ws/teams/team-a/projects/resnet/runs/run1"
    assert data["metric_keys"] == ["loss"]
    assert data["system_keys"] == ["system/cpu"]
    assert data["console_next"] == 2
    assert data["run"]["id"] == "run1" and data["run"]["state"] == "running"
    assert data["csrf"]
    # Each asynchronous panel starts with a loading state.
    for testid in ("run-charts", "run-system", "run-logs"):
        assert 'aria-busy="true"' in _section(html, testid)
    assert 'type="module"' in html and "js/runpage.js" in html


def test_run_page_files_link_to_the_download(logged_run, member_user):
    html = _html(login(member_user).get(url("web:run-detail", run="run1")))
    files = _section(html, "run-files")
    base = "/api/v1/teams/team-a/projects/resnet/runs/run1/files/"
    assert f'href="{base}notes/readme.txt" download' in files
    assert f'href="{base}media/sample%20image.png" download' in files
    assert 'data-type="image/png"' in files


def test_run_page_artifacts_and_sweep(team, project, member_user, logged_run):
    content = b"weights"
    sha256 = hashlib.sha256(content).hexdigest()
    registry_services.blob_put(team=team, sha256=sha256, stream=io.BytesIO(content))
    registry_services.version_create(
        team=team,
        project=project,
        name="classifier",
        data={
            "type": "model",
            "run": "run1",
            "files": [{"path": "model.pkl", "sha256": sha256, "size": len(content)}],
        },
        actor=member_user,
    )
    html = _html(login(member_user).get(url("web:run-detail", run="run1")))
    logged = _section(html, "artifacts-logged")
    assert 'href="/team-a/resnet/artifacts/classifier/versions/v0"' in logged
    assert "classifier:v0" in logged
    assert "no artifacts" in _section(html, "artifacts-used")

    sweep = sweep_services.sweep_create(
        team=team,
        project=project,
        project_name="resnet",
        actor=member_user,
        data={
            "config": {
                "method": "grid",
                "name": "grid search",
                "parameters": {"x": {"values": [1]}},
            }
        },
    )
    trial = sweep_services.trial_next(team=team, sweep=sweep)
    make_run(team, project, member_user, trial.run_uid, config=trial.params)
    html = _html(login(member_user).get(url("web:run-detail", run=trial.run_uid)))
    assert f'href="/team-a/resnet/sweeps/{sweep.uid}">grid search</a>' in _section(html, "run-info")


def test_empty_run_teaches_what_to_log(team, project, member_user):
    make_run(team, project, member_user, "fresh")
    html = unescape(_html(login(member_user).get(url("web:run-detail", run="fresh"))))
    assert 'wandb.log({"loss": loss, "acc": acc})' in html
    assert "No system metrics" in html and "No files" in html


@pytest.mark.parametrize(
    ("who", "edit", "delete"),
    [
        ("creator", True, True),
        ("admin", True, True),
        ("other_member", False, False),
        ("viewer", False, False),
    ],
)
def test_controls_follow_the_run_ownership_rule(
    who, edit, delete, team, logged_run, member_user, admin_user, viewer_user
):
    from tests.conftest import _member

    users = {
        "creator": member_user,
        "admin": admin_user,
        "viewer": viewer_user,
        "other_member": _member(team, "member", "member2@a.example"),
    }
    html = _html(login(users[who]).get(url("web:run-detail", run="run1")))
    data = _page_data(html)
    assert (data["can_edit"], data["can_delete"]) == (edit, delete)
    assert ('data-testid="run-edit"' in html) is edit
    assert ('id="run-delete-dialog"' in html) is delete


@pytest.mark.parametrize("who", ["creator", "admin", "other_member", "viewer"])
def test_controls_offered_are_the_writes_the_api_accepts(
    who, team, logged_run, member_user, admin_user, viewer_user, api_for
):
    """The page's Edit / Delete follow the run API's answer for the same caller."""
    from tests.conftest import _member

    users = {
        "creator": member_user,
        "admin": admin_user,
        "viewer": viewer_user,
        "other_member": _member(team, "member", "member2@a.example"),
    }
    data = _page_data(_html(login(users[who]).get(url("web:run-detail", run="run1"))))
    api = api_for(users[who])
    run_api = "/api/v1/teams/team-a/projects/resnet/runs/run1"
    patched = api.patch(run_api, {"notes": "checked"}, format="json")
    assert (patched.status_code == 200) is data["can_edit"], patched.status_code
    deleted = api.delete(run_api)
    assert (deleted.status_code == 204) is data["can_delete"], deleted.status_code


def test_another_teams_run_is_not_found(logged_run, other_team, other_admin):
    other_project = make_project(other_team, "resnet", actor=other_admin)
    make_run(other_team, other_project, other_admin, "theirs")
    client = login(other_admin)
    assert client.get(url("web:run-detail", run="run1")).status_code == 404
    # Team B's own URL naming team A's run: no such run there.
    own = reverse("web:run-detail", kwargs={"team": "team-b", "project": "resnet", "run": "run1"})
    assert client.get(own).status_code == 404
    assert client.get(url("web:run-compare") + "?runs=run1,theirs").status_code == 404


def test_missing_run_is_404_and_anonymous_is_sent_to_sign_in(logged_run, member_user, client):
    assert login(member_user).get(url("web:run-detail", run="nope")).status_code == 404
    response = client.get(url("web:run-detail", run="run1"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# --------------------------------------------------------------------------- compare


@pytest.fixture
def two_runs(team, project, member_user):
    a = make_run(
        team,
        project,
        member_user,
        "run-a",
        name="small lr",
        config={"lr": 0.01, "batch": 32, "opt": "adam"},
    )
    b = make_run(
        team,
        project,
        member_user,
        "run-b",
        name="big lr",
        config={"lr": 0.1, "batch": 32, "seed": 7},
    )
    run_services.run_ingest(
        run=a, body={"points": [["loss", 0, 0.9, 1.7e9], ["acc", 0, 0.1, 1.7e9]]}
    )
    run_services.run_ingest(
        run=b, body={"points": [["loss", 0, 0.7, 1.7e9]], "system": [["system/cpu", 0, 5.0, 1.7e9]]}
    )
    return a, b


def _compare_rows(section: str) -> dict[str, tuple[bool, list[str]]]:
    rows = {}
    for attrs, body in re.findall(r"<tr data-key=\"[^\"]+\"([^>]*)>(.*?)</tr>", section):
        head = re.search(r'<th scope="row" class="mono key">(.*?)</th>', body).group(1)
        key = re.sub(r"<[^>]+>[^<]*</span>", "", head)
        cells = re.findall(r'<td class="mono">(.*?)</td>', body)
        rows[key] = ("data-differs" in attrs, [re.sub(r"<[^>]+>", "", c) for c in cells])
    return rows


def test_compare_config_side_by_side_with_differences(two_runs, viewer_user):
    html = _html(login(viewer_user).get(url("web:run-compare") + "?runs=run-b,run-a"))
    config = _section(html, "compare-config")
    heads = re.findall(r'aria-hidden="true"></span>([^<]+)</th>', config)
    assert heads == ["big lr", "small lr"]  # the order of the URL
    assert _compare_rows(config) == {
        "batch": (False, ["32", "32"]),
        "lr": (True, ["0.1", "0.01"]),
        "opt": (True, ["—", "adam"]),
        "seed": (True, ["7", "—"]),
    }
    assert "3 differences" in config
    summary = _compare_rows(_section(html, "compare-summary"))
    assert summary["loss"] == (True, ["0.7", "0.9"])
    data = _page_data(html, "compare-data")
    assert data["runs"] == [{"id": "run-b", "name": "big lr"}, {"id": "run-a", "name": "small lr"}]
    assert data["metric_keys"] == ["acc", "loss"]  # system keys are left out
    assert 'aria-busy="true"' in _section(html, "compare-charts")


def test_compare_accepts_the_pickers_repeated_parameter(two_runs, member_user):
    html = _html(login(member_user).get(url("web:run-compare") + "?runs=run-a&runs=run-b"))
    assert 'data-testid="compare-config"' in html


def test_compare_with_fewer_than_two_runs_offers_the_picker(two_runs, member_user):
    html = _html(login(member_user).get(url("web:run-compare") + "?runs=run-a,ghost"))
    picker = _section(html, "compare-picker")
    assert re.findall(r'name="runs" value="([^"]+)"( checked)?', picker) == [
        ("run-b", ""),
        ("run-a", " checked"),
    ]
    missing = html.split('data-testid="compare-missing"')[1].split("</div>")[0]
    assert '<span class="mono">ghost</span>' in missing
    assert 'data-testid="compare-config"' not in html


def test_compare_caps_the_number_of_runs(team, project, member_user):
    for i in range(12):
        make_run(team, project, member_user, f"r{i}", config={"i": i})
    uids = ",".join(f"r{i}" for i in range(12))
    html = _html(login(member_user).get(url("web:run-compare") + f"?runs={uids}"))
    assert "at most 10 runs" in html
    assert len(_page_data(html, "compare-data")["runs"]) == 10


def test_compare_without_runs_teaches(project, member_user):
    html = unescape(_html(login(member_user).get(url("web:run-compare"))))
    assert 'wandb.init(entity="team-a", project="resnet")' in html


def test_compare_odd_input_never_fails(two_runs, member_user):
    client = login(member_user)
    for query in ("?runs=", "?runs=%00,a", "?runs=" + "x" * 5000, "?runs=,,,", "?runs=A%20B"):
        assert client.get(url("web:run-compare") + query).status_code == 200, query


# --------------------------------------------------------------------------- links


def test_sweep_trials_link_to_run_pages(team, project, member_user):
    sweep = sweep_services.sweep_create(
        team=team,
        project=project,
        project_name="resnet",
        actor=member_user,
        data={
            "config": {
                "method": "grid",
                "metric": {"name": "loss", "goal": "minimize"},
                "parameters": {"x": {"values": [1]}},
            }
        },
    )
    trial = sweep_services.trial_next(team=team, sweep=sweep)
    run = make_run(team, project, member_user, trial.run_uid, config=trial.params)
    run_services.run_ingest(run=run, body={"points": [["loss", 0, 0.5, 1.7e9]]})
    run_services.run_finish(run=run, data={"exit_code": 0})
    html = _html(login(member_user).get(url("web:sweep-detail", sweep=sweep.uid)))
    link = f'href="/team-a/resnet/runs/{trial.run_uid}"'
    assert link in _section(html, "trials")
    assert link in _section(html, "best-trial")


def test_registry_lineage_links_to_run_pages(team, project, member_user, logged_run):
    content = b"data"
    sha256 = hashlib.sha256(content).hexdigest()
    registry_services.blob_put(team=team, sha256=sha256, stream=io.BytesIO(content))
    registry_services.version_create(
        team=team,
        project=project,
        name="dataset",
        data={
            "type": "dataset",
            "run": "run1",
            "files": [{"path": "d.csv", "sha256": sha256, "size": 4}],
        },
        actor=member_user,
    )
    page = url("web:artifact-version-detail", name="dataset", ref="v0")
    html = _html(login(member_user).get(page))
    assert '<a href="/team-a/resnet/runs/run1">baseline</a>' in html
    # The run page it points at exists.
    assert login(member_user).get("/team-a/resnet/runs/run1").status_code == 200
