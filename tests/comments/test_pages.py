"""The collaboration pages server side: integrations (admins), automations, activity,
notifications with their settings, and the unsubscribe page."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.automations.models import Automation
from apps.notifications import signing
from apps.notifications.models import Integration, Preference
from tests.runs.conftest import make_run

pytestmark = pytest.mark.django_db


def _browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_integrations_page_adds_public_endpoints_only(team, admin_user, member_user):
    admin = _browser(admin_user)
    url = f"/{team.slug}/settings/integrations"
    refused = admin.post(url, {"name": "internal", "url": "http://127.0.0.1/hook"})
    assert refused.status_code == 400 and b"public endpoints only" in refused.content
    assert not Integration.objects.for_team(team).exists()
    assert _browser(member_user).get(url).status_code == 403
    page = admin.get(url)
    assert page.status_code == 200 and b"Add an integration" in page.content


def test_automations_page_lists_and_adds_rules(team, project, admin_user, member_user):
    admin = _browser(admin_user)
    url = f"/{team.slug}/automations"
    created = admin.post(
        url,
        {
            "name": "failures",
            "target": f"project:{project.name}",
            "trigger": "run_failed",
            "condition": "",
            "action": "notify",
            "action_config": '{"run_owner": true}',
        },
    )
    assert created.status_code == 302
    assert Automation.objects.for_team(team).get().trigger == "run_failed"
    bad = admin.post(
        url, {"name": "x", "target": "project:nope", "trigger": "run_failed", "action": "notify"}
    )
    assert bad.status_code == 400
    page = _browser(member_user).get(url)
    assert (
        page.status_code == 200
        and b"failures" in page.content
        and b"Add an automation" not in page.content
    )


def test_activity_pages(team, project, admin_user, member_user):
    make_run(team, project, member_user, name="bright-sun-1")
    for url in (f"/{team.slug}/{project.name}/activity", f"/{team.slug}/activity"):
        page = _browser(admin_user).get(url)
        assert page.status_code == 200 and b"started run bright-sun-1" in page.content


def test_notifications_page_saves_settings_and_unsubscribe_asks_first(admin_user):
    token = signing.unsubscribe_token(admin_user.pk, "alert")
    anonymous = Client()
    asked = anonymous.get(f"/notifications/unsubscribe/{token}")
    assert asked.status_code == 200 and b"Unsubscribe?" in asked.content
    assert not Preference.objects.filter(user=admin_user, kind="alert").exists()  # GET: nothing
    done = anonymous.post(f"/notifications/unsubscribe/{token}")
    assert done.status_code == 200
    assert Preference.objects.get(user=admin_user, kind="alert").email is False
    assert anonymous.get("/notifications/unsubscribe/7:alert:forged").status_code == 404

    browser = _browser(admin_user)
    assert browser.get("/notifications").status_code == 200
    browser.post("/notifications", {"mention-in_app": "on", "mention-email": "on"})
    mention = Preference.objects.get(user=admin_user, kind="mention")
    assert mention.in_app is True and mention.email is True
    assert Preference.objects.get(user=admin_user, kind="comment").in_app is False
    assert Client().get("/notifications").status_code in (302, 401)
