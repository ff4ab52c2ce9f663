"""The one API base class (DESIGN.md §7): authentication, team scope and permission
checks happen here and nowhere else.

Guarantees:
- Authentication is API key (Bearer or Basic `api:<key>`) or session; subclasses cannot
  change it, nor the permission check: defining `initial`, `authentication_classes`,
  `permission_classes`, `get_authenticators` or `check_permissions` raises TypeError at
  import time.
- Before a handler runs, `self.scope` holds the team, membership, project and permission
  set resolved by `apps.core.access.open_scope` from the URL and the policy table.
- Key-authenticated requests are rate limited per key (429 with Retry-After).
- A query string carrying a NUL character is refused with 400 after the scope check.

Not guaranteed: validation of bodies and other parameters; handlers validate their
input with serializers (or their own parsers on hot paths) and name the bad field.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication
from rest_framework.views import APIView

from apps.accounts.authentication import ApiKeyAuthentication
from apps.accounts.models import ApiKey
from apps.api.schema import GradlineAutoSchema
from apps.core import ratelimit
from apps.core.access import Scope, open_scope
from apps.core.errors import DomainError

_FROZEN = frozenset(
    {
        "initial",
        "authentication_classes",
        "permission_classes",
        "get_authenticators",
        "check_permissions",
        "perform_authentication",
    }
)


class Throttled(exceptions.Throttled):
    pass


def _refuse_nul_in_query(request) -> None:
    """PostgreSQL text cannot hold NUL; a query parameter carrying one is bad input
    (400 naming it), checked here once instead of in every handler."""
    for name, values in request.query_params.lists():
        if "\x00" in name or any("\x00" in value for value in values):
            raise DomainError(
                "Query parameters may not contain NUL characters.",
                code="invalid_parameter",
                detail={"field": name.replace("\x00", "")},
            )


class GradlineAPIView(APIView):
    authentication_classes = [ApiKeyAuthentication, SessionAuthentication]
    permission_classes: list = []
    schema = GradlineAutoSchema()
    scope: Scope

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        overridden = _FROZEN & set(cls.__dict__)
        if overridden:
            raise TypeError(f"{cls.__name__} may not override {sorted(overridden)}")

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        api_key = request.auth if isinstance(request.auth, ApiKey) else None
        if api_key is not None:
            wait = ratelimit.hit(f"key:{api_key.pk}", settings.RATE_LIMIT_API_KEY)
            if wait is not None:
                raise Throttled(wait=wait)
        match = request.resolver_match
        self.scope = open_scope(
            route_name=match.view_name if match else None,
            method=request.method,
            user=request.user,
            api_key=api_key,
            team_slug=kwargs.get("team"),
            project_name=kwargs.get("project"),
        )
        _refuse_nul_in_query(request)

    @property
    def team(self):
        return self.scope.team

    @property
    def project(self):
        return self.scope.project
