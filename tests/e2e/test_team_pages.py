"""Team administration in a real browser: sign in, change a role in place (htmx), see
the last-admin refusal as a friendly message with the select put back, invite someone,
create a service account, and visit every settings page without script errors or
horizontal overflow on a phone-sized screen."""

from __future__ import annotations

import re

import pytest

from apps.teams import services as team_services
from tests.e2e.pages import PASSWORD, screenshot, script_errors
from tests.factories import UserFactory, make_project, make_team

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def acme():
    admin = UserFactory(email="grace@acme.example", password=PASSWORD)
    team = make_team("acme", admin)
    for email, role in [("alan@acme.example", "member"), ("edsger@acme.example", "viewer")]:
        team_services.membership_add(team=team, user=UserFactory(email=email), role=role)
    make_project(team, "resnet", actor=admin, description="ResNet-50 on ImageNet")
    make_project(team, "bert-finetune", actor=admin, visibility="restricted")
    make_project(team, "demo", actor=admin, visibility="public", description="Public demo")
    return team


@pytest.mark.parametrize("color_scheme", ["light", "dark"])
def test_team_administration(live_server, acme, browser, screenshots_dir, color_scheme):
    from playwright.sync_api import expect

    context = browser.new_context(
        base_url=live_server.url, color_scheme=color_scheme, viewport={"width": 1280, "height": 860}
    )
    page = context.new_page()
    errors = script_errors(page)
    shot = f"{color_scheme}-team-"

    page.goto("/accounts/login/")
    screenshot(page, screenshots_dir, shot + "01-login")
    page.get_by_label("Email").fill("grace@acme.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/grace/$"))  # the personal team

    page.goto("/teams/")
    expect(page.get_by_role("link", name="Acme")).to_be_visible()
    screenshot(page, screenshots_dir, shot + "02-team-list")

    page.goto("/acme/")
    expect(page.get_by_test_id("project-grid").locator("a")).to_have_count(3)
    screenshot(page, screenshots_dir, shot + "03-projects")

    # Change a role in place: htmx posts on change and swaps the members table.
    page.goto("/acme/settings/members")
    alan = page.locator('tr[data-member="alan@acme.example"]')
    alan.get_by_role("combobox").select_option("viewer")
    expect(page.get_by_text("alan@acme.example is now viewer.")).to_be_visible()
    expect(page.locator('tr[data-member="alan@acme.example"] select')).to_have_value("viewer")
    # The swapped-in table must be settled (htmx bound to its selects) before the next change.
    page.wait_for_function(
        "!document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
    )

    # The last admin cannot demote herself: a friendly error, the select goes back.
    grace = page.locator('tr[data-member="grace@acme.example"]')
    grace.get_by_role("combobox").select_option("member")
    expect(page.locator("#flash")).to_contain_text("The last admin of a team cannot be demoted.")
    expect(grace.get_by_role("combobox")).to_have_value("admin")
    screenshot(page, screenshots_dir, shot + "04-members-last-admin")

    page.goto("/acme/settings/invitations")
    page.get_by_label("Email").fill("barbara@example.com")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.locator('tr[data-invitation="barbara@example.com"]')).to_be_visible()
    expect(page.get_by_test_id("secret").locator("input")).to_have_value(
        re.compile(r"/invitations/")
    )
    screenshot(page, screenshots_dir, shot + "05-invitations")

    page.goto("/acme/settings/service-accounts")
    page.get_by_label("Name").fill("ci-pipeline")
    page.get_by_label("Role").select_option("member")
    page.get_by_role("button", name="Create", exact=True).click()
    expect(page.locator('tr[data-service-account="ci-pipeline"]')).to_be_visible()
    expect(page.get_by_test_id("secret").locator("input")).to_have_value(re.compile(r"^gl-"))
    screenshot(page, screenshots_dir, shot + "06-service-accounts")

    page.goto("/acme/settings/audit")
    expect(page.get_by_text("member.role_changed")).to_be_visible()
    screenshot(page, screenshots_dir, shot + "07-audit")

    page.goto("/acme/settings/")
    screenshot(page, screenshots_dir, shot + "08-general")

    page.goto("/acme/settings/scim")
    page.get_by_label("Name").fill("okta")
    page.get_by_role("button", name="Create token").click()
    expect(page.locator("tr[data-scim-token]")).to_have_count(1)
    expect(page.get_by_test_id("secret").locator("input")).to_have_value(re.compile(r"^glscim-"))
    screenshot(page, screenshots_dir, shot + "08-scim")

    # Phone width: nothing wider than the screen on the busiest pages.
    page.set_viewport_size({"width": 390, "height": 800})
    for path in [
        "/acme/",
        "/acme/settings/members",
        "/acme/settings/service-accounts",
        "/acme/settings/invitations",
        "/acme/settings/scim",
    ]:
        page.goto(path)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, (path, overflow)
        screenshot(page, screenshots_dir, shot + "09-mobile" + path.replace("/", "-"))
    page.goto("/acme/")
    screenshot(page, screenshots_dir, shot + "10-mobile-projects")

    assert errors == []
    # Last, as the browser logs the 404 of the document itself.
    page.goto("/acme/nope/")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    context.close()


def test_slug_field_validates_in_the_browser_and_404_is_the_apps_own(live_server, acme, browser):
    """Chromium compiles `pattern` with the `v` flag, where an unescaped '-' at the end of
    a class is an error: the browser then logs it and silently skips validation."""
    from playwright.sync_api import expect

    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    errors = script_errors(page)
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill("grace@acme.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/grace/$"))

    page.goto("/teams/")
    slug = page.locator("#team-slug")
    for value, valid in [("Bad Slug", False), ("trailing-", False), ("good-slug-2", True)]:
        slug.fill(value)
        assert slug.evaluate("el => el.checkValidity()") is valid, value
    assert slug.evaluate("el => el.validity.patternMismatch") is False

    response = page.goto("/no-such-team/nothing/here")
    assert response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    assert "URLconf" not in page.content()
    assert not errors, errors
    context.close()
