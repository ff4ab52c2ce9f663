"""Reports through the API and the pages: each save is a version and an old one can be
restored; Markdown renders inert around validated panels; private reports and another
team's reports are 404; a published link shows the published version to exactly those
the project's visibility allows; comments on reports; deleting a report removes them."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.comments.models import Comment
from apps.projects.models import Visibility
from tests.conftest import client_for
from tests.factories import make_project
from tests.runs.conftest import make_run

pytestmark = pytest.mark.django_db

CHART = '```panel\n{"type": "chart", "keys": ["loss"], "runs": {"limit": 5}}\n```\n'


def _base(team, project) -> str:
    return f"/api/v1/teams/{team.slug}/projects/{project.name}/reports"


def _login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _create(api, team, project, **data):
    response = api.post(_base(team, project), {"title": "Findings", **data})
    assert response.status_code == 201, response.content
    return response.json()


def test_each_save_is_a_version_and_restore_brings_an_old_one_back(
    team, project, member_user, admin_user
):
    api = client_for(member_user)
    report = _create(api, team, project, body="# First\n\nloss went down")
    url = f"{_base(team, project)}/{report['id']}"
    assert report["version"] == 1 and report["url"].endswith(f"/reports/{report['id']}")
    saved = api.patch(url, {"body": "# Second\n\n" + CHART, "base_version": 1})
    assert saved.status_code == 200, saved.content
    assert saved.json()["version"] == 2
    assert saved.json()["panels"][0]["keys"] == ["loss"]
    # Someone else's save meanwhile: 409 naming the version, nothing replaced.
    stale = client_for(admin_user).patch(url, {"body": "# Lost edit", "base_version": 1})
    assert stale.status_code == 409 and stale.json()["error"]["detail"]["version"] == 2
    # A change of description alone is no new version.
    assert api.patch(url, {"description": "d"}).json()["version"] == 2

    versions = api.get(f"{url}/versions").json()["results"]
    assert [v["number"] for v in versions] == [2, 1]
    old = api.get(f"{url}/versions/1").json()
    assert old["body"] == "# First\n\nloss went down"
    restored = api.post(f"{url}/versions/1/restore")
    assert restored.status_code == 200
    assert restored.json()["version"] == 3 and restored.json()["body"] == old["body"]
    versions = api.get(f"{url}/versions").json()["results"]
    assert versions[0]["note"] == "restored from v1"
    assert api.get(f"{url}/versions/9").status_code == 404

    # The pages: versions list, an old version, restore by form.
    web = _login(member_user)
    page = f"/{team.slug}/{project.name}/reports/{report['id']}"
    assert b"v2" in web.get(f"{page}/versions").content
    assert b"Second" in web.get(f"{page}/versions/2").content
    response = web.post(f"{page}/versions/2/restore")
    assert response.status_code == 302
    assert api.get(url).json()["version"] == 4
    assert "# Second" in api.get(url).json()["body"]


HOSTILE = """# Title
<script>alert(1)</script>
[click](javascript:alert(1)) <img src=x onerror=alert(1)>
<iframe src="https://evil.example"></iframe><b style="color:red">raw</b>

```panel
{"type": "chart", "keys": ["loss"], "title": "</script><script>alert(2)</script>"}
```
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


