"""`{% model_monitors team model %}`: the registered-model page's Monitoring panel (the
monitors bound to that model), so the registry's view needs no monitoring import."""

from __future__ import annotations

from django import template

from apps.monitoring import selectors

register = template.Library()


@register.inclusion_tag("monitoring/model_monitors.html")
def model_monitors(team, model) -> dict:
    return {"team": team, "monitors": selectors.monitors_list(team, registered_model=model)}
