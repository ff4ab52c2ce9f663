"""The first five minutes in a real browser: sign up through the UI, land on the
personal team's project list, create a project, create an API key and see its secret
exactly once, then use it against the API."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.e2e.pages import PASSWORD, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EMAIL = "ada-e2e@example.com"


def _viewer(base_url: str, secret: str) -> dict:
    response = httpx.get(
        f"{base_url}/api/v1/viewer", headers={"Authorization": f"Bearer {secret}"}, timeout=10
    )
    response.raise_for_status()
    return response.json()


@pytest.mark.parametrize("color_scheme", ["light", "dark"])
def test_signup_project_and_api_key(live_server, browser, screenshots_dir, color_scheme):
    from playwright.sync_api import expect

    context = browser.new_context(
        base_url=live_server.url, color_scheme=color_scheme, viewport={"width": 1280, "height": 860}
    )
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = context.new_page()
    shot = f"{color_scheme}-"

    page.goto("/accounts/signup/")
    screenshot(page, screenshots_dir, shot + "01-signup")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password (again)").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()

    # Lands on the personal team's (empty) project list, with the create form open.
    expect(page).to_have_url(re.compile(r"/ada-e2e/$"))
    expect(page.get_by_role("heading", name="Projects", exact=True)).to_be_visible()
    screenshot(page, screenshots_dir, shot + "02-projects-empty")

    page.get_by_label("Name").fill("mnist")
    page.get_by_label("Description").fill("Digits, the classic.")
    page.get_by_role("button", name="Create project").click()
    expect(page).to_have_url(re.compile(r"/ada-e2e/mnist/$"))
    expect(page.get_by_text("Project mnist created.")).to_be_visible()
    screenshot(page, screenshots_dir, shot + "03-project")

    page.get_by_role("link", name="Create an API key").click()
    expect(page).to_have_url(re.compile(r"/ada-e2e/settings/api-keys$"))
    page.get_by_label("Name").fill("laptop")
    page.get_by_role("button", name="Create key").click()  # htmx: swaps the section

    secret_box = page.get_by_test_id("secret")
    expect(secret_box).to_be_visible()
    secret = secret_box.locator("input").input_value()
    assert re.fullmatch(r"gl-[A-Za-z0-9]{40,}", secret)
    expect(page.get_by_text("API key laptop created.")).to_be_visible()
    secret_box.get_by_role("button", name="Copy").click()
    expect(secret_box.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    screenshot(page, screenshots_dir, shot + "04-api-key-created")

    # The key works, and the secret is never shown again.
    assert _viewer(live_server.url, secret)["email"] == EMAIL
    page.reload()
    expect(page.get_by_test_id("secret")).to_have_count(0)
    assert secret not in page.content()
    expect(page.locator("tr[data-key]")).to_have_count(1)
    screenshot(page, screenshots_dir, shot + "05-api-keys")

    page.goto("/ada-e2e/settings/members")
    screenshot(page, screenshots_dir, shot + "06-members")
    page.goto("/ada-e2e/mnist/settings")
    screenshot(page, screenshots_dir, shot + "07-project-settings")
    page.goto("/accounts/email/")
    expect(page.get_by_role("heading", name="Email addresses")).to_be_visible()
    expect(page.locator("main").get_by_text(EMAIL, exact=True)).to_be_visible()
    screenshot(page, screenshots_dir, shot + "08-account-email")
    page.goto("/accounts/2fa/")
    screenshot(page, screenshots_dir, shot + "08b-account-2fa")

    # Sign out from the account menu; the landing page offers sign-in again.
    page.get_by_label("Account menu").click()
    page.get_by_role("menuitem", name="Sign out").click()
    expect(page.get_by_role("link", name="Create an account")).to_be_visible()
    screenshot(page, screenshots_dir, shot + "09-home-signed-out")
    page.goto("/accounts/password/reset/")
    expect(page.get_by_role("heading", name="Reset your password")).to_be_visible()
    screenshot(page, screenshots_dir, shot + "10-password-reset")
    context.close()
