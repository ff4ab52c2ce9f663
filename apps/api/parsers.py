"""The API's JSON request parser (REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]).

DRF's own parser uses the standard library: a body nested a few thousand levels deep
raises RecursionError there (a 500). This one parses through `apps.core.jsonlimits.loads`,
as the run, sweep and registry body reader does, so every JSON body of the API is read
by one function with one set of limits, and holds DRF-parsed bodies to the body limit
(`MAX_REQUEST_BYTES`, 413 above it).
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.parsers import BaseParser, get_encoding

from apps.core import jsonlimits
from apps.core.errors import DomainError, TooLarge


class JSONParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        # The body limit holds here too (Django checks it only on request.body, which
        # DRF's stream bypasses): read one byte past it, never the whole body.
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise TooLarge(f"Request body exceeds {limit} bytes.", detail={"limit_bytes": limit})
        encoding = get_encoding(parser_context or {})
        if encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
            try:
                raw = raw.decode(encoding).encode()
            except UnicodeError as exc:
                raise DomainError(
                    f"Body is not valid {encoding} text.", code="invalid_json"
                ) from exc
        return jsonlimits.loads(raw)
