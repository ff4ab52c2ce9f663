"""Comments and the notification bell in a real browser against the real ASGI server
(uvicorn: HTTP and WebSockets): the owner writes a comment on a run page, picks a
teammate from the @mention suggestions and posts it; in a second browser context the
mentioned member, reading the same run page, sees the comment arrive without a reload,
the bell's unread count go to 1 and a toast; the notifications page lists the mention.
No script errors, no CSP violations (the browser fixture checks)."""

from __future__ import annotations

import os
import re

import pytest
import requests

from tests.e2e.pages import screenshot, script_errors
from tests.sdk.harness import ServerProcess, TestDatabase, bootstrap

pytestmark = [pytest.mark.browser]
TestDatabase.__test__ = False

TEAM, PROJECT, RUN = "sdk-team", "collab", "run-c"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    db = TestDatabase(f"test_gradline_comments_{os.getpid()}")
    db.create()
    var_dir = tmp_path_factory.mktemp("comments-server")
    try:
        seed = bootstrap(db, var_dir)
        server = ServerProcess(db, var_dir).start()
        try:
            api = requests.Session()
            api.headers["Authorization"] = f"Bearer {seed.owner_key}"
            base = f"{server.url}/api/v1/teams/{TEAM}/projects/{PROJECT}/runs"
            assert api.post(base, json={"id": RUN, "name": "tuned"}).status_code == 201
            points = [["loss", s, 1 / (s + 1), 1.7e9 + s] for s in range(20)]
            assert api.post(f"{base}/{RUN}/ingest", json={"points": points}).status_code == 200
            yield server
        finally:
            server.stop()
    finally:
        db.drop()


PASSWORD = "sdk-pass-12345"  # tests/sdk/bootstrap_server.py


def sign_in(browser, base_url: str, email: str):
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/(?!accounts/)[a-z0-9-]+/$"))
    return context, page


def test_mention_on_a_run_page_arrives_live_and_rings_the_bell(server, browser, screenshots_dir):
    from playwright.sync_api import expect

    owner_context, owner = sign_in(browser, server.url, "owner@sdk.example")
    member_context, member = sign_in(browser, server.url, "member@sdk.example")
    owner_errors, member_errors = script_errors(owner), script_errors(member)
    run_page = f"/{TEAM}/{PROJECT}/runs/{RUN}"
    member.goto(run_page)
    expect(member.get_by_test_id("comments")).to_have_attribute("data-live", "on")
    expect(member.get_by_test_id("bell")).to_have_attribute("data-live", "on")
    expect(member.get_by_test_id("bell-count")).to_be_hidden()

    owner.goto(run_page)
    comments = owner.get_by_test_id("comments")
    comments.scroll_into_view_if_needed()
    box = owner.get_by_test_id("comment-input")
    box.click()
    box.press_sequentially("Converged nicely, @mem")
    suggestions = owner.get_by_test_id("mention-suggestions")
    expect(suggestions.locator("li")).to_have_count(1)
    expect(suggestions.locator("li").first).to_contain_text("@member")
    screenshot(owner, screenshots_dir, "comments-01-mention-suggestions")
    box.press("Enter")
    expect(box).to_have_value("Converged nicely, @member ")
    box.press_sequentially("— see **step 19** <script>alert(1)</script>")
    owner.get_by_test_id("comment-submit").click()
    mine = comments.locator(".comment")
    expect(mine).to_have_count(1)
    expect(mine.locator("strong", has_text="step 19")).to_be_visible()
    expect(mine.locator(".comment-body")).to_contain_text("<script>alert(1)</script>")
    expect(box).to_have_value("")

    # The member's page: the comment arrives over the WebSocket, the bell rings.
    arrived = member.get_by_test_id("comments").locator(".comment")
    expect(arrived).to_have_count(1)
    expect(arrived.locator(".comment-body")).to_contain_text("Converged nicely, @member")
    expect(arrived.locator("strong", has_text="step 19")).to_be_visible()
    expect(member.get_by_test_id("bell-count")).to_have_text("1")
    expect(member.get_by_test_id("notification-toast")).to_contain_text("mentioned you")
    member.get_by_test_id("comments").scroll_into_view_if_needed()
    screenshot(member, screenshots_dir, "comments-02-live-arrival-and-bell")

    # A reply from the member shows up on the owner's page live too.
    arrived.get_by_role("button", name="Reply").click()
    reply_box = arrived.get_by_role("textbox", name="Reply")
    reply_box.fill("Thanks! Shipping it.")
    arrived.get_by_role("button", name="Reply", exact=True).last.click()
    expect(owner.get_by_test_id("comments").locator(".comment-replies .comment")).to_contain_text(
        "Shipping it"
    )
    screenshot(owner, screenshots_dir, "comments-03-thread")

    # The workspace's runs table counts the run's comments beside its name.
    owner.goto(f"/{TEAM}/{PROJECT}/")
    expect(owner.locator('tr:has(a:text("tuned")) [data-comment-count]')).to_have_attribute(
        "data-comment-count", "2"
    )
    screenshot(owner, screenshots_dir, "comments-05-runs-table-count")

    member.get_by_test_id("bell").click()
    listed = member.get_by_test_id("notification-list")
    expect(listed).to_contain_text("mentioned you on run tuned")
    screenshot(member, screenshots_dir, "comments-04-notifications-page")
    assert owner_errors == [] and member_errors == []
    owner_context.close()
    member_context.close()
