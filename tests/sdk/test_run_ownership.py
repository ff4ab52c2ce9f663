"""Run ownership through the SDK against a real server (issue 16 item 4): a member-role
service account logs, resumes and edits the runs it created; another member of the team
can neither resume nor edit them; the team admin can."""

from __future__ import annotations

import pytest

import gradline
from gradline import Api, UsageError
from gradline.transport import CommError
from tests.sdk.conftest import stored_points


def test_service_account_logs_and_resumes_its_runs_a_member_may_not(server, sdk_db, sdk_settings):
    seed = sdk_db.seed
    ci = sdk_settings(api_key=seed.service_key)
    first = gradline.init(project="owned", id="ci-run", settings=ci)
    for step in range(3):
        first.log({"loss": 1.0 / (step + 1)})
    name = first.name
    first.finish()

    second = gradline.init(project="owned", id="ci-run", resume="allow", settings=ci)
    assert second.resumed and second.step == 3
    second.log({"loss": 0.1})
    second.finish()
    assert [s for _, s, _ in stored_points(sdk_db, "ci-run", "owned")] == [0, 1, 2, 3]

    # Another member of the team: resuming (and so logging into) the run is refused.
    member = sdk_settings(api_key=seed.member_key)
    with pytest.raises(UsageError, match="created by someone else"):
        gradline.init(project="owned", id="ci-run", resume="allow", settings=member)
    path = f"{seed.team}/owned/ci-run"
    theirs = Api(api_key=seed.member_key, base_url=server.url).run(path)
    theirs.name = "renamed by a member"
    with pytest.raises(CommError) as refused:
        theirs.update()
    assert refused.value.status == 403 and refused.value.detail["permission"] == "runs:write"

    # The creator edits it through the public Api; the admin may too.
    own = Api(api_key=seed.service_key, base_url=server.url).run(path)
    own.tags = ["ci"]
    own.update()
    admin = Api(api_key=seed.owner_key, base_url=server.url).run(path)
    admin.notes = "checked by the admin"
    admin.update()
    stored = Api(api_key=seed.owner_key, base_url=server.url).run(path)
    assert (stored.name, stored.tags, stored.notes) == (name, ["ci"], "checked by the admin")
    assert [s for _, s, _ in stored_points(sdk_db, "ci-run", "owned")] == [0, 1, 2, 3]
