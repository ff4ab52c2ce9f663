"""SCIM 2.0 per team over real HTTP (requests against the ASGI app served by uvicorn):
what Okta and Entra ID do — provision, look up by filter, update, deactivate,
re-activate, delete, role groups — and who is refused (docs/identity.md "SCIM")."""

from __future__ import annotations

import pytest
import requests
from allauth.usersessions.models import UserSession
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.test import Client, RequestFactory

from apps.accounts.models import ApiKey, User
from apps.scim import services as scim_services
from apps.sso.models import TeamSSOConfig, VerifiedDomain
from apps.teams import services as team_services
from apps.teams.models import AuditEvent, Membership
from tests.factories import UserFactory, make_key, make_team

SCIM_JSON = "application/scim+json"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


@pytest.fixture
def world(scim_server):
    admin = UserFactory(email="admin@a.example")
    team = make_team("team-a", admin)
    VerifiedDomain.objects.for_team(team).create(
        team=team, domain="corp.example", verified_by=admin
    )
    other_admin = UserFactory(email="admin@b.example")
    other = make_team("team-b", other_admin)
    _, secret = scim_services.scim_token_create(team=team, name="okta", actor=admin)
    _, other_secret = scim_services.scim_token_create(team=other, name="b", actor=other_admin)
    http = requests.Session()
    http.headers.update({"Authorization": f"Bearer {secret}", "Content-Type": SCIM_JSON})
    return {
        "team": team,
        "admin": admin,
        "other": other,
        "other_admin": other_admin,
        "secret": secret,
        "other_secret": other_secret,
        "http": http,
        "base": f"{scim_server.url}/scim/v2/teams/team-a/",
        "server": scim_server,
    }


def _call(method: str, url: str, **kwargs) -> requests.Response:
    return requests.request(method, url, timeout=60, **kwargs)


def _new_user(world, email="ada@corp.example", **extra):
    body = {
        "schemas": [USER_SCHEMA],
        "userName": email,
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"value": email, "primary": True, "type": "work"}],
        "externalId": "00u-ada",
        "active": True,
        **extra,
    }
    response = world["http"].post(world["base"] + "Users", json=body)
    assert response.status_code == 201, response.text
    assert response.headers["Content-Type"].startswith(SCIM_JSON)
    return response.json()


def _patch(world, path, operations):
    return world["http"].patch(
        world["base"] + path, json={"schemas": [PATCH_SCHEMA], "Operations": operations}
    )


def _actions(team):
    return list(AuditEvent.objects.filter(team=team).values_list("action", flat=True))


def test_discovery_endpoints(world):
    http, base = world["http"], world["base"]
    config = http.get(base + "ServiceProviderConfig")
    assert config.status_code == 200
    assert config.json()["patch"]["supported"] is True
    types = http.get(base + "ResourceTypes").json()
    assert {t["id"] for t in types["Resources"]} == {"User", "Group"}
    schemas = http.get(base + "Schemas").json()
    assert USER_SCHEMA in {s["id"] for s in schemas["Resources"]}
    assert http.get(base + "Schemas/" + USER_SCHEMA).status_code == 200


def test_create_lists_filters_and_joins_with_the_default_role(world):
    team = world["team"]
    TeamSSOConfig.objects.for_team(team).create(team=team, jit_role="viewer")
    created = _new_user(world)
    assert created["userName"] == "ada@corp.example"
    assert created["active"] is True
    assert created["externalId"] == "00u-ada"
    assert created["name"]["formatted"] == "Ada Lovelace"
    user = User.objects.get(email="ada@corp.example")
    assert not user.has_usable_password()  # they sign in through the team's IdP
    assert Membership.objects.for_team(team).get(user=user).role == "viewer"
    assert "scim.user_created" in _actions(team)
    event = AuditEvent.objects.get(team=team, action="scim.user_created")
    assert event.actor is None and event.detail["token"] == world["secret"][:16]

    http, base = world["http"], world["base"]
    found = http.get(base + "Users", params={"filter": 'userName eq "ADA@corp.example"'}).json()
    assert found["totalResults"] == 1 and found["Resources"][0]["id"] == created["id"]
    by_external = http.get(base + "Users", params={"filter": 'externalId eq "00u-ada"'}).json()
    assert [r["id"] for r in by_external["Resources"]] == [created["id"]]
    none = http.get(base + "Users", params={"filter": 'userName eq "nobody@corp.example"'})
    assert none.json()["totalResults"] == 0
    page = http.get(base + "Users", params={"startIndex": 2, "count": 1}).json()
    assert page["totalResults"] == 2 and page["startIndex"] == 2 and page["itemsPerPage"] == 1
    assert http.get(base + f"Users/{created['id']}").json()["userName"] == "ada@corp.example"
    # Creating the same user again is a SCIM 409 (uniqueness).
    again = http.post(base + "Users", json={"userName": "ada@corp.example"})
    assert again.status_code == 409 and again.json()["scimType"] == "uniqueness"


