"""SCIM 2.0 endpoints per team (RFC 7643 / 7644; docs/identity.md "SCIM"), at
/scim/v2/teams/<team>/...: the subset Okta and Entra ID use.

Only a SCIM token of the URL's team gets in (`Authorization: Bearer glscim-…`): no
header or a bad token is 401, a valid token of another team 404 (like any other team's
object). Sessions and API keys are not read. Answers are `application/scim+json`;
errors are SCIM error bodies, never a 500 for bad input.
"""

from __future__ import annotations

import json

from django.db import IntegrityError
from django.http import HttpResponse
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from apps.core.errors import DomainError
from apps.scim import filters, selectors, services
from apps.scim.errors import ScimError
from apps.teams.models import Membership

CONTENT_TYPE = "application/scim+json"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
MAX_COUNT = 200
MAX_BODY = 1_000_000


def scim_response(body, status: int = 200, headers: dict | None = None) -> HttpResponse:
    content = b"" if body is None else json.dumps(body, default=str).encode()
    response = HttpResponse(content, status=status, content_type=CONTENT_TYPE)
    for key, value in (headers or {}).items():
        response[key] = value
    return response


def error_response(status: int, detail: str, scim_type: str | None = None) -> HttpResponse:
    body = {"schemas": [ERROR], "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    headers = {"WWW-Authenticate": 'Bearer realm="SCIM"'} if status == 401 else None
    return scim_response(body, status, headers)


def _base(request, team_slug: str) -> str:
    return request.build_absolute_uri(reverse("scim:root", kwargs={"team_slug": team_slug}))


def _iso(value) -> str:
    return value.isoformat() if value else None


def user_out(request, team, user, membership, link) -> dict:
    given, _, family = user.name.partition(" ")
    body = {
        "schemas": [USER],
        "id": str(user.pk),
        "userName": user.email,
        "name": {"formatted": user.name, "givenName": given, "familyName": family},
        "displayName": user.display_name,
        "emails": [{"value": user.email, "primary": True, "type": "work"}],
        "active": membership is not None,
        "meta": {
            "resourceType": "User",
            "created": _iso(link.created_at if link else user.date_joined),
            "lastModified": _iso(link.updated_at if link else user.date_joined),
            "location": _base(request, team.slug) + f"Users/{user.pk}",
        },
    }
    if link is not None and link.external_id:
        body["externalId"] = link.external_id
    if membership is not None:
        body["roles"] = [{"value": membership.role_name, "primary": True}]
    return body


def group_out(request, team, role: str, members=None) -> dict:
    rows = selectors.role_members(team, role) if members is None else members
    return {
        "schemas": [GROUP],
        "id": role,
        "displayName": role,
        "members": [{"value": str(m.user_id), "display": m.user.email} for m in rows],
        "meta": {
            "resourceType": "Group",
            "location": _base(request, team.slug) + f"Groups/{role}",
        },
    }


def _paging(request) -> tuple[int, int]:
    try:
        start = int(request.GET.get("startIndex", "1"))
        count = int(request.GET.get("count", str(MAX_COUNT)))
    except ValueError:
        raise ScimError(400, "startIndex and count must be integers.", "invalidValue") from None
    return min(max(start, 1), 10**9), min(max(count, 0), MAX_COUNT)


def _list(items_total: int, resources: list, start: int) -> dict:
    return {
        "schemas": [LIST],
        "totalResults": items_total,
        "startIndex": start,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }


class ScimView(View):
    """Authenticates the team's token, parses the body, renders SCIM errors."""

    http_method_names = ["get", "post", "put", "patch", "delete"]

    @method_decorator(csrf_exempt)
    def dispatch(self, request, *args, **kwargs):
        try:
            token = services.scim_token_authenticate(request.headers.get("Authorization", ""))
            if token is None:
                return error_response(401, "A SCIM bearer token of this team is required.")
            if token.team.slug != kwargs.get("team_slug"):
                return error_response(404, "No such team.")
            self.token, self.team = token, token.team
            if request.method.lower() not in self.http_method_names or not hasattr(
                self, request.method.lower()
            ):
                return error_response(405, f"{request.method} is not supported here.")
            return super().dispatch(request, *args, **kwargs)
        except ScimError as exc:
            return error_response(exc.status, exc.detail, exc.scim_type)
        except DomainError as exc:
            return error_response(exc.status, exc.message)
        except IntegrityError:  # a concurrent request made the same user or link first
            return error_response(409, "A concurrent change conflicted; retry.", "uniqueness")

    def body(self):
        raw = self.request.body
        if len(raw) > MAX_BODY:
            raise ScimError(413, "The body is too large.", "tooMany")
        try:
            data = json.loads(raw or b"null")
        except ValueError:
            raise ScimError(400, "The body is not valid JSON.", "invalidSyntax") from None
        if not isinstance(data, dict):
            raise ScimError(400, "The body must be a JSON object.", "invalidSyntax")
        return data


USER_FILTERS: filters.Attributes = {
    "username": filters.string_attr("email"),
    "emails": filters.string_attr("email"),
    "emails.value": filters.string_attr("email"),
    "displayname": filters.string_attr("name"),
    "name.formatted": filters.string_attr("name"),
    "id": lambda op, value: _id_filter(op, value),
}


def _id_filter(op, value):
    from django.db.models import Q

    if op != "eq" or not (value or "").isdigit() or len(value) > 18:
        return Q(pk__in=[])
    return Q(pk=int(value))


class UsersView(ScimView):
    def _extra_filters(self) -> filters.Attributes:
        from django.db.models import Q

        from apps.scim.models import ScimUser

        team = self.team

        def external(op, value):
            ids = ScimUser.objects.for_team(team)
            if op == "pr":
                return Q(pk__in=ids.exclude(external_id="").values("user_id"))
            lookups = {
                "eq": "exact",
                "ne": "exact",
                "co": "contains",
                "sw": "startswith",
                "ew": "endswith",
            }
            if op not in lookups:
                raise ScimError(400, f"Operator {op!r} is not supported here.", "invalidFilter")
            q = Q(pk__in=ids.filter(**{f"external_id__{lookups[op]}": value}).values("user_id"))
            return ~q if op == "ne" else q

        def active(op, value):
            members = Q(pk__in=Membership.objects.for_team(team).values("user_id"))
            if op != "eq" or (value or "").lower() not in ("true", "false"):
                raise ScimError(400, "active supports eq true / eq false.", "invalidFilter")
            return members if value.lower() == "true" else ~members

        return {**USER_FILTERS, "externalid": external, "active": active}

    def _render(self, users) -> list[dict]:
        ids = [u.pk for u in users]
        members = selectors.memberships_by_user(self.team, ids)
        links = selectors.links_by_user(self.team, ids)
        return [
            user_out(self.request, self.team, u, members.get(u.pk), links.get(u.pk)) for u in users
        ]

    def _one(self, user, status=200):
        return scim_response(self._render([user])[0], status)

    def get(self, request, team_slug, user_id=None):
        if user_id is not None:
            user = selectors.scim_user(self.team, user_id)
            if user is None:
                raise ScimError(404, "No such user in this team.")
            return self._one(user)
        rows = selectors.scim_users(self.team)
        if request.GET.get("filter"):
            rows = rows.filter(filters.parse(request.GET["filter"], self._extra_filters()))
        start, count = _paging(request)
        total = rows.count()
        page = list(rows[start - 1 : start - 1 + count]) if count else []
        return scim_response(_list(total, self._render(page), start))

    def post(self, request, team_slug, user_id=None):
        if user_id is not None:
            raise ScimError(405, "POST goes to /Users.")
        user = services.scim_user_create(team=self.team, token=self.token, data=self.body())
        return self._one(user, 201)

    def put(self, request, team_slug, user_id=None):
        if user_id is None:
            raise ScimError(405, "PUT needs a user id.")
        data = self.body()
        user = services.scim_user_replace(
            team=self.team, token=self.token, user_id=user_id, data=data
        )
        return self._one(user)

    def patch(self, request, team_slug, user_id=None):
        if user_id is None:
            raise ScimError(405, "PATCH needs a user id.")
        data = self.body()
        user = services.scim_user_patch(
            team=self.team, token=self.token, user_id=user_id, data=data
        )
        return self._one(user)

    def delete(self, request, team_slug, user_id=None):
        if user_id is None:
            raise ScimError(405, "DELETE needs a user id.")
        services.scim_user_delete(team=self.team, token=self.token, user_id=user_id)
        return scim_response(None, 204)


class GroupsView(ScimView):
    def get(self, request, team_slug, group_id=None):
        names = selectors.role_names(self.team)
        if group_id is not None:
            if group_id not in names:
                raise ScimError(404, "No such group in this team (groups are its roles).")
            return scim_response(group_out(request, self.team, group_id))
        if request.GET.get("filter"):
            wanted = set(_filter_names(self.team, request.GET["filter"]))
            names = [n for n in names if n in wanted]
        start, count = _paging(request)
        page = names[start - 1 : start - 1 + count] if count else []
        excluded = "members" in (request.GET.get("excludedAttributes") or "")
        resources = [group_out(request, self.team, n, [] if excluded else None) for n in page]
        return scim_response(_list(len(names), resources, start))

    def post(self, request, team_slug, group_id=None):
        data = self.body()
        name = data.get("displayName")
        if isinstance(name, str) and name in selectors.role_names(self.team):
            raise ScimError(
                409, f"Group {name!r} exists: groups are the team's roles.", "uniqueness"
            )
        raise ScimError(
            400,
            "Groups are the team's roles (admin, member, viewer and custom roles); "
            "push a group whose displayName is a role name and link it.",
            "invalidValue",
        )

    def put(self, request, team_slug, group_id=None):
        if group_id is None:
            raise ScimError(405, "PUT needs a group id.")
        data = self.body()
        role = services.scim_group_replace(
            team=self.team, token=self.token, group_id=group_id, data=data
        )
        return scim_response(group_out(request, self.team, role))

    def patch(self, request, team_slug, group_id=None):
        if group_id is None:
            raise ScimError(405, "PATCH needs a group id.")
        data = self.body()
        role = services.scim_group_patch(
            team=self.team, token=self.token, group_id=group_id, data=data
        )
        return scim_response(group_out(request, self.team, role))

    def delete(self, request, team_slug, group_id=None):
        if group_id is not None and group_id not in selectors.role_names(self.team):
            raise ScimError(404, "No such group in this team.")
        raise ScimError(400, "A group is a team role; it cannot be deleted.", "mutability")


def _filter_names(team, text: str) -> list[str]:
    """Role names matching a Groups filter (displayName / id; eq, ne, co, sw, ew, pr)."""
    attrs = {"displayname": filters.string_attr("name"), "id": filters.string_attr("name")}
    q = filters.parse(text, attrs)
    return [n for n in selectors.role_names(team) if _match(q, n)]


def _match(q, name: str) -> bool:
    """Evaluate a Q over the single field `name` in Python."""
    from django.db.models import Q

    if isinstance(q, Q):
        results = [_match(child, name) for child in q.children]
        value = all(results) if q.connector == "AND" else any(results)
        return not value if q.negated else value
    key, expected = q
    lookup = key.split("__", 1)[1] if "__" in key else "exact"
    if lookup == "isnull":
        return (name is None) == expected
    a, b = name.lower(), str(expected).lower()
    return {
        "iexact": a == b,
        "exact": name == expected,
        "icontains": b in a,
        "istartswith": a.startswith(b),
        "iendswith": a.endswith(b),
    }.get(lookup, False)


class ServiceProviderConfigView(ScimView):
    def get(self, request, team_slug):
        return scim_response(
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
                "documentationUri": "https://gradline.invalid/docs/identity#scim",
                "patch": {"supported": True},
                "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
                "filter": {"supported": True, "maxResults": MAX_COUNT},
                "changePassword": {"supported": False},
                "sort": {"supported": False},
                "etag": {"supported": False},
                "authenticationSchemes": [
                    {
                        "type": "oauthbearertoken",
                        "name": "Bearer token",
                        "description": "A SCIM token made in the team's settings.",
                        "primary": True,
                    }
                ],
                "meta": {
                    "resourceType": "ServiceProviderConfig",
                    "location": _base(request, team_slug) + "ServiceProviderConfig",
                },
            }
        )


