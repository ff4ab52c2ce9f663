"""Identity, team and project endpoints. Thin: validate, call a service, shape output."""

from __future__ import annotations

from django.db import transaction
from rest_framework.response import Response

from apps.accounts import services as account_services
from apps.accounts.models import ApiKey
from apps.api import serializers as s
from apps.api.base import GradlineAPIView
from apps.core.errors import DomainError, NotFound
from apps.projects import selectors as project_selectors
from apps.projects import services as project_services
from apps.teams import selectors as team_selectors
from apps.teams import services as team_services
from apps.teams.models import Team


def _valid(serializer_class, data, partial=False) -> dict:
    serializer = serializer_class(data=data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class ViewerView(GradlineAPIView):
    def get(self, request):
        user = request.user
        api_key = request.auth if isinstance(request.auth, ApiKey) else None
        memberships = team_selectors.memberships_of_user(user)
        if api_key is not None and api_key.team_id:
            memberships = memberships.filter(team_id=api_key.team_id)
        personal = next((m.team.slug for m in memberships if m.team.is_personal), None)
        return Response(
            {
                "id": user.pk,
                "email": user.email,
                "name": user.display_name,
                "is_service_account": user.is_service_account,
                "default_team": personal or next((m.team.slug for m in memberships), None),
                "teams": [s.team_out(m.team, m) for m in memberships],
                "api_key": s.api_key_out(api_key) if api_key else None,
            }
        )


class TeamListView(GradlineAPIView):
    def get(self, request):
        memberships = team_selectors.memberships_of_user(request.user)
        return Response({"results": [s.team_out(m.team, m) for m in memberships]})

    def post(self, request):
        data = _valid(s.TeamIn, request.data)
        team = team_services.team_create(
            creator=request.user, slug=data["slug"], name=data.get("name", "")
        )
        return Response(s.team_out(team), status=201)


class TeamDetailView(GradlineAPIView):
    def get(self, request, team):
        return Response(s.team_out(self.team, self.scope.membership))

    def patch(self, request, team):
        data = _valid(s.TeamPatch, request.data)
        Team.objects.filter(pk=self.team.pk).update(name=data["name"])
        self.team.name = data["name"]
        return Response(s.team_out(self.team, self.scope.membership))

    def delete(self, request, team):
        if self.team.is_personal:
            raise DomainError(
                "A personal team cannot be deleted.", code="personal_team", status=409
            )
        self.team.delete()
        return Response(status=204)


class MembershipListView(GradlineAPIView):
    def get(self, request, team):
        return Response(
            {"results": [s.member_out(m) for m in team_selectors.team_members(self.team)]}
        )


class MembershipDetailView(GradlineAPIView):
    def _member(self, user_id):
        membership = team_selectors.team_members(self.team).filter(user_id=user_id).first()
        if membership is None:
            raise NotFound("No such member.")
        return membership

    def get(self, request, team, user_id):
        return Response(s.member_out(self._member(user_id)))

    def patch(self, request, team, user_id):
        data = _valid(s.RoleIn, request.data)
        membership = team_services.membership_set_role(
            team=self.team, user_id=user_id, role=data["role"], actor=request.user
        )
        return Response(s.member_out(membership))

    def delete(self, request, team, user_id):
        team_services.membership_remove(team=self.team, user_id=user_id, actor=request.user)
        return Response(status=204)


class TeamLeaveView(GradlineAPIView):
    def post(self, request, team):
        team_services.membership_remove(team=self.team, user_id=request.user.pk, actor=request.user)
        return Response(status=204)


class InvitationListView(GradlineAPIView):
    def get(self, request, team):
        return Response(
            {"results": [s.invitation_out(i) for i in team_selectors.team_invitations(self.team)]}
        )

    def post(self, request, team):
        from apps.teams.notifications import invitation_send

        data = _valid(s.InvitationIn, request.data)
        invitation, token = team_services.invitation_create(
            team=self.team, email=data["email"], role=data["role"], actor=request.user
        )
        accept_url = invitation_send(invitation, token)
        body = s.invitation_out(invitation)
        body["accept_url"] = accept_url
        return Response(body, status=201)


class InvitationDetailView(GradlineAPIView):
    def delete(self, request, team, invitation_id):
        team_services.invitation_revoke(
            team=self.team, invitation_id=invitation_id, actor=request.user
        )
        return Response(status=204)


class InvitationAcceptView(GradlineAPIView):
    def post(self, request):
        data = _valid(s.InvitationAcceptIn, request.data)
        membership = team_services.invitation_accept(token=data["token"], user=request.user)
        return Response(s.team_out(membership.team, membership), status=200)


class ServiceAccountListView(GradlineAPIView):
    def get(self, request, team):
        return Response(
            {
                "results": [
                    s.service_account_out(a)
                    for a in team_selectors.team_service_accounts(self.team)
                ]
            }
        )

    def post(self, request, team):
        data = _valid(s.ServiceAccountIn, request.data)
        with transaction.atomic():
            account = team_services.service_account_create(
                team=self.team, name=data["name"], role=data["role"], actor=request.user
            )
            api_key, secret = account_services.api_key_create(
                user=account.user,
                name=f"{data['name']} key",
                team=self.team,
                created_by=request.user,
            )
        body = s.service_account_out(account)
        body["api_key"] = {**s.api_key_out(api_key), "secret": secret}
        return Response(body, status=201)


class ServiceAccountDetailView(GradlineAPIView):
    def delete(self, request, team, account_id):
        team_services.service_account_delete(
            team=self.team, account_id=account_id, actor=request.user
        )
        return Response(status=204)


class ServiceAccountKeyListView(GradlineAPIView):
    def _account(self, account_id):
        account = team_selectors.team_service_accounts(self.team).filter(pk=account_id).first()
        if account is None:
            raise NotFound("No such service account.")
        return account

    def get(self, request, team, account_id):
        account = self._account(account_id)
        keys = ApiKey.objects.filter(user=account.user, revoked_at__isnull=True)
        return Response({"results": [s.api_key_out(k) for k in keys]})

    def post(self, request, team, account_id):
        account = self._account(account_id)
        data = _valid(s.NamedKeyIn, request.data)
        api_key, secret = account_services.api_key_create(
            user=account.user, name=data["name"], team=self.team, created_by=request.user
        )
        return Response({**s.api_key_out(api_key), "secret": secret}, status=201)


class AuditListView(GradlineAPIView):
    def get(self, request, team):
        events = team_selectors.team_audit_events(self.team)
        before = request.query_params.get("before")
        if before:
            if not before.isdigit():
                raise DomainError("before must be an event id.", detail={"field": "before"})
            events = events.filter(pk__lt=int(before))
        page = list(events[:100])
        return Response(
            {
                "results": [s.audit_out(e) for e in page],
                "next_before": page[-1].pk if len(page) == 100 else None,
            }
        )


class ApiKeyListView(GradlineAPIView):
    """The caller's own personal keys."""

    def get(self, request):
        keys = ApiKey.objects.filter(user=request.user, revoked_at__isnull=True)
        return Response({"results": [s.api_key_out(k) for k in keys.select_related("team")]})

    def post(self, request):
        data = _valid(s.ApiKeyIn, request.data)
        team = None
        if data.get("team"):
            membership = (
                team_selectors.memberships_of_user(request.user)
                .filter(team__slug=data["team"])
                .first()
            )
            if membership is None:
                raise NotFound("No such team.")
            team = membership.team
        api_key, secret = account_services.api_key_create(
            user=request.user, name=data["name"], team=team
        )
        return Response({**s.api_key_out(api_key), "secret": secret}, status=201)


class ApiKeyDetailView(GradlineAPIView):
    def delete(self, request, key_id):
        api_key = ApiKey.objects.filter(
            pk=key_id, user=request.user, revoked_at__isnull=True
        ).first()
        if api_key is None:
            raise NotFound("No such API key.")
        account_services.api_key_revoke(api_key=api_key, actor=request.user)
        return Response(status=204)


class ProjectListView(GradlineAPIView):
    def get(self, request, team):
        projects = project_selectors.projects_visible(
            self.team, membership=self.scope.membership, user=request.user
        )
        return Response({"results": [s.project_out(p) for p in projects.select_related("team")]})

    def post(self, request, team):
        data = _valid(s.ProjectIn, request.data)
        project = project_services.project_create(team=self.team, actor=request.user, **data)
        return Response(s.project_out(project), status=201)


class ProjectDetailView(GradlineAPIView):
    def get(self, request, team, project):
        return Response(s.project_out(self.project))

    def patch(self, request, team, project):
        data = _valid(s.ProjectPatch, request.data, partial=True)
        updated = project_services.project_update(project=self.project, actor=request.user, **data)
        return Response(s.project_out(updated))

    def delete(self, request, team, project):
        project_services.project_delete(project=self.project)
        return Response(status=204)
