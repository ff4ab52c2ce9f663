"""Identity, team and project endpoints. Thin: resolve the object, validate, call a
service, serialize. Objects named by the URL are resolved before the body is validated,
so another team's object answers 404 whatever the body holds.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from apps.accounts import selectors as account_selectors
from apps.accounts import services as account_services
from apps.accounts.models import ApiKey
from apps.api import serializers as s
from apps.api.base import GradlineAPIView
from apps.api.pagination import int_param, page_of, page_response
from apps.api.schema import PAGE_PARAMETERS, int_query
from apps.core.errors import NotFound, PermissionDenied
from apps.projects import selectors as project_selectors
from apps.projects import services as project_services
from apps.teams import selectors as team_selectors
from apps.teams import services as team_services
from apps.teams.models import Membership
from apps.teams.notifications import invitation_send


def _valid(serializer_class, data, partial=False) -> dict:
    serializer = serializer_class(data=data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _scopes(data: dict) -> dict:
    return {key: data[key] for key in ("read_only", "projects", "expires_at")}


def _caller_key(request) -> ApiKey | None:
    return request.auth if isinstance(request.auth, ApiKey) else None


# --- identity ------------------------------------------------------------------------


class ViewerView(GradlineAPIView):
    @extend_schema(responses=s.ViewerOut, summary="The caller: user, teams and key in use")
    def get(self, request):
        user = request.user
        api_key = _caller_key(request)
        memberships = list(team_selectors.memberships_of_user(user))
        if api_key is not None and api_key.team_id:
            memberships = [m for m in memberships if m.team_id == api_key.team_id]
        personal = next((m.team.slug for m in memberships if m.team.is_personal), None)
        viewer = {
            "id": user.pk,
            "email": user.email,
            "name": user.display_name,
            "is_service_account": user.is_service_account,
            "default_team": personal or next((m.team.slug for m in memberships), None),
            "teams": memberships,
            "api_key": api_key,
        }
        return Response(s.ViewerOut(viewer).data)


class ApiKeyListView(GradlineAPIView):
    """The caller's own keys (through a team-restricted key: that team's only)."""

    @extend_schema(parameters=PAGE_PARAMETERS, responses=page_of(s.ApiKeyOut))
    def get(self, request):
        keys = account_selectors.api_keys_of_user(request.user, caller_key=_caller_key(request))
        return page_response(request, keys, s.ApiKeyOut)

    @extend_schema(request=s.ApiKeyIn, responses={201: s.ApiKeyCreatedOut})
    def post(self, request):
        data = _valid(s.ApiKeyIn, request.data)
        api_key, secret = account_services.personal_key_create(
            user=request.user,
            name=data["name"],
            team_slug=data.get("team"),
            caller_key=_caller_key(request),
            **_scopes(data),
        )
        api_key.secret = secret  # shown once, in this response only
        return Response(s.ApiKeyCreatedOut(api_key).data, status=201)


class ApiKeyDetailView(GradlineAPIView):
    @extend_schema(responses={204: None})
    def delete(self, request, key_id):
        account_services.personal_key_revoke(
            user=request.user, key_id=key_id, caller_key=_caller_key(request)
        )
        return Response(status=204)


class InvitationAcceptView(GradlineAPIView):
    @extend_schema(request=s.InvitationAcceptIn, responses=s.TeamOut)
    def post(self, request):
        data = _valid(s.InvitationAcceptIn, request.data)
        membership = team_services.invitation_accept(token=data["token"], user=request.user)
        return Response(s.TeamOut(membership).data)


# --- teams and members -----------------------------------------------------------------


class TeamListView(GradlineAPIView):
    @extend_schema(parameters=PAGE_PARAMETERS, responses=page_of(s.TeamOut))
    def get(self, request):
        return page_response(request, team_selectors.memberships_of_user(request.user), s.TeamOut)

    @extend_schema(request=s.TeamIn, responses={201: s.TeamOut})
    def post(self, request):
        api_key = _caller_key(request)
        if api_key is not None and api_key.team_id and not request.user.is_service_account:
            # A key scoped to one team reaches nothing beyond it, new teams included.
            # (Service accounts never create teams: team_create refuses them itself.)
            raise PermissionDenied(
                "This API key is restricted to one team and cannot create teams; "
                "use an unrestricted personal key or sign in.",
                code="key_team_restricted",
            )
        data = _valid(s.TeamIn, request.data)
        team = team_services.team_create(
            creator=request.user, slug=data["slug"], name=data.get("name", "")
        )
        membership = team_selectors.team_members(team).get(user=request.user)
        return Response(s.TeamOut(membership).data, status=201)


class TeamDetailView(GradlineAPIView):
    @extend_schema(responses=s.TeamOut)
    def get(self, request, team):
        return Response(s.TeamOut(self.scope.membership).data)

    @extend_schema(request=s.TeamPatch, responses=s.TeamOut)
    def patch(self, request, team):
        data = _valid(s.TeamPatch, request.data)
        if "name" in data:
            team_services.team_update(team=self.team, name=data["name"], actor=request.user)
        if "require_mfa" in data:
            team_services.team_set_require_mfa(
                team=self.team, require_mfa=data["require_mfa"], actor=request.user
            )
        return Response(s.TeamOut(self.scope.membership).data)

    @extend_schema(responses={204: None})
    def delete(self, request, team):
        team_services.team_delete(team=self.team)
        return Response(status=204)


class MembershipListView(GradlineAPIView):
    @extend_schema(parameters=PAGE_PARAMETERS, responses=page_of(s.MemberOut))
    def get(self, request, team):
        return page_response(request, team_selectors.team_members(self.team), s.MemberOut)


class MembershipDetailView(GradlineAPIView):
    def _member(self, user_id) -> Membership:
        membership = team_selectors.team_members(self.team).filter(user_id=user_id).first()
        if membership is None:
            raise NotFound("No such member.")
        return membership

    @extend_schema(responses=s.MemberOut)
    def get(self, request, team, user_id):
        return Response(s.MemberOut(self._member(user_id)).data)

    @extend_schema(request=s.RoleIn, responses=s.MemberOut, summary="Change a member's role")
    def patch(self, request, team, user_id):
        self._member(user_id)
        data = _valid(s.RoleIn, request.data)
        membership = team_services.membership_set_role(
            team=self.team, user_id=user_id, role=data["role"], actor=request.user
        )
        return Response(s.MemberOut(membership).data)

    @extend_schema(responses={204: None})
    def delete(self, request, team, user_id):
        team_services.membership_remove(team=self.team, user_id=user_id, actor=request.user)
        return Response(status=204)


class CustomRoleListView(GradlineAPIView):
    @extend_schema(parameters=PAGE_PARAMETERS, responses=page_of(s.CustomRoleOut))
    def get(self, request, team):
        return page_response(request, team_selectors.team_custom_roles(self.team), s.CustomRoleOut)

    @extend_schema(request=s.CustomRoleIn, responses={201: s.CustomRoleOut})
    def post(self, request, team):
        data = _valid(s.CustomRoleIn, request.data)
        role = team_services.custom_role_create(team=self.team, actor=request.user, **data)
        return Response(s.CustomRoleOut(role).data, status=201)


class CustomRoleDetailView(GradlineAPIView):
    def _role(self, role_id):
        role = team_selectors.team_custom_roles(self.team).filter(pk=role_id).first()
        if role is None:
            raise NotFound("No such role.")
        return role

    @extend_schema(responses=s.CustomRoleOut)
    def get(self, request, team, role_id):
        return Response(s.CustomRoleOut(self._role(role_id)).data)

    @extend_schema(request=s.CustomRoleIn(partial=True), responses=s.CustomRoleOut)
    def patch(self, request, team, role_id):
        self._role(role_id)
        data = _valid(s.CustomRoleIn, request.data, partial=True)
        role = team_services.custom_role_update(
            team=self.team, role_id=role_id, changes=dict(data), actor=request.user
        )
        return Response(s.CustomRoleOut(role).data)

    @extend_schema(responses={204: None})
    def delete(self, request, team, role_id):
        team_services.custom_role_delete(team=self.team, role_id=role_id, actor=request.user)
        return Response(status=204)


class TeamLeaveView(GradlineAPIView):
    @extend_schema(request=None, responses={204: None})
    def post(self, request, team):
        team_services.membership_remove(team=self.team, user_id=request.user.pk, actor=request.user)
        return Response(status=204)


class InvitationListView(GradlineAPIView):
    @extend_schema(parameters=PAGE_PARAMETERS, responses=page_of(s.InvitationOut))
    def get(self, request, team):
        return page_response(request, team_selectors.team_invitations(self.team), s.InvitationOut)

    @extend_schema(request=s.InvitationIn, responses={201: s.InvitationCreatedOut})
    def post(self, request, team):
        data = _valid(s.InvitationIn, request.data)
        invitation, token = team_services.invitation_create(
            team=self.team, email=data["email"], role=data["role"], actor=request.user
        )
        invitation.accept_url = invitation_send(invitation, token)
        return Response(s.InvitationCreatedOut(invitation).data, status=201)


class InvitationDetailView(GradlineAPIView):
    @extend_schema(responses={204: None})
    def delete(self, request, team, invitation_id):
        team_services.invitation_revoke(
            team=self.team, invitation_id=invitation_id, actor=request.user
        )
        return Response(status=204)


# --- service accounts -----------------------------------------------------------------


class ServiceAccountListView(GradlineAPIView):
    @extend_schema(parameters=PAGE_PARAMETERS, responses=page_of(s.ServiceAccountOut))
    def get(self, request, team):
        accounts = team_selectors.team_service_accounts(self.team)
        return page_response(request, accounts, s.ServiceAccountOut)

    @extend_schema(request=s.ServiceAccountIn, responses={201: s.ServiceAccountCreatedOut})
    def post(self, request, team):
        data = _valid(s.ServiceAccountIn, request.data)
        account, api_key, secret = team_services.service_account_provision(
            team=self.team,
            name=data["name"],
            role=data["role"],
            actor=request.user,
            **_scopes(data),
        )
        api_key.secret = secret  # shown once, in this response only
        account.api_key = api_key
        account.role = data["role"]
        return Response(s.ServiceAccountCreatedOut(account).data, status=201)


def _service_account(team, account_id):
    account = team_selectors.team_service_accounts(team).filter(pk=account_id).first()
    if account is None:
        raise NotFound("No such service account.")
    return account


class ServiceAccountDetailView(GradlineAPIView):
    @extend_schema(responses=s.ServiceAccountOut)
    def get(self, request, team, account_id):
        return Response(s.ServiceAccountOut(_service_account(self.team, account_id)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, team, account_id):
        team_services.service_account_delete(
            team=self.team, account_id=account_id, actor=request.user
        )
        return Response(status=204)


class ServiceAccountKeyListView(GradlineAPIView):
    @extend_schema(parameters=PAGE_PARAMETERS, responses=page_of(s.ApiKeyOut))
    def get(self, request, team, account_id):
        account = _service_account(self.team, account_id)
        keys = team_selectors.service_account_keys(self.team, account)
        return page_response(request, keys, s.ApiKeyOut)

    @extend_schema(request=s.NamedKeyIn, responses={201: s.ApiKeyCreatedOut})
    def post(self, request, team, account_id):
        _service_account(self.team, account_id)
        data = _valid(s.NamedKeyIn, request.data)
        api_key, secret = team_services.service_account_key_create(
            team=self.team,
            account_id=account_id,
            name=data["name"],
            actor=request.user,
            **_scopes(data),
        )
        api_key.secret = secret  # shown once, in this response only
        return Response(s.ApiKeyCreatedOut(api_key).data, status=201)


class ServiceAccountKeyDetailView(GradlineAPIView):
    @extend_schema(responses={204: None})
    def delete(self, request, team, account_id, key_id):
        team_services.service_account_key_revoke(
            team=self.team, account_id=account_id, key_id=key_id, actor=request.user
        )
        return Response(status=204)


class AuditListView(GradlineAPIView):
    """Newest first; page with `before` (the `next_before` of the previous page)."""

    @extend_schema(
        parameters=[
            int_query("before", "Only events with a smaller id.", minimum=1, maximum=10**18 - 1),
            int_query("limit", "Page size (default 100).", minimum=1, maximum=500, default=100),
        ],
        responses=s.AuditPageOut,
    )
    def get(self, request, team):
        events = team_selectors.team_audit_events(self.team)
        before = int_param(request, "before", 0, minimum=1, maximum=10**18 - 1)
        if before:
            events = events.filter(pk__lt=before)
        limit = int_param(request, "limit", 100, minimum=1, maximum=500)
        page = list(events[: limit + 1])
        more = len(page) > limit
        page = page[:limit]
        return Response(
            s.AuditPageOut(
                {"results": page, "next_before": page[-1].pk if more and page else None}
            ).data
        )


# --- projects ------------------------------------------------------------------------


class ProjectListView(GradlineAPIView):
    @extend_schema(parameters=PAGE_PARAMETERS, responses=page_of(s.ProjectOut))
    def get(self, request, team):
        projects = project_selectors.projects_visible(
            self.team, membership=self.scope.membership, user=request.user
        )
        return page_response(request, projects.select_related("team"), s.ProjectOut)

    @extend_schema(request=s.ProjectIn, responses={201: s.ProjectOut})
    def post(self, request, team):
        data = _valid(s.ProjectIn, request.data)
        project = project_services.project_create(team=self.team, actor=request.user, **data)
        return Response(s.ProjectOut(project).data, status=201)


class ProjectDetailView(GradlineAPIView):
    @extend_schema(responses=s.ProjectOut)
    def get(self, request, team, project):
        return Response(s.ProjectOut(self.project).data)

    @extend_schema(request=s.ProjectPatch, responses=s.ProjectOut)
    def patch(self, request, team, project):
        data = _valid(s.ProjectPatch, request.data, partial=True)
        updated = project_services.project_update(project=self.project, actor=request.user, **data)
        return Response(s.ProjectOut(updated).data)

    @extend_schema(responses={204: None})
    def delete(self, request, team, project):
        project_services.project_delete(project=self.project)
        return Response(status=204)
