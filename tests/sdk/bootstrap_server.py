"""Run by the SDK test harness in a subprocess: migrate the SDK test database and create
the people, teams and API keys the tests use. Prints one JSON line."""

from __future__ import annotations

import os
import sys

import django
import orjson


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    django.setup()
    from django.core.management import call_command

    from apps.accounts import onboarding
    from apps.accounts import services as account_services
    from apps.teams import services as team_services

    call_command("migrate", interactive=False, verbosity=0)
    owner = onboarding.user_signup(email="owner@sdk.example", password="sdk-pass-12345")
    viewer = onboarding.user_signup(email="viewer@sdk.example", password="sdk-pass-12345")
    outsider = onboarding.user_signup(email="other@sdk.example", password="sdk-pass-12345")
    team = team_services.team_create(creator=owner, slug="sdk-team", name="SDK team")
    # The product brief's samples read runs back from "my-project/my-project".
    team_services.team_create(creator=owner, slug="my-project", name="My project")
    team_services.membership_add(team=team, user=viewer, role="viewer")
    # A second member and a member-role service account (CI), for run ownership.
    member = onboarding.user_signup(email="member@sdk.example", password="sdk-pass-12345")
    team_services.membership_add(team=team, user=member, role="member")
    _, _, service_secret = team_services.service_account_provision(
        team=team, name="ci", role="member", actor=owner
    )
    team_services.team_create(creator=outsider, slug="other-team", name="Other team")
    out = {"service": service_secret}
    people = (("owner", owner), ("viewer", viewer), ("outsider", outsider), ("member", member))
    for label, user in people:
        _, secret = account_services.api_key_create(user=user, name="sdk tests")
        out[label] = secret
    sys.stdout.write(orjson.dumps(out).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
