"""The Celery entry point of the team scope (DESIGN.md §2).

Guarantees: a `@team_task` is sent with a `team_id` (ids travel, never objects) and its
body runs with that Team resolved, exactly as a web or API entry point hands a team to
selectors and services. A team deleted between send and run makes the task a no-op
(returns None), so retries and late deliveries are harmless.

Not guaranteed: idempotency of the body itself; tasks are acked late and may run twice,
so bodies must be idempotent (DESIGN.md §7).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from celery import shared_task


def team_task(*task_args: Any, **task_options: Any) -> Callable:
    """`@team_task(name="…")` over `def body(team, *args, **kwargs)`; call it as
    `body.delay(team.pk, *args)` (or `.delay(team_id=…)`)."""

    def decorator(body: Callable) -> Any:
        @functools.wraps(body)
        def run_in_team(team_id: int, *args: Any, **kwargs: Any) -> Any:
            from apps.teams.models import Team

            team = Team.objects.filter(pk=int(team_id)).first()
            if team is None:
                return None
            return body(team, *args, **kwargs)

        return shared_task(*task_args, **task_options)(run_in_team)

    return decorator
