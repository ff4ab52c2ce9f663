"""Artifact and registry pages through the Django test client against PostgreSQL: the
project's Artifacts tab, an artifact with its versions and aliases, a version (metadata,
files, lineage, history), downloads, the team's registry and a registered model; alias
forms write alias events; a model version is linked to the registry from its page and
unlinked from the registered model's page; a version is deleted (409s shown as messages);
descriptions are edited. Viewers see no forms and get 403, other teams get 404, and bad
input answers 4xx with a message, never 500."""

from __future__ import annotations

import hashlib
import io
from html import unescape

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient
from django.urls import reverse

from apps.registry import services
from apps.registry.models import (
    AliasEvent,
    Artifact,
    ArtifactAlias,
    ArtifactVersion,
    RegisteredModel,
    RegisteredModelAlias,
    RegisteredModelVersion,
)
from apps.runs import services as run_services
from tests.factories import make_project
from tests.web.conftest import login

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
WEIGHTS_V0 = b"weights of v0"


def _run(team, project, uid: str, actor):
    run, _, _ = run_services.run_create_or_resume(
        team=team, project=project, project_name=project.name, actor=actor, data={"id": uid}
    )
    return run


def _log(team, project, name, type_, files, actor, **data):
    """Log a version the way the API does: blobs first, then the manifest."""
    manifest = []
    for path, content in files.items():
        digest = hashlib.sha256(content).hexdigest()
        services.blob_put(team=team, sha256=digest, stream=io.BytesIO(content))
        manifest.append({"path": path, "sha256": digest, "size": len(content)})
    version, _ = services.version_create(
        team=team,
        project=project,
        name=name,
        data={"type": type_, "files": manifest, **data},
        actor=actor,
    )
    return version


@pytest.fixture
def logged(team, project, admin_user, member_user):
    """classifier (model) v0 + v1 logged by run train-1, `best` on v0; mnist (dataset);
    run eval-1 used classifier v0; registered model resnet-classifier links v0
    (`production`) and v1."""
    train = _run(team, project, "train-1", member_user)
    v0 = _log(
        team,
        project,
        "classifier",
        "model",
        {"model.pkl": WEIGHTS_V0},
        member_user,
        run="train-1",
        aliases=["best"],
        metadata={"accuracy": 0.91, "layers": [64, 32]},
    )
    v1 = _log(
        team,
        project,
        "classifier",
        "model",
        {"model.pkl": b"weights of v1", "config/params.json": b"{}"},
        member_user,
        run="train-1",
    )
    _log(team, project, "mnist", "dataset", {"train.csv": b"a,b\n1,2\n"}, member_user)
    evaluation = _run(team, project, "eval-1", member_user)
    services.usage_record(run=evaluation, version=v0)
    promote = frozenset({"registry:promote"})
    link0, _ = services.registered_model_link(
        team=team,
        name="resnet-classifier",
        source=v0,
        aliases=["production"],
        actor=admin_user,
        permissions=promote,
    )
    services.registered_model_link(
        team=team,
        name="resnet-classifier",
        source=v1,
        aliases=[],
        actor=admin_user,
        permissions=promote,
    )
    return {"v0": v0, "v1": v1, "train": train, "eval": evaluation, "link0": link0}


def url(route: str, **kwargs) -> str:
    base = {"team": "team-a"}
    if not route.startswith("web:registered-model"):
        base["project"] = "resnet"
    return reverse(route, kwargs={**base, **kwargs})


ARTIFACT = "web:artifact-detail"
ALIAS_SET = "web:artifact-alias-set"
ALIAS_DELETE = "web:artifact-alias-delete"
MODEL = "web:registered-model-detail"
PROMOTE = "web:registered-model-alias-set"
DEMOTE = "web:registered-model-alias-delete"
VERSION = "web:artifact-version-detail"
LINK = "web:artifact-version-link"
UNLINK = "web:registered-model-version-unlink"
DELETE_VERSION = "web:artifact-version-delete"
ARTIFACT_EDIT = "web:artifact-update"
VERSION_EDIT = "web:artifact-version-update"
MODEL_EDIT = "web:registered-model-update"


def _html(response) -> str:
    return response.content.decode()


def _artifact_events(artifact) -> list[tuple[str, str, str, str | None]]:
    return [
        (e.alias, e.from_version, e.to_version, e.actor.email if e.actor else None)
        for e in AliasEvent.objects.for_team(artifact.team)
        .filter(artifact=artifact)
        .select_related("actor")
        .order_by("id")
    ]


# --- pages ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["member_user", "viewer_user"])
def test_artifacts_tab_groups_by_type(role, request, logged):
    client = login(request.getfixturevalue(role))
    html = _html(client.get(url("web:artifact-list")))
    assert 'aria-current="page">Artifacts</a>' in html
    model_section = html.split('data-artifact-type="model"')[1].split("</section>")[0]
    dataset_section = html.split('data-artifact-type="dataset"')[1].split("</section>")[0]
    assert 'data-artifact="classifier"' in model_section and "mnist" not in model_section
    assert 'data-artifact="mnist"' in dataset_section
    row = model_section.split('data-artifact="classifier"')[1].split("</tr>")[0]
    assert "<td>2</td>" in row  # two versions
    assert ">v1</a>" in row  # latest
    assert "best <span" in row and "v0" in row  # alias best -> v0


