"""Artifacts and the model registry in a real browser: a member opens the project's
Artifacts tab and an artifact, moves an alias through the form (htmx swaps the page
body) and sees the move in the alias history, removes it after confirming, downloads a
file from a version and links that version to the registry from its page (then sees the
new registered model on the Registry page); an admin promotes a registered model version
on the Registry page.
Light and dark, without script errors, and without horizontal overflow on a phone."""

from __future__ import annotations

import hashlib
import io
import re

import pytest

from apps.registry import services
from apps.runs import services as run_services
from apps.teams import services as team_services
from tests.e2e.pages import PASSWORD, screenshot, script_errors, settled, sign_in
from tests.factories import UserFactory, make_project, make_team

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WEIGHTS = b"weights of v0"


def _log(team, project, files: dict[str, bytes], actor, **data):
    manifest = []
    for path, content in files.items():
        digest = hashlib.sha256(content).hexdigest()
        services.blob_put(team=team, sha256=digest, stream=io.BytesIO(content))
        manifest.append({"path": path, "sha256": digest, "size": len(content)})
    version, _ = services.version_create(
        team=team,
        project=project,
        name="classifier",
        data={"type": "model", "files": manifest, **data},
        actor=actor,
    )
    return version


@pytest.fixture
def acme():
    """Team acme: grace (admin), alan (member); project resnet with model artifact
    `classifier` v0 (`best`, logged by run train-1) and v1, both linked into the
    registered model resnet-classifier (`production` on v0)."""
    grace = UserFactory(email="grace@acme.example", password=PASSWORD)
    team = make_team("acme", grace)
    alan = UserFactory(email="alan@acme.example", password=PASSWORD)
    team_services.membership_add(team=team, user=alan, role="member")
    project = make_project(team, "resnet", actor=grace)
    run_services.run_create_or_resume(
        team=team, project=project, project_name="resnet", actor=alan, data={"id": "train-1"}
    )
    v0 = _log(
        team,
        project,
        {"model.pkl": WEIGHTS},
        alan,
        run="train-1",
        aliases=["best"],
        metadata={"accuracy": 0.91},
    )
    v1 = _log(team, project, {"model.pkl": b"weights of v1"}, alan, run="train-1")
    for version, aliases in ((v0, ["production"]), (v1, [])):
        services.registered_model_link(
            team=team,
            name="resnet-classifier",
            source=version,
            aliases=aliases,
            actor=grace,
            permissions=frozenset({"registry:promote"}),
        )
    return team


