from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from apps.activity import api_views as activity_views
from apps.api import names
from apps.api import views as v
from apps.comments import api_urls as comment_urls
from apps.media import api_urls as media_urls
from apps.notifications import api_urls as notification_urls
from apps.registry import api_urls as registry_urls

app_name = "api"

# Converters (apps/core/converters.py) only match values that can exist, so bad input
# is a 404 before any query runs.
TEAM = "v1/teams/<team_slug:team>"
PROJECT = f"{TEAM}/projects/<project_name:project>"
SERVICE_ACCOUNT = f"{TEAM}/service-accounts/<id:account_id>"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's init script from a URL (no inline script, for
    # the Content-Security-Policy); its page template drops the inline <style> too.
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api:schema", template_name="api/swagger_ui.html"
        ),
        name="docs",
    ),
    path("v1/viewer", v.ViewerView.as_view(), name="viewer"),
    path("v1/keys", v.ApiKeyListView.as_view(), name="apikey-list"),
    path("v1/keys/<id:key_id>", v.ApiKeyDetailView.as_view(), name="apikey-detail"),
    path("v1/invitations/accept", v.InvitationAcceptView.as_view(), name="invitation-accept"),
    path("v1/teams", v.TeamListView.as_view(), name="team-list"),
    path(TEAM, v.TeamDetailView.as_view(), name="team-detail"),
    path(f"{TEAM}/members", v.MembershipListView.as_view(), name="membership-list"),
    path(
        f"{TEAM}/members/<id:user_id>", v.MembershipDetailView.as_view(), name="membership-detail"
    ),
    path(f"{TEAM}/roles", v.CustomRoleListView.as_view(), name="role-list"),
    path(f"{TEAM}/roles/<id:role_id>", v.CustomRoleDetailView.as_view(), name="role-detail"),
    path(f"{TEAM}/leave", v.TeamLeaveView.as_view(), name="team-leave"),
    path(f"{TEAM}/invitations", v.InvitationListView.as_view(), name="invitation-list"),
    path(
        f"{TEAM}/invitations/<id:invitation_id>",
        v.InvitationDetailView.as_view(),
        name="invitation-detail",
    ),
    path(
        f"{TEAM}/service-accounts", v.ServiceAccountListView.as_view(), name="service-account-list"
    ),
    path(SERVICE_ACCOUNT, v.ServiceAccountDetailView.as_view(), name="service-account-detail"),
    path(
        f"{SERVICE_ACCOUNT}/keys",
        v.ServiceAccountKeyListView.as_view(),
        name="service-account-key-list",
    ),
    path(
        f"{SERVICE_ACCOUNT}/keys/<id:key_id>",
        v.ServiceAccountKeyDetailView.as_view(),
        name="service-account-key-detail",
    ),
    path(f"{TEAM}/audit", v.AuditListView.as_view(), name="audit-list"),
    path(f"{TEAM}/projects", v.ProjectListView.as_view(), name="project-list"),
    path(PROJECT, v.ProjectDetailView.as_view(), name="project-detail"),
    # Run tracking (apps/runs/api_urls.py) mounts under the project path.
    path(f"{PROJECT}/", include("apps.runs.api_urls")),
    path(f"{PROJECT}/", include("apps.media.api_urls")),
    path(f"{TEAM}/", include(media_urls.team_urlpatterns)),
    path(f"{PROJECT}/", include("apps.projects.api_urls")),
    path(f"{PROJECT}/", include(registry_urls.project_urlpatterns)),
    path(f"{TEAM}/", include(registry_urls.team_urlpatterns)),
    path(f"{PROJECT}/", include("apps.sweeps.api_urls")),
    # Collaboration (docs/collaboration.md): comments, notifications, automations, activity.
    path(f"{PROJECT}/", include(comment_urls.project_urlpatterns)),
    path(f"{TEAM}/", include(comment_urls.team_urlpatterns)),
    path(f"{PROJECT}/", include(notification_urls.project_urlpatterns)),
    path(f"{TEAM}/", include(notification_urls.team_urlpatterns)),
    path("", include(notification_urls.user_urlpatterns)),
    path(f"{TEAM}/", include("apps.automations.api_urls")),
    path(f"{TEAM}/", include("apps.deployments.api_urls")),
    path(f"{TEAM}/", include("apps.monitoring.api_urls")),  # docs/monitoring.md
    path(
        f"{PROJECT}/activity", activity_views.ProjectActivityView.as_view(), name="project-activity"
    ),
    path(f"{TEAM}/activity", activity_views.TeamActivityView.as_view(), name="team-activity"),
    path(f"{TEAM}/", include("apps.sso.api_urls")),  # single sign-on (docs/identity.md)
    path(f"{TEAM}/", include("apps.scim.api_urls")),  # SCIM tokens (docs/identity.md)
    path(f"{PROJECT}/", include("apps.reports.api_urls")),  # reports (docs/collaboration.md)
    # Last: names that break the naming rules answer 400 saying which rule (apps/api/names.py)
    re_path(
        r"^v1/teams/(?P<team_name>[^/]+)/projects/(?P<project_name>[^/]+)(?:/(?P<rest>.*))?$",
        names.invalid_name,
        name="invalid-project-path",
    ),
    re_path(
        r"^v1/teams/(?P<team_name>[^/]+)(?:/(?P<rest>.*))?$",
        names.invalid_name,
        name="invalid-team-path",
    ),
]
