"""Run ownership (issue 16 item 4): every write to an existing run follows the rule of
its policy entry. A member (`runs:write_own`, `runs:delete_own`) changes only the runs
it created; an admin (`runs:write`, `runs:delete`) any run; a viewer none.

The cases are driven by the policy table: every (route, method) whose permission is an
`*_own` one (Route.owner_rule) needs a request here, so a new run write route without
one fails `test_every_owned_route_has_requests`. Each request is made through the HTTP
API on PostgreSQL by the run's creator (served), by another member (403, and the run
reads back unchanged), by an admin on both members' runs (served) and by a viewer (403).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass

import orjson
import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from apps.core import policy
from apps.registry import services as registry_services
from apps.teams import roles
from apps.teams import services as team_services
from tests.conftest import client_for
from tests.core.routes import http_routes
from tests.factories import UserFactory, make_project, make_service_account
from tests.runs.helpers import binary_batch

pytestmark = pytest.mark.django_db

T0 = 1_700_000_000.0
TEAM, PROJECT = "team-a", "resnet"
FILE = "notes/readme.txt"
DATASET = "dataset"  # an artifact version the runs may record as used


@dataclass(frozen=True)
class Call:
    """One request against run `uid`: what it sends and the status that means served."""

    label: str
    method: str
    url: Callable[[str], str]
    body: Callable[[str], bytes] = lambda uid: b"{}"
    content_type: str = "application/json"
    served: int = 200


def _run_url(name: str, **kwargs) -> Callable[[str], str]:
    return lambda uid: reverse(
        name, kwargs={"team": TEAM, "project": PROJECT, "run": uid, **kwargs}
    )


def _json(body: dict) -> Callable[[str], bytes]:
    return lambda uid: orjson.dumps(body)


RUNS_URL = reverse("api:run-list", kwargs={"team": TEAM, "project": PROJECT})

# Every (route, method) with an ownership rule -> the requests that exercise it.
REQUESTS: dict[tuple[str, str], list[Call]] = {
    ("api:run-list", "POST"): [
        # Resuming an existing run by id is a write to it.
        Call(
            "resume",
            "POST",
            lambda uid: RUNS_URL,
            lambda uid: orjson.dumps({"id": uid, "resume": "allow", "config": {"lr": 9}}),
        ),
    ],
    ("api:run-detail", "PATCH"): [
        Call("rename", "PATCH", _run_url("api:run-detail"), _json({"name": "renamed"})),
        Call(
            "notes, tags, group",
            "PATCH",
            _run_url("api:run-detail"),
            _json({"notes": "x", "tags": ["t"], "group": "g", "job_type": "j"}),
        ),
        Call(
            "config and summary",
            "PATCH",
            _run_url("api:run-detail"),
            _json({"config": {"lr": 1}, "summary": {"acc": 1.0}}),
        ),
    ],
    ("api:run-detail", "DELETE"): [
        Call("delete", "DELETE", _run_url("api:run-detail"), served=204),
    ],
    ("api:run-heartbeat", "POST"): [
        Call("heartbeat", "POST", _run_url("api:run-heartbeat")),
    ],
    ("api:run-finish", "POST"): [
        Call("finish as failed", "POST", _run_url("api:run-finish"), _json({"exit_code": 1})),
    ],
    ("api:run-ingest", "POST"): [
        Call(
            "ingest points (JSON)",
            "POST",
            _run_url("api:run-ingest"),
            _json({"points": [["loss", 100, 0.1, T0]]}),
        ),
        Call(
            "append console lines",
            "POST",
            _run_url("api:run-ingest"),
            _json({"console": [["stdout", T0, "hello"], ["stderr", T0, "oops"]]}),
        ),
        Call(
            "ingest summary and config",
            "POST",
            _run_url("api:run-ingest"),
            _json({"summary": {"best": 0.5}, "config": {"lr": 2}}),
        ),
        Call(
            "ingest points (binary)",
            "POST",
            _run_url("api:run-ingest"),
            lambda uid: binary_batch([["loss", 101, 0.2, T0]]),
            content_type="application/x-gradline-batch",
        ),
    ],
    ("api:run-file-detail", "PUT"): [
        Call(
            "overwrite a file",
            "PUT",
            _run_url("api:run-file-detail", path=FILE),
            lambda uid: b"overwritten",
            content_type="application/octet-stream",
            served=201,
        ),
        Call(
            "add a file",
            "PUT",
            _run_url("api:run-file-detail", path="new.bin"),
            lambda uid: b"new",
            content_type="application/octet-stream",
            served=201,
        ),
    ],
    ("api:run-file-detail", "DELETE"): [
        Call("delete a file", "DELETE", _run_url("api:run-file-detail", path=FILE), served=204),
    ],
    ("api:run-media-list", "POST"): [
        Call(
            "register media",
            "POST",
            _run_url("api:run-media-list"),
            _json(
                {
                    "items": [
                        {"key": "h", "step": 0, "_type": "histogram", "bins": [0, 1], "values": [1]}
                    ]
                }
            ),
        ),
    ],
    ("api:run-alert-list", "POST"): [
        Call(
            "raise an alert (wandb.alert)",
            "POST",
            _run_url("api:run-alert-list"),
            _json({"title": "Loss exploded", "text": "loss is NaN", "level": "WARN"}),
            served=201,
        ),
    ],
    ("api:run-used-artifacts", "POST"): [
        Call(
            "record an artifact as used",
            "POST",
            _run_url("api:run-used-artifacts"),
            _json({"name": DATASET}),
            served=201,
        ),
    ],
}

OWNED = sorted(
    (name, method)
    for name, route in policy.ROUTES.items()
    if name.startswith(("api:", "web:"))
    for method in route.methods
    if route.owner_rule(method)
)
CASES = [
    pytest.param(call, id=f"{name} {method} {call.label}")
    for name, method in OWNED
    for call in REQUESTS.get((name, method), [])
]


def test_every_owned_route_has_requests():
    """A route with an ownership rule and no request here would go untested."""
    missing = [f"{n} {m}" for n, m in OWNED if not REQUESTS.get((n, m))]
    assert not missing, "Add requests to REQUESTS for: " + ", ".join(missing)
    stale = sorted(f"{n} {m}" for n, m in set(REQUESTS) - set(OWNED))
    assert not stale, f"REQUESTS for routes without an ownership rule: {stale}"


def test_owned_routes_are_real_and_cover_the_run_writes():
    names = {r.name for r in http_routes()}
    assert {name for name, _ in OWNED} <= names
    expected = {
        "api:run-detail",
        "api:run-heartbeat",
        "api:run-finish",
        "api:run-ingest",
        "api:run-file-detail",
        "api:run-used-artifacts",
        "api:run-list",
    }
    assert expected <= {name for name, _ in OWNED}


@pytest.fixture
def world(team, project, admin_user, member_user, viewer_user):
    other = UserFactory(email="other-member@a.example")
    team_services.membership_add(team=team, user=other, role="member")
    content = b"rows"
    sha256 = hashlib.sha256(content).hexdigest()
    registry_services.blob_put(team=team, sha256=sha256, stream=io.BytesIO(content))
    registry_services.version_create(
        team=team,
        project=project,
        name=DATASET,
        data={"type": "dataset", "files": [{"path": "d.csv", "sha256": sha256, "size": 4}]},
        actor=admin_user,
    )
    return {
        "admin": client_for(admin_user),
        "member": client_for(member_user),
        "other": client_for(other),
        "viewer": client_for(viewer_user),
        "blob": sha256,
    }


def _send(client, call: Call, uid: str):
    return client.generic(
        call.method, call.url(uid), data=call.body(uid), content_type=call.content_type
    )


def _start(client, uid: str) -> None:
    """A run created by `client`'s user, with a point, a console line and a file."""
    r = client.post(RUNS_URL, {"id": uid, "name": uid}, format="json")
    assert r.status_code == 201, r.content
    body = {"points": [["loss", 0, 1.0, T0]], "console": [["stdout", T0, "start"]]}
    r = client.post(_run_url("api:run-ingest")(uid), body, format="json")
    assert r.status_code == 200, r.content
    file_url = _run_url("api:run-file-detail", path=FILE)(uid)
    r = client.generic("PUT", file_url, data=b"original", content_type="text/plain")
    assert r.status_code == 201, r.content


