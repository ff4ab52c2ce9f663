"""Reading POSTed form fields for server-rendered pages.

The API validates input with serializers; web views call the same services with form
values, so the checks a serializer would make before a value reaches the database
happen here: a NUL byte (PostgreSQL text cannot hold one) or a value longer than the
column is refused with a DomainError (400) naming the field, never a 500.
"""

from __future__ import annotations

from django.http import HttpRequest

from apps.core.errors import DomainError


def form_text(
    request: HttpRequest, name: str, *, default: str = "", max_length: int | None = None
) -> str:
    """The field's value, stripped of surrounding whitespace."""
    value = request.POST.get(name, default).strip()
    if "\x00" in value:
        raise DomainError(
            f"{name} must not contain NUL characters.", code="invalid", detail={"field": name}
        )
    if max_length is not None and len(value) > max_length:
        raise DomainError(
            f"{name} must be at most {max_length} characters.",
            code="invalid",
            detail={"field": name},
        )
    return value
