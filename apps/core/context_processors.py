from apps.teams.selectors import teams_of_user


def navigation(request):
    """Teams for the switcher, and the team/project in scope for the current page."""
    user = getattr(request, "user", None)
    scope = getattr(request, "scope", None)
    return {
        "nav_teams": teams_of_user(user) if user and user.is_authenticated else [],
        "current_team": getattr(scope, "team", None),
        "current_project": getattr(scope, "project", None),
        "current_membership": getattr(scope, "membership", None),
    }
