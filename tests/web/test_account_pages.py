"""django-allauth pages in the Gradline layout: sign-up, sign-in, sign-out, password
reset (request, email link, new password), email confirmation and management."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from apps.accounts.models import User
from apps.teams.models import Membership
from tests.web.conftest import login

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-staple"


def _text(response) -> str:
    return response.content.decode()


def _link(body: str) -> str:
    url = re.search(r"https?://\S+", body).group(0)
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


@pytest.mark.parametrize(
    "name,heading",
    [
        ("account_login", "Sign in to Gradline"),
        ("account_signup", "Create your account"),
        ("account_reset_password", "Reset your password"),
        ("account_reset_password_done", "Check your email"),
    ],
)
def test_entrance_pages_render_in_our_layout(client, name, heading):
    response = client.get(reverse(name))
    assert response.status_code == 200
    html = _text(response)
    assert heading in html
    assert 'class="auth-card"' in html and "css/app.css" in html


def test_signup_creates_the_personal_team_and_lands_on_it(client):
    response = client.post(
        reverse("account_signup"),
        {"email": "ada@example.com", "password1": PASSWORD, "password2": PASSWORD},
        follow=True,
    )
    user = User.objects.get(email="ada@example.com")
    personal = Membership.objects.of_user(user).get(team__is_personal=True).team
    assert response.redirect_chain[-1][0] == f"/{personal.slug}/"
    assert "Create a project" in _text(response)
    assert len(mail.outbox) == 1  # the email confirmation


def test_signup_errors_are_shown(client):
    response = client.post(
        reverse("account_signup"),
        {"email": "bad", "password1": "x", "password2": "y"},
    )
    assert response.status_code == 200
    html = _text(response)
    assert 'class="errorlist' in html
    assert not User.objects.filter(email="bad").exists()


def test_login_and_wrong_password(admin_user):
    client = Client()
    bad = client.post(reverse("account_login"), {"login": admin_user.email, "password": "nope"})
    assert bad.status_code == 200
    assert "alert error" in _text(bad)
    good = client.post(reverse("account_login"), {"login": admin_user.email, "password": PASSWORD})
    assert good.status_code == 302
    assert client.get("/").status_code == 302  # signed in: home sends to the personal team


def test_logout_page_and_sign_out(admin_user):
    client = login(admin_user)
    page = client.get(reverse("account_logout"))
    assert page.status_code == 200 and "Sign out of Gradline" in _text(page)
    assert client.post(reverse("account_logout")).status_code == 302
    assert client.get(reverse("web:team-list")).status_code == 302  # to sign in


def test_password_reset_flow(admin_user):
    client = Client()
    response = client.post(reverse("account_reset_password"), {"email": admin_user.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    page = client.get(_link(mail.outbox[0].body), follow=True)
    assert "Choose a new password" in _text(page)
    new = "another-long-passphrase-42"
    done = client.post(
        page.redirect_chain[-1][0] if page.redirect_chain else _link(mail.outbox[0].body),
        {"password1": new, "password2": new},
        follow=True,
    )
    assert "Password changed" in _text(done)
    assert Client().login(email=admin_user.email, password=new)


def test_bad_reset_link_says_so(client):
    response = client.get("/accounts/password/reset/key/1-bad-token/", follow=True)
    assert response.status_code == 200
    assert "Link expired" in _text(response)


def test_email_confirmation_page(client):
    client.post(
        reverse("account_signup"),
        {"email": "grace@example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    link = _link(mail.outbox[0].body)
    page = client.get(link)
    assert page.status_code == 200 and "Confirm email address" in _text(page)
    assert client.post(link).status_code == 302
    emails = _text(client.get(reverse("account_email")))
    assert "grace@example.com" in emails and "verified" in emails


@pytest.mark.parametrize("name", ["account_email", "account_change_password", "mfa_index"])
def test_account_settings_pages_render(admin_user, name):
    response = login(admin_user).get(reverse(name))
    assert response.status_code == 200
    html = _text(response)
    assert 'aria-label="Account settings"' in html and "css/app.css" in html
