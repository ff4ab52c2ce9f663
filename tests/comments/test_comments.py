"""Comments through the API: Markdown renders inert, mentions reach only members who may
see the target, authors (and admins) change comments, other teams get 404 for
comments, mentions and notifications; webhook URLs to internal addresses are refused."""

from __future__ import annotations

import pytest
from django.core import mail

from apps.notifications.models import Notification
from apps.projects.models import Visibility
from tests.conftest import client_for
from tests.factories import make_project
from tests.runs.conftest import make_run

pytestmark = pytest.mark.django_db


def _url(team, project, run):
    return f"/api/v1/teams/{team.slug}/projects/{project.name}/runs/{run.uid}/comments"


@pytest.fixture
def run(team, project, admin_user):
    return make_run(team, project, admin_user)


HOSTILE = """**bold** and [home](https://example.org)
<script>alert(1)</script>
[click](javascript:alert(1)) [data](data:text/html;base64,PHNjcmlwdD4=)
<img src=x onerror=alert(1)> <a href="#" onclick="steal()">x</a>
<iframe src="https://evil.example"></iframe><b style="color:red">raw</b>
![pic](javascript:alert(2))
"""


def _elements(html: str) -> list[tuple[str, list]]:
    """Every element the browser would build from `html`, with its attributes."""
    from html.parser import HTMLParser

    found = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, attrs))

    Collect().feed(html)
    return found


def test_markdown_with_script_links_handlers_and_raw_html_renders_inert(
    team, project, run, admin_user
):
    api = client_for(admin_user)
    response = api.post(_url(team, project, run), {"body": HOSTILE})
    assert response.status_code == 201, response.content
    html = response.json()["html"]
    assert "<strong>bold</strong>" in html
    assert 'href="https://example.org"' in html and "noopener" in html
    tags = _elements(html)
    assert {tag for tag, _ in tags} <= {"p", "strong", "a", "br"}, tags
    for tag, attrs in tags:
        for name, value in attrs:
            assert not name.startswith("on") and name != "style", (tag, name)
            if name == "href":
                assert value.startswith("https://"), value
    assert "&lt;script&gt;" in html  # raw HTML is shown as text, never parsed
    listed = api.get(_url(team, project, run)).json()["comments"]
    assert listed[0]["html"] == html and listed[0]["body"] == HOSTILE


def test_a_mention_notifies_members_only_and_mails_them(
    team, project, run, admin_user, member_user, other_admin, django_capture_on_commit_callbacks
):
    api = client_for(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            _url(team, project, run), {"body": "@member and @admin@b.example, see this"}
        )
    assert response.status_code == 201
    assert response.json()["mentions"] == [member_user.pk]  # team B's admin is no member here
    assert [m.to for m in mail.outbox] == [[member_user.email]]
    assert mail.outbox[0].alternatives and "List-Unsubscribe" in mail.outbox[0].extra_headers
    assert Notification.objects.for_team(team).filter(recipient=other_admin).count() == 0
    note = Notification.objects.for_team(team).get(recipient=member_user)
    mine = client_for(member_user).get(f"/api/v1/notifications/{note.pk}")
    assert mine.status_code == 200 and mine.json()["kind"] == "mention"
    # Another team's user reads, marks and lists nothing of it.
    stranger = client_for(other_admin)
    assert stranger.get(f"/api/v1/notifications/{note.pk}").status_code == 404
    assert stranger.patch(f"/api/v1/notifications/{note.pk}", {"read": True}).status_code == 404
    assert stranger.get("/api/v1/notifications").json()["results"] == []
    marked = stranger.post("/api/v1/notifications/read", {"ids": [note.pk]}).json()
    assert marked["marked"] == 0
    assert client_for(member_user).get("/api/v1/notifications").json()["unread"] == 1


