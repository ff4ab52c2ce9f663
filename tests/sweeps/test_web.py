"""Sweep pages through the Django test client against PostgreSQL: the project's Sweeps
tab (and its empty state), one sweep (header, best trial, config, trials table in
reading order, the chart data embedded as JSON), the pause / resume / finish / cancel
controls (plain POST and htmx), viewers see no controls and get 403, another team gets
404, and a bad state answers 400 with a message."""

from __future__ import annotations

import json
import re
from html import unescape

import pytest
from django.urls import reverse

from apps.runs import services as run_services
from apps.sweeps import services as sweep_services
from apps.sweeps.models import Sweep
from tests.factories import make_project
from tests.web.conftest import login

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
CONFIG = {
    "name": "lr search",
    "method": "random",
    "metric": {"name": "loss", "goal": "minimize"},
    "parameters": {
        "lr": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1},
        "optimizer": {"values": ["sgd", "adam"]},
        "batch_size": {"values": [64, 16, 32]},
        "epochs": {"value": 3},
    },
}
# What each trial's run does, in the order the trials are handed out.
LOSSES = [0.9, 0.3, None, 0.6, "running", "pending"]


def _run_trial(team, project, sweep, actor, outcome):
    trial = sweep_services.trial_next(team=team, sweep=sweep)
    if outcome == "pending":
        return trial
    run, _, _ = run_services.run_create_or_resume(
        team=team,
        project=project,
        project_name=project.name,
        actor=actor,
        data={"id": trial.run_uid, "config": trial.params},
    )
    if outcome == "running":
        return trial
    if outcome is None:  # the training function raised
        run_services.run_finish(run=run, data={"exit_code": 1})
        return trial
    points = [["loss", step, outcome + 0.5 / (step + 1), 1.7e9 + step] for step in range(3)]
    points.append(["loss", 3, outcome, 1.7e9 + 3])
    run_services.run_ingest(run=run, body={"points": points})
    run_services.run_finish(run=run, data={"exit_code": 0})
    return trial


@pytest.fixture
def swept(team, project, member_user):
    """Sweep `lr search` with six trials: losses 0.9, 0.3 and 0.6 (finished), one failed,
    one running and one pending; plus an empty sweep created earlier."""
    older = sweep_services.sweep_create(
        team=team,
        project=project,
        project_name=project.name,
        actor=member_user,
        data={"config": {"method": "grid", "parameters": {"x": {"values": [1, 2]}}}},
    )
    sweep = sweep_services.sweep_create(
        team=team,
        project=project,
        project_name=project.name,
        actor=member_user,
        data={"config": CONFIG},
    )
    trials = [_run_trial(team, project, sweep, member_user, loss) for loss in LOSSES]
    return {"sweep": sweep, "older": older, "trials": trials}


def url(route: str, **kwargs) -> str:
    return reverse(route, kwargs={"team": "team-a", "project": "resnet", **kwargs})


def _html(response) -> str:
    return response.content.decode()


def _chart_data(html: str) -> dict:
    match = re.search(r'<script id="sweep-chart-data" type="application/json">(.*?)</script>', html)
    assert match, "no chart data in the page"
    return json.loads(match.group(1))


def _trial_rows(html: str) -> list[tuple[str, str]]:
    return re.findall(r'<tr data-trial="([a-z0-9]+)" data-state="([a-z]+)"', html)


# --------------------------------------------------------------------------- list


def test_sweeps_tab_lists_the_projects_sweeps_newest_first(swept, member_user):
    response = login(member_user).get(url("web:sweep-list"))
    assert response.status_code == 200
    html = _html(response)
    assert re.search(r'<a href="/team-a/resnet/sweeps"\s+aria-current="page">Sweeps</a>', html)
    sweep, older = swept["sweep"], swept["older"]
    assert re.findall(r'<tr data-sweep="([a-z0-9]+)"', html) == [sweep.uid, older.uid]
    row = html.split(f'data-sweep="{sweep.uid}"')[1].split("</tr>")[0]
    assert "lr search" in row and "random" in row and "loss" in row and "minimize" in row
    for text in ("1 running", "1 pending", "3 finished", "1 failed"):
        assert text in row
    assert '<span class="mono" data-testid="best-metric">0.3</span>' in row
    assert f"/team-a/resnet/sweeps/{sweep.uid}" in row


def test_sweeps_tab_empty_state_shows_the_sdk_and_cli(project, viewer_user):
    response = login(viewer_user).get(url("web:sweep-list"))
    assert response.status_code == 200
    html = unescape(_html(response))
    assert 'data-testid="sweeps-empty"' in html
    assert 'wandb.sweep(sweep_config, entity="team-a", project="resnet")' in html
    assert "wandb.agent(sweep_id, function=train, count=50)" in html
    assert "gradline sweep --entity team-a --project resnet config.yaml" in html
    assert "gradline agent team-a/resnet/SWEEP_ID" in html