@pytest.mark.parametrize("color_scheme", ["light", "dark"])
def test_artifacts_and_registry(live_server, acme, browser, screenshots_dir, color_scheme):
    from playwright.sync_api import expect

    shot = f"{color_scheme}-registry-"
    context, page = sign_in(
        browser, live_server.url, "alan@acme.example", color_scheme, accept_downloads=True
    )
    errors = script_errors(page)

    # The project's Artifacts tab, grouped by type.
    page.goto("/acme/resnet/")
    page.get_by_role("link", name="Artifacts").click()
    row = page.locator('[data-artifact-type="model"] tr[data-artifact="classifier"]')
    expect(row).to_contain_text("best → v0")
    screenshot(page, screenshots_dir, shot + "01-artifacts")

    # The artifact page: move `best` to v1 through the form; htmx swaps the body.
    row.get_by_role("link", name="classifier").click()
    expect(page).to_have_url(re.compile(r"/acme/resnet/artifacts/classifier$"))
    page.get_by_label("Alias", exact=True).fill("best")
    page.get_by_label("Version", exact=True).select_option("v1")
    page.get_by_role("button", name="Set alias").click()
    expect(page.locator("#flash")).to_contain_text("best now points at v1.")
    history = page.get_by_test_id("alias-history")
    expect(history.locator("tr", has_text="v0 → v1")).to_contain_text("alan@acme.example")
    expect(page.locator('tr[data-version="v1"]')).to_contain_text("best")
    settled(page)
    screenshot(page, screenshots_dir, shot + "02-alias-moved")

    # Remove it again, after the confirmation dialog.
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Remove alias best").click()
    expect(page.locator("#flash")).to_contain_text("Alias best removed.")
    expect(history.locator("tr", has_text="removed from v1")).to_be_visible()
    expect(page.locator('tr[data-alias="best"]')).to_have_count(0)
    settled(page)

    # A version: metadata, lineage, and a file download that returns the stored bytes.
    page.locator('tr[data-version="v0"]').get_by_role("link", name="v0").click()
    expect(page.get_by_test_id("metadata")).to_contain_text('"accuracy": 0.91')
    expect(page.get_by_test_id("lineage")).to_contain_text("train-1")
    with page.expect_download() as download:
        page.locator('tr[data-file="model.pkl"]').get_by_role("link", name="Download").click()
    assert download.value.suggested_filename == "model.pkl"
    with open(download.value.path(), "rb") as handle:
        assert handle.read() == WEIGHTS
    screenshot(page, screenshots_dir, shot + "03-version")

    # Link this version to a new registered model from its page; htmx swaps the body.
    link_form = page.get_by_test_id("link-form")
    expect(link_form.get_by_label("Aliases")).to_have_count(0)  # members cannot promote
    link_form.get_by_label("Registered model").fill("edge-classifier")
    link_form.get_by_role("button", name="Link to registry").click()
    expect(page.locator("#flash")).to_contain_text("Linked as edge-classifier:v0.")
    linked = page.get_by_test_id("registry-links").locator(
        '[data-registered-model="edge-classifier"]'
    )
    expect(linked).to_contain_text("v0")
    settled(page)
    screenshot(page, screenshots_dir, shot + "03b-linked")

    # The team's Registry, from the top navigation; a member sees no promote form.
    page.get_by_role("navigation", name="Team").get_by_role("link", name="Registry").click()
    expect(page.locator('tr[data-model="edge-classifier"]')).to_contain_text("1")
    model_row = page.locator('tr[data-model="resnet-classifier"]')
    expect(model_row).to_contain_text("production → v0")
    screenshot(page, screenshots_dir, shot + "04-registry")
    model_row.get_by_role("link", name="resnet-classifier").click()
    expect(page.locator('tr[data-version="v0"]')).to_contain_text("resnet/classifier:v0")
    expect(page.get_by_test_id("promote-form")).to_have_count(0)

    # Phone width: nothing wider than the screen on the new pages.
    page.set_viewport_size({"width": 390, "height": 800})
    for path in [
        "/acme/resnet/artifacts",
        "/acme/resnet/artifacts/classifier",
        "/acme/resnet/artifacts/classifier/versions/v0",
        "/acme/registry",
        "/acme/registry/models/resnet-classifier",
    ]:
        page.goto(path)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, (path, overflow)
    screenshot(page, screenshots_dir, shot + "05-mobile-model")
    assert errors == []
    context.close()

    # An admin promotes v1 to production; the history shows the move.
    context, page = sign_in(
        browser, live_server.url, "grace@acme.example", color_scheme, accept_downloads=True
    )
    errors = script_errors(page)
    page.goto("/acme/registry/models/resnet-classifier")
    form = page.get_by_test_id("promote-form")
    form.get_by_label("Alias").fill("production")
    form.get_by_label("Version").select_option("v1")
    form.get_by_role("button", name="Promote").click()
    expect(page.locator("#flash")).to_contain_text("production now points at v1.")
    moved = page.get_by_test_id("alias-history").locator("tr", has_text="v0 → v1")
    expect(moved).to_contain_text("grace@acme.example")
    expect(page.locator('tr[data-version="v1"]')).to_contain_text("production")
    screenshot(page, screenshots_dir, shot + "06-promoted")
    assert errors == []
    context.close()