def test_artifacts_tab_filters_by_type(member_user, logged):
    client = login(member_user)
    html = _html(client.get(url("web:artifact-list") + "?type=dataset"))
    assert 'data-artifact="mnist"' in html and 'data-artifact="classifier"' not in html
    assert 'aria-current="page">dataset' in html
    # A type the project does not have (or one no column could hold) matches nothing.
    for bad in ("nope", "a\x00b", "x" * 5000):
        response = client.get(url("web:artifact-list"), {"type": bad})
        assert response.status_code == 200
        assert "No artifacts of type" in _html(response)


def test_empty_states_explain_logging_and_linking(member_user, project):
    client = login(member_user)
    html = _html(client.get(url("web:artifact-list")))
    assert 'data-testid="artifacts-empty"' in html
    for call in ('wandb.Artifact("mnist", type="dataset")', "art.add_file(", "run.log_artifact("):
        assert call in html
    registry = _html(client.get(url("web:registered-model-list")))
    assert 'data-testid="registry-empty"' in registry
    assert "run.link_model(" in registry and 'entity="team-a"' in registry


def test_navigation_links_registry_and_artifacts(member_user, project):
    html = _html(
        login(member_user).get(
            reverse("web:project-detail", kwargs={"team": "team-a", "project": "resnet"})
        )
    )
    assert f'href="{url("web:artifact-list")}"' in html
    assert f'href="{url("web:registered-model-list")}"' in html


def test_artifact_page_for_member(member_user, logged):
    html = _html(login(member_user).get(url(ARTIFACT, name="classifier")))
    v0 = html.split('data-version="v0"')[1].split("</tr>")[0]
    v1 = html.split('data-version="v1"')[1].split("</tr>")[0]
    assert '<span class="alias">best</span>' in v0 and "latest" not in v0
    assert "alias latest" in v1
    assert "13\xa0bytes" in v0 and "<td>1</td>" in v0  # size and file count
    assert "train-1" in v0 and "member@a.example" in v0  # logged by run, by whom
    assert 'data-testid="alias-form"' in html
    assert url(ALIAS_DELETE, name="classifier", alias="best") in html
    history = html.split('data-testid="alias-history"')[1]
    assert "set on v0" in history


def test_artifact_page_for_viewer_has_no_forms(viewer_user, logged):
    html = _html(login(viewer_user).get(url(ARTIFACT, name="classifier")))
    assert 'data-version="v0"' in html and 'data-alias="best"' in html
    assert 'data-testid="alias-form"' not in html
    assert "/aliases" not in html and "Remove" not in html


def test_version_page(viewer_user, logged):
    client = login(viewer_user)
    html = _html(client.get(url("web:artifact-version-detail", name="classifier", ref="best")))
    assert "classifier:v0" in html
    metadata = unescape(html.split('data-testid="metadata"')[1].split("</section>")[0])
    assert '"accuracy": 0.91' in metadata and '"layers": [\n    64,' in metadata
    files = html.split('data-testid="files"')[1].split("</section>")[0]
    download = url("web:artifact-file", name="classifier", ref="v0", path="model.pkl")
    assert f'href="{download}"' in files
    lineage = html.split('data-testid="lineage"')[1].split("</section>")[0]
    assert "train-1" in lineage.split("Used by")[0]
    assert 'data-used-by="eval-1"' in lineage
    assert "set on v0" in html.split('data-testid="alias-history"')[1]
    # v1: two files, a nested path, no history of its own yet.
    html = _html(client.get(url("web:artifact-version-detail", name="classifier", ref="latest")))
    assert 'data-file="config/params.json"' in html and 'data-file="model.pkl"' in html
    assert "No alias has been set or moved yet." in html


def test_version_page_says_when_a_version_expires(viewer_user, member_user, team, project, logged):
    expiring = _log(
        team, project, "scratch", "dataset", {"a.csv": b"x\n"}, member_user, ttl_seconds=2 * 86_400
    )
    client = login(viewer_user)
    html = _html(client.get(url("web:artifact-version-detail", name="scratch", ref="v0")))
    expiry = html.split('data-testid="version-expiry"')[1].split("</dd>")[0]
    assert expiring.expires_at.strftime("%Y-%m-%d %H:%M") in expiry
    assert "in 1\xa0day" in expiry or "in 2\xa0days" in expiry, expiry
    assert "deleted then" in expiry
    html = _html(client.get(url("web:artifact-version-detail", name="classifier", ref="v0")))
    assert html.split('data-testid="version-expiry"')[1].split("</dd>")[0].endswith(">Never")


def test_download_answers_the_file(viewer_user, logged):
    response = login(viewer_user).get(
        url("web:artifact-file", name="classifier", ref="best", path="model.pkl")
    )
    assert response.status_code == 200
    assert response.content == WEIGHTS_V0  # small: one body, not a stream
    assert response["Content-Disposition"] == 'attachment; filename="model.pkl"'
    assert response["Content-Length"] == str(len(WEIGHTS_V0))
    missing = login(viewer_user).get(
        url("web:artifact-file", name="classifier", ref="v0", path="nope.bin")
    )
    assert missing.status_code == 404


