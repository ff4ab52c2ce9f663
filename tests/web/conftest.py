"""Fixtures for web page tests: a signed-in Django test client per role, and one object
of each kind in team A so every object route can be addressed."""

from __future__ import annotations

import hashlib
import io

import pytest
from django.test import Client
from django.urls import get_resolver

from apps.accounts import services as account_services
from apps.registry import services as registry_services
from apps.runs import services as run_services
from apps.sweeps import services as sweep_services
from apps.teams import services as team_services
from tests.route_objects import World


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def web_for():
    return login


@pytest.fixture
def team_objects(team, admin_user, member_user, viewer_user, project, other_team, other_admin):
    """One object per id-taking route in team A: ids that exist there (the collaboration
    objects made as the route matrix makes them, tests/route_objects.py)."""
    world = World(team, project, admin_user, member_user, viewer_user, other_team, other_admin)
    invitation, token = team_services.invitation_create(
        team=team, email="invitee@a.example", role="member", actor=admin_user
    )
    account, _, _ = team_services.service_account_provision(
        team=team, name="ci", role="member", actor=admin_user
    )
    api_key, _ = account_services.api_key_create(user=admin_user, name="laptop")
    custom_role = team_services.custom_role_create(
        team=team, name="analyst", base_role="viewer", actor=admin_user
    )
    # Registry pages: artifact `classifier` v0, alias `best`, file `model.pkl`, linked as
    # v0 of the registered model `classifier` (alias `best` there too), so `name`, `ref`
    # and `alias` name real objects on artifact and registered-model routes alike.
    content = b"model weights"
    digest = hashlib.sha256(content).hexdigest()
    registry_services.blob_put(team=team, sha256=digest, stream=io.BytesIO(content))
    version, _ = registry_services.version_create(
        team=team,
        project=project,
        name="classifier",
        data={
            "type": "model",
            "aliases": ["best"],
            "files": [{"path": "model.pkl", "sha256": digest, "size": len(content)}],
        },
        actor=member_user,
    )
    registry_services.registered_model_link(
        team=team,
        name="classifier",
        source=version,
        aliases=["best"],
        actor=admin_user,
        permissions=frozenset({"registry:promote"}),
    )
    # Sweep pages: a random sweep with one trial handed out.
    sweep = sweep_services.sweep_create(
        team=team,
        project=project,
        project_name=project.name,
        actor=member_user,
        data={
            "config": {
                "method": "random",
                "metric": {"name": "loss", "goal": "minimize"},
                "parameters": {"lr": {"min": 0.001, "max": 0.1}},
            }
        },
    )
    sweep_services.trial_next(team=team, sweep=sweep)
    # Run pages: run `web-run` by the member.
    run_services.run_create_or_resume(
        team=team,
        project=project,
        project_name=project.name,
        actor=member_user,
        data={"id": "web-run"},
    )
    return {
        "team": team.slug,
        "project": project.name,
        "user_id": member_user.pk,
        "invitation_id": invitation.pk,
        "key_id": api_key.pk,
        "account_id": account.pk,
        "role_id": custom_role.pk,
        "token": token,
        "name": "classifier",
        "ref": "v0",
        "alias": "best",
        "path": "model.pkl",
        "sweep": sweep.uid,
        "run": "web-run",
        **{name: world.value(name) for name in ("automation_id", "integration_id", "delivery_id")},
        # Reports (apps/reports): the route matrix's report, its version 1 and share link.
        **{name: world.value(name) for name in ("report_id", "version", "export_id")},
        "share_token": world.get("report").publish_token,
        "domain_id": world.value("domain_id"),  # a verified SSO domain (apps/sso)
        # The route matrix's monitor (apps/monitoring) and deployment (apps/deployments).
        "monitor": world.value("monitor"),
        "deployment_id": world.value("deployment_id"),
        "scim_token_id": world.value("scim_token_id"),  # a SCIM token (apps/scim)
    }


def web_route_params() -> dict[str, list[str]]:
    """URL name -> its path parameters, for every route in the "web" namespace."""
    resolver = get_resolver().namespace_dict["web"][1]
    params = {}
    for key in resolver.reverse_dict:
        if isinstance(key, str):
            possibilities = resolver.reverse_dict.getlist(key)[0][0]
            params[f"web:{key}"] = list(possibilities[0][1])
    return params
