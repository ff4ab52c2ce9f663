"""SSO API (docs/identity.md): the team's IdP configuration and verified domains.
Admins only (team:manage, apps/core/policy.py); the client secret is write-only."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from apps.api.base import GradlineAPIView
from apps.core.errors import DomainError
from apps.sso import selectors, services

Any = OpenApiTypes.OBJECT


def _body(request) -> dict:
    if not isinstance(request.data, dict):
        raise DomainError("Body must be a JSON object.", code="invalid_json")
    return request.data


def config_out(request, config) -> dict:
    slug = config.team.slug
    return {
        "configured": True,
        "protocol": config.protocol,
        "enabled": config.enabled,
        "issuer": config.issuer,
        "client_id": config.client_id,
        "client_secret_set": bool(config.client_secret_encrypted),
        "saml_entity_id": config.saml_entity_id,
        "saml_sso_url": config.saml_sso_url,
        "saml_x509cert": config.saml_x509cert,
        "saml_metadata_url": config.saml_metadata_url,
        "attribute_mapping": config.attribute_mapping,
        "jit_role": config.jit_role,
        "group_roles": config.group_roles,
        "require_sso": config.require_sso,
        "login_url": request.build_absolute_uri(reverse("sso:login", kwargs={"team_slug": slug})),
        "redirect_uri": request.build_absolute_uri(
            reverse("sso:oidc-callback", kwargs={"team_slug": slug})
        ),
        "saml_sp_metadata_url": request.build_absolute_uri(
            reverse("sso:saml-metadata", kwargs={"team_slug": slug})
        ),
        "saml_acs_url": request.build_absolute_uri(
            reverse("sso:saml-acs", kwargs={"team_slug": slug})
        ),
        "updated_at": config.updated_at,
    }


def domain_out(row) -> dict:
    return {
        "id": row.pk,
        "domain": row.domain,
        "verified_by": row.verified_by.email if row.verified_by_id else None,
        "created_at": row.created_at,
    }


class SSOConfigView(GradlineAPIView):
    @extend_schema(responses=Any, summary="The team's single sign-on configuration")
    def get(self, request, team):
        config = selectors.sso_config_of(self.team)
        if config is None:
            return Response({"configured": False})
        config.team = self.team
        return Response(config_out(request, config))

    @extend_schema(request=Any, responses=Any, summary="Create or replace the configuration")
    def put(self, request, team):
        config = services.sso_config_save(team=self.team, data=_body(request), actor=request.user)
        return Response(config_out(request, config))

    @extend_schema(request=Any, responses=Any, summary="Change some fields")
    def patch(self, request, team):
        config = services.sso_config_save(team=self.team, data=_body(request), actor=request.user)
        return Response(config_out(request, config))

    @extend_schema(responses={204: None})
    def delete(self, request, team):
        services.sso_config_delete(team=self.team, actor=request.user)
        return Response(status=204)


class SSODomainListView(GradlineAPIView):
    @extend_schema(responses=Any)
    def get(self, request, team):
        return Response({"results": [domain_out(d) for d in selectors.team_domains(self.team)]})

    @extend_schema(request=Any, responses={201: Any})
    def post(self, request, team):
        row = services.domain_add(
            team=self.team, domain=_body(request).get("domain"), actor=request.user
        )
        return Response(domain_out(row), status=201)


class SSODomainDetailView(GradlineAPIView):
    @extend_schema(responses={204: None})
    def delete(self, request, team, domain_id):
        services.domain_remove(team=self.team, domain_id=domain_id, actor=request.user)
        return Response(status=204)