def test_markdown_and_panel_titles_render_inert(team, project, admin_user):
    api = client_for(admin_user)
    report = _create(api, team, project, body=HOSTILE)
    html = _login(admin_user).get(f"/{team.slug}/{project.name}/reports/{report['id']}")
    assert html.status_code == 200
    text = html.content.decode()
    document = text[text.index('data-testid="report-document"') :]
    document = document[: document.index("</article>")]
    elements = _elements(document)
    tags = {tag for tag, _ in elements}
    assert not tags & {"script", "iframe", "img", "style", "object", "embed"}, tags
    for tag, attrs in elements:
        for name, value in attrs:
            assert not name.startswith("on") and name != "style", (tag, name)
            assert not (value or "").lower().startswith("javascript:"), (tag, name, value)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in document  # raw HTML shows as text
    # The panel's hostile title is text in the caption and escaped in the page data.
    assert "&lt;/script&gt;&lt;script&gt;alert(2)" in document
    data = text[text.index('id="report-data"') :]
    assert "</script><script>alert(2)" not in data[: data.index("</script>")]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('```panel\n{"type": "chart"}\n```', "keys"),
        ('```panel\n{"type": "pie", "keys": ["a"]}\n```', "type"),
        ("```panel\nnot json\n```", "body"),
        (
            '```panel\n{"type": "runs", "runs": {"filters": {"bogus": 1}}}\n```',
            "filters",
        ),
        ('```panel\n{"type": "runs", "runs": {"limit": 500}}\n```', "limit"),
        ('```panel\n{"type": "runs", "runs": {"order": "nonsense"}}\n```', "order"),
    ],
)
def test_bad_panels_are_400_naming_the_panel(team, project, admin_user, body, field):
    api = client_for(admin_user)
    response = api.post(_base(team, project), {"title": "t", "body": "intro\n\n" + body})
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["detail"]["field"] == field and error["detail"]["panel"] == 1
    assert error["message"].startswith("Panel 1:")


def test_private_reports_are_their_authors_and_admins(team, project, member_user, admin_user):
    from tests.conftest import _member

    other_member = _member(team, "member", "m2@a.example")
    author = client_for(member_user)
    report = _create(author, team, project, body="draft", sharing="private")
    url = f"{_base(team, project)}/{report['id']}"
    stranger = client_for(other_member)
    assert stranger.get(url).status_code == 404
    assert stranger.get(f"{url}/comments").status_code == 404
    assert stranger.get(f"{url}/versions").status_code == 404
    assert report["id"] not in [
        r["id"] for r in stranger.get(_base(team, project)).json()["results"]
    ]
    assert client_for(admin_user).get(url).status_code == 200
    page = f"/{team.slug}/{project.name}/reports/{report['id']}"
    assert _login(other_member).get(page).status_code == 404
    # Sharing is the author's (or an admin's) to change; a writer who reads it may edit.
    shared = author.patch(url, {"sharing": "team"})
    assert shared.status_code == 200
    assert stranger.get(url).status_code == 200
    assert stranger.patch(url, {"sharing": "private"}).status_code == 403
    assert stranger.post(f"{url}/publish").status_code == 403
    assert stranger.delete(url).status_code == 403
    assert stranger.patch(url, {"body": "edited together"}).json()["version"] == 2


def test_another_teams_reports_are_404(team, project, admin_user, other_admin, other_team):
    report = _create(client_for(admin_user), team, project)
    outsider = client_for(other_admin)
    base = _base(team, project)
    for path in ("", "/versions", "/versions/1", "/comments", "/exports/1"):
        assert outsider.get(f"{base}/{report['id']}{path}").status_code == 404, path
    assert outsider.post(f"{base}/{report['id']}/versions/1/restore").status_code == 404
    assert outsider.post(f"{base}/{report['id']}/exports").status_code == 404
    # The other team's own project of the same name does not reach it either.
    make_project(other_team, project.name, actor=other_admin)
    other_base = _base(other_team, project)
    assert outsider.get(f"{other_base}/{report['id']}").status_code == 404
    page = f"/{team.slug}/{project.name}/reports/{report['id']}"
    assert _login(other_admin).get(page).status_code == 404


def _publish(api, team, project, report_id) -> str:
    response = api.post(f"{_base(team, project)}/{report_id}/publish")
    assert response.status_code == 200, response.content
    link = response.json()["share_url"]
    return link[link.index("/teams/reports/") :]


