"""Content-Security-Policy and Permissions-Policy on every kind of response, in the test
settings and the production settings; and templates the policy can serve unchanged (no
inline script, inline event handlers or style attributes)."""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.child_process import child_env

ROOT = Path(__file__).resolve().parents[2]

# (path, expected status, expected content type prefix)
ANONYMOUS = [
    ("/accounts/login/", 200, "text/html"),
    ("/api/docs/", 200, "text/html"),
    ("/api/docs/?script=", 200, "application/javascript"),
    ("/api/v1/viewer", 401, "application/json"),
    ("/api/v1/no-such-route", 404, "application/json"),  # rewritten by JsonErrorMiddleware
    ("/some-team/", 302, "text/html"),  # sign-in redirect
]


def _directives(header: str) -> dict[str, list[str]]:
    out = {}
    for part in header.split(";"):
        name, *values = part.split()
        out[name] = values
    return out


def assert_policies(headers: dict[str, str], host: str) -> None:
    csp = _directives(headers["Content-Security-Policy"])
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert set(csp["connect-src"]) == {"'self'", f"ws://{host}", f"wss://{host}"}
    assert {"'self'", "data:", "blob:"} <= set(csp["img-src"])
    assert "blob:" in csp["worker-src"]
    everything = " ".join(headers["Content-Security-Policy"].split())
    for loophole in ("'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", " * ", "http:"):
        assert loophole not in f" {everything} ", loophole
    features = dict(item.strip().split("=", 1) for item in headers["Permissions-Policy"].split(","))
    for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
        assert features[feature] == "()", feature
    assert features["clipboard-write"] == "(self)"


@pytest.mark.django_db
def test_every_kind_of_response_carries_both_policies_in_test_settings(client, admin_api):
    checked = []
    for path, status, content_type in ANONYMOUS:
        response = client.get(path)
        assert response.status_code == status, path
        assert response["Content-Type"].startswith(content_type), path
        assert_policies(response.headers, "testserver")
        checked.append(path)
    for response in (admin_api.get("/api/v1/viewer"), client.get("/healthz")):
        assert response.status_code == 200
        assert_policies(response.headers, "testserver")
    assert len(checked) == len(ANONYMOUS)


_PRODUCTION_CHILD = """
import json, sys
import django
django.setup()
from django.test import Client
from django.test.utils import override_settings
# Manifest storage needs collectstatic's manifest to render {% static %}; the headers do
# not depend on how static files are stored.
storages = {"default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
with override_settings(STORAGES=storages):
    client = Client(HTTP_HOST="gradline.example.com")
    out = []
    for path in json.loads(sys.argv[1]):
        response = client.get(path, secure=True)
        out.append([path, response.status_code, dict(response.headers)])
print(json.dumps(out))
"""


@pytest.mark.django_db(transaction=True)
def test_every_kind_of_response_carries_both_policies_in_production_settings():
    env = child_env(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="gradline.example.com",
        PUBLIC_BASE_URL="https://gradline.example.com",
    )
    paths = [path for path, _, _ in ANONYMOUS] + ["/healthz"]
    result = subprocess.run(
        [sys.executable, "-c", _PRODUCTION_CHILD, json.dumps(paths)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    answers = json.loads(result.stdout.strip().splitlines()[-1])
    expected = {path: status for path, status, _ in ANONYMOUS}
    for path, status, headers in answers:
        if path in expected:
            assert status == expected[path], (path, status)
        assert_policies(headers, "gradline.example.com")
    assert [path for path, _, _ in answers] == paths


_TEMPLATE_COMMENT = re.compile(r"\{#.*?#\}|\{% comment %\}.*?\{% endcomment %\}", re.S)


class _InlineFinder(HTMLParser):
    """Collects what a CSP without 'unsafe-inline' refuses: <script> without src,
    <style>, style="…", on…= handlers, htmx's hx-on (eval) and javascript: URLs."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        names = {name.lower(): value or "" for name, value in attrs}
        line = self.getpos()[0]
        if tag == "script" and "src" not in names and names.get("type") != "application/json":
            self.found.append(f"line {line}: inline <script>")
        if tag == "style":
            self.found.append(f"line {line}: <style> element")
        for name, value in names.items():
            if name == "style" or name.startswith(("on", "hx-on", "data-hx-on")):
                self.found.append(f"line {line}: {name}= attribute")
            if value.strip().lower().startswith("javascript:"):
                self.found.append(f"line {line}: javascript: URL in {name}")


def test_templates_have_no_inline_script_handlers_or_styles():
    problems = {}
    for path in sorted((ROOT / "templates").rglob("*.html")):
        finder = _InlineFinder()
        finder.feed(_TEMPLATE_COMMENT.sub("", path.read_text()))
        if finder.found:
            problems[str(path.relative_to(ROOT))] = finder.found
    assert problems == {}
