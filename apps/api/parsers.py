"""The API's JSON request parser (REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]).

DRF's own parser uses the standard library: a body nested a few thousand levels deep
raises RecursionError there (a 500). This one parses through `apps.core.jsonlimits.loads`,
as the run, sweep and registry body reader does, so every JSON body of the API is read
by one function with one set of limits.
"""

from __future__ import annotations

from rest_framework.parsers import BaseParser, get_encoding

from apps.core import jsonlimits
from apps.core.errors import DomainError


class JSONParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
        encoding = get_encoding(parser_context or {})
        if encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
            try:
                raw = raw.decode(encoding).encode()
            except UnicodeError as exc:
                raise DomainError(
                    f"Body is not valid {encoding} text.", code="invalid_json"
                ) from exc
        return jsonlimits.loads(raw)
