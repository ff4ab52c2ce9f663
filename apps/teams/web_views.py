"""Team pages."""

from __future__ import annotations

from django.shortcuts import redirect, render

from apps.core.errors import NotFound
from apps.teams import services


def invitation_accept(request, token):
    if request.method == "POST":
        try:
            membership = services.invitation_accept(token=token, user=request.user)
        except NotFound as exc:
            return render(
                request, "errors/error.html", {"status": 404, "message": exc.message}, status=404
            )
        return redirect("web:project-list", team=membership.team.slug)
    return render(request, "teams/invitation_accept.html", {"token": token})