def test_update_name_with_put_and_patch(world):
    created = _new_user(world)
    http, base = world["http"], world["base"]
    put = http.put(
        base + f"Users/{created['id']}",
        json={"schemas": [USER_SCHEMA], "userName": "ada@corp.example",
              "name": {"formatted": "Ada King"}, "externalId": "00u-ada", "active": True},
    )  # fmt: skip
    assert put.status_code == 200, put.text
    assert User.objects.get(email="ada@corp.example").name == "Ada King"
    patched = _patch(
        world,
        f"Users/{created['id']}",
        [{"op": "Replace", "path": "name.familyName", "value": "B"}],
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"]["formatted"] == "Ada B"
    assert "scim.user_updated" in _actions(world["team"])
    renamed = http.put(base + f"Users/{created['id']}", json={"userName": "eve@corp.example"})
    assert renamed.status_code == 400 and renamed.json()["scimType"] == "mutability"


def test_deactivate_revokes_membership_sessions_and_team_keys_then_reactivate(world):
    team, http, base = world["team"], world["http"], world["base"]
    created = _new_user(world)
    user = User.objects.get(email="ada@corp.example")
    team_key = make_key(user, team)
    other_team_key = make_key(user, world["other"])  # a key for another team stays
    # A signed-in browser session of the user, recorded as allauth records every sign-in
    # (password, code, IdP: allauth.usersessions on its user_logged_in), used over HTTP.
    browser = Client()
    browser.force_login(user)
    session_key = browser.cookies["sessionid"].value
    request = RequestFactory().get("/")
    UserSession.objects.create_from_request(
        request, user=user, session=SessionStore(session_key=session_key)
    )
    page = _call("GET",
        world["server"].url + "/team-a/settings/members", cookies={"sessionid": session_key},
        allow_redirects=False,
    )  # fmt: skip
    assert page.status_code == 200
    assert UserSession.objects.filter(user=user).exists()

    response = _patch(
        world, f"Users/{created['id']}", [{"op": "replace", "value": {"active": False}}]
    )
    assert response.status_code == 200, response.text
    assert response.json()["active"] is False
    assert not Membership.objects.for_team(team).filter(user=user).exists()
    assert ApiKey.objects.get(prefix=team_key[:12]).revoked_at is not None
    assert ApiKey.objects.get(prefix=other_team_key[:12]).revoked_at is None
    assert not UserSession.objects.filter(user=user).exists()
    assert not Session.objects.filter(session_key=session_key).exists()
    after = _call("GET",
        world["server"].url + "/team-a/settings/members", cookies={"sessionid": session_key},
        allow_redirects=False,
    )  # fmt: skip
    assert after.status_code == 302 and "/accounts/login" in after.headers["Location"]
    api = _call(
        "GET",
        world["server"].url + "/api/v1/teams/team-a/projects",
        headers={"Authorization": f"Bearer {team_key}"},
    )
    assert api.status_code == 401
    event = AuditEvent.objects.get(team=team, action="scim.user_deactivated")
    assert event.detail["keys_revoked"] == 1 and event.detail["sessions_ended"] >= 1
    # Still a SCIM user of the team (inactive), found by its filter.
    inactive = http.get(base + "Users", params={"filter": "active eq false"}).json()
    assert [r["id"] for r in inactive["Resources"]] == [created["id"]]

    # Entra re-activates with a string boolean.
    back = _patch(
        world, f"Users/{created['id']}", [{"op": "Replace", "path": "active", "value": "True"}]
    )
    assert back.status_code == 200 and back.json()["active"] is True
    assert Membership.objects.for_team(team).get(user=user).role == "member"
    assert "scim.user_reactivated" in _actions(team)


def test_delete_removes_the_member_not_the_account(world):
    team, http, base = world["team"], world["http"], world["base"]
    # An existing account that also belongs to team B.
    user = UserFactory(email="bob@corp.example")
    team_services.membership_add(team=world["other"], user=user, role="member")
    created = _new_user(world, email="bob@corp.example")
    assert created["name"]["formatted"] == user.name  # not renamed by team A's IdP
    response = http.delete(base + f"Users/{created['id']}")
    assert response.status_code == 204
    assert User.objects.filter(pk=user.pk).exists()
    assert not Membership.objects.for_team(team).filter(user=user).exists()
    assert Membership.objects.for_team(world["other"]).filter(user=user).exists()
    assert http.get(base + f"Users/{created['id']}").status_code == 404
    assert "scim.user_deleted" in _actions(team)


def test_groups_are_roles_and_members_move_between_them(world):
    team, http, base = world["team"], world["http"], world["base"]
    created = _new_user(world)
    user_id = created["id"]
    groups = http.get(base + "Groups").json()
    assert {"admin", "member", "viewer"} <= {g["id"] for g in groups["Resources"]}
    found = http.get(base + "Groups", params={"filter": 'displayName eq "Admin"'}).json()
    assert [g["id"] for g in found["Resources"]] == ["admin"]

    added = _patch(
        world, "Groups/admin", [{"op": "add", "path": "members", "value": [{"value": user_id}]}]
    )
    assert added.status_code == 200, added.text
    assert user_id in [m["value"] for m in added.json()["members"]]
    assert Membership.objects.for_team(team).get(user_id=int(user_id)).role == "admin"
    removed = _patch(
        world, "Groups/admin", [{"op": "remove", "path": f'members[value eq "{user_id}"]'}]
    )
    assert removed.status_code == 200, removed.text
    assert Membership.objects.for_team(team).get(user_id=int(user_id)).role == "member"
    assert _actions(team).count("scim.group_updated") == 2
    # The team's last admin cannot be moved out of admin by its IdP.
    last = _patch(
        world, "Groups/admin",
        [{"op": "remove", "path": f'members[value eq "{world["admin"].pk}"]'}],
    )  # fmt: skip
    assert last.status_code == 409
    assert http.get(base + "Groups/nope").status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "Users", "{"),
        ("POST", "Users", "[]"),
        ("POST", "Users", '{"userName": 5}'),
        ("POST", "Users", '{"userName": "not an email"}'),
        ("POST", "Users", '{"userName": "x@elsewhere.example"}'),
        ("POST", "Users", '{"userName": "y@corp.example", "active": "maybe"}'),
        ("POST", "Users", '{"userName": "y@corp.example", "name": "flat"}'),
        ("PATCH", "Users/{id}", '{"Operations": "no"}'),
        ("PATCH", "Users/{id}", '{"Operations": [{"op": "jump"}]}'),
        ("PATCH", "Users/{id}", '{"Operations": [{"op": "replace", "path": "nope", "value": 1}]}'),
        ("PATCH", "Users/{id}", '{"Operations": [{"op": "replace", "path": "active", "value": 3}]}'),  # noqa: E501
        ("PUT", "Users/{id}", '{"name": {"formatted": 7}}'),
        ("PATCH", "Groups/admin", '{"Operations": [{"op": "add", "path": "members", "value": 1}]}'),
        ("PATCH", "Groups/admin", '{"Operations": [{"op": "add", "path": "members", "value": [{"value": "999999"}]}]}'),  # noqa: E501
        ("POST", "Groups", '{"displayName": "engineers"}'),
        ("GET", 'Users?filter=userName%20eq', ""),
        ("GET", 'Users?filter=nickName%20eq%20"x"', ""),
        ("GET", 'Users?filter=emails[type%20eq%20"work"]', ""),
        ("GET", "Users?startIndex=x", ""),
        ("GET", 'Groups?filter=members%20eq%20"1"', ""),
    ],
)  # fmt: skip
def test_bad_input_is_a_scim_400(world, method, path, body):
    created = _new_user(world)
    url = world["base"] + path.replace("{id}", created["id"])
    response = world["http"].request(method, url, data=body.encode())
    assert response.status_code == 400, response.text
    assert response.headers["Content-Type"].startswith(SCIM_JSON)
    error = response.json()
    assert error["schemas"] == [ERROR_SCHEMA] and error["status"] == "400" and error["detail"]


