"""Notification pages: the signed-in user's notifications and email settings, the
one-click unsubscribe link of emails, and a team's integrations (admins)."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from apps.core.errors import DomainError
from apps.notifications import selectors, services
from apps.notifications.models import DEFAULTS, IntegrationType, Kind
from apps.notifications.signing import unsubscribe_read
from apps.teams import roles


def notification_list(request):
    if request.method == "POST":
        if request.POST.get("action") == "read-all":
            services.notifications_mark_read(user=request.user, ids=None)
            messages.success(request, "All notifications marked read.")
        else:
            choice = {
                kind: {
                    "in_app": request.POST.get(f"{kind}-in_app") == "on",
                    "email": request.POST.get(f"{kind}-email") == "on",
                }
                for kind in Kind.values
            }
            services.preferences_update(user=request.user, data=choice)
            messages.success(request, "Notification settings saved.")
        return redirect(reverse("web:notification-list"))
    prefs = services.preferences_of(request.user)
    rows = selectors.notifications_of(request.user, limit=100)
    # Shown here means seen: the list keeps their unread mark this once, the bell clears.
    shown = [{**services.notification_out(n), "when": n.created_at} for n in rows]
    services.notifications_mark_read(user=request.user, ids=[n.pk for n in rows if not n.read_at])
    context = {
        "notifications": shown,
        "preferences": [
            {"kind": k, "label": Kind(k).label, **prefs[k], "default": DEFAULTS[k]}
            for k in Kind.values
        ],
        "section": "notifications",
    }
    return render(request, "notifications/list.html", context)


@csrf_exempt  # authenticated by the signed token; mail clients POST without a session (RFC 8058)
def notification_unsubscribe(request, token):
    """GET shows a button (link scanners must not unsubscribe anyone); POST unsubscribes."""
    read = unsubscribe_read(token)
    valid = read is not None and read[1] in Kind.values
    done = valid and request.method == "POST" and services.unsubscribe(token=token) is not None
    return render(
        request,
        "notifications/unsubscribe.html",
        {"valid": valid, "done": done, "kind_label": Kind(read[1]).label if valid else ""},
        status=200 if valid else 404,
    )


def _integrations_context(request, **extra):
    scope = request.team_scope
    team = scope.team
    rows = []
    for integration in selectors.integrations_list(team):
        rows.append(
            {
                "integration": integration,
                "deliveries": selectors.deliveries_of(team, integration, limit=10),
            }
        )
    return {
        "scope": scope,
        "team": team,
        "section": "settings",
        "tab": "integrations",
        "can_manage": scope.has(roles.TEAM_MANAGE),
        "can_audit": scope.has(roles.TEAM_AUDIT),
        "integrations": rows,
        "types": IntegrationType.choices,
        "kinds": Kind.choices,
        **extra,
    }


def team_integrations(request, team):
    scope = request.team_scope
    if request.method == "POST":
        data = {
            "name": request.POST.get("name", ""),
            "type": request.POST.get("type", "webhook"),
            "url": request.POST.get("url", ""),
            "kinds": [k for k in request.POST.getlist("kinds") if k],
        }
        try:
            services.integration_create(team=scope.team, actor=request.user, data=data)
        except DomainError as exc:
            messages.error(request, exc.message)
            return render(
                request,
                "notifications/integrations.html",
                _integrations_context(request, form=data),
                status=exc.status,
            )
        messages.success(request, f"Integration {data['name']} added.")
        return redirect(reverse("web:team-integrations", kwargs={"team": scope.team.slug}))
    return render(request, "notifications/integrations.html", _integrations_context(request))


def integration_delete(request, team, integration_id):
    scope = request.team_scope
    services.integration_delete(integration=services.integration_get(scope.team, integration_id))
    messages.success(request, "Integration removed.")
    return redirect(reverse("web:team-integrations", kwargs={"team": scope.team.slug}))


def delivery_replay(request, team, integration_id, delivery_id):
    scope = request.team_scope
    integration = services.integration_get(scope.team, integration_id)
    services.delivery_replay(delivery=selectors.delivery_get(scope.team, integration, delivery_id))
    messages.success(request, "Delivery sent again.")
    return redirect(reverse("web:team-integrations", kwargs={"team": scope.team.slug}))