def test_hidden_lineage_is_counted_not_named(team, admin_user, member_user, logged):
    secret = make_project(team, "secret", actor=admin_user, visibility="restricted")
    services.usage_record(run=_run(team, secret, "hidden-run", admin_user), version=logged["v0"])
    page = url("web:artifact-version-detail", name="classifier", ref="v0")
    member_html = _html(login(member_user).get(page))
    assert "hidden-run" not in member_html
    assert "1 run in projects you cannot see." in member_html
    admin_html = _html(login(admin_user).get(page))
    assert 'data-used-by="hidden-run"' in admin_html and "you cannot see" not in admin_html


# --- artifact alias forms -------------------------------------------------------------


def test_member_moves_an_alias(member_user, logged):
    client = login(member_user)
    response = client.post(url(ALIAS_SET, name="classifier"), {"alias": "best", "version": "v1"})
    assert response.status_code == 302
    assert response["Location"] == url(ARTIFACT, name="classifier")
    artifact = logged["v0"].artifact
    alias = ArtifactAlias.objects.for_team(artifact.team).get(artifact=artifact, alias="best")
    assert alias.version_id == logged["v1"].pk
    assert _artifact_events(artifact)[-1] == ("best", "v0", "v1", "member@a.example")
    html = _html(client.get(response["Location"]))
    assert "best now points at v1." in html
    assert "v0 → v1" in html.split('data-testid="alias-history"')[1]


def test_member_adds_an_alias_with_htmx(member_user, logged):
    response = login(member_user).post(
        url(ALIAS_SET, name="classifier"), {"alias": "staging", "version": "v0"}, **HTMX
    )
    assert response.status_code == 200
    html = _html(response)
    assert html.lstrip().startswith('<div id="flash"')  # the fragment, flash out of band
    assert 'hx-swap-oob="true"' in html and "staging now points at v0." in html
    assert '<section id="artifact-body"' in html and "<!doctype" not in html
    assert 'data-alias="staging"' in html
    assert ("staging", "", "v0", "member@a.example") in _artifact_events(logged["v0"].artifact)


def test_member_removes_an_alias(member_user, logged):
    client = login(member_user)
    response = client.post(url(ALIAS_DELETE, name="classifier", alias="best"))
    assert response.status_code == 302
    artifact = logged["v0"].artifact
    assert not ArtifactAlias.objects.for_team(artifact.team).filter(artifact=artifact).exists()
    assert _artifact_events(artifact)[-1] == ("best", "v0", "", "member@a.example")
    assert "removed from v0" in _html(client.get(url(ARTIFACT, name="classifier")))


def test_viewer_posts_get_403_and_change_nothing(viewer_user, logged):
    client = login(viewer_user)
    artifact = logged["v0"].artifact
    before = _artifact_events(artifact)
    for target, form in [
        (url(ALIAS_SET, name="classifier"), {"alias": "best", "version": "v1"}),
        (url(ALIAS_DELETE, name="classifier", alias="best"), {}),
    ]:
        for headers in ({}, HTMX):
            assert client.post(target, form, **headers).status_code == 403
    assert _artifact_events(artifact) == before


@pytest.mark.parametrize(
    "form,status,message",
    [
        ({"alias": "latest", "version": "v0"}, 400, "cannot be set"),
        ({"alias": "v3", "version": "v0"}, 400, "reserved for version labels"),
        ({"alias": "", "version": "v0"}, 400, "alias must be 1-128 letters"),
        ({"alias": "has space", "version": "v0"}, 400, "alias must be 1-128 letters"),
        ({"alias": "best", "version": "v99"}, 400, "has no version &#x27;v99&#x27;"),
        ({"alias": "best", "version": ""}, 400, "version must be a version label"),
        ({"alias": "a\x00b", "version": "v0"}, 400, "alias must not contain NUL"),
        ({"alias": "best", "version": "v\x000"}, 400, "version must not contain NUL"),
        ({"alias": "x" * 200, "version": "v0"}, 400, "alias must be at most 128"),
    ],
)
def test_bad_alias_input_is_a_4xx_with_a_message(member_user, logged, form, status, message):
    client = login(member_user)
    artifact = logged["v0"].artifact
    before = _artifact_events(artifact)
    target = url(ALIAS_SET, name="classifier")
    page = client.post(target, form)
    assert page.status_code == status
    assert message in _html(page) and 'data-testid="alias-form"' in _html(page)
    fragment = client.post(target, form, **HTMX)
    assert fragment.status_code == status
    assert _html(fragment).startswith('<div class="alert error"') and message in _html(fragment)
    assert _artifact_events(artifact) == before


def test_removing_a_missing_alias_is_404_with_a_message(member_user, logged):
    response = login(member_user).post(url(ALIAS_DELETE, name="classifier", alias="gone"))
    assert response.status_code == 404
    assert "has no alias &#x27;gone&#x27;" in _html(response)