# --------------------------------------------------------------------------- one sweep


def test_sweep_page_shows_header_best_config_and_trials(swept, member_user):
    sweep, trials = swept["sweep"], swept["trials"]
    response = login(member_user).get(url("web:sweep-detail", sweep=sweep.uid))
    assert response.status_code == 200
    html = _html(response)
    header = html.split('<section id="sweep-header"')[1].split("</section>")[0]
    assert "lr search" in header and 'data-state="running"' in header
    assert "Pause" in header and "Finish" in header and "Cancel" in header
    assert ">Resume<" not in header

    best = html.split('data-testid="best-trial"')[1].split("</section>")[0]
    assert trials[1].run_uid in best
    assert '<dd class="mono" data-testid="best-value">0.3</dd>' in best
    config = unescape(html.split('data-testid="sweep-config"')[1].split("</section>")[0])
    assert json.loads(config.split("<code>")[1].split("</code>")[0]) == CONFIG

    # In flight first (newest first), then best loss first, then the failed trial.
    order = [trials[i].run_uid for i in (5, 4, 1, 3, 0, 2)]
    states = ["pending", "running", "finished", "finished", "finished", "failed"]
    assert _trial_rows(html) == list(zip(order, states, strict=True))
    # Parameters as columns (the constant `epochs` is in the config, not a column).
    head = html.split('<table class="trials">')[1].split("</thead>")[0]
    assert re.findall(r'<th class="mono">([a-z_]+)</th>', head) == ["batch_size", "lr", "optimizer"]
    row = html.split(f'data-trial="{trials[1].run_uid}"')[1].split("</tr>")[0]
    params = trials[1].params
    assert f'data-param="optimizer">{params["optimizer"]}<' in row
    assert f'data-param="batch_size">{params["batch_size"]}<' in row
    assert f'data-param="lr">{params["lr"]:.4g}<' in row


def test_chart_data_embedded_matches_the_trials(swept, member_user):
    sweep, trials = swept["sweep"], swept["trials"]
    html = _html(login(member_user).get(url("web:sweep-detail", sweep=sweep.uid)))
    data = _chart_data(html)
    assert data["metric"] == {"name": "loss", "goal": "minimize"}
    assert data["axes"] == [
        {"name": "batch_size", "kind": "ordinal", "values": ["16", "32", "64"]},
        {"name": "lr", "kind": "log"},
        {"name": "optimizer", "kind": "ordinal", "values": ["sgd", "adam"]},
    ]
    finished = [(1, trials[0], 0.9), (2, trials[1], 0.3), (4, trials[3], 0.6)]
    assert data["trials"] == [
        {
            "run": trial.run_uid,
            "trial": number,
            "state": "finished",
            "metric": loss,
            "best": best,
            "params": {
                "batch_size": str(trial.params["batch_size"]),
                "lr": trial.params["lr"],
                "optimizer": trial.params["optimizer"],
            },
        }
        for (number, trial, loss), best in zip(finished, [0.9, 0.3, 0.3], strict=True)
    ]
    assert "vendor/vega-embed/vega-embed.min.js" in html and "js/sweeps.js" in html
    assert 'aria-busy="true"' in html and "Rendering chart" in html


def test_maximize_ranks_the_highest_metric_first(team, project, member_user):
    config = {**CONFIG, "metric": {"name": "loss", "goal": "maximize"}}
    sweep = sweep_services.sweep_create(
        team=team,
        project=project,
        project_name="resnet",
        actor=member_user,
        data={"config": config},
    )
    trials = [_run_trial(team, project, sweep, member_user, v) for v in (0.2, 0.8, 0.5)]
    html = _html(login(member_user).get(url("web:sweep-detail", sweep=sweep.uid)))
    assert [uid for uid, _ in _trial_rows(html)] == [trials[i].run_uid for i in (1, 2, 0)]
    assert [t["best"] for t in _chart_data(html)["trials"]] == [0.2, 0.8, 0.8]


def test_sweep_without_finished_trials_says_so(swept, member_user):
    older = swept["older"]
    html = _html(login(member_user).get(url("web:sweep-detail", sweep=older.uid)))
    assert "sweep-chart-data" not in html
    assert "nothing to chart" in html  # a grid sweep without a metric
    assert "No trials yet" in html


