"""HTTP to the Gradline server: one kept-alive session per thread, gzip bodies,
typed errors that say whether retrying can help, and back-off with jitter."""

from __future__ import annotations

import email.utils
import random
import time
import zlib
from typing import Any

import orjson
import requests
from requests.adapters import HTTPAdapter

from gradline import __version__

GZIP_MIN_BYTES = 1024
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


class GradlineError(Exception):
    """Base of every error the SDK raises on purpose."""


class UsageError(GradlineError):
    """The script asked for something that cannot work (bad mode, no API key …)."""


class CommError(GradlineError):
    """Talking to the server failed. `retryable` says whether trying again may help."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        detail: Any = None,
        retryable: bool = False,
        retry_after: float | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.detail = detail
        self.retryable = retryable
        self.retry_after = retry_after


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def gzip_bytes(data: bytes) -> bytes:
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31)  # wbits 31: gzip container
    return compressor.compress(data) + compressor.flush()


class Backoff:
    """Exponential back-off with jitter ("equal jitter": half fixed, half random)."""

    def __init__(self, base: float = 0.5, cap: float = 15.0):
        self.base = base
        self.cap = cap
        self.attempt = 0

    def next(self, retry_after: float | None = None) -> float:
        if retry_after is not None:
            self.attempt += 1
            return min(retry_after, 300.0) + random.uniform(0, 0.1)
        delay = min(self.cap, self.base * (2**self.attempt))
        self.attempt += 1
        return delay / 2 + random.uniform(0, delay / 2)

    def reset(self) -> None:
        self.attempt = 0


class HttpClient:
    """Not shared between threads: each thread that talks to the server has its own.

    Bodies of 1 KiB or more are gzipped where asked (compress=True): the run routes
    (create, update, finish, ingest) accept gzip; the other routes read plain JSON."""

    def __init__(self, base_url: str, api_key: str | None, timeout: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=4, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = f"gradline-sdk/{__version__}"
        if api_key:
            self.session.headers["Authorization"] = f"Bearer {api_key}"

    def url(self, path: str) -> str:
        if path.startswith("http://") or path.startswith("https://"):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: bytes | None = None,
        params: dict | None = None,
        timeout: float | None = None,
        compress: bool = False,
        headers: dict | None = None,
        stream: bool = False,
    ) -> requests.Response:
        hdrs = dict(headers or {})
        body = data
        if json is not None:
            body = orjson.dumps(json)
            hdrs["Content-Type"] = "application/json"
            if compress and len(body) >= GZIP_MIN_BYTES:
                body = gzip_bytes(body)
                hdrs["Content-Encoding"] = "gzip"
        t = timeout if timeout is not None else self.timeout
        try:
            resp = self.session.request(
                method,
                self.url(path),
                data=body,
                params=params,
                headers=hdrs,
                timeout=(min(t, 10.0), t),
                stream=stream,
            )
        except requests.RequestException as exc:
            raise CommError(
                f"{method} {path}: {type(exc).__name__}: {exc}", retryable=True
            ) from None
        if resp.status_code < 400:
            return resp
        raise self._error(method, path, resp)

    def _error(self, method: str, path: str, resp: requests.Response) -> CommError:
        code = message = detail = None
        try:
            err = resp.json().get("error") or {}
            code, message, detail = err.get("code"), err.get("message"), err.get("detail")
        except (ValueError, AttributeError):
            message = (resp.text or "")[:200]
        status = resp.status_code
        return CommError(
            f"{method} {path}: HTTP {status}"
            + (f" {code}" if code else "")
            + (f": {message}" if message else ""),
            status=status,
            code=code,
            detail=detail,
            retryable=status in RETRYABLE_STATUS,
            retry_after=_retry_after(resp.headers.get("Retry-After")),
        )

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        resp = self.request(method, path, **kwargs)
        if resp.status_code == 204 or not resp.content:
            return None
        return orjson.loads(resp.content)

    def close(self) -> None:
        self.session.close()
