"""The client's IP address, for rate limits and the audit log.

Behind N reverse proxies (NUM_PROXIES, default 0) the client is the N-th address from
the right of X-Forwarded-For: each trusted proxy appends the address it saw, so entries
left of that were written by the client and cannot be trusted. With NUM_PROXIES=0 the
header is ignored and REMOTE_ADDR is used; otherwise every user behind one proxy would
share one login rate-limit bucket, or anyone could pick their own bucket.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings


def client_ip(request) -> str | None:
    proxies = getattr(settings, "NUM_PROXIES", 0)
    remote = request.META.get("REMOTE_ADDR") or None
    if proxies > 0:
        chain = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(chain) >= proxies:
            remote = chain[-proxies]
    try:
        return str(ipaddress.ip_address(remote)) if remote else None
    except ValueError:
        return None
