"""Emails sent by team actions."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse


def invitation_send(invitation, token: str) -> str:
    """Mail the accept link to the invitee; returns the link."""
    url = settings.PUBLIC_BASE_URL + reverse("web:invitation-accept", kwargs={"token": token})
    send_mail(
        subject=f"You are invited to {invitation.team.name} on Gradline",
        message=(
            f"{invitation.invited_by.email if invitation.invited_by else 'Someone'} invited "
            f"you to join the team {invitation.team.name} as {invitation.role_name}.\n\n"
            f"Accept: {url}\n\nThe link expires on {invitation.expires_at:%Y-%m-%d}."
        ),
        from_email=None,
        recipient_list=[invitation.email],
    )
    return url