def _resource_types(request, team_slug) -> list[dict]:
    base = _base(request, team_slug)
    return [
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "schema": USER,
            "meta": {"resourceType": "ResourceType", "location": base + "ResourceTypes/User"},
        },
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "Group",
            "name": "Group",
            "endpoint": "/Groups",
            "schema": GROUP,
            "meta": {"resourceType": "ResourceType", "location": base + "ResourceTypes/Group"},
        },
    ]


def _attr(name, type_="string", **extra) -> dict:
    return {
        "name": name,
        "type": type_,
        "multiValued": False,
        "required": False,
        "caseExact": False,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "none",
        **extra,
    }


SCHEMAS = [
    {
        "id": USER,
        "name": "User",
        "description": "A member of the team (userName is the email address).",
        "attributes": [
            _attr("userName", required=True, uniqueness="server", mutability="immutable"),
            _attr(
                "name",
                "complex",
                subAttributes=[_attr("formatted"), _attr("givenName"), _attr("familyName")],
            ),
            _attr("displayName"),
            _attr(
                "emails",
                "complex",
                multiValued=True,
                mutability="readOnly",
                subAttributes=[_attr("value"), _attr("type"), _attr("primary", "boolean")],
            ),
            _attr("active", "boolean"),
            _attr("externalId", caseExact=True),
        ],
    },
    {
        "id": GROUP,
        "name": "Group",
        "description": "A team role (admin, member, viewer or a custom role).",
        "attributes": [
            _attr("displayName", required=True, mutability="immutable"),
            _attr(
                "members",
                "complex",
                multiValued=True,
                subAttributes=[_attr("value", mutability="immutable"), _attr("display")],
            ),
        ],
    },
]


class ResourceTypesView(ScimView):
    def get(self, request, team_slug, name=None):
        types = _resource_types(request, team_slug)
        if name is not None:
            match = [t for t in types if t["id"] == name]
            if not match:
                raise ScimError(404, "No such resource type.")
            return scim_response(match[0])
        return scim_response(_list(len(types), types, 1))


class SchemasView(ScimView):
    def get(self, request, team_slug, schema_id=None):
        base = _base(request, team_slug)
        schemas = [
            {
                **s,
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
                "meta": {"resourceType": "Schema", "location": base + "Schemas/" + s["id"]},
            }
            for s in SCHEMAS
        ]
        if schema_id is not None:
            match = [s for s in schemas if s["id"] == schema_id]
            if not match:
                raise ScimError(404, "No such schema.")
            return scim_response(match[0])
        return scim_response(_list(len(schemas), schemas, 1))


class RootView(ScimView):
    def get(self, request, team_slug):
        raise ScimError(404, "See /ServiceProviderConfig, /Users and /Groups.")
