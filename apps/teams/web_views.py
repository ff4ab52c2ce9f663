"""Team pages: the team list, team settings (members, invitations, API keys, service
accounts, audit log) and invitation links.

Access is checked before these views run: TeamScopeMiddleware opens `request.team_scope`
from the URL through the policy table (apps/core/policy.py), so a non-member never gets
here (404) and a role without the route's permission gets 403. Views validate input,
call services and render; apps/core/htmx.py fixes how success and errors are answered.
"""

from __future__ import annotations

from datetime import timedelta
from functools import wraps

from allauth.account.decorators import reauthentication_required
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.shortcuts import redirect, render
from django.urls import resolve, reverse
from django.utils import timezone

from apps.accounts import selectors as account_selectors
from apps.accounts import services as account_services
from apps.core.access import open_scope
from apps.core.errors import DomainError, NotFound
from apps.core.htmx import perform
from apps.core.web_input import form_text
from apps.teams import roles, selectors, services
from apps.teams.mfa import MfaRequired
from apps.teams.notifications import invitation_send

AUDIT_PAGE_SIZE = 50
KEY_EXPIRY_DAYS = (7, 30, 90, 365)


def _reauthentication_enabled(request) -> bool:
    return settings.REAUTHENTICATE_SENSITIVE_ACTIONS


def sensitive(view):
    """A form whose POST changes who may do what (roles, keys, team policy): it needs a
    recent sign-in, through allauth's reauthentication flow (password or second factor,
    ACCOUNT_REAUTHENTICATION_TIMEOUT). The POST is kept and replayed after the
    reauthentication; allauth calls the view directly then, past TeamScopeMiddleware, so
    the scope is opened again here: the policy table is applied to the replay as well.
    GETs pass. Off where settings.REAUTHENTICATE_SENSITIVE_ACTIONS is False."""

    @wraps(view)
    def scoped(request, team, **kwargs):
        request.team_scope = open_scope(
            route_name=resolve(request.path_info).view_name,
            method=request.method,
            user=request.user,
            team_slug=team,
        )
        return view(request, team, **kwargs)

    return reauthentication_required(scoped, allow_get=True, enabled=_reauthentication_enabled)


def _role_choices(team) -> list[tuple[str, str]]:
    """Base roles, then the team's custom roles, as (value, label) for role pickers."""
    return roles.ROLE_CHOICES + [
        (role.name, f"{role.name} (custom)") for role in selectors.team_custom_roles(team)
    ]


def _settings_context(request, tab: str, **extra) -> dict:
    scope = request.team_scope
    return {
        "scope": scope,
        "team": scope.team,
        "section": "settings",
        "tab": tab,
        "can_manage": scope.has(roles.TEAM_MANAGE),
        "can_audit": scope.has(roles.TEAM_AUDIT),
        "role_choices": _role_choices(scope.team),
        "now": timezone.now(),
        **extra,
    }


def _page(template: str, fragment_template: str | None, tab: str, build=None):
    """A page renderer for `perform`: full page, or its section fragment for htmx."""

    def page(request, status=200, fragment=False, **extra):
        context = _settings_context(request, tab, **(build(request) if build else {}), **extra)
        name = fragment_template if fragment and fragment_template else template
        return render(request, name, {**context, "fragment": fragment}, status=status)

    return page


def _email(value: str) -> str:
    value = (value or "").strip()
    try:
        validate_email(value)
    except ValidationError as exc:
        raise DomainError(
            "Enter a valid email address.", code="invalid_email", detail={"field": "email"}
        ) from exc
    return value


# --- team list -------------------------------------------------------------------


def _team_list_page(request, status=200, fragment=False, form_data=None):
    return render(
        request,
        "teams/team_list.html",
        {
            "memberships": selectors.memberships_of_user(request.user),
            "form_data": form_data,
            "section": "teams",
        },
        status=status,
    )


def team_list(request):
    if request.method == "POST":

        def create():
            return services.team_create(
                creator=request.user,
                slug=form_text(request, "slug").lower(),
                name=form_text(request, "name", max_length=128),
            )

        return perform(
            request,
            _team_list_page,
            create,
            success=lambda new_team: f"Team {new_team.slug} created.",
            redirect_to=lambda new_team: reverse(
                "web:project-list", kwargs={"team": new_team.slug}
            ),
        )
    return _team_list_page(request)


def invitation_accept(request, token):
    if request.method == "POST":
        try:
            membership = services.invitation_accept(token=token, user=request.user)
        except NotFound as exc:
            return render(
                request, "errors/error.html", {"status": 404, "message": exc.message}, status=404
            )
        except MfaRequired as exc:
            # The team requires MFA: enrol, then open the invitation link again.
            messages.warning(request, f"{exc.message} Then open the invitation link again.")
            return redirect("mfa_index")
        messages.success(request, f"You joined {membership.team.name} as {membership.role}.")
        return redirect("web:project-list", team=membership.team.slug)
    return render(request, "teams/invitation_accept.html", {"token": token})