def test_other_team_gets_404(other_admin, logged):
    client = login(other_admin)
    for target in [
        url("web:artifact-list"),
        url(ARTIFACT, name="classifier"),
        url("web:artifact-version-detail", name="classifier", ref="v0"),
        url("web:artifact-file", name="classifier", ref="v0", path="model.pkl"),
        url("web:registered-model-list"),
        url(MODEL, name="resnet-classifier"),
    ]:
        assert client.get(target).status_code == 404, target
    for target in [
        url(ALIAS_SET, name="classifier"),
        url(ALIAS_DELETE, name="classifier", alias="best"),
        url(PROMOTE, name="resnet-classifier"),
        url(DEMOTE, name="resnet-classifier", alias="production"),
        url(LINK, name="classifier", ref="v0"),
        url(DELETE_VERSION, name="classifier", ref="v0"),
        url(ARTIFACT_EDIT, name="classifier"),
        url(VERSION_EDIT, name="classifier", ref="v0"),
        url(MODEL_EDIT, name="resnet-classifier"),
        url(UNLINK, name="resnet-classifier", ref="v0"),
    ]:
        form = {"alias": "x", "version": "v0", "name": "x", "description": "x"}
        assert client.post(target, form).status_code == 404, target
    assert ArtifactVersion.objects.for_team(logged["v0"].team).count() == 3
    assert RegisteredModelVersion.objects.for_team(logged["v0"].team).count() == 2


def test_missing_objects_are_404(member_user, logged):
    client = login(member_user)
    assert client.get(url(ARTIFACT, name="nope")).status_code == 404
    assert (
        client.get(url("web:artifact-version-detail", name="classifier", ref="v7")).status_code
        == 404
    )
    assert client.get(url(MODEL, name="nope")).status_code == 404
    assert (
        client.post(url(ALIAS_SET, name="nope"), {"alias": "a", "version": "v0"}).status_code == 404
    )


# --- the team's registry --------------------------------------------------------------


def test_registry_page_lists_models_with_aliases(viewer_user, logged):
    html = _html(login(viewer_user).get(url("web:registered-model-list")))
    assert 'aria-current="page">Registry</a>' in html
    row = html.split('data-model="resnet-classifier"')[1].split("</tr>")[0]
    assert "<td>2</td>" in row
    assert "production <span" in row and "v0" in row


def test_registered_model_page_for_member_has_no_promote_form(member_user, logged):
    html = _html(login(member_user).get(url(MODEL, name="resnet-classifier")))
    v0 = html.split('data-version="v0"')[1].split("</tr>")[0]
    assert '<span class="alias">production</span>' in v0
    source = url("web:artifact-version-detail", name="classifier", ref="v0")
    assert f'href="{source}"' in v0 and "resnet/classifier:v0" in v0
    assert "admin@a.example" in v0  # linked by
    assert "alias latest" in html.split('data-version="v1"')[1].split("</tr>")[0]
    assert "set on v0" in html.split('data-testid="alias-history"')[1]
    assert 'data-testid="promote-form"' not in html and "/aliases" not in html


def test_admin_promotes_and_removes_a_model_alias(admin_user, logged):
    client = login(admin_user)
    page = _html(client.get(url(MODEL, name="resnet-classifier")))
    assert 'data-testid="promote-form"' in page
    response = client.post(
        url(PROMOTE, name="resnet-classifier"), {"alias": "production", "version": "v1"}
    )
    assert response.status_code == 302
    model = logged["link0"].registered_model
    alias = RegisteredModelAlias.objects.for_team(model.team).get(
        registered_model=model, alias="production"
    )
    assert alias.version.label == "v1"
    html = _html(client.get(response["Location"]))
    assert "production now points at v1." in html
    assert "v0 → v1" in html.split('data-testid="alias-history"')[1]

    fragment = client.post(url(DEMOTE, name="resnet-classifier", alias="production"), **HTMX)
    assert fragment.status_code == 200
    assert '<section id="model-body"' in _html(fragment)
    assert "removed from v1" in _html(fragment)
    assert (
        not RegisteredModelAlias.objects.for_team(model.team)
        .filter(registered_model=model)
        .exists()
    )
    events = AliasEvent.objects.for_team(model.team).filter(registered_model=model)
    assert [(e.from_version, e.to_version, e.actor_id) for e in events.order_by("id")][1:] == [
        ("v0", "v1", admin_user.pk),
        ("v1", "", admin_user.pk),
    ]


@pytest.mark.parametrize("role", ["member_user", "viewer_user"])
def test_only_admins_promote(role, request, logged):
    client = login(request.getfixturevalue(role))
    model = logged["link0"].registered_model
    before = AliasEvent.objects.for_team(model.team).filter(registered_model=model).count()
    form = {"alias": "production", "version": "v1"}
    assert client.post(url(PROMOTE, name="resnet-classifier"), form).status_code == 403
    assert client.post(url(DEMOTE, name="resnet-classifier", alias="production")).status_code == 403
    assert AliasEvent.objects.for_team(model.team).filter(registered_model=model).count() == before


@pytest.mark.parametrize(
    "form,message",
    [
        ({"alias": "latest", "version": "v0"}, "cannot be set"),
        ({"alias": "staging", "version": "v9"}, "has no version"),
        ({"alias": "st\x00ging", "version": "v0"}, "alias must not contain NUL"),
        ({}, "alias must be 1-128 letters"),
    ],
)
def test_bad_promotion_is_400_with_a_message(admin_user, logged, form, message):
    client = login(admin_user)
    response = client.post(url(PROMOTE, name="resnet-classifier"), form)
    assert response.status_code == 400 and message in _html(response)
    fragment = client.post(url(PROMOTE, name="resnet-classifier"), form, **HTMX)
    assert fragment.status_code == 400 and message in _html(fragment)
    missing = client.post(url(DEMOTE, name="resnet-classifier", alias="staging"))
    assert missing.status_code == 404 and "has no alias" in _html(missing)


