"""Single sign-on in a real browser: a team admin configures OIDC on the settings page
(against allauth's OpenID provider running as a second process) and verifies the team's
domain; a colleague then signs in through the IdP and lands in the team, just in time."""

from __future__ import annotations

import json
import re

import pytest
from allauth.account.models import EmailAddress

from apps.accounts.models import User
from apps.teams.models import Membership
from tests.e2e.pages import PASSWORD, screenshot, script_errors, sign_in
from tests.factories import UserFactory, make_project, make_team
from tests.sso.idp import IdP

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def idp():
    server = IdP().start()
    yield server
    server.stop()


@pytest.fixture
def acme(settings):
    settings.SSO_ALLOW_PRIVATE_ADDRESSES = True  # the IdP listens on 127.0.0.1
    admin = UserFactory(email="grace@acme.example", password=PASSWORD)
    EmailAddress.objects.create(user=admin, email=admin.email, verified=True, primary=True)
    team = make_team("acme", admin)
    make_project(team, "resnet", actor=admin)
    return team


def test_admin_configures_oidc_and_a_member_signs_in(
    live_server, acme, idp, browser, screenshots_dir
):
    from playwright.sync_api import expect

    idp.client(
        "gradline-e2e", "e2e-secret", [f"{live_server.url}/accounts/sso/acme/oidc/callback/"]
    )
    idp.user("alan@acme.example", password="alan-at-the-idp", groups=["ml-admins"])

    context, page = sign_in(browser, live_server.url, "grace@acme.example", "light")
    errors = script_errors(page)
    page.goto("/acme/settings/sso")
    expect(page.get_by_role("heading", name="Single sign-on", exact=True)).to_be_visible()
    page.get_by_label("Issuer URL").fill(idp.url)
    page.get_by_label("Client ID").fill("gradline-e2e")
    page.get_by_label("Client secret").fill("e2e-secret")
    page.get_by_label("Role for new members (just in time)").select_option("viewer")
    page.locator("#sso-groups").fill(json.dumps({"ml-admins": "member"}))
    page.get_by_role("button", name="Save single sign-on").click()
    expect(page.get_by_text("Single sign-on saved.")).to_be_visible()
    page.get_by_label("Domain").fill("acme.example")
    page.get_by_role("button", name="Verify domain").click()
    expect(page.get_by_text("acme.example verified for this team.")).to_be_visible()
    expect(page.get_by_label("Client secret")).to_have_attribute(
        "placeholder", "stored (leave empty to keep)"
    )  # saved, and not shown back
    screenshot(page, screenshots_dir, "identity-05-sso-settings")
    context.close()

    # A colleague who has no Gradline account yet signs in through the IdP.
    member = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    page = member.new_page()
    errors += script_errors(page)
    page.goto("/accounts/sso/acme/login/?next=/acme/")
    expect(page.get_by_role("heading", name="Sign in to Acme")).to_be_visible()
    screenshot(page, screenshots_dir, "identity-06-sso-sign-in")
    page.get_by_role("button", name="Continue with single sign-on").click()
    page.wait_for_url(re.compile(re.escape(idp.url) + r"/accounts/login/"))
    page.locator("input[name=login]").fill("alan@acme.example")
    page.locator("input[name=password]").fill("alan-at-the-idp")
    page.locator("form button[type=submit]").first.click()
    page.wait_for_url(re.compile(r"/acme/$"))
    expect(page.get_by_text("resnet").first).to_be_visible()
    screenshot(page, screenshots_dir, "identity-07-after-sso")
    member.close()
    membership = Membership.objects.for_team(acme).get(user__email="alan@acme.example")
    assert membership.role == "member"  # ml-admins -> member, over the JIT viewer role
    assert [e for e in errors if "WebSocket connection" not in e] == []


def test_require_sso_sends_a_password_session_to_sso_and_admins_break_glass(
    live_server, acme, idp, browser, screenshots_dir
):
    from playwright.sync_api import expect

    from apps.sso import services
    from apps.teams.models import AuditEvent

    admin = User.objects.get(email="grace@acme.example")
    idp.client(
        "gradline-e2e-2", "e2e-secret", [f"{live_server.url}/accounts/sso/acme/oidc/callback/"]
    )
    services.sso_config_save(
        team=acme,
        data={"protocol": "oidc", "issuer": idp.url, "client_id": "gradline-e2e-2",
              "client_secret": "e2e-secret", "require_sso": True},
        actor=admin,
    )  # fmt: skip
    context, page = sign_in(browser, live_server.url, "grace@acme.example", "dark")
    errors = script_errors(page)
    page.goto("/acme/")
    expect(page).to_have_url(re.compile(r"/accounts/sso/acme/login/\?next="))
    expect(page.get_by_text("This team requires single sign-on")).to_be_visible()
    page.get_by_text("Break-glass access (admins)").click()
    page.get_by_label("Reason").fill("IdP outage, incident 42")
    screenshot(page, screenshots_dir, "identity-08-require-sso-break-glass")
    page.get_by_role("button", name="Open Acme without SSO").click()
    page.wait_for_url(re.compile(r"/acme/$"))
    expect(page.get_by_text("resnet").first).to_be_visible()
    context.close()
    event = AuditEvent.objects.get(team=acme, action="sso.break_glass")
    assert event.detail == {"reason": "IdP outage, incident 42"}
    assert [e for e in errors if "WebSocket connection" not in e] == []
