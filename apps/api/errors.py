"""DRF exception handler rendering the error format of DESIGN.md §8."""

from __future__ import annotations

import logging

import psycopg
from django.db import OperationalError
from django.http import Http404
from psycopg_pool import PoolTimeout
from rest_framework import exceptions
from rest_framework.response import Response

from apps.core.errors import DomainError, error_body

logger = logging.getLogger(__name__)

RETRY_AFTER_S = 1

_CODES = {
    400: "invalid",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def overloaded(exc: Exception) -> bool:
    """The database refused us for capacity: pool exhausted, too many connections, a
    lock wait that hit lock_timeout, or contention that outlasted the ingest's retries
    (deadlock, serialization failure). Clients should retry later, not give up."""
    cause = exc.__cause__ if isinstance(exc, OperationalError) else exc
    return isinstance(
        cause,
        PoolTimeout
        | psycopg.errors.TooManyConnections
        | psycopg.errors.LockNotAvailable
        | psycopg.errors.DeadlockDetected
        | psycopg.errors.SerializationFailure,
    )


def exception_handler(exc, context):
    if overloaded(exc):
        request = context.get("request")
        logger.warning("database overloaded on %s: %s", getattr(request, "path", "?"), exc)
        response = Response(
            error_body(
                "overloaded",
                "The server is busy; retry after the indicated delay.",
                {"retry_after": RETRY_AFTER_S},
            ),
            status=503,
        )
        response["Retry-After"] = str(RETRY_AFTER_S)
        return response
    if isinstance(exc, DomainError):
        response = Response(error_body(exc.code, exc.message, exc.detail), status=exc.status)
        if exc.status == 401:
            response["WWW-Authenticate"] = 'Bearer realm="api"'
        return response
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    if not isinstance(exc, exceptions.APIException):
        return None
    status = exc.status_code
    if isinstance(exc, exceptions.ValidationError):
        message, detail = "Invalid input.", exc.detail
    else:
        message, detail = str(exc.detail), None
    response = Response(error_body(_CODES.get(status, "error"), message, detail), status=status)
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        response["Retry-After"] = str(int(exc.wait))
    auth_header = getattr(exc, "auth_header", None)
    if auth_header:
        response["WWW-Authenticate"] = auth_header
    if status in (401, 403) and isinstance(
        exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed
    ):
        response.status_code = 401
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response