def test_mention_autocomplete_lists_only_members_who_may_see_the_target(
    team, admin_user, member_user, viewer_user, other_admin
):
    api = client_for(admin_user)
    url = f"/api/v1/teams/{team.slug}/mentionable"
    handles = [m["handle"] for m in api.get(url, {"prefix": ""}).json()["members"]]
    assert handles == ["admin", "member", "viewer"]
    assert [m["handle"] for m in api.get(url, {"prefix": "me"}).json()["members"]] == ["member"]
    # A restricted project: only admins and its creator may see it, so only they are offered.
    make_project(team, "secret", actor=member_user, visibility=Visibility.RESTRICTED)
    seen = [m["handle"] for m in api.get(url, {"project": "secret"}).json()["members"]]
    assert seen == ["admin", "member"]
    assert client_for(viewer_user).get(url, {"project": "secret"}).status_code == 404
    # Team B's admin may not list team A's members at all.
    assert client_for(other_admin).get(url).status_code == 404


def test_another_team_cannot_read_write_or_follow_comments(
    team, project, run, admin_user, other_admin, other_team
):
    api = client_for(admin_user)
    comment = api.post(_url(team, project, run), {"body": "private"}).json()
    stranger = client_for(other_admin)
    assert stranger.get(_url(team, project, run)).status_code == 404
    assert stranger.post(_url(team, project, run), {"body": "hi"}).status_code == 404
    assert stranger.get(f"{_url(team, project, run)}/{comment['id']}").status_code == 404
    assert (
        stranger.patch(f"{_url(team, project, run)}/{comment['id']}", {"body": "x"}).status_code
        == 404
    )
    # Team B's own run with the same id does not reach team A's comment either.
    other_project = make_project(other_team, "resnet", actor=other_admin)
    other_run = make_run(other_team, other_project, other_admin)
    assert (
        stranger.get(f"{_url(other_team, other_project, other_run)}/{comment['id']}").status_code
        == 404
    )
    assert stranger.get(_url(other_team, other_project, other_run)).json()["comments"] == []


def test_authors_change_their_own_comments_and_admins_any(
    team, project, run, admin_user, member_user, viewer_user
):
    member = client_for(member_user)
    admin = client_for(admin_user)
    theirs = admin.post(_url(team, project, run), {"body": "admin's"}).json()
    mine = member.post(_url(team, project, run), {"body": "member's"}).json()
    reply = member.post(
        _url(team, project, run), {"body": "a reply", "parent": theirs["id"]}
    ).json()
    assert reply["parent"] == theirs["id"]
    assert (
        member.patch(f"{_url(team, project, run)}/{theirs['id']}", {"body": "hijack"}).status_code
        == 403
    )
    assert member.delete(f"{_url(team, project, run)}/{theirs['id']}").status_code == 403
    edited = member.patch(
        f"{_url(team, project, run)}/{mine['id']}", {"body": "member's, *edited*"}
    )
    assert edited.status_code == 200 and "<em>edited</em>" in edited.json()["html"]
    assert edited.json()["edited_at"] is not None
    assert admin.delete(f"{_url(team, project, run)}/{mine['id']}").status_code == 204
    assert admin.delete(f"{_url(team, project, run)}/{theirs['id']}").status_code == 204
    listed = member.get(_url(team, project, run)).json()["comments"]
    # The deleted parent stays as a placeholder for its reply; the other is gone.
    assert [(c["id"], c["deleted"], c["body"]) for c in listed] == [
        (theirs["id"], True, ""),
        (reply["id"], False, "a reply"),
    ]
    viewer = client_for(viewer_user)
    assert viewer.get(_url(team, project, run)).status_code == 200
    assert viewer.post(_url(team, project, run), {"body": "can I?"}).status_code == 403
    bad = member.post(_url(team, project, run), {"body": "  "})
    assert bad.status_code == 400 and bad.json()["error"]["detail"]["field"] == "body"
    bad = member.post(_url(team, project, run), {"body": "x", "parent": 10**9})
    assert bad.status_code == 400 and bad.json()["error"]["detail"]["field"] == "parent"