def test_restricted_source_is_named_not_linked(team, admin_user, member_user, logged):
    secret = make_project(team, "secret", actor=admin_user, visibility="restricted")
    hidden = _log(team, secret, "secret-model", "model", {"m.bin": b"secret"}, admin_user)
    services.registered_model_link(
        team=team,
        name="resnet-classifier",
        source=hidden,
        aliases=[],
        actor=admin_user,
        permissions=frozenset(),
    )
    html = _html(login(member_user).get(url(MODEL, name="resnet-classifier")))
    row = html.split('data-version="v2"')[1].split("</tr>")[0]
    assert "secret/secret-model:v0" in row and "(restricted project)" in row
    assert "<a" not in row.split("secret/secret-model")[0].rsplit("<td>", 1)[1]
    admin_row = _html(login(admin_user).get(url(MODEL, name="resnet-classifier")))
    admin_row = admin_row.split('data-version="v2"')[1].split("</tr>")[0]
    assert "(restricted project)" not in admin_row and "/secret/artifacts/secret-model" in admin_row


# --- linking a model version to the registry --------------------------------------------


def _links(team) -> list[tuple[str, str, str]]:
    """(registered model, link label, source artifact:version) of the team, in link order."""
    return [
        (
            link.registered_model.name,
            link.label,
            f"{link.source.artifact.name}:v{link.source.index}",
        )
        for link in RegisteredModelVersion.objects.for_team(team)
        .select_related("registered_model", "source__artifact")
        .order_by("id")
    ]


def _model_events(team, name: str) -> list[tuple[str, str, str, str | None]]:
    model = RegisteredModel.objects.for_team(team).get(name=name)
    return [
        (e.alias, e.from_version, e.to_version, e.actor.email if e.actor else None)
        for e in AliasEvent.objects.for_team(team)
        .filter(registered_model=model)
        .select_related("actor")
        .order_by("id")
    ]


def test_member_links_a_version_to_a_new_registered_model(team, member_user, logged):
    client = login(member_user)
    page = _html(client.get(url(VERSION, name="classifier", ref="v1")))
    form = page.split('data-testid="link-form"')[1].split("</form>")[0]
    assert 'name="name"' in form and '<option value="resnet-classifier">' in form
    assert 'name="aliases"' not in form  # members cannot set registry aliases
    response = client.post(url(LINK, name="classifier", ref="v1"), {"name": "edge-classifier"})
    assert response.status_code == 302
    assert response["Location"] == url(VERSION, name="classifier", ref="v1")
    assert _links(team)[-1] == ("edge-classifier", "v0", "classifier:v1")
    link = RegisteredModelVersion.objects.for_team(team).get(
        registered_model__name="edge-classifier"
    )
    assert link.linked_by == member_user
    html = _html(client.get(response["Location"]))
    assert "Linked as edge-classifier:v0." in html
    registry = html.split('data-testid="registry-links"')[1].split("</section>")[0]
    edge = registry.split('data-registered-model="edge-classifier"')[1].split("</li>")[0]
    assert f'href="{url(MODEL, name="edge-classifier")}"' in edge
    assert "v0" in edge and "alias latest" in edge
    resnet = registry.split('data-registered-model="resnet-classifier"')[1].split("</li>")[0]
    assert "v1" in resnet  # the older link is listed too
    listing = _html(client.get(url("web:registered-model-list")))
    assert 'data-model="edge-classifier"' in listing


def test_linking_again_keeps_the_link_and_htmx_swaps_the_body(team, member_user, logged):
    before = _links(team)
    response = login(member_user).post(
        url(LINK, name="classifier", ref="best"), {"name": "resnet-classifier"}, **HTMX
    )
    assert response.status_code == 200
    html = _html(response)
    assert html.lstrip().startswith('<div id="flash"') and 'hx-swap-oob="true"' in html
    assert "Already linked as resnet-classifier:v0." in html
    assert '<section id="version-body"' in html and "<!doctype" not in html
    assert 'data-registered-model="resnet-classifier"' in html
    assert _links(team) == before


def test_admin_links_with_aliases_and_the_moves_are_recorded(team, admin_user, logged):
    client = login(admin_user)
    page = _html(client.get(url(VERSION, name="classifier", ref="v1")))
    assert 'name="aliases"' in page.split('data-testid="link-form"')[1]
    response = client.post(
        url(LINK, name="classifier", ref="v1"),
        {"name": "resnet-classifier", "aliases": "staging, production"},
    )
    assert response.status_code == 302
    assert _links(team) == [
        ("resnet-classifier", "v0", "classifier:v0"),
        ("resnet-classifier", "v1", "classifier:v1"),
    ]
    assert _model_events(team, "resnet-classifier")[1:] == [
        ("staging", "", "v1", "admin@a.example"),
        ("production", "v0", "v1", "admin@a.example"),
    ]
    html = _html(client.get(response["Location"]))
    row = html.split('data-registered-model="resnet-classifier"')[1].split("</li>")[0]
    assert '<span class="alias">production</span>' in row
    assert '<span class="alias">staging</span>' in row
    # A new registered model gets the aliases with its first link.
    client.post(url(LINK, name="classifier", ref="v0"), {"name": "edge", "aliases": "candidate"})
    assert _model_events(team, "edge") == [("candidate", "", "v0", "admin@a.example")]


