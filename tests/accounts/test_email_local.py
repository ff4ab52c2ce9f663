"""Where mail only reaches the server's terminal, the pages say so, and an operator can
mark an address verified (two-factor setup needs one)."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from apps.teams.models import AuditEvent
from tests.e2e.pages import PASSWORD

pytestmark = pytest.mark.django_db
CONSOLE = "django.core.mail.backends.console.EmailBackend"
EMAIL = "ada@example.com"


def _sign_up(client):
    response = client.post(
        "/accounts/signup/", {"email": EMAIL, "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 302


@override_settings(EMAIL_BACKEND=CONSOLE)
def test_console_mail_is_said_and_an_operator_verifies_the_address(client):
    _sign_up(client)
    blocked = client.get("/accounts/2fa/totp/activate/", follow=True)
    assert "verified your email" in blocked.content.decode()
    page = client.get("/accounts/email/").content.decode()
    assert "This server does not send email" in page
    assert f"manage.py verify_email {EMAIL}" in page

    out = io.StringIO()
    call_command("verify_email", EMAIL.upper(), stdout=out)
    assert out.getvalue().strip() == f"{EMAIL} is verified"
    assert AuditEvent.objects.filter(action="email.verified_by_admin", target=EMAIL).exists()

    assert "This server does not send email" not in client.get("/accounts/email/").content.decode()
    # No longer refused: allauth goes on to its usual re-authentication step.
    activate = client.get("/accounts/2fa/totp/activate/")
    assert activate.status_code == 302 and activate.url.startswith("/accounts/reauthenticate/")


def test_no_notice_where_mail_is_really_sent(client):
    _sign_up(client)  # the test settings' locmem backend stands for a real one
    assert "This server does not send email" not in client.get("/accounts/email/").content.decode()


def test_verify_email_names_an_unknown_address():
    with pytest.raises(CommandError, match="No user has the email"):
        call_command("verify_email", "nobody@example.com")
