"""The Content-Security-Policy in a real browser: inline script and style attributes
are refused and reported (so the `browser` fixture's violation check, which every
browser test has, can see them), and the API docs, account and 2FA pages load without one."""

from __future__ import annotations

import re
import time

import pytest

from tests.e2e.pages import PASSWORD, policy_violations, script_errors, sign_in
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_inline_script_and_style_attributes_are_refused_and_reported(live_server, browser):
    # Bypass the fixture's watcher (it would fail this test for the violations it provokes
    # on purpose) by calling the class's own new_context.
    context = type(browser).new_context(browser, base_url=live_server.url)
    try:
        violations = policy_violations(context)
        page = context.new_page()
        page.goto("/accounts/login/")
        page.wait_for_selector("form")
        assert violations == []
        outcome = page.evaluate(
            """() => {
              window.inlineRan = false;
              const script = document.createElement("script");
              script.textContent = "window.inlineRan = true";
              document.body.append(script);
              document.body.setAttribute("style", "outline: 5px solid red");
              return {
                inlineRan: window.inlineRan,
                outline: getComputedStyle(document.body).outlineWidth,
              };
            }"""
        )
        assert outcome["inlineRan"] is False
        assert outcome["outline"] != "5px"
        # The page saw both violations; their console reports reach Python in order.
        page.wait_for_function("() => window.__cspViolations.length >= 2", timeout=30_000)
        deadline = time.monotonic() + 30
        while len(violations) < 2 and time.monotonic() < deadline:
            page.evaluate("() => 0")  # a round trip delivers pending console events
        text = "\n".join(violations)
        for directive in ("script-src-elem", "style-src-attr"):
            assert f'"directive":"{directive}"' in text, text
    finally:
        context.close()


def test_api_docs_render_under_the_policy(live_server, browser):
    page = browser.new_page(base_url=live_server.url)
    errors = script_errors(page)
    page.goto("/api/docs/")
    # Swagger UI draws the operations progressively: wait for more than a first handful.
    # Rendered: the operations of the expanded tags are drawn (Swagger UI opens the first
    # tags only, so the count is that of those tags, not of the whole API).
    page.wait_for_selector(".swagger-ui .opblock")
    assert page.locator(".swagger-ui .opblock").count() >= 5
    assert errors == []


@pytest.fixture
def account():
    from allauth.account.models import EmailAddress

    user = UserFactory(email="ada@policy.example", password=PASSWORD)
    # Two-factor setup is offered only with a verified address.
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    return user


def test_account_and_two_factor_pages_render_under_the_policy(live_server, account, browser):
    from playwright.sync_api import expect

    context, page = sign_in(browser, live_server.url, account.email, "light")
    errors = script_errors(page)
    for path in ["/accounts/email/", "/accounts/password/change/", "/accounts/2fa/"]:
        page.goto(path)
        expect(page.locator("main h1").first).to_be_visible()
    # Setting up an authenticator asks for the password again, then shows a QR code
    # (a data: URI image).
    page.goto("/accounts/2fa/totp/activate/")
    page.wait_for_url(re.compile(r"/accounts/reauthenticate/"))
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/accounts/2fa/totp/activate/"))
    qr = page.locator("main img").first
    assert qr.get_attribute("src").startswith("data:image/")
    page.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0", arg=qr.element_handle(), timeout=30_000
    )
    context.close()
    assert errors == []