def test_member_setting_aliases_is_403_with_a_message(team, member_user, logged):
    client = login(member_user)
    before = _links(team)
    target = url(LINK, name="classifier", ref="v1")
    form = {"name": "edge-classifier", "aliases": "production"}
    page = client.post(target, form)
    assert page.status_code == 403
    assert "registry:promote" in _html(page) and 'data-testid="link-form"' in _html(page)
    fragment = client.post(target, form, **HTMX)
    assert fragment.status_code == 403
    assert _html(fragment).startswith('<div class="alert error"')
    assert "registry:promote" in _html(fragment)
    assert _links(team) == before
    assert not RegisteredModel.objects.for_team(team).filter(name="edge-classifier").exists()


def test_viewer_sees_no_registry_forms_and_posts_get_403(team, viewer_user, logged):
    client = login(viewer_user)
    html = _html(client.get(url(VERSION, name="classifier", ref="v0")))
    assert 'data-registered-model="resnet-classifier"' in html  # the links are shown
    for testid in ("link-form", "description-form", "delete-version"):
        assert f'data-testid="{testid}"' not in html
    model_page = _html(client.get(url(MODEL, name="resnet-classifier")))
    assert "Unlink" not in model_page and 'data-testid="description-form"' not in model_page
    links, versions = _links(team), ArtifactVersion.objects.for_team(team).count()
    for target, form in [
        (url(LINK, name="classifier", ref="v1"), {"name": "edge"}),
        (url(UNLINK, name="resnet-classifier", ref="v0"), {}),
        (url(DELETE_VERSION, name="classifier", ref="v1"), {}),
        (url(ARTIFACT_EDIT, name="classifier"), {"description": "x"}),
        (url(VERSION_EDIT, name="classifier", ref="v0"), {"description": "x"}),
        (url(MODEL_EDIT, name="resnet-classifier"), {"description": "x"}),
    ]:
        for headers in ({}, HTMX):
            assert client.post(target, form, **headers).status_code == 403, target
    assert _links(team) == links
    assert ArtifactVersion.objects.for_team(team).count() == versions
    assert Artifact.objects.for_team(team).get(name="classifier").description == ""


def test_only_model_versions_offer_the_registry(member_user, logged):
    client = login(member_user)
    html = _html(client.get(url(VERSION, name="mnist", ref="v0")))
    assert 'data-testid="registry-links"' not in html
    response = client.post(url(LINK, name="mnist", ref="v0"), {"name": "datasets"})
    assert response.status_code == 400
    assert "Only artifacts of type &#x27;model&#x27; can be linked" in _html(response)


@pytest.mark.parametrize(
    "form,message",
    [
        ({"name": ""}, "name must be 1-128 letters"),
        ({}, "name must be 1-128 letters"),
        ({"name": "has/slash"}, "name must be 1-128 letters"),
        ({"name": "a\x00b"}, "name must not contain NUL"),
        ({"name": "m" * 200}, "name must be at most 128"),
        ({"name": "edge", "aliases": "latest, v3"}, "reserved for version labels"),
        ({"name": "edge", "aliases": "ok, bad alias!"}, "aliases must be 1-128 letters"),
        ({"name": "edge", "aliases": "p\x00"}, "aliases must not contain NUL"),
        ({"name": "edge", "aliases": ",".join(f"a{i}" for i in range(33))}, "at most 32"),
    ],
)
def test_bad_link_input_is_400_with_a_message(team, admin_user, logged, form, message):
    client = login(admin_user)
    before = _links(team)
    target = url(LINK, name="classifier", ref="v1")
    page = client.post(target, form)
    assert page.status_code == 400 and message in _html(page)
    fragment = client.post(target, form, **HTMX)
    assert fragment.status_code == 400 and message in _html(fragment)
    assert _links(team) == before
    assert not RegisteredModel.objects.for_team(team).filter(name="edge").exists()


def test_linking_an_unknown_version_is_404(admin_user, logged):
    client = login(admin_user)
    assert client.post(url(LINK, name="classifier", ref="v9"), {"name": "x"}).status_code == 404
    assert client.post(url(LINK, name="nope", ref="v0"), {"name": "x"}).status_code == 404


# --- unlinking -------------------------------------------------------------------------


def test_admin_unlinks_a_version(team, admin_user, logged):
    client = login(admin_user)
    page = _html(client.get(url(MODEL, name="resnet-classifier")))
    row = page.split('data-version="v0"')[1].split("</tr>")[0]
    unlink = url(UNLINK, name="resnet-classifier", ref="v0")
    assert f'action="{unlink}"' in row
    assert 'hx-confirm="Unlink v0 (resnet/classifier:v0) from resnet-classifier?' in row
    response = client.post(unlink)
    assert response.status_code == 302 and response["Location"] == url(
        MODEL, name="resnet-classifier"
    )
    assert _links(team) == [("resnet-classifier", "v1", "classifier:v1")]
    assert _model_events(team, "resnet-classifier")[-1] == (
        "production",
        "v0",
        "",
        "admin@a.example",
    )
    html = _html(client.get(response["Location"]))
    assert "Unlinked v0 (resnet/classifier:v0) from resnet-classifier." in html
    assert 'data-version="v0"' not in html and "removed from v0" in html
    # The artifact version stays; its page no longer lists the registered model.
    version_page = _html(client.get(url(VERSION, name="classifier", ref="v0")))
    assert "No registered model links this version yet." in version_page


