"""/sdk/: the SDK as a PEP 503 simple index and as plain file downloads.

    pip install <server>/sdk/files/gradline-<version>-py3-none-any.whl
    pip install --index-url <server>/sdk/simple/ --no-deps gradline   # mirrors, tooling

The wheel URL is what pages show: with --index-url pip would look for the SDK's
dependencies here too, and --extra-index-url would let a package index's "gradline"
shadow this server's.
"""

from __future__ import annotations

from django.http import FileResponse, Http404
from django.shortcuts import render
from django.views.decorators.http import require_safe

from apps.sdkindex.distributions import PROJECT, distribution_get, distributions


@require_safe
def simple_root(request):
    return render(request, "sdkindex/simple_root.html", {"project": PROJECT})


@require_safe
def simple_project(request, name: str):
    if name.lower().replace("_", "-").replace(".", "-") != PROJECT:
        raise Http404("No such project on this index.")
    return render(
        request, "sdkindex/simple_project.html", {"project": PROJECT, "files": distributions()}
    )


@require_safe
def download(request, filename: str):
    dist = distribution_get(filename)
    if dist is None:
        raise Http404("No such SDK file.")
    response = FileResponse(dist.path.open("rb"), as_attachment=True, filename=dist.filename)
    response["Content-Type"] = "application/octet-stream"
    return response
