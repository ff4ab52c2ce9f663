"""SCIM token API (docs/identity.md "SCIM"): team admins list, create (the secret is in
the answer, once) and revoke the team's SCIM bearer tokens (team:manage)."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from apps.api.base import GradlineAPIView
from apps.core.errors import DomainError
from apps.scim import selectors, services

Any = OpenApiTypes.OBJECT


def token_out(token) -> dict:
    return {
        "id": token.pk,
        "name": token.name,
        "prefix": token.prefix,
        "created_by": token.created_by.email if token.created_by_id else None,
        "created_at": token.created_at,
        "last_used_at": token.last_used_at,
    }


def base_url(request, team) -> str:
    return request.build_absolute_uri(reverse("scim:root", kwargs={"team_slug": team.slug}))


class ScimTokenListView(GradlineAPIView):
    @extend_schema(responses=Any, summary="The team's SCIM tokens and base URL")
    def get(self, request, team):
        tokens = [token_out(t) for t in selectors.scim_tokens(self.team)]
        return Response({"base_url": base_url(request, self.team), "results": tokens})

    @extend_schema(request=Any, responses={201: Any}, summary="Create a SCIM token")
    def post(self, request, team):
        if not isinstance(request.data, dict):
            raise DomainError("Body must be a JSON object.", code="invalid_json")
        token, secret = services.scim_token_create(
            team=self.team, name=request.data.get("name"), actor=request.user
        )
        body = {**token_out(token), "token": secret, "base_url": base_url(request, self.team)}
        return Response(body, status=201)


class ScimTokenDetailView(GradlineAPIView):
    @extend_schema(responses={204: None}, summary="Revoke a SCIM token")
    def delete(self, request, team, scim_token_id):
        services.scim_token_revoke(team=self.team, token_id=scim_token_id, actor=request.user)
        return Response(status=204)
