"""The test IdP's routes: allauth's IdP and account pages, plus test endpoints."""

import json

import jwt as _jwt
from allauth.account.models import EmailAddress
from allauth.idp.oidc.internal.oauthlib import request_validator
from allauth.idp.oidc.models import Client
from django.contrib.auth.models import Group, User
from django.http import JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from tests.sso.idp_server import modes


class _JWT:
    """The IdP's jwt module, except that mode `alg_none` issues unsigned ID tokens."""

    def __getattr__(self, name):
        return getattr(_jwt, name)

    def encode(self, payload, key, algorithm="RS256", headers=None, **kwargs):
        if modes.MODE["value"] == "alg_none" and "nonce" not in kwargs:
            return _jwt.encode(payload, None, algorithm="none", headers=headers)
        return _jwt.encode(payload, key, algorithm=algorithm, headers=headers, **kwargs)


request_validator.jwt = _JWT()


@csrf_exempt
def set_mode(request):
    modes.MODE["value"] = json.loads(request.body)["mode"]
    return JsonResponse(modes.MODE)


@csrf_exempt
def make_user(request):
    data = json.loads(request.body)
    user, _ = User.objects.get_or_create(username=data["email"], email=data["email"])
    user.set_password(data["password"])
    user.save()
    EmailAddress.objects.filter(user=user).delete()
    EmailAddress.objects.create(
        user=user, email=data["email"], verified=data.get("verified", True), primary=True
    )
    user.groups.set([Group.objects.get_or_create(name=g)[0] for g in data.get("groups", [])])
    return JsonResponse({"sub": str(user.pk)})


@csrf_exempt
def make_client(request):
    data = json.loads(request.body)
    Client.objects.filter(id=data["id"]).delete()
    client = Client(
        id=data["id"],
        name=data["id"],
        scopes="openid\nprofile\nemail",
        redirect_uris="\n".join(data["redirect_uris"]),
        skip_consent=True,
    )
    client.set_secret(data["secret"])
    client.save()
    return JsonResponse({"id": client.id})


urlpatterns = [
    path("test/mode", set_mode),
    path("test/users", make_user),
    path("test/clients", make_client),
    path("accounts/", include("allauth.urls")),
    path("", include("allauth.idp.urls")),
]