def test_unlink_with_htmx_swaps_the_model_body(team, admin_user, logged):
    response = login(admin_user).post(url(UNLINK, name="resnet-classifier", ref="latest"), **HTMX)
    assert response.status_code == 200
    html = _html(response)
    assert '<section id="model-body"' in html and "Unlinked v1" in html
    assert 'data-version="v1"' not in html and 'data-version="v0"' in html
    assert _links(team) == [("resnet-classifier", "v0", "classifier:v0")]


def test_member_cannot_unlink(team, member_user, logged):
    client = login(member_user)
    html = _html(client.get(url(MODEL, name="resnet-classifier")))
    assert "Unlink" not in html and "/unlink" not in html
    assert client.post(url(UNLINK, name="resnet-classifier", ref="v0")).status_code == 403
    assert len(_links(team)) == 2


def test_unlinking_an_unknown_version_is_404(admin_user, logged):
    client = login(admin_user)
    response = client.post(url(UNLINK, name="resnet-classifier", ref="v7"))
    assert response.status_code == 404
    assert "has no version &#x27;v7&#x27;" in _html(response)
    assert client.post(url(UNLINK, name="nope", ref="v0")).status_code == 404


# --- deleting a version -------------------------------------------------------------------


@pytest.fixture
def candidate(team, project, member_user, logged):
    """classifier v2, holding the alias `candidate`, linked by no registered model."""
    return _log(
        team,
        project,
        "classifier",
        "model",
        {"model.pkl": b"weights of v2"},
        member_user,
        aliases=["candidate"],
    )


def test_admin_deletes_a_version_with_its_aliases(team, admin_user, candidate):
    client = login(admin_user)
    target = url(DELETE_VERSION, name="classifier", ref="v2")
    page = _html(client.get(url(VERSION, name="classifier", ref="candidate")))
    danger = page.split('data-testid="delete-version"')[1].split("</section>")[0]
    assert f'action="{target}"' in danger and 'hx-confirm="Delete classifier:v2?' in danger
    assert "Also remove its aliases (candidate)" in danger
    # Holding an alias: a 409 shown as a message on the page, nothing deleted.
    refused = client.post(target)
    assert refused.status_code == 409
    assert "v2 holds aliases (candidate); move them first, or delete them" in _html(refused)
    assert 'data-testid="delete-version"' in _html(refused)  # the page, not an error page
    fragment = client.post(target, **HTMX)
    assert fragment.status_code == 409
    assert _html(fragment).startswith('<div class="alert error"')
    assert "v2 holds aliases (candidate)" in _html(fragment)
    assert ArtifactVersion.objects.for_team(team).filter(pk=candidate.pk).exists()

    response = client.post(target, {"delete_aliases": "true"})
    assert response.status_code == 302
    assert response["Location"] == url(ARTIFACT, name="classifier")
    assert not ArtifactVersion.objects.for_team(team).filter(pk=candidate.pk).exists()
    assert _artifact_events(candidate.artifact)[-1] == (
        "candidate",
        "v2",
        "",
        "admin@a.example",
    )
    html = _html(client.get(response["Location"]))
    assert "Deleted classifier:v2." in html and 'data-version="v2"' not in html
    assert "removed from v2" in html.split('data-testid="alias-history"')[1]
    assert client.get(url(VERSION, name="classifier", ref="v2")).status_code == 404


def test_deleting_with_htmx_redirects_to_the_artifact(team, project, admin_user, logged):
    client = login(admin_user)
    version = _log(team, project, "classifier", "model", {"m": b"x"}, admin_user)
    response = client.post(url(DELETE_VERSION, name="classifier", ref=version.label), **HTMX)
    assert response.status_code == 204
    assert response["HX-Redirect"] == url(ARTIFACT, name="classifier")
    assert not ArtifactVersion.objects.for_team(team).filter(pk=version.pk).exists()
    assert "Deleted classifier:v2." in _html(client.get(response["HX-Redirect"]))


def test_deleting_a_linked_version_is_409_with_a_message(team, admin_user, logged):
    client = login(admin_user)
    for headers in ({}, HTMX):
        response = client.post(
            url(DELETE_VERSION, name="classifier", ref="v1"), {"delete_aliases": "true"}, **headers
        )
        assert response.status_code == 409
        assert "A registered model links this version; unlink it first." in _html(response)
    assert ArtifactVersion.objects.for_team(team).filter(pk=logged["v1"].pk).exists()


def test_only_admins_delete_versions(team, member_user, candidate):
    client = login(member_user)
    html = _html(client.get(url(VERSION, name="classifier", ref="v2")))
    assert 'data-testid="delete-version"' not in html
    response = client.post(
        url(DELETE_VERSION, name="classifier", ref="v2"), {"delete_aliases": "1"}
    )
    assert response.status_code == 403
    assert ArtifactVersion.objects.for_team(team).filter(pk=candidate.pk).exists()


