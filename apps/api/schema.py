"""OpenAPI (drf-spectacular) glue: the API key security scheme, unique operation ids,
the error answers every operation can give, and query parameters with the bounds the
server enforces. `manage.py check --deploy` runs spectacular's schema check, so every
API view must declare its request and response serializers with `extend_schema`
(tests/core/test_deploy_check.py keeps that at zero warnings).

What the schema promises is checked against a live server by `make fuzz`
(scripts/fuzz.py): every answer must be declared, with a body matching its schema.
"""

from __future__ import annotations

import re

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

INT64_MAX = 2**63 - 1


def int_query(
    name: str,
    description: str,
    *,
    minimum: int = 0,
    maximum: int = INT64_MAX,
    default: int | None = None,
) -> OpenApiParameter:
    """An integer query parameter with the range the handler accepts (anything outside
    it answers 400 naming the parameter)."""
    schema: dict = {"type": "integer", "minimum": minimum, "maximum": maximum}
    if default is not None:
        schema["default"] = default
    return OpenApiParameter(name, schema, description=description)


def list_query(name: str, description: str, *, min_items: int = 0, max_items: int | None = None):
    """A comma-separated list in one query parameter (`?runs=a,b`)."""
    schema: dict = {"type": "array", "items": {"type": "string", "minLength": 1}}
    if min_items:
        schema["minItems"] = min_items
    if max_items is not None:
        schema["maxItems"] = max_items
    return OpenApiParameter(name, schema, description=description, style="form", explode=False)


PAGE_PARAMETERS = [
    int_query("limit", "Page size (default 100).", minimum=1, maximum=500, default=100),
    int_query("offset", "Rows to skip (from the `next` link).", maximum=10**12, default=0),
]


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "apps.accounts.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key (`gl-…`) as `Authorization: Bearer <key>`, or HTTP "
            "Basic with user `api` and the key as password.",
        }


class ErrorDetail(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable, e.g. `not_found`, `invalid`.")
    message = serializers.CharField(help_text="For people.")
    detail = serializers.JSONField(
        allow_null=True, help_text='More about the error, e.g. `{"field": "limit"}`; or null.'
    )


class Error(serializers.Serializer):
    """The one error shape of the API (DESIGN.md §8)."""

    error = ErrorDetail()


_RETRY_AFTER = {
    "Retry-After": {
        "schema": {"type": "integer", "minimum": 0},
        "description": "Seconds to wait before retrying.",
    }
}
_ERROR_DESCRIPTIONS = {
    "400": "Bad input; `detail.field` names the parameter or field.",
    "401": "No valid credentials.",
    "403": "In the team, but the role lacks the permission (or a CSRF failure).",
    "404": "No such object, or it belongs to a team the caller cannot see.",
    "409": "Conflicts with the current state (name taken, last admin, …).",
    "413": "The body is too large.",
    "415": "The body's media type is not accepted.",
    "429": "Rate limited; retry after `Retry-After` seconds.",
    "503": "The database is overloaded; retry after `Retry-After` seconds.",
}
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class GradlineAutoSchema(AutoSchema):
    def get_operation_id(self) -> str:
        """`<view name in snake_case>_<method>`: unique because each view class serves
        one route (the default derives ids from paths and collides for list/detail)."""
        name = type(self.view).__name__.removesuffix("View")
        snake = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
        return f"{snake}_{self.method.lower()}"

    def error_statuses(self) -> list[str]:
        """The error answers this operation can give. Every operation authenticates,
        checks the role, is rate limited and validates its query string (NUL characters
        at least); objects named in the path can be missing or another team's; writes
        can conflict; bodies can be too large or of the wrong type; any operation can
        meet an overloaded database."""
        statuses = ["400", "401", "403", "429", "503"]
        writes = self.method in _BODY_METHODS or self.method == "DELETE"
        if "{" in self.path or writes:
            statuses.append("404")  # writes may also name objects in their body
        if writes:
            statuses.append("409")
        if self.method in _BODY_METHODS:
            statuses += ["413", "415"]
        return sorted(statuses)

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for status in self.error_statuses():
            declared = responses.get(status)
            if declared is not None and declared.get("content"):
                continue  # the view declared its own body for this status
            response = self._get_response_for_code(
                OpenApiResponse(Error, description=_ERROR_DESCRIPTIONS[status]),
                status,
                ["application/json"],
                direction,
            )
            if status in ("429", "503"):
                response["headers"] = _RETRY_AFTER
            if declared is not None:  # keep the view's description (ingest's 413)
                response["description"] = declared.get("description") or response["description"]
            responses[status] = response
        return responses
