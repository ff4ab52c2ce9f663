"""Every route of the application, walked from the URL resolvers (HTTP: config.urls,
with allauth and the "api"/"web" namespaces; WebSocket: apps.realtime.routing)."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver


@dataclass(frozen=True)
class RouteInfo:
    name: str | None  # full name, "namespace:name"; None when the pattern has none
    path: str
    kwargs: tuple[str, ...]
    callback: object
    websocket: bool = False

    @property
    def is_api(self) -> bool:
        return self.path.startswith("api/")


def _kwargs_of(pattern) -> list[str]:
    converters = getattr(pattern, "converters", None)
    if converters is not None and not getattr(pattern, "_is_endpoint", False):
        names = list(converters)
    else:
        names = []
    regex = getattr(pattern, "regex", None)
    if regex is not None:
        names += [n for n in regex.groupindex if n not in names]
    return names


def _walk(patterns, prefix="", namespace=None, kwargs=(), websocket=False):
    from channels.routing import URLRouter

    for entry in patterns:
        here = tuple(dict.fromkeys([*kwargs, *_kwargs_of(entry.pattern)]))
        path = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            ns = namespace
            if entry.namespace:
                ns = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            yield from _walk(entry.url_patterns, path, ns, here, websocket)
        elif isinstance(entry, URLPattern) and isinstance(entry.callback, URLRouter):
            yield from _walk(entry.callback.routes, path, namespace, here, websocket)
        else:
            name = entry.name
            if name and namespace:
                name = f"{namespace}:{name}"
            yield RouteInfo(name, path, here, entry.callback, websocket)


def http_routes() -> list[RouteInfo]:
    return list(_walk(get_resolver().url_patterns))


def websocket_routes() -> list[RouteInfo]:
    from apps.realtime.routing import websocket_urlpatterns

    return list(_walk(websocket_urlpatterns, websocket=True))


def all_routes() -> list[RouteInfo]:
    return http_routes() + websocket_routes()
