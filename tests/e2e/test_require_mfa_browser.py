"""A team that requires MFA, in a real browser: a member without a second factor who
opens the team is sent to two-factor enrolment with a message saying why; after setting
up an authenticator app the team's pages open."""

from __future__ import annotations

import re

import pyotp
import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

from apps.teams import services as team_services
from tests.e2e.pages import PASSWORD, screenshot, script_errors, sign_in
from tests.factories import UserFactory, make_project, make_team

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def secure_team():
    from allauth.account.models import EmailAddress

    admin = UserFactory(email="grace@acme.example", password=PASSWORD)
    TOTP.activate(admin, generate_totp_secret())
    team = make_team("acme", admin)
    member = UserFactory(email="alan@acme.example", password=PASSWORD)
    # Two-factor setup is offered only with a verified address.
    EmailAddress.objects.create(user=member, email=member.email, verified=True, primary=True)
    team_services.membership_add(team=team, user=member, role="member")
    make_project(team, "resnet", actor=admin)
    team_services.team_set_require_mfa(team=team, require_mfa=True, actor=admin)
    return team


def test_member_without_mfa_is_sent_to_enrolment(
    live_server, secure_team, browser, screenshots_dir
):
    from playwright.sync_api import expect

    context, page = sign_in(browser, live_server.url, "alan@acme.example", "light")
    errors = script_errors(page)

    page.goto("/acme/")
    expect(page).to_have_url(re.compile(r"/accounts/2fa/$"))
    expect(page.get_by_text("requires two-factor authentication")).to_be_visible()
    screenshot(page, screenshots_dir, "identity-01-mfa-required")

    # Enrol: the password again, then the authenticator app's secret and a current code.
    page.goto("/accounts/2fa/totp/activate/")
    page.wait_for_url(re.compile(r"/accounts/reauthenticate/"))
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/accounts/2fa/totp/activate/"))
    secret = page.locator("#authenticator_secret").input_value()
    page.locator("input[name=code]").fill(pyotp.TOTP(secret).now())
    page.locator("main form button[type=submit]").click()
    expect(page).not_to_have_url(re.compile(r"/totp/activate/"))  # activated, moved on

    page.goto("/acme/")
    expect(page).to_have_url(re.compile(r"/acme/$"))
    expect(page.get_by_text("resnet").first).to_be_visible()
    screenshot(page, screenshots_dir, "identity-02-team-after-enrolment")
    context.close()
    # The notifications socket (templates/base.html) cannot connect to this WSGI test
    # server; that is the collaboration pages' concern, not this flow's.
    assert [e for e in errors if "WebSocket connection" not in e] == []


def test_admin_creates_a_custom_role_and_assigns_it(live_server, browser, screenshots_dir):
    from playwright.sync_api import expect

    admin = UserFactory(email="ada@lab.example", password=PASSWORD)
    team = make_team("lab", admin)
    team_services.membership_add(
        team=team, user=UserFactory(email="kat@lab.example"), role="member"
    )
    context, page = sign_in(browser, live_server.url, admin.email, "light")
    errors = script_errors(page)

    page.goto("/lab/settings/roles")
    page.get_by_label("Name").fill("auditor")
    page.get_by_label("Base role").select_option("viewer")
    page.get_by_label("Add team:audit").check()
    page.get_by_label("Drop sweeps:read").check()
    page.get_by_role("button", name="Create role").click()
    row = page.locator('tr[data-role="auditor"]')
    expect(row).to_contain_text("team:audit")
    expect(row).to_contain_text("sweeps:read")
    screenshot(page, screenshots_dir, "identity-03-roles")

    page.goto("/lab/settings/members")
    kat = page.locator('tr[data-member="kat@lab.example"]')
    kat.get_by_role("combobox").select_option("auditor")
    expect(page.locator(".flash, [role=status], .alert").first).to_contain_text("auditor")
    page.goto("/lab/settings/")
    expect(page.get_by_label("Require two-factor authentication")).not_to_be_checked()
    screenshot(page, screenshots_dir, "identity-04-security-policy")
    context.close()
    assert [e for e in errors if "WebSocket connection" not in e] == []
