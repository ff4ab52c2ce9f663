"""The SCIM error (RFC 7644 §3.12): rendered by apps.scim.views as
`urn:ietf:params:scim:api:messages:2.0:Error` with `status`, `scimType` and `detail`."""

from __future__ import annotations


class ScimError(Exception):
    def __init__(self, status: int, detail: str, scim_type: str | None = None):
        super().__init__(detail)
        self.status, self.detail, self.scim_type = status, detail, scim_type
