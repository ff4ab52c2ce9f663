"""Notification reads. A user's notifications are their own across teams: every read
filters by recipient and by the teams the user still belongs to (leaving a team hides its
notifications); team integrations and deliveries are read with the team first."""

from __future__ import annotations

from apps.core.errors import NotFound
from apps.notifications.models import Delivery, DeliveryAttempt, Integration, Notification
from apps.teams.models import Membership


def _mine(user):
    teams = Membership.objects.of_user(user).values("team_id")
    return (
        Notification.objects.across_teams()
        .filter(recipient=user, team_id__in=teams)
        .select_related("event", "team")
    )


def notifications_of(
    user, *, unread_only: bool = False, before_id: int | None = None, limit: int = 50
):
    qs = _mine(user)
    if unread_only:
        qs = qs.filter(read_at=None)
    if before_id is not None:
        qs = qs.filter(pk__lt=before_id)
    return list(qs.order_by("-pk")[:limit])


def unread_count(user) -> int:
    return _mine(user).filter(read_at=None).count()


def notification_get(user, notification_id: int) -> Notification:
    found = _mine(user).filter(pk=notification_id).first()
    if found is None:
        raise NotFound("Notification not found.")
    return found


def integrations_list(team) -> list[Integration]:
    return list(Integration.objects.for_team(team).order_by("name", "id"))


def deliveries_of(team, integration: Integration, limit: int = 100) -> list[Delivery]:
    return list(
        Delivery.objects.for_team(team)
        .filter(integration=integration)
        .select_related("event")
        .order_by("-pk")[:limit]
    )


def delivery_get(team, integration: Integration, delivery_id: int) -> Delivery:
    found = (
        Delivery.objects.for_team(team)
        .filter(integration=integration, pk=delivery_id)
        .select_related("event")
        .first()
    )
    if found is None:
        raise NotFound("Delivery not found.")
    return found


def attempts_of(team, delivery: Delivery) -> list[DeliveryAttempt]:
    return list(DeliveryAttempt.objects.for_team(team).filter(delivery=delivery).order_by("number"))