def _read_back(client, uid: str) -> dict:
    """Everything the API shows of the run: fields, files, console, history, lineage."""
    run = client.get(_run_url("api:run-detail")(uid)).json()
    return {
        "run": run,
        "files": client.get(_run_url("api:run-file-list")(uid)).json(),
        "console": client.get(_run_url("api:run-console")(uid)).json(),
        "history": client.get(_run_url("api:run-scan")(uid)).json(),
        "artifacts": client.get(_run_url("api:run-artifacts")(uid)).json(),
    }


def _refused(response, wide: str | None) -> str | None:
    """None when `response` is the ownership refusal, else what is wrong with it."""
    if response.status_code != 403:
        return f"{response.status_code} {response.content[:200]!r}"
    error = response.json()["error"]
    if error["code"] != "permission_denied" or not error["message"]:
        return f"unexpected error {error}"
    if wide is not None and (error["detail"] or {}).get("permission") != wide:
        return f"the refusal does not name {wide!r}: {error}"
    return None


@pytest.mark.parametrize("call", CASES)
def test_member_changes_own_runs_only_admin_any(world, call):
    name = next(n for n, m in OWNED if call in REQUESTS[(n, m)])
    wide = policy.ROUTES[name].owner_rule(call.method)
    admin, member, other, viewer = (world[k] for k in ("admin", "member", "other", "viewer"))
    _start(member, "mine")
    _start(member, "mine-too")
    _start(other, "theirs")

    # Another member's run: refused, and nothing about the run changed.
    before = _read_back(admin, "theirs")
    problem = _refused(_send(member, call, "theirs"), wide)
    assert problem is None, f"member on another member's run: {problem}"
    assert _read_back(admin, "theirs") == before
    # A viewer: refused (the role lacks even the own permission).
    viewer_answer = _send(viewer, call, "theirs")
    assert _refused(viewer_answer, None) is None, viewer_answer.content
    assert _read_back(admin, "theirs") == before

    # The member's own run, and an admin on either member's run: served.
    r = _send(member, call, "mine")
    assert r.status_code == call.served, f"member on its own run: {r.status_code} {r.content}"
    for uid in ("theirs", "mine-too"):
        r = _send(admin, call, uid)
        assert r.status_code == call.served, f"admin on {uid}: {r.status_code} {r.content}"


