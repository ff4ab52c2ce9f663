from django.urls import path

from apps.teams import web_views as v

urlpatterns = [
    path("invitations/<str:token>", v.invitation_accept, name="invitation-accept"),
]
