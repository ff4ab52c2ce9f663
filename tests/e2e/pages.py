"""What the browser tests share: the test password, screenshots, script-error capture,
Content-Security-Policy violation capture, signing in and waiting for htmx to settle."""

from __future__ import annotations

import re

PASSWORD = "correct-horse-battery-staple"


def screenshot(page, directory, name: str) -> None:
    """A full-page screenshot when GRADLINE_SCREENSHOTS names a folder (see `screenshots`)."""
    if directory is not None:
        page.screenshot(path=str(directory / f"{name}.png"), full_page=True)


def script_errors(page) -> list[str]:
    """Script errors on the page, collected from now on. Chrome also logs every 4xx
    response as a console error ("Failed to load resource"); tests provoke those on
    purpose, so they are not counted."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: (
            errors.append(msg.text)
            if msg.type == "error" and not msg.text.startswith("Failed to load resource")
            else None
        ),
    )
    return errors


# Runs in every page before its own scripts: each CSP violation (a blocked script, style,
# eval, connection …) is logged as a console error that names what was refused.
_REPORT_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  const report = JSON.stringify({
    directive: event.effectiveDirective, blocked: event.blockedURI,
    source: event.sourceFile, line: event.lineNumber, sample: event.sample,
    page: document.location.pathname,
  });
  window.__cspViolations.push(report);
  console.error("CSP violation: " + report);
}, true);
"""


# Logged media files (…/media/<id>/file) are user content served under their own sandbox
# policy (docs/media.md, Security): what that policy refuses inside a media frame is the
# sandbox working, not a violation by the app's pages.
_MEDIA_DOCUMENT = re.compile(r"/api/v1/teams/[^/]+/projects/[^/]+/runs/[^/]+/media/\d+/file")


def from_media_document(msg) -> bool:
    """Whether a console message comes from a sandboxed media document (an Html item)."""
    location = msg.location or {}
    return bool(_MEDIA_DOCUMENT.search(location.get("url") or "")) or bool(
        msg.text.startswith("CSP violation: ") and _MEDIA_DOCUMENT.search(msg.text)
    )


def policy_violations(context, into: list[str] | None = None) -> list[str]:
    """CSP violations in every page of `context` from now on (appended to `into` when
    given): the securitypolicyviolation events (reported by an init script) and Chrome's
    own "Refused to …" messages, except inside sandboxed media documents (above). The
    `browser` fixture (conftest.py) watches every context this way and fails the test
    on any."""
    violations = into if into is not None else []
    context.add_init_script(_REPORT_VIOLATIONS)
    context.on(
        "console",
        lambda msg: (
            violations.append(msg.text)
            if msg.text.startswith(("CSP violation: ", "Refused to "))
            and not from_media_document(msg)
            else None
        ),
    )
    return violations


def sign_in(browser, base_url: str, email: str, color_scheme: str, **context_options):
    """A new browser context signed in as `email`; returns (context, page)."""
    options = {"viewport": {"width": 1280, "height": 900}, **context_options}
    context = browser.new_context(base_url=base_url, color_scheme=color_scheme, **options)
    page = context.new_page()
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/[a-z0-9-]+/$"))
    return context, page


def settled(page) -> None:
    """htmx has swapped and bound the new content (the next action may use it)."""
    page.wait_for_function(
        "!document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
    )