def test_deleting_an_unknown_version_is_404(admin_user, logged):
    response = login(admin_user).post(url(DELETE_VERSION, name="classifier", ref="v9"))
    assert response.status_code == 404


# --- descriptions -------------------------------------------------------------------------


def test_member_edits_the_artifact_description(team, member_user, logged):
    client = login(member_user)
    page = _html(client.get(url(ARTIFACT, name="classifier")))
    assert f'action="{url(ARTIFACT_EDIT, name="classifier")}"' in page
    response = client.post(
        url(ARTIFACT_EDIT, name="classifier"), {"description": "  ResNet-50 on CIFAR-10\n"}
    )
    assert response.status_code == 302 and response["Location"] == url(ARTIFACT, name="classifier")
    artifact = Artifact.objects.for_team(team).get(name="classifier")
    assert artifact.description == "ResNet-50 on CIFAR-10"
    html = _html(client.get(response["Location"]))
    assert "Description saved." in html
    shown = html.split('data-testid="description"')[1].split("</p>")[0]
    assert "ResNet-50 on CIFAR-10" in shown
    listing = _html(client.get(url("web:artifact-list")))
    assert "ResNet-50 on CIFAR-10" in listing


def test_member_edits_a_version_description_with_htmx(team, member_user, logged):
    client = login(member_user)
    response = client.post(
        url(VERSION_EDIT, name="classifier", ref="best"),
        {"description": "first <b>cut</b>"},
        **HTMX,
    )
    assert response.status_code == 200
    html = _html(response)
    assert '<section id="version-body"' in html and "Description saved." in html
    assert "first &lt;b&gt;cut&lt;/b&gt;" in html.split('data-testid="version-overview"')[1]
    version = ArtifactVersion.objects.for_team(team).get(pk=logged["v0"].pk)
    assert version.description == "first <b>cut</b>"
    assert version.metadata == {"accuracy": 0.91, "layers": [64, 32]}  # untouched
    # Clearing it is allowed.
    client.post(url(VERSION_EDIT, name="classifier", ref="v0"), {"description": ""})
    assert ArtifactVersion.objects.for_team(team).get(pk=logged["v0"].pk).description == ""


def test_member_edits_the_registered_model_description(team, member_user, logged):
    client = login(member_user)
    page = _html(client.get(url(MODEL, name="resnet-classifier")))
    assert 'data-testid="description-form"' in page
    response = client.post(url(MODEL_EDIT, name="resnet-classifier"), {"description": "Prod CNN"})
    assert response.status_code == 302
    assert RegisteredModel.objects.for_team(team).get(name="resnet-classifier").description == (
        "Prod CNN"
    )
    html = _html(client.get(response["Location"]))
    assert "Description saved." in html and "Prod CNN" in html
    assert "Prod CNN" in _html(client.get(url("web:registered-model-list")))


@pytest.mark.parametrize(
    "route,kwargs",
    [
        (ARTIFACT_EDIT, {"name": "classifier"}),
        (VERSION_EDIT, {"name": "classifier", "ref": "v0"}),
        (MODEL_EDIT, {"name": "resnet-classifier"}),
    ],
)
@pytest.mark.parametrize(
    "description,message",
    [("a\x00b", "description must not contain NUL"), ("d" * 65_537, "at most 65536")],
)
def test_bad_description_is_400_with_a_message(
    team, member_user, logged, route, kwargs, description, message
):
    client = login(member_user)
    page = client.post(url(route, **kwargs), {"description": description})
    assert page.status_code == 400 and message in _html(page)
    assert 'data-testid="description-form"' in _html(page)
    fragment = client.post(url(route, **kwargs), {"description": description}, **HTMX)
    assert fragment.status_code == 400 and message in _html(fragment)
    assert Artifact.objects.for_team(team).get(name="classifier").description == ""
    assert ArtifactVersion.objects.for_team(team).get(pk=logged["v0"].pk).description == ""
    assert RegisteredModel.objects.for_team(team).get(name="resnet-classifier").description == ""


# --- under ASGI (as uvicorn serves the pages) -------------------------------------------


def test_pages_and_download_through_asgi(member_user, logged):
    """Under ASGI the download streams through an async iterator (apps.api.responses
    .streaming); the sync client above only covers the WSGI branch."""
    pages = [
        url("web:artifact-list"),
        url(ARTIFACT, name="classifier"),
        url("web:artifact-version-detail", name="classifier", ref="v0"),
        url("web:registered-model-list"),
        url(MODEL, name="resnet-classifier"),
    ]
    download = url("web:artifact-file", name="classifier", ref="v0", path="model.pkl")

    async def requests():
        client = AsyncClient()
        await client.aforce_login(member_user)
        statuses = [(await client.get(page)).status_code for page in pages]
        response = await client.get(download)
        body = response.content
        moved = await client.post(
            url(ALIAS_SET, name="classifier"), {"alias": "best", "version": "v1"}
        )
        return statuses, response.status_code, body, moved.status_code

    statuses, status, body, moved = async_to_sync(requests)()
    assert statuses == [200] * len(pages)
    assert (status, body, moved) == (200, WEIGHTS_V0, 302)
