"""The one error shape of the API (DESIGN.md §8): {"error": {"code", "message", "detail"}}."""

from __future__ import annotations

from typing import Any

from django.http import JsonResponse


class DomainError(Exception):
    """A business rule refused the action; services raise it, interfaces render it."""

    status = 400
    code = "invalid"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        detail: Any = None,
        status: int | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.detail = detail
        self.status = status or self.status


def field_error(message: str, field: str, code: str = "invalid") -> DomainError:
    """A 400 naming the bad input field in `detail.field` (DESIGN.md §8)."""
    return DomainError(message, code=code, detail={"field": field})


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class TooLarge(DomainError):
    status = 413
    code = "payload_too_large"


class PermissionDenied(DomainError):
    status = 403
    code = "permission_denied"


def error_body(code: str, message: str, detail: Any = None) -> dict:
    return {"error": {"code": code, "message": message, "detail": detail}}


def error_response(
    status: int, code: str, message: str, detail: Any = None, headers: dict | None = None
) -> JsonResponse:
    response = JsonResponse(error_body(code, message, detail), status=status)
    for key, value in (headers or {}).items():
        response[key] = value
    return response