# --- general ---------------------------------------------------------------------

_general_page = _page("teams/settings_general.html", None, "general")


def team_settings(request, team):
    scope = request.team_scope
    if request.method == "POST":
        return perform(
            request,
            _general_page,
            lambda: services.team_update(
                team=scope.team,
                name=form_text(request, "name", max_length=128),
                actor=request.user,
            ),
            success="Team settings saved.",
            redirect_to=reverse("web:team-settings", kwargs={"team": team}),
        )
    return _general_page(request)


@sensitive
def team_policy(request, team):
    scope = request.team_scope
    return perform(
        request,
        _general_page,
        lambda: services.team_set_require_mfa(
            team=scope.team,
            require_mfa=request.POST.get("require_mfa") == "on",
            actor=request.user,
        ),
        success="Security policy saved.",
        redirect_to=reverse("web:team-settings", kwargs={"team": team}),
    )


def team_leave(request, team):
    scope = request.team_scope
    return perform(
        request,
        _general_page,
        lambda: services.membership_remove(
            team=scope.team, user_id=request.user.pk, actor=request.user
        ),
        success=f"You left {scope.team.name}.",
        redirect_to=reverse("home"),
    )


# --- members ---------------------------------------------------------------------

_members_page = _page(
    "teams/members.html",
    "teams/partials/members.html",
    "members",
    lambda request: {"members": selectors.team_members(request.team_scope.team)},
)


def team_members(request, team):
    return _members_page(request)


@sensitive
def member_role(request, team, user_id):
    scope = request.team_scope
    return perform(
        request,
        _members_page,
        lambda: services.membership_set_role(
            team=scope.team, user_id=user_id, role=form_text(request, "role"), actor=request.user
        ),
        success=lambda m: f"{m.user.email} is now {m.role_name}.",
        redirect_to=reverse("web:team-members", kwargs={"team": team}),
    )


def member_remove(request, team, user_id):
    scope = request.team_scope
    return perform(
        request,
        _members_page,
        lambda: services.membership_remove(team=scope.team, user_id=user_id, actor=request.user),
        success="Member removed.",
        redirect_to=reverse("web:team-members", kwargs={"team": team}),
    )


# --- custom roles ----------------------------------------------------------------

_roles_page = _page(
    "teams/roles.html",
    "teams/partials/roles.html",
    "roles",
    lambda request: {
        "custom_roles": selectors.team_custom_roles(request.team_scope.team),
        "base_role_choices": roles.ROLE_CHOICES,
        "all_permissions": sorted(roles.ALL_PERMISSIONS),
    },
)


@sensitive
def team_roles(request, team):
    scope = request.team_scope
    if request.method == "POST":
        return perform(
            request,
            _roles_page,
            lambda: services.custom_role_create(
                team=scope.team,
                name=form_text(request, "name", max_length=64),
                base_role=form_text(request, "base_role", default=roles.MEMBER),
                added=request.POST.getlist("added"),
                removed=request.POST.getlist("removed"),
                actor=request.user,
            ),
            success=lambda role: f"Role {role.name} created.",
            redirect_to=reverse("web:team-roles", kwargs={"team": team}),
        )
    return _roles_page(request)


@sensitive
def role_delete(request, team, role_id):
    scope = request.team_scope
    return perform(
        request,
        _roles_page,
        lambda: services.custom_role_delete(team=scope.team, role_id=role_id, actor=request.user),
        success="Role deleted.",
        redirect_to=reverse("web:team-roles", kwargs={"team": team}),
    )


# --- invitations -----------------------------------------------------------------

_invitations_page = _page(
    "teams/invitations.html",
    "teams/partials/invitations.html",
    "invitations",
    lambda request: {"invitations": selectors.team_invitations(request.team_scope.team)},
)


def team_invitations(request, team):
    scope = request.team_scope
    if request.method == "POST":

        def invite():
            email = _email(form_text(request, "email", max_length=254))
            invitation, token = services.invitation_create(
                team=scope.team,
                email=email,
                role=form_text(request, "role", default=roles.MEMBER),
                actor=request.user,
            )
            return invitation, invitation_send(invitation, token)

        return perform(
            request,
            _invitations_page,
            invite,
            success=lambda result: f"Invitation sent to {result[0].email}.",
            redirect_to=reverse("web:team-invitations", kwargs={"team": team}),
            # The accept link carries the one-time token: show it once, for copying.
            result_context=lambda result: {"invite_url": result[1], "invited": result[0]},
        )
    return _invitations_page(request)


def invitation_revoke(request, team, invitation_id):
    scope = request.team_scope
    return perform(
        request,
        _invitations_page,
        lambda: services.invitation_revoke(
            team=scope.team, invitation_id=invitation_id, actor=request.user
        ),
        success="Invitation revoked.",
        redirect_to=reverse("web:team-invitations", kwargs={"team": team}),
    )