def test_refused_writes_leave_the_run_as_its_owner_left_it(world):
    """The issue's scenario end to end: rename, overwrite and delete files, ingest into
    and finish another member's run — all refused; its owner then carries on."""
    member, other, admin = world["member"], world["other"], world["admin"]
    _start(other, "theirs")
    url = _run_url("api:run-detail")("theirs")
    attempts = [
        member.patch(url, {"name": "hijacked"}, format="json"),
        member.put(
            _run_url("api:run-file-detail", path=FILE)("theirs"), b"x", content_type="text/plain"
        ),
        member.delete(_run_url("api:run-file-detail", path=FILE)("theirs")),
        member.post(
            _run_url("api:run-ingest")("theirs"), {"points": [["loss", 5, 9.0, T0]]}, format="json"
        ),
        member.post(_run_url("api:run-finish")("theirs"), {"state": "failed"}, format="json"),
        member.delete(url),
    ]
    assert [r.status_code for r in attempts] == [403] * len(attempts)
    shown = admin.get(url).json()
    assert (shown["name"], shown["state"]) == ("theirs", "running")
    file = admin.get(_run_url("api:run-file-detail", path=FILE)("theirs"))
    assert file.content == b"original"  # small files come in one body
    # The owner's own SDK-style writes keep working.
    r = other.post(
        _run_url("api:run-ingest")("theirs"), {"points": [["loss", 1, 0.5, T0]]}, format="json"
    )
    assert r.status_code == 200 and r.json()["accepted"] == 1
    assert (
        other.post(
            _run_url("api:run-finish")("theirs"), {"exit_code": 0}, format="json"
        ).status_code
        == 200
    )


def test_owner_resumes_own_run_but_not_another_members(world):
    member, other = world["member"], world["other"]
    _start(member, "mine")
    _start(other, "theirs")
    assert member.post(_run_url("api:run-finish")("mine"), {}, format="json").status_code == 200
    r = member.post(RUNS_URL, {"id": "mine", "resume": "allow"}, format="json")
    assert r.status_code == 200 and r.json()["resumed"] is True and r.json()["state"] == "running"
    assert r.json()["last_step"] == 0 and r.json()["console_next"] == 1
    r = member.post(RUNS_URL, {"id": "mine", "resume": "must"}, format="json")
    assert r.status_code == 200
    # Another member's id: 403 naming the permission; without resume still the 409.
    r = member.post(RUNS_URL, {"id": "theirs", "resume": "allow"}, format="json")
    assert _refused(r, roles.RUNS_WRITE) is None, r.content
    assert member.post(RUNS_URL, {"id": "theirs"}, format="json").status_code == 409


