"""The sessions page (allauth.usersessions, /accounts/sessions/): a user sees the sessions
they signed in with and signs the others out; another user's sessions never show."""

from __future__ import annotations

from django.test import Client

from tests.factories import UserFactory

PASSWORD = "correct-horse-battery-staple"


def _signed_in(email: str, agent: str) -> Client:
    client = Client(HTTP_USER_AGENT=agent)
    response = client.post("/accounts/login/", {"login": email, "password": PASSWORD})
    assert response.status_code == 302
    return client


def test_sessions_are_listed_and_others_are_signed_out(db):
    UserFactory(email="ses@example.com")
    UserFactory(email="other@example.com")
    laptop = _signed_in("ses@example.com", "LaptopBrowser/1.0")
    phone = _signed_in("ses@example.com", "PhoneBrowser/2.0")
    _signed_in("other@example.com", "StrangerBrowser/3.0")

    page = laptop.get("/accounts/sessions/")
    assert page.status_code == 200
    assert "LaptopBrowser/1.0" in page.text and "PhoneBrowser/2.0" in page.text
    assert "StrangerBrowser" not in page.text
    assert 'href="/accounts/sessions/"' in page.text  # in the account settings menu

    revoked = laptop.post("/accounts/sessions/")
    assert revoked.status_code == 302
    # The phone's session is gone: it is asked to sign in again; the laptop stays in.
    assert phone.get("/teams/").status_code == 302
    assert laptop.get("/teams/").status_code == 200
    assert "PhoneBrowser/2.0" not in laptop.get("/accounts/sessions/").text


def test_sessions_page_needs_a_signed_in_user(db):
    response = Client().get("/accounts/sessions/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
