"""Responses shared by the API's hot paths: orjson bodies, true streaming under ASGI, and
streamed reads of stored files."""

from __future__ import annotations

import posixpath
from collections.abc import Iterator

import orjson
from asgiref.sync import sync_to_async
from django.core.files.storage import default_storage
from django.http import HttpResponse, StreamingHttpResponse

from apps.core import jsonlimits
from apps.core.errors import DomainError


def json_response(data, status: int = 200, headers: dict | None = None) -> HttpResponse:
    """`data` as an orjson body. What was stored before the input limits (or around the
    API) may be nested deeper than orjson writes; such an answer still goes out, with the
    too-deep parts replaced by a marker (apps.core.jsonlimits.encodable)."""
    try:
        body = orjson.dumps(data)
    except orjson.JSONEncodeError:
        body = orjson.dumps(jsonlimits.encodable(data))
    response = HttpResponse(body, status=status, content_type="application/json")
    for key, value in (headers or {}).items():
        response[key] = value
    return response


def streaming(request, chunks: Iterator[bytes], content_type: str, **headers):
    """A response that really streams under ASGI too: Django would buffer a synchronous
    iterator there, so each chunk is pulled through sync_to_async on the request's thread
    (where its database connection lives)."""
    django_request = getattr(request, "_request", request)  # a DRF or a Django request
    if django_request.META.get("wsgi.input") is not None:
        response = StreamingHttpResponse(chunks, content_type=content_type)
    else:

        async def pull():
            try:
                while True:
                    chunk = await sync_to_async(next, thread_sensitive=True)(chunks, None)
                    if chunk is None:
                        return
                    yield chunk
            finally:
                await sync_to_async(chunks.close, thread_sensitive=True)()

        response = StreamingHttpResponse(pull(), content_type=content_type)
    for key, value in headers.items():
        response[key.replace("_", "-")] = value
    return response


def storage_chunks(name: str) -> Iterator[bytes]:
    """The stored file's bytes in 1 MiB chunks. The file is opened here, before any
    header is sent, so a file lost from storage answers 410 instead of a stream that
    breaks after its Content-Length was promised."""
    try:
        handle = default_storage.open(name, "rb")
    except FileNotFoundError:
        raise DomainError(
            "The stored content of this file is missing from storage.",
            code="file_missing",
            status=410,
        ) from None

    def chunks() -> Iterator[bytes]:
        with handle:
            while chunk := handle.read(1024 * 1024):
                yield chunk

    return chunks()


# Files up to this size are answered in one body: no per-chunk hop between the event
# loop and the request's thread (artifact datasets are often thousands of small files).
SMALL_FILE = 1024 * 1024


def stored_file_response(
    request,
    storage_name: str,
    *,
    size: int,
    path: str,
    content_type: str = "",
    etag: str | None = None,
) -> HttpResponse:
    """A stored file as an attachment named after the last part of `path`."""
    filename = posixpath.basename(path).replace('"', "")
    chunks = storage_chunks(storage_name)
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if etag:
        headers["ETag"] = f'"{etag}"'
    content_type = content_type or "application/octet-stream"
    if size <= SMALL_FILE:
        response = HttpResponse(b"".join(chunks), content_type=content_type)
        headers["Content-Length"] = str(size)
        for key, value in headers.items():
            response[key] = value
        return response
    headers = {key.replace("-", "_"): value for key, value in headers.items()}
    return streaming(request, chunks, content_type, Content_Length=str(size), **headers)