def test_who_is_refused(world):
    base, server = world["base"], world["server"]
    users = base + "Users"
    # No token, a malformed one, a revoked one: 401 with a SCIM error.
    assert _call("GET", users).status_code == 401
    assert _call("GET", users, headers={"Authorization": "Bearer glscim-nope"}).status_code == 401
    # Team B's token on team A's URL: 404, as for any other team's object; and on its own
    # URL it does not see team A's users.
    created = _new_user(world)
    b = {"Authorization": f"Bearer {world['other_secret']}"}
    assert _call("GET", users, headers=b).status_code == 404
    assert _call("GET", f"{users}/{created['id']}", headers=b).status_code == 404
    own = f"{server.url}/scim/v2/teams/team-b/Users/{created['id']}"
    assert _call("GET", own, headers=b).status_code == 404
    patched = _call(
        "PATCH",
        own,
        headers=b,
        json={"Operations": [{"op": "replace", "path": "active", "value": False}]},
    )
    assert patched.status_code == 404
    assert Membership.objects.for_team(world["team"]).filter(user_id=int(created["id"])).exists()
    # Team A admin's own API key and signed-in session do not reach SCIM.
    key = {"Authorization": f"Bearer {make_key(world['admin'])}"}
    assert _call("GET", users, headers=key).status_code == 401
    browser = Client()
    browser.force_login(world["admin"])
    session = {"sessionid": browser.cookies["sessionid"].value}
    assert _call("GET", users, cookies=session).status_code == 401
    assert (
        _call("POST", users, cookies=session, json={"userName": "z@corp.example"}).status_code
        == 401
    )
    # A revoked token stops at once.
    token = scim_services.selectors.scim_tokens(world["team"]).get()
    scim_services.scim_token_revoke(team=world["team"], token_id=token.pk, actor=world["admin"])
    assert world["http"].get(users).status_code == 401