def test_comment_counts_of_runs(team, project, run, admin_user, member_user):
    api = client_for(admin_user)
    other = make_run(team, project, member_user, uid="run2")
    for _ in range(2):
        api.post(_url(team, project, run), {"body": "c"})
    base = f"/api/v1/teams/{team.slug}/projects/{project.name}/comment-counts/runs"
    assert api.get(base).json()["counts"] == {run.uid: 2}
    assert api.get(base, {"runs": f"{run.uid},{other.uid}"}).json()["counts"] == {run.uid: 2}


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://100.64.0.1/hook",
        "http://0.0.0.0/hook",
        "ftp://example.org/hook",
        "http://user:pw@example.org/hook",
    ],
)
def test_webhook_urls_to_internal_addresses_are_refused(team, admin_user, url):
    response = client_for(admin_user).post(
        f"/api/v1/teams/{team.slug}/integrations", {"name": "x", "url": url}
    )
    assert response.status_code == 400, response.content
    assert response.json()["error"]["detail"]["field"] == "url"


def test_private_webhook_urls_are_allowed_by_the_setting(team, admin_user, member_user, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    url = f"/api/v1/teams/{team.slug}/integrations"
    created = client_for(admin_user).post(url, {"name": "on-prem", "url": "http://10.1.2.3/hook"})
    assert created.status_code == 201 and created.json()["secret"].startswith("whsec_")
    assert client_for(member_user).get(url).status_code == 403  # admins only


def test_activity_feed_shows_runs_and_comments(team, project, run, admin_user):
    api = client_for(admin_user)
    api.post(_url(team, project, run), {"body": "first!"})
    feed = api.get(f"/api/v1/teams/{team.slug}/projects/{project.name}/activity").json()["results"]
    kinds = [item["kind"] for item in feed]
    assert kinds[0] == "comment" and "run_started" in kinds
    page = api.get(f"/api/v1/teams/{team.slug}/activity", {"limit": 1}).json()
    assert len(page["results"]) == 1 and page["next_before"]
    rest = api.get(f"/api/v1/teams/{team.slug}/activity", {"before": page["next_before"]}).json()
    assert page["results"][0] not in rest["results"] and rest["results"]
    bad = api.get(f"/api/v1/teams/{team.slug}/activity", {"before": "garbage"})
    assert bad.status_code == 400 and bad.json()["error"]["detail"]["field"] == "before"


def test_registered_model_comments_and_their_count_on_the_registry_page(
    team, project, admin_user, member_user, viewer_user, other_team, other_admin
):
    from django.test import Client

    from tests.route_objects import World, _registered_model

    world = World(team, project, admin_user, member_user, viewer_user, other_team, other_admin)
    name = _registered_model(world).registered_model.name
    url = f"/api/v1/teams/{team.slug}/registered-models/{name}/comments"
    member = client_for(member_user)
    assert member.post(url, {"body": "ready for **production**?"}).status_code == 201
    assert client_for(other_admin).get(url).status_code == 404
    browser = Client()
    browser.force_login(viewer_user)
    page = browser.get(f"/{team.slug}/registry").content.decode()
    assert f'<tr data-model="{name}">' in page and 'data-comment-count="1"' in page
    detail = browser.get(f"/{team.slug}/registry/models/{name}").content.decode()
    assert 'id="comments-config"' in detail and 'data-testid="comments"' in detail


@pytest.mark.django_db(transaction=True)
async def test_live_comment_sockets_admit_like_the_api(team, project, admin_user, other_admin):
    from asgiref.sync import sync_to_async
    from django.contrib.auth.models import AnonymousUser

    from tests.notifications.test_delivery import Socket

    run = await sync_to_async(make_run)(team, project, admin_user)
    path = f"/ws/teams/{team.slug}/projects/{project.name}/runs/{run.uid}/comments"
    admitted = Socket(admin_user, path)
    assert await admitted.connect() == (True, None)
    await admitted.close()
    assert await Socket(other_admin, path).connect() == (False, 4404)
    missing = f"/ws/teams/{team.slug}/projects/{project.name}/runs/nope/comments"
    assert await Socket(admin_user, missing).connect() == (False, 4404)
    assert await Socket(AnonymousUser(), path).connect() == (False, 4401)
    assert await Socket(AnonymousUser(), "/ws/notifications").connect() == (False, 4401)
    listener = Socket(admin_user, path)
    await listener.connect()
    api = await sync_to_async(client_for)(admin_user)
    created = await sync_to_async(api.post)(_url(team, project, run), {"body": "live"})
    message = await listener.receive_json()
    assert message == {"type": "comment.created", "comment": created.json()["id"], "parent": None}
    await listener.close()