def test_logging_an_artifact_version_into_another_members_run(world):
    member, other, admin = world["member"], world["other"], world["admin"]
    _start(member, "mine")
    _start(other, "theirs")
    url = reverse(
        "api:artifact-version-list", kwargs={"team": TEAM, "project": PROJECT, "name": "model"}
    )

    def files(path):  # a new manifest, so each call commits a new version
        return [{"path": path, "sha256": world["blob"], "size": 4}]

    def log(client, uid, path):
        body = {"type": "model", "run": uid, "files": files(path), "description": "d"}
        return client.post(url, body, format="json")

    r = log(member, "theirs", "a.csv")
    assert _refused(r, roles.RUNS_WRITE) is None, r.content
    assert admin.get(_run_url("api:run-artifacts")("theirs")).json()["logged"] == []
    assert log(member, "mine", "a.csv").status_code == 201
    assert log(admin, "theirs", "b.csv").status_code == 201
    logged = admin.get(_run_url("api:run-artifacts")("theirs")).json()["logged"]
    assert len(logged) == 1


def test_service_accounts_act_as_their_role(world, team, admin_user):
    """A member-role service account (CI logging through the SDK) writes the runs it
    created; an admin-role one any run of its team."""
    _, member_secret = make_service_account(team, admin_user, name="ci", role="member")
    _, admin_secret = make_service_account(team, admin_user, name="ops", role="admin")
    ci, ops = (_bearer(s) for s in (member_secret, admin_secret))
    _start(ci, "ci-run")
    _start(world["member"], "person-run")
    r = ci.post(
        _run_url("api:run-ingest")("ci-run"), {"points": [["acc", 1, 0.9, T0]]}, format="json"
    )
    assert r.status_code == 200 and r.json()["accepted"] == 1
    assert ci.post(RUNS_URL, {"id": "ci-run", "resume": "allow"}, format="json").status_code == 200
    r = ci.patch(_run_url("api:run-detail")("person-run"), {"name": "x"}, format="json")
    assert _refused(r, roles.RUNS_WRITE) is None, r.content
    r = world["member"].post(_run_url("api:run-finish")("ci-run"), {}, format="json")
    assert _refused(r, roles.RUNS_WRITE) is None, r.content
    assert (
        ops.patch(
            _run_url("api:run-detail")("person-run"), {"name": "y"}, format="json"
        ).status_code
        == 200
    )


def test_open_project_outsider_logs_own_runs_only(world, team, admin_user, other_admin, other_team):
    """On an open project any signed-in user logs runs; the ownership rule applies to
    them as to members."""
    make_project(team, "community", actor=admin_user, visibility="open")
    runs = reverse("api:run-list", kwargs={"team": TEAM, "project": "community"})
    outsider = client_for(other_admin)
    member = world["member"]
    assert member.post(runs, {"id": "members"}, format="json").status_code == 201
    assert outsider.post(runs, {"id": "outsiders"}, format="json").status_code == 201

    def detail(uid):
        return reverse("api:run-detail", kwargs={"team": TEAM, "project": "community", "run": uid})

    assert outsider.patch(detail("outsiders"), {"name": "mine"}, format="json").status_code == 200
    r = outsider.patch(detail("members"), {"name": "taken"}, format="json")
    assert _refused(r, roles.RUNS_WRITE) is None, r.content
    r = member.patch(detail("outsiders"), {"name": "taken"}, format="json")
    assert _refused(r, roles.RUNS_WRITE) is None, r.content


def test_session_writes_follow_the_same_rule(world, member_user):
    """The run page edits through the API with the browser's session."""
    _start(world["other"], "theirs")
    _start(world["member"], "mine")
    browser = APIClient()
    browser.force_login(member_user)
    assert (
        browser.patch(_run_url("api:run-detail")("mine"), {"notes": "n"}, format="json").status_code
        == 200
    )
    r = browser.patch(_run_url("api:run-detail")("theirs"), {"notes": "n"}, format="json")
    assert _refused(r, roles.RUNS_WRITE) is None, r.content


def _bearer(secret: str):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client