def test_entra_shaped_requests(world):
    """Entra ID's default attribute mapping sends attributes Gradline does not keep, string
    booleans and paths with dotted names; they are accepted."""
    http, base = world["http"], world["base"]
    created = http.post(
        base + "Users",
        json={
            "schemas": [USER_SCHEMA, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            "externalId": "entra-1", "userName": "cy@corp.example", "active": True,
            "displayName": "Cy Young", "title": "Engineer",
            "emails": [{"primary": True, "type": "work", "value": "cy@corp.example"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "ML"},
        },
    )  # fmt: skip
    assert created.status_code == 201, created.text
    assert created.json()["displayName"] == "Cy Young"
    user_id = created.json()["id"]
    patched = _patch(
        world,
        f"Users/{user_id}",
        [
            {"op": "Add", "path": "title", "value": "Lead"},
            {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "cy@corp.example"},
            {
                "op": "Replace",
                "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
                "value": "Research",
            },
            {"op": "Replace", "path": "name", "value": {"givenName": "Cyrus", "familyName": "Y"}},
            {"op": "Replace", "path": "active", "value": "False"},
        ],
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"]["formatted"] == "Cyrus Y"
    assert patched.json()["active"] is False
    far = http.get(base + "Users", params={"startIndex": 10**30, "count": 10**30})
    assert far.status_code == 200 and far.json()["Resources"] == []
