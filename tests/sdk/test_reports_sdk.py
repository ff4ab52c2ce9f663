"""`Api().reports(path)` (W&B's `api.reports`) against the real server: the project's
reports the key may read, with title, url, version and body; another team's key sees
none of them."""

from __future__ import annotations

import pytest
import requests

from gradline import Api
from gradline.transport import CommError

PROJECT = "sdk-reports"


def test_api_reports_lists_a_projects_reports(server, sdk_db):
    owner = requests.Session()
    owner.headers["Authorization"] = f"Bearer {sdk_db.seed.owner_key}"
    base = f"{server.url}/api/v1/teams/sdk-team/projects/{PROJECT}"
    assert owner.post(f"{base}/runs", json={"id": "rep-run"}).status_code == 201
    body = '# Results\n\n```panel\n{"type": "chart", "keys": ["loss"]}\n```\n'
    made = owner.post(f"{base}/reports", json={"title": "Results", "body": body})
    assert made.status_code == 201, made.text
    draft = owner.post(f"{base}/reports", json={"title": "Draft", "sharing": "private"})
    assert draft.status_code == 201

    api = Api(api_key=sdk_db.seed.owner_key, base_url=server.url)
    reports = api.reports(f"sdk-team/{PROJECT}")
    assert [r.title for r in reports] == ["Draft", "Results"]  # newest first
    results = api.reports(f"sdk-team/{PROJECT}", name="Results")[0]
    assert results.display_name == "Results" and results.version == 1
    assert results.url == f"{server.url}/sdk-team/{PROJECT}/reports/{made.json()['id']}"
    assert results.body == body and results.panels[0]["keys"] == ["loss"]
    assert results.user["name"]

    # The member reads the team report, not the owner's private draft.
    member = Api(api_key=sdk_db.seed.member_key, base_url=server.url)
    assert [r.title for r in member.reports(f"sdk-team/{PROJECT}")] == ["Results"]
    # Another team's key: 404, the same as a missing project.
    outsider = Api(api_key=sdk_db.seed.outsider_key, base_url=server.url)
    with pytest.raises(CommError) as caught:
        outsider.reports(f"sdk-team/{PROJECT}")
    assert caught.value.status == 404
