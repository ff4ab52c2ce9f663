"""OpenAPI (drf-spectacular) glue: the API key security scheme, unique operation ids,
and the shared list parameters. `manage.py check --deploy` runs spectacular's schema
check, so every API view must declare its request and response serializers with
`extend_schema` (tests/core/test_deploy_check.py keeps that at zero warnings).
"""

from __future__ import annotations

import re

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter

PAGE_PARAMETERS = [
    OpenApiParameter("limit", int, description="Page size, 1-500 (default 100)."),
    OpenApiParameter("offset", int, description="Rows to skip (from the `next` link)."),
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


class GradlineAutoSchema(AutoSchema):
    def get_operation_id(self) -> str:
        """`<view name in snake_case>_<method>`: unique because each view class serves
        one route (the default derives ids from paths and collides for list/detail)."""
        name = type(self.view).__name__.removesuffix("View")
        snake = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
        return f"{snake}_{self.method.lower()}"