def test_published_link_follows_the_projects_visibility(
    team, project, admin_user, member_user, other_admin
):
    api = client_for(admin_user)
    run = make_run(team, project, admin_user, uid="secret-run")
    report = _create(api, team, project, body="# Published text\n\n" + CHART)
    link = _publish(api, team, project, report["id"])
    api.patch(f"{_base(team, project)}/{report['id']}", {"body": "# Later draft"})

    # A team project: members read the published version (not the later draft) ...
    page = _login(member_user).get(link)
    assert page.status_code == 200
    assert b"Published text" in page.content and b"Later draft" not in page.content
    # ... another team's user gets 404, a signed-out reader the sign-in page, and the
    # panels' data stays closed to both.
    assert _login(other_admin).get(link).status_code == 404
    anonymous = Client().get(link)
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    runs = f"/api/v1/teams/{team.slug}/projects/{project.name}/runs"
    assert Client().get(runs).status_code in (401, 404)
    assert client_for(other_admin).get(runs).status_code == 404
    # A token that names nothing answers the same as one that names a private report.
    assert Client().get("/teams/reports/nope").status_code == 302
    assert _login(other_admin).get("/teams/reports/nope").status_code == 404

    # Public project: anyone reads the link and the runs its panels show.
    project.visibility = Visibility.PUBLIC
    project.save(update_fields=["visibility"])
    assert Client().get(link).status_code == 200
    assert Client().get(f"{runs}/{run.uid}").status_code == 200
    # Restricted: admins and the creator only.
    project.visibility = Visibility.RESTRICTED
    project.save(update_fields=["visibility"])
    assert _login(member_user).get(link).status_code == 404
    assert _login(admin_user).get(link).status_code == 200

    # Unpublished: the link is dead for everyone.
    project.visibility = Visibility.PUBLIC
    project.save(update_fields=["visibility"])
    assert api.delete(f"{_base(team, project)}/{report['id']}/publish").status_code == 200
    assert _login(admin_user).get(link).status_code == 404


def test_comments_on_a_report_and_deleting_it_removes_them(team, project, admin_user, member_user):
    api = client_for(member_user)
    report = _create(api, team, project)
    comments = f"{_base(team, project)}/{report['id']}/comments"
    posted = api.post(comments, {"body": "Nice **chart**"})
    assert posted.status_code == 201, posted.content
    assert "<strong>chart</strong>" in posted.json()["html"]
    assert [c["id"] for c in client_for(admin_user).get(comments).json()["comments"]] == [
        posted.json()["id"]
    ]
    page = _login(member_user).get(f"/{team.slug}/{project.name}/reports/{report['id']}")
    assert b'id="comments-config"' in page.content
    assert (
        client_for(admin_user).delete(f"{_base(team, project)}/{report['id']}").status_code == 204
    )
    assert not Comment.objects.for_team(team).filter(target_kind="report").exists()
    assert api.get(comments).status_code == 404


def test_pages_list_create_edit_and_share(team, project, member_user, admin_user):
    web = _login(member_user)
    listing = f"/{team.slug}/{project.name}/reports"
    created = web.post(listing, {"title": "Weekly", "description": "what we learned"})
    assert created.status_code == 302 and created["Location"].endswith("/edit")
    edit = created["Location"]
    assert b"Insert panel" in web.get(edit).content
    saved = web.post(edit, {"title": "Weekly", "body": "# Weekly\n\n" + CHART, "base_version": "1"})
    assert saved.status_code == 302
    detail = saved["Location"]
    page = web.get(detail).content.decode()
    assert 'data-report-panel="1"' in page and 'data-panel-type="chart"' in page
    bad = web.post(edit, {"title": "Weekly", "body": '```panel\n{"type": "x"}\n```'})
    assert bad.status_code == 400 and b"Panel 1:" in bad.content
    assert b"Weekly" in web.get(listing).content
    # Sharing is the author's: publish by form, then the link is shown to them.
    assert web.post(f"{detail}/share", {"action": "publish"}).status_code == 302
    assert b'data-testid="share-link"' in web.get(detail).content
    assert web.post(f"{detail}/share", {"sharing": "private"}).status_code == 302
    assert b"private" in web.get(detail).content
    assert web.post(f"{detail}/delete").status_code == 302
    assert web.get(detail).status_code == 404
