"""List pagination for every API list that can grow: `?limit=&offset=` in, and
`{"results": [...], "next": <url or null>}` out.

Bad values answer 400 naming the parameter. The queryset must have a total order
(end the ordering with a unique column) or pages could repeat or skip rows.
"""

from __future__ import annotations

import re
from functools import cache

from rest_framework import serializers
from rest_framework.response import Response

from apps.core.errors import DomainError

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
_DIGITS = re.compile(r"[0-9]{1,18}")


def int_param(request, name: str, default: int, *, minimum: int, maximum: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not _DIGITS.fullmatch(raw) or not minimum <= int(raw) <= maximum:
        raise DomainError(
            f"{name} must be an integer from {minimum} to {maximum}.",
            code="invalid_parameter",
            detail={"field": name},
        )
    return int(raw)


def paginate(request, queryset) -> tuple[list, str | None]:
    """One page of `queryset` and the URL of the next page (None on the last)."""
    limit = int_param(request, "limit", DEFAULT_LIMIT, minimum=1, maximum=MAX_LIMIT)
    offset = int_param(request, "offset", 0, minimum=0, maximum=10**12)
    items = list(queryset[offset : offset + limit + 1])
    if len(items) <= limit:
        return items, None
    params = request.query_params.copy()
    params["limit"] = str(limit)
    params["offset"] = str(offset + limit)
    return items[:limit], request.build_absolute_uri(f"{request.path}?{params.urlencode()}")


def page_response(request, queryset, serializer_class, **context) -> Response:
    items, next_url = paginate(request, queryset)
    data = serializer_class(items, many=True, context={"request": request, **context}).data
    return Response({"results": data, "next": next_url})


@cache
def page_of(item: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """The response schema of a page of `item` (for drf-spectacular)."""
    name = item.__name__.removesuffix("Out") + "Page"
    return type(
        name,
        (serializers.Serializer,),
        {
            "results": item(many=True),
            "next": serializers.URLField(allow_null=True),
            "__module__": item.__module__,
        },
    )
