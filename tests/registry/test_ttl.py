"""Artifact version time-to-live (W&B's Artifact.ttl; docs/registry.md "Time-to-live"):
set when a version is committed or with PATCH, refused on a version the model registry
links (and cleared by linking), and the beat task that deletes expired versions — through
the HTTP API and the task functions against real PostgreSQL."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from apps.core.errors import NotFound
from apps.registry import services, tasks
from apps.registry.models import AliasEvent, ArtifactAlias, ArtifactVersion
from tests.registry.test_api import log_version
from tests.runs.conftest import P, post_json

T = "/api/v1/teams/team-a"
pytestmark = pytest.mark.django_db


@pytest.fixture
def member_api(api_for, member_user, project):
    return api_for(member_user)


def patch_json(client, url: str, body):
    return client.patch(url, body, format="json")


def at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def link(client, artifact: str, ref: str, model: str = "clf"):
    return post_json(
        client,
        f"{T}/registered-models/{model}/versions",
        {"project": "resnet", "artifact": artifact, "ref": ref},
    )


def test_a_version_committed_with_a_ttl_expires_that_long_after_its_creation(member_api):
    r = log_version(member_api, "data", {"a.csv": b"1"}, ttl_seconds=2 * 86_400)
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["ttl_seconds"] == 2 * 86_400
    assert at(body["expires_at"]) - at(body["created_at"]) == timedelta(days=2)

    got = member_api.get(f"{P}/artifacts/data/versions/v0").json()
    assert (got["ttl_seconds"], got["expires_at"]) == (body["ttl_seconds"], body["expires_at"])
    [row] = member_api.get(f"{P}/artifacts/data").json()["versions"]
    assert (row["ttl_seconds"], row["expires_at"]) == (body["ttl_seconds"], body["expires_at"])

    # No ttl: never expires.
    r = log_version(member_api, "data", {"a.csv": b"2"})
    assert (r.json()["ttl_seconds"], r.json()["expires_at"]) == (None, None)
    r = log_version(member_api, "data", {"a.csv": b"3"}, ttl_seconds=None)
    assert (r.json()["ttl_seconds"], r.json()["expires_at"]) == (None, None)

    # Logging the same files again returns the existing version as it is (like its
    # description and metadata, its ttl changes with PATCH only).
    again = log_version(member_api, "data", {"a.csv": b"1"}, ttl_seconds=60)
    assert again.status_code == 200 and again.json()["ttl_seconds"] == 2 * 86_400


def test_the_ttl_of_a_version_is_changed_and_cleared_with_patch(member_api, team):
    created = log_version(member_api, "data", {"a.csv": b"1"}, description="kept").json()
    url = f"{P}/artifacts/data/versions/v0"
    r = patch_json(member_api, url, {"ttl_seconds": 3600})
    assert r.status_code == 200, r.content
    assert r.json()["ttl_seconds"] == 3600
    # Counted from the version's creation, not from the change.
    assert at(r.json()["expires_at"]) == at(created["created_at"]) + timedelta(hours=1)
    assert r.json()["description"] == "kept"  # fields not in the body stay
    assert member_api.get(url).json()["ttl_seconds"] == 3600

    # A PATCH without ttl_seconds leaves it; null clears it.
    r = patch_json(member_api, url, {"description": "changed"})
    assert r.json()["ttl_seconds"] == 3600 and r.json()["description"] == "changed"
    r = patch_json(member_api, url, {"ttl_seconds": None})
    assert (r.json()["ttl_seconds"], r.json()["expires_at"]) == (None, None)
    assert ArtifactVersion.objects.for_team(team).get(index=0).expires_at is None


@pytest.mark.parametrize("value", [0, -5, 1.5, 3600.0, "3600", True, [60], {"days": 1}, 10**12])
def test_bad_ttls_are_refused_naming_the_field(member_api, value):
    r = log_version(member_api, "data", {"a.csv": b"1"}, ttl_seconds=value)
    assert r.status_code == 400, r.content
    assert r.json()["error"]["detail"]["field"] == "ttl_seconds"
    assert member_api.get(f"{P}/artifacts/data").status_code == 404  # nothing committed

    log_version(member_api, "data", {"a.csv": b"1"})
    r = patch_json(member_api, f"{P}/artifacts/data/versions/v0", {"ttl_seconds": value})
    assert r.status_code == 400 and r.json()["error"]["detail"]["field"] == "ttl_seconds"
    assert member_api.get(f"{P}/artifacts/data/versions/v0").json()["ttl_seconds"] is None


def test_registry_versions_never_expire(member_api, team):
    log_version(member_api, "model", {"m.pkl": b"0"}, type="model", ttl_seconds=3600)
    url = f"{P}/artifacts/model/versions/v0"
    assert member_api.get(url).json()["ttl_seconds"] == 3600
    # Linking disables the ttl, as W&B does.
    assert link(member_api, "model", "v0").status_code == 201
    assert member_api.get(url).json()["ttl_seconds"] is None
    assert ArtifactVersion.objects.for_team(team).get(index=0).expires_at is None
    # And a linked version cannot get one back.
    r = patch_json(member_api, url, {"ttl_seconds": 60, "description": "not applied"})
    assert r.status_code == 409, r.content
    error = r.json()["error"]
    assert error["code"] == "linked_ttl" and "model registry" in error["message"]
    assert error["detail"] == {"field": "ttl_seconds", "registered_models": ["clf"]}
    got = member_api.get(url).json()
    assert got["ttl_seconds"] is None and got["description"] == ""
    # Clearing (null) is what it already is, and other edits still work.
    r = patch_json(member_api, url, {"ttl_seconds": None, "description": "prod"})
    assert r.status_code == 200 and r.json()["description"] == "prod"


def test_another_team_cannot_see_or_change_the_ttl(member_api, api_for, other_admin, other_team):
    log_version(member_api, "data", {"a.csv": b"1"}, ttl_seconds=3600)
    outsider = api_for(other_admin)
    r = patch_json(outsider, f"{P}/artifacts/data/versions/v0", {"ttl_seconds": 60})
    assert r.status_code == 404
    assert member_api.get(f"{P}/artifacts/data/versions/v0").json()["ttl_seconds"] == 3600


def test_viewers_cannot_change_the_ttl(member_api, api_for, viewer_user):
    log_version(member_api, "data", {"a.csv": b"1"})
    r = patch_json(api_for(viewer_user), f"{P}/artifacts/data/versions/v0", {"ttl_seconds": 60})
    assert r.status_code == 403
    assert member_api.get(f"{P}/artifacts/data/versions/v0").json()["ttl_seconds"] is None


def test_the_beat_task_deletes_exactly_the_expired_unlinked_versions(
    member_api, team, project, settings
):
    assert (
        settings.CELERY_BEAT_SCHEDULE["registry-expire-versions"]["task"]
        == "registry.expire_artifact_versions"
    )
    log_version(member_api, "data", {"a": b"expired"}, aliases=["best"], ttl_seconds=60)
    log_version(member_api, "data", {"a": b"unexpired"}, ttl_seconds=86_400)
    log_version(member_api, "data", {"a": b"no ttl"})
    log_version(member_api, "model", {"m": b"linked"}, type="model")
    assert link(member_api, "model", "v0").status_code == 201
    past = timezone.now() - timedelta(minutes=5)
    versions = ArtifactVersion.objects.for_team(team)
    versions.filter(artifact__name="data", index=0).update(expires_at=past)
    # Only possible by hand (linking clears a ttl): a linked version already past its time.
    versions.filter(artifact__name="model").update(ttl_seconds=60, expires_at=past)

    assert tasks.expire_artifact_versions() == 1  # one team fanned out (eager in tests)
    left = sorted(versions.values_list("artifact__name", "index"))
    assert left == [("data", 1), ("data", 2), ("model", 0)]
    assert not ArtifactAlias.objects.for_team(team).filter(alias="best").exists()
    event = AliasEvent.objects.for_team(team).filter(alias="best").order_by("-at").first()
    assert (event.from_version, event.to_version, event.actor) == ("v0", "", None)
    assert member_api.get(f"{P}/artifacts/data/versions/v0").status_code == 404
    assert member_api.get(f"{P}/artifacts/data/versions/latest").json()["version"] == "v2"
    assert member_api.get(f"{T}/registered-models/clf/versions/v0").status_code == 200

    # Idempotent: nothing else has expired.
    assert tasks.expire_artifact_versions() == 0  # the linked one is not counted
    assert services.versions_expire(team=team) == 0
    assert sorted(versions.values_list("artifact__name", "index")) == left


def test_expiry_follows_the_clock_it_is_given(member_api, team, project):
    created = log_version(member_api, "data", {"a": b"1"}, ttl_seconds=3600).json()
    expires = at(created["expires_at"])
    assert services.versions_expire(team=team, now=expires - timedelta(seconds=1)) == 0
    assert ArtifactVersion.objects.for_team(team).count() == 1
    assert services.versions_expire(team=team, now=expires) == 1
    assert ArtifactVersion.objects.for_team(team).count() == 0
    assert services.versions_expire(team=team, now=expires) == 0


def _together(*calls):
    """Run the calls on threads released at once; their results (or exceptions)."""
    start = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def body(i, call):
        try:
            start.wait(60)
            results[i] = call()
        except Exception as exc:  # reported by the assertions
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=body, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return results


@pytest.mark.django_db(transaction=True)
def test_expiry_racing_a_link_or_another_expiry_never_loses_a_linked_version(
    api_for, member_user, team, project
):
    """An expired version linked at the moment the task deletes it: either the link wins
    (the version stays, its ttl cleared) or the expiry does (the link is refused, nothing
    half-made). Two expiries at once delete it once."""
    client = api_for(member_user)
    versions = ArtifactVersion.objects.for_team(team)
    past = timezone.now() - timedelta(minutes=1)
    for round_ in range(12):
        body = log_version(client, "raced", {"m": f"{round_}".encode()}, type="model").json()
        versions.filter(index=body["index"]).update(ttl_seconds=1, expires_at=past)
        source = versions.select_related("artifact__project").get(index=body["index"])
        source.team = team
        # The service the link route calls, with the version the route resolved.
        linked, expired = _together(
            lambda source=source: services.registered_model_link(
                team=team,
                name="raced-clf",
                source=source,
                aliases=None,
                actor=member_user,
                permissions=frozenset(),
            ),
            lambda: services.versions_expire(team=team),
        )
        assert not isinstance(expired, Exception), expired
        kept = versions.filter(index=body["index"]).first()
        if isinstance(linked, Exception):
            assert isinstance(linked, NotFound), linked
            assert expired == 1 and kept is None
        else:
            link_row, created = linked
            assert created and expired == 0
            assert kept is not None and (kept.ttl_seconds, kept.expires_at) == (None, None)
            r = client.get(f"{T}/registered-models/raced-clf/versions/{link_row.label}")
            assert r.status_code == 200

        body = log_version(client, "twice", {"d": f"{round_}".encode()}, ttl_seconds=1).json()
        versions.filter(artifact__name="twice", index=body["index"]).update(expires_at=past)
        counts = _together(*[lambda: services.versions_expire(team=team)] * 2)
        assert sorted(counts) == [0, 1], counts
        assert not versions.filter(artifact__name="twice").exists()