# --- personal API keys ------------------------------------------------------------

_api_keys_page = _page(
    "teams/api_keys.html",
    "teams/partials/api_keys.html",
    "api-keys",
    lambda request: {
        "keys": account_selectors.api_keys_of_user(request.user),
        "expiry_choices": KEY_EXPIRY_DAYS,
    },
)


def _key_scopes_from_form(request) -> dict:
    """read_only, projects and expires_at of a key form (validated by the service)."""
    projects = [p.strip() for p in form_text(request, "projects", max_length=2000).split(",")]
    days = form_text(request, "expires_in_days")
    if days and (not days.isdigit() or int(days) not in KEY_EXPIRY_DAYS):
        raise DomainError("Choose an expiry from the list.", detail={"field": "expires_in_days"})
    return {
        "read_only": request.POST.get("read_only") == "on",
        "projects": [p for p in projects if p],
        "expires_at": timezone.now() + timedelta(days=int(days)) if days else None,
    }


@sensitive
def api_keys(request, team):
    scope = request.team_scope
    if request.method == "POST":
        restrict = request.POST.get("restrict") == "on"
        return perform(
            request,
            _api_keys_page,
            lambda: account_services.personal_key_create(
                user=request.user,
                name=form_text(request, "name", max_length=100),
                team_slug=scope.team.slug if restrict else None,
                **_key_scopes_from_form(request),
            ),
            success=lambda result: f"API key {result[0].name} created.",
            redirect_to=reverse("web:api-keys", kwargs={"team": team}),
            result_context=lambda result: {"new_key": result[0], "new_secret": result[1]},
        )
    return _api_keys_page(request)


def api_key_revoke(request, team, key_id):
    # Only the signed-in user's own keys: another user's key id is "not found".
    return perform(
        request,
        _api_keys_page,
        lambda: account_services.personal_key_revoke(user=request.user, key_id=key_id),
        success="API key revoked.",
        redirect_to=reverse("web:api-keys", kwargs={"team": team}),
    )


# --- service accounts ----------------------------------------------------------------


def _service_accounts(request) -> dict:
    team = request.team_scope.team
    accounts = list(selectors.team_service_accounts(team))
    for account in accounts:
        account.active_keys = list(selectors.service_account_keys(team, account))
    return {"accounts": accounts, "expiry_choices": KEY_EXPIRY_DAYS}


_service_accounts_page = _page(
    "teams/service_accounts.html",
    "teams/partials/service_accounts.html",
    "service-accounts",
    _service_accounts,
)


@sensitive
def service_accounts(request, team):
    scope = request.team_scope
    if request.method == "POST":
        return perform(
            request,
            _service_accounts_page,
            lambda: services.service_account_provision(
                team=scope.team,
                name=form_text(request, "name", max_length=100),
                role=form_text(request, "role", default=roles.MEMBER),
                actor=request.user,
                **_key_scopes_from_form(request),
            ),
            success=lambda result: f"Service account {result[0].name} created.",
            redirect_to=reverse("web:service-accounts", kwargs={"team": team}),
            result_context=lambda result: {"new_key": result[1], "new_secret": result[2]},
        )
    return _service_accounts_page(request)


@sensitive
def service_account_key_create(request, team, account_id):
    scope = request.team_scope

    def create():
        account = selectors.team_service_accounts(scope.team).filter(pk=account_id).first()
        default_name = f"{account.name} key" if account else "key"
        return services.service_account_key_create(
            team=scope.team,
            account_id=account_id,
            name=form_text(request, "name", max_length=100) or default_name,
            actor=request.user,
        )

    return perform(
        request,
        _service_accounts_page,
        create,
        success=lambda result: f"API key {result[0].name} created.",
        redirect_to=reverse("web:service-accounts", kwargs={"team": team}),
        result_context=lambda result: {"new_key": result[0], "new_secret": result[1]},
    )


def service_account_delete(request, team, account_id):
    scope = request.team_scope
    return perform(
        request,
        _service_accounts_page,
        lambda: services.service_account_delete(
            team=scope.team, account_id=account_id, actor=request.user
        ),
        success="Service account deleted; its keys no longer work.",
        redirect_to=reverse("web:service-accounts", kwargs={"team": team}),
    )


# --- audit log -------------------------------------------------------------------


def team_audit(request, team):
    events = selectors.team_audit_events(request.team_scope.team)
    before = request.GET.get("before", "")
    if before.isdigit() and len(before) <= 18:
        events = events.filter(pk__lt=int(before))
    page = list(events[: AUDIT_PAGE_SIZE + 1])
    has_more = len(page) > AUDIT_PAGE_SIZE
    page = page[:AUDIT_PAGE_SIZE]
    return render(
        request,
        "teams/audit.html",
        _settings_context(
            request,
            "audit",
            events=page,
            next_before=page[-1].pk if has_more else None,
        ),
    )
