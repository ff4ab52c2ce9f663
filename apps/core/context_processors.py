from functools import cache

from apps.teams.selectors import teams_of_user


def navigation(request):
    """Teams for the switcher, and the team/project in scope for the current page.

    `nav_teams` is a memoised callable (templates call it on first use): a page that
    shows no navigation makes no query. That matters for error pages under ASGI, which
    Django renders in a worker thread whose database connection is never closed.
    """
    scope = getattr(request, "team_scope", None)

    @cache
    def nav_teams():
        user = getattr(request, "user", None)
        return teams_of_user(user) if user is not None and user.is_authenticated else []

    return {
        "nav_teams": nav_teams,
        "current_team": getattr(scope, "team", None),
        "current_project": getattr(scope, "project", None),
        "current_membership": getattr(scope, "membership", None),
    }