# --------------------------------------------------------------------------- controls


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_controls_pause_resume_finish_cancel(swept, member_user, htmx):
    sweep = swept["sweep"]
    client = login(member_user)
    headers = HTMX if htmx else {}
    state_url = url("web:sweep-state", sweep=sweep.uid)
    for state, message, button in [
        ("paused", "Sweep paused", ">Resume<"),
        ("running", "Sweep resumed", ">Pause<"),
        ("finished", "Sweep finished", ">Resume<"),
        ("cancelled", "Sweep cancelled", ">Finish<"),
    ]:
        response = client.post(state_url, {"state": state}, **headers)
        if htmx:
            assert response.status_code == 200
            html = _html(response)
            assert html.count('id="sweep-header"') == 1 and 'hx-swap-oob="true"' in html
        else:
            assert response.status_code == 302
            assert response["Location"] == url("web:sweep-detail", sweep=sweep.uid)
            html = _html(client.get(response["Location"]))
        assert message in html and button in html
        assert f'data-state="{state}"' in html.split('<section id="sweep-header"')[1]
        assert Sweep.objects.for_team(sweep.team).get(pk=sweep.pk).state == state


def test_paused_sweep_gives_agents_no_trials(swept, member_user):
    sweep = swept["sweep"]
    login(member_user).post(url("web:sweep-state", sweep=sweep.uid), {"state": "paused"})
    with pytest.raises(sweep_services.SweepDone):
        sweep_services.trial_next(team=sweep.team, sweep=sweep)


def test_viewer_sees_no_controls_and_gets_403(swept, viewer_user):
    sweep = swept["sweep"]
    client = login(viewer_user)
    for page in (url("web:sweep-list"), url("web:sweep-detail", sweep=sweep.uid)):
        response = client.get(page)
        assert response.status_code == 200
        assert "sweep-controls" not in _html(response)
    for headers in ({}, HTMX):
        state_url = url("web:sweep-state", sweep=sweep.uid)
        response = client.post(state_url, {"state": "paused"}, **headers)
        assert response.status_code == 403
    assert Sweep.objects.for_team(sweep.team).get(pk=sweep.pk).state == "running"


def test_another_team_gets_404(swept, other_team, other_admin):
    sweep = swept["sweep"]
    make_project(other_team, "resnet", actor=other_admin)
    client = login(other_admin)
    for team in ("team-a", "team-b"):
        kwargs = {"team": team, "project": "resnet", "sweep": sweep.uid}
        assert client.get(reverse("web:sweep-detail", kwargs=kwargs)).status_code == 404
        response = client.post(reverse("web:sweep-state", kwargs=kwargs), {"state": "paused"})
        assert response.status_code == 404
    assert client.get(url("web:sweep-list")).status_code == 404
    assert Sweep.objects.for_team(sweep.team).get(pk=sweep.pk).state == "running"


def test_unknown_sweep_is_404(project, member_user):
    response = login(member_user).get(url("web:sweep-detail", sweep="zzzzzzzz"))
    assert response.status_code == 404


@pytest.mark.parametrize("state", ["", "deleted", "x\x00y", "p" * 40])
def test_bad_state_answers_400_with_a_message(swept, member_user, state):
    sweep = swept["sweep"]
    client = login(member_user)
    state_url = url("web:sweep-state", sweep=sweep.uid)
    response = client.post(state_url, {"state": state})
    assert response.status_code == 400
    assert 'class="alert error"' in _html(response)
    response = client.post(state_url, {"state": state}, **HTMX)
    assert response.status_code == 400 and "state" in _html(response)
    assert Sweep.objects.for_team(sweep.team).get(pk=sweep.pk).state == "running"


def test_trials_table_shows_attempts_and_requeued_trials_link_their_run(team, project, member_user):
    sweep = sweep_services.sweep_create(
        team=team,
        project=project,
        project_name=project.name,
        actor=member_user,
        data={"config": CONFIG},
    )
    trial = _run_trial(team, project, sweep, member_user, "running")
    run_services.runs_mark_crashed(team=team, timeout_s=0)  # its heartbeat stopped
    client = login(member_user)
    html = _html(client.get(url("web:sweep-detail", sweep=sweep.uid)))
    assert _trial_rows(html) == [(trial.run_uid, "requeued")]
    row = html.split(f'data-trial="{trial.run_uid}"')[1].split("</tr>")[0]
    assert '<td class="num" data-attempts>1</td>' in row
    assert url("web:run-detail", run=trial.run_uid) in row  # the run exists: linked

    again = sweep_services.trial_next(team=team, sweep=sweep)
    assert again.run_uid == trial.run_uid
    html = _html(client.get(url("web:sweep-detail", sweep=sweep.uid)))
    row = html.split(f'data-trial="{trial.run_uid}"')[1].split("</tr>")[0]
    assert 'data-state="pending"' in html and "data-attempts>2</td>" in row
