"""The permission policy table: every route (web, API, WebSocket) is classified here.

Guarantees:
- A route is reachable only as its entry says. The API base class, the web middleware
  and the WebSocket consumer base all look the route up here by its URL name; a route
  missing from the table is refused (fail closed) and `tests/core/test_policy.py` fails.
- `team` routes need a membership in the team named by the URL (else 404, the same as a
  missing object) and the listed permission for the method (else 403).
- `project` routes behave like `team` routes, except that a public project is readable
  by anyone and an open project is writable by any signed-in user.
- Object rules are declared here too: where a method's permission is an `*_own` one
  (`runs:write_own`, `runs:delete_own`; roles.OWN_WIDENS_TO), the caller reaches only
  the objects it created unless it holds the wide permission (`runs:write`,
  `runs:delete`); `Route.owner_rule` names it. apps.core.access applies the rule to the
  object the request addresses (Scope.require_owner); tests/runs/test_ownership.py
  requests every such route as owner, other member and admin.

Not guaranteed: that a handler resolves its object through Scope.require_owner; the
run views do it in one place (RunsAPIView.get_run) and the ownership test checks them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from apps.teams import roles as p

PUBLIC = "public"  # anyone, signed in or not
USER = "user"  # any signed-in user or API key; no team in the URL
TEAM = "team"  # member of the URL's team, with the method's permission
PROJECT = "project"  # like TEAM, widened by the project's visibility

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Route:
    access: str
    # HTTP method (or "WS" for a WebSocket connect) -> permission; None needs none.
    methods: Mapping[str, str | None] = field(default_factory=dict)
    # Methods of a `project` route that may name a project that does not exist yet (the
    # handler creates it, as W&B does on the first run); the scope then has no project
    # and open_scope also requires projects:write.
    creates_project: frozenset[str] = frozenset()

    def permission_for(self, method: str) -> tuple[bool, str | None]:
        """(allowed_method, permission). HEAD and OPTIONS follow GET."""
        key = "GET" if method in {"HEAD", "OPTIONS"} and "GET" in self.methods else method
        if "*" in self.methods:
            return True, self.methods["*"]
        if key not in self.methods:
            return False, None
        return True, self.methods[key]

    def owner_rule(self, method: str) -> str | None:
        """The wide permission that reaches objects the caller did not create, when the
        method's permission is an `*_own` one (else None: no object rule)."""
        return p.OWN_WIDENS_TO.get(self.permission_for(method)[1] or "")


def public() -> Route:
    return Route(PUBLIC, MappingProxyType({"*": None}))


def user(**methods: str | None) -> Route:
    return Route(USER, MappingProxyType(methods or {"*": None}))


def team(**methods: str | None) -> Route:
    return Route(TEAM, MappingProxyType(methods))


def project(**methods: str | None) -> Route:
    return Route(PROJECT, MappingProxyType(methods))


def creating_project(route: Route, *methods: str) -> Route:
    """`route`, whose `methods` may name a missing project of a team the caller is in."""
    return Route(route.access, route.methods, frozenset(methods))


# Routes are keyed by their full URL name ("namespace:name").
ROUTES: dict[str, Route] = {
    # --- core -------------------------------------------------------------------
    "healthz": public(),
    "favicon": public(),
    "home": public(),
    # --- the SDK as this server built it (apps/sdkindex): a package index is anonymous
    "sdk-simple": public(),
    "sdk-simple-project": public(),
    "sdk-file": public(),
    # --- API paths whose team or project name breaks the naming rules: a 400 naming the
    # rule, before any lookup (apps/api/names.py); nothing about any tenant is read.
    "api:invalid-project-path": public(),
    "api:invalid-team-path": public(),
    # --- allauth (accounts/: sign-in, sign-up, password, email, MFA) ---------------
    # Signed-out flows are public (allauth rate-limits them; login also through
    # apps.accounts.adapters); account management needs a signed-in user.
    "account_login": public(),
    "account_signup": public(),
    "account_inactive": public(),
    "account_reset_password": public(),
    "account_reset_password_done": public(),
    "account_reset_password_from_key": public(),
    "account_reset_password_from_key_done": public(),
    "account_confirm_email": public(),
    "account_email_verification_sent": public(),
    "account_confirm_login_code": public(),
    "mfa_authenticate": public(),  # second factor of a login in progress (no session yet)
    "socialaccount_login_cancelled": public(),
    "socialaccount_login_error": public(),
    "socialaccount_signup": public(),  # completes a third-party sign-up in progress
    # Instance-wide sign-in providers (settings OAUTH_*; 404 unless configured).
    "github_login": public(),
    "github_callback": public(),
    "google_login": public(),
    "google_callback": public(),
    "google_login_by_token": public(),
    "gitlab_login": public(),
    "gitlab_callback": public(),
    "openid_connect_login": public(),
    "openid_connect_callback": public(),
    "account_logout": user(GET=None, POST=None),
    "account_reauthenticate": user(GET=None, POST=None),
    "account_request_reauthentication_code": user(GET=None, POST=None),
    "account_confirm_reauthentication_code": user(GET=None, POST=None),
    "account_email": user(GET=None, POST=None),
    "account_change_password": user(GET=None, POST=None),
    "account_set_password": user(GET=None, POST=None),
    "mfa_index": user(GET=None),
    "mfa_reauthenticate": user(GET=None, POST=None),
    "mfa_activate_totp": user(GET=None, POST=None),
    "mfa_deactivate_totp": user(GET=None, POST=None),
    "mfa_view_recovery_codes": user(GET=None),
    "mfa_generate_recovery_codes": user(GET=None, POST=None),
    "mfa_download_recovery_codes": user(GET=None),
    "usersessions_list": user(GET=None, POST=None),  # the user's own sessions; POST signs out
    "socialaccount_connections": user(GET=None, POST=None),
    # A team's single sign-on (apps/sso/urls.py): the sign-in page and the IdP's return are
    # public (404 unless the team has SSO enabled); break-glass is for the team's admins.
    "sso:login": public(),
    "sso:oidc-callback": public(),
    "sso:saml-acs": public(),  # the IdP's POST (signed; answers a sign-in this session began)
    "sso:saml-finish": public(),
    "sso:saml-metadata": public(),  # the team's SP metadata for its IdP
    "sso:break-glass": team(POST=p.TEAM_MANAGE),
    # SCIM 2.0 per team (apps/scim; docs/identity.md "SCIM"): the credential is a SCIM
    # bearer token of the URL's team, checked by apps.scim.views.ScimView (no token or a
    # bad one 401, another team's token 404); sessions and API keys are never read there.
    # tests/scim/test_scim_http.py requests them across teams.
    "scim:root": public(),
    "scim:config": public(),
    "scim:resource-types": public(),
    "scim:resource-type": public(),
    "scim:schemas": public(),
    "scim:schema": public(),
    "scim:users": public(),
    "scim:user": public(),
    "scim:groups": public(),
    "scim:group": public(),
    # --- API: identity and teams ------------------------------------------------
    "api:viewer": user(GET=None),
    "api:schema": public(),
    "api:docs": public(),
    "api:team-list": user(GET=None, POST=None),
    "api:team-detail": team(GET=p.TEAM_READ, PATCH=p.TEAM_MANAGE, DELETE=p.TEAM_MANAGE),
    "api:membership-list": team(GET=p.TEAM_READ),
    "api:membership-detail": team(GET=p.TEAM_READ, PATCH=p.TEAM_MANAGE, DELETE=p.TEAM_MANAGE),
    "api:team-leave": team(POST=p.TEAM_READ),
    # Custom roles (apps/teams/roles.py resolves them): members read, admins manage.
    "api:role-list": team(GET=p.TEAM_READ, POST=p.TEAM_MANAGE),
    "api:role-detail": team(GET=p.TEAM_READ, PATCH=p.TEAM_MANAGE, DELETE=p.TEAM_MANAGE),
    "api:invitation-list": team(GET=p.TEAM_MANAGE, POST=p.TEAM_MANAGE),
    "api:invitation-detail": team(DELETE=p.TEAM_MANAGE),
    "api:invitation-accept": user(POST=None),
    "api:service-account-list": team(GET=p.TEAM_MANAGE, POST=p.TEAM_MANAGE),
    "api:service-account-detail": team(GET=p.TEAM_MANAGE, DELETE=p.TEAM_MANAGE),
    "api:service-account-key-list": team(GET=p.TEAM_MANAGE, POST=p.TEAM_MANAGE),
    "api:service-account-key-detail": team(DELETE=p.TEAM_MANAGE),
    "api:audit-list": team(GET=p.TEAM_AUDIT),
    # Single sign-on (apps/sso; docs/identity.md): admins configure it.
    "api:sso-config": team(
        GET=p.TEAM_MANAGE, PUT=p.TEAM_MANAGE, PATCH=p.TEAM_MANAGE, DELETE=p.TEAM_MANAGE
    ),
    "api:sso-domain-list": team(GET=p.TEAM_MANAGE, POST=p.TEAM_MANAGE),
    "api:sso-domain-detail": team(DELETE=p.TEAM_MANAGE),
    # SCIM tokens (apps/scim): admins create (secret shown once) and revoke them.
    "api:scim-token-list": team(GET=p.TEAM_MANAGE, POST=p.TEAM_MANAGE),
    "api:scim-token-detail": team(DELETE=p.TEAM_MANAGE),
    "api:apikey-list": user(GET=None, POST=None),
    "api:apikey-detail": user(DELETE=None),
    # --- API: projects ------------------------------------------------------------
    "api:project-list": team(GET=p.PROJECTS_READ, POST=p.PROJECTS_WRITE),
    "api:project-detail": project(
        GET=p.PROJECTS_READ, PATCH=p.PROJECTS_WRITE, DELETE=p.PROJECTS_DELETE
    ),
    # Saved workspace views: viewers read them, members and admins save and edit them.
    "api:view-list": project(GET=p.PROJECTS_READ, POST=p.PROJECTS_WRITE),
    "api:view-detail": project(
        GET=p.PROJECTS_READ, PATCH=p.PROJECTS_WRITE, DELETE=p.PROJECTS_WRITE
    ),
    "api:parameter-importance": project(GET=p.RUNS_READ),
    # --- API: runs (issue: run tracking) -----------------------------------------
    # POST /runs creates the project on first use (then projects:write is required too).
    # Run ownership: every write to an existing run needs an `*_own` permission, which
    # reaches the caller's own runs; admins' runs:write / runs:delete reach every run.
    # POST /runs resuming an existing run by id applies the same rule (run services).
    "api:run-list": creating_project(project(GET=p.RUNS_READ, POST=p.RUNS_WRITE_OWN), "POST"),
    "api:run-detail": project(GET=p.RUNS_READ, PATCH=p.RUNS_WRITE_OWN, DELETE=p.RUNS_DELETE_OWN),
    "api:run-heartbeat": project(POST=p.RUNS_WRITE_OWN),
    "api:run-finish": project(POST=p.RUNS_WRITE_OWN),
    "api:run-ingest": project(POST=p.RUNS_WRITE_OWN),  # points, console, summary, config
    "api:run-history": project(GET=p.RUNS_READ),
    "api:run-scan": project(GET=p.RUNS_READ),
    "api:run-export-csv": project(GET=p.RUNS_READ),
    "api:run-export-parquet": project(GET=p.RUNS_READ),
    "api:run-file-list": project(GET=p.RUNS_READ),
    "api:run-file-detail": project(GET=p.RUNS_READ, PUT=p.RUNS_WRITE_OWN, DELETE=p.RUNS_WRITE_OWN),
    "api:run-console": project(GET=p.RUNS_READ),
    "api:project-history": project(GET=p.RUNS_READ),
    "api:project-history-grouped": project(GET=p.RUNS_READ),
    "api:metric-key-list": project(GET=p.RUNS_READ),
    # --- API: media (docs/media.md): the media index, files and table rows of runs --
    "api:run-media-list": project(GET=p.RUNS_READ, POST=p.RUNS_WRITE_OWN),  # run ownership
    "api:run-media-keys": project(GET=p.RUNS_READ),
    "api:run-media-detail": project(GET=p.RUNS_READ),
    "api:run-media-file": project(GET=p.RUNS_READ),
    "api:run-media-rows": project(GET=p.RUNS_READ),
    "api:run-media-histogram": project(GET=p.RUNS_READ),
    "api:project-media": project(GET=p.RUNS_READ),  # one key across runs (image grid)
    "api:project-media-keys": project(GET=p.RUNS_READ),
    # The team's custom chart presets: any member reads them, writers save and edit.
    "api:chart-preset-list": team(GET=p.PROJECTS_READ, POST=p.PROJECTS_WRITE),
    "api:chart-preset-detail": team(
        GET=p.PROJECTS_READ, PATCH=p.PROJECTS_WRITE, DELETE=p.PROJECTS_WRITE
    ),
    # --- API: registry (docs/registry.md) -----------------------------------------
    # Object rules in the services: aliases set while linking need registry:promote.
    "api:artifact-blob-missing": project(POST=p.ARTIFACTS_WRITE),
    "api:artifact-blob": project(PUT=p.ARTIFACTS_WRITE),
    "api:artifact-blob-bundle": project(POST=p.ARTIFACTS_WRITE),
    "api:artifact-list": project(GET=p.ARTIFACTS_READ),
    "api:artifact-detail": project(
        GET=p.ARTIFACTS_READ, PATCH=p.ARTIFACTS_WRITE, DELETE=p.ARTIFACTS_DELETE
    ),
    "api:artifact-version-list": project(POST=p.ARTIFACTS_WRITE),
    "api:artifact-version-detail": project(
        GET=p.ARTIFACTS_READ, PATCH=p.ARTIFACTS_WRITE, DELETE=p.ARTIFACTS_DELETE
    ),
    "api:artifact-file": project(GET=p.ARTIFACTS_READ),
    "api:artifact-files-bundle": project(POST=p.ARTIFACTS_READ),  # a read with a body
    "api:artifact-alias": project(PUT=p.ARTIFACTS_WRITE, DELETE=p.ARTIFACTS_WRITE),
    "api:artifact-alias-events": project(GET=p.ARTIFACTS_READ),
    "api:run-artifacts": project(GET=p.ARTIFACTS_READ),
    "api:run-used-artifacts": project(POST=p.RUNS_WRITE_OWN),  # lineage of the URL's run
    "api:registered-model-list": team(GET=p.ARTIFACTS_READ, POST=p.ARTIFACTS_WRITE),
    "api:registered-model-detail": team(
        GET=p.ARTIFACTS_READ, PATCH=p.ARTIFACTS_WRITE, DELETE=p.ARTIFACTS_DELETE
    ),
    "api:registered-model-version-list": team(POST=p.ARTIFACTS_WRITE),
    "api:registered-model-version-detail": team(GET=p.ARTIFACTS_READ, DELETE=p.REGISTRY_PROMOTE),
    "api:registered-model-alias": team(PUT=p.REGISTRY_PROMOTE, DELETE=p.REGISTRY_PROMOTE),
    "api:registered-model-alias-events": team(GET=p.ARTIFACTS_READ),
    # --- API: sweeps (docs/sweeps.md) ----------------------------------------------
    # POST /sweeps creates the project on first use (then projects:write is required too).
    # The stop check is a read that may store the stop decision on the trial.
    "api:sweep-list": creating_project(project(GET=p.SWEEPS_READ, POST=p.SWEEPS_WRITE), "POST"),
    # A sweep that ran offline (gradline sync): creates it, and the project on first use.
    "api:sweep-import": creating_project(project(POST=p.SWEEPS_WRITE), "POST"),
    "api:sweep-detail": project(GET=p.SWEEPS_READ, PATCH=p.SWEEPS_WRITE, DELETE=p.SWEEPS_WRITE),
    "api:sweep-next": project(POST=p.SWEEPS_WRITE),
    "api:sweep-trial-stop": project(GET=p.SWEEPS_READ),
    "api:sweep-trial-preempting": project(POST=p.SWEEPS_WRITE),
    # --- API: comments (docs/collaboration.md) --------------------------------------
    # Reading follows the target's read permission; writing needs projects:write
    # (members and admins; viewers and public readers only read). Authors edit and delete
    # their own comments, team:manage any (checked by apps.comments.services).
    "api:run-comment-list": project(GET=p.RUNS_READ, POST=p.PROJECTS_WRITE),
    "api:run-comment-detail": project(
        GET=p.RUNS_READ, PATCH=p.PROJECTS_WRITE, DELETE=p.PROJECTS_WRITE
    ),
    "api:artifact-version-comment-list": project(GET=p.ARTIFACTS_READ, POST=p.PROJECTS_WRITE),
    "api:artifact-version-comment-detail": project(
        GET=p.ARTIFACTS_READ, PATCH=p.PROJECTS_WRITE, DELETE=p.PROJECTS_WRITE
    ),
    "api:sweep-comment-list": project(GET=p.SWEEPS_READ, POST=p.PROJECTS_WRITE),
    "api:sweep-comment-detail": project(
        GET=p.SWEEPS_READ, PATCH=p.PROJECTS_WRITE, DELETE=p.PROJECTS_WRITE
    ),
    "api:registered-model-comment-list": team(GET=p.ARTIFACTS_READ, POST=p.PROJECTS_WRITE),
    "api:registered-model-comment-detail": team(
        GET=p.ARTIFACTS_READ, PATCH=p.PROJECTS_WRITE, DELETE=p.PROJECTS_WRITE
    ),
    "api:run-comment-counts": project(GET=p.RUNS_READ),
    "api:mentionable-members": team(GET=p.TEAM_READ),
    # --- API: notifications, alerts, automations, activity --------------------------
    # A user's notifications and preferences are their own (selectors filter by recipient).
    "api:notification-list": user(GET=None),
    "api:notification-read": user(POST=None),
    "api:notification-preferences": user(GET=None, PATCH=None),
    "api:notification-detail": user(GET=None, PATCH=None),
    # Integrations hold secrets and reach outside: admins only.
    "api:integration-list": team(GET=p.TEAM_MANAGE, POST=p.TEAM_MANAGE),
    "api:integration-detail": team(GET=p.TEAM_MANAGE, PATCH=p.TEAM_MANAGE, DELETE=p.TEAM_MANAGE),
    "api:delivery-list": team(GET=p.TEAM_MANAGE),
    "api:delivery-detail": team(GET=p.TEAM_MANAGE),
    "api:delivery-replay": team(POST=p.TEAM_MANAGE),
    "api:run-alert-list": project(GET=p.RUNS_READ, POST=p.RUNS_WRITE_OWN),  # run ownership
    "api:automation-list": team(GET=p.TEAM_READ, POST=p.TEAM_MANAGE),
    "api:automation-detail": team(GET=p.TEAM_READ, PATCH=p.TEAM_MANAGE, DELETE=p.TEAM_MANAGE),
    "api:automation-firing-list": team(GET=p.TEAM_READ),
    "api:project-activity": project(GET=p.PROJECTS_READ),
    "api:team-activity": team(GET=p.TEAM_READ),
    # --- API: reports (docs/collaboration.md "Reports") ---------------------------------
    # Reading follows the project (a private report: its author and team admins, else 404,
    # in apps.reports.selectors); writers edit; sharing, publishing and deleting are the
    # author's or an admin's (apps.reports.services). An export is a read that renders.
    "api:report-list": project(GET=p.PROJECTS_READ, POST=p.PROJECTS_WRITE),
    "api:report-detail": project(
        GET=p.PROJECTS_READ, PATCH=p.PROJECTS_WRITE, DELETE=p.PROJECTS_WRITE
    ),
    "api:report-version-list": project(GET=p.PROJECTS_READ),
    "api:report-version-detail": project(GET=p.PROJECTS_READ),
    "api:report-version-restore": project(POST=p.PROJECTS_WRITE),
    "api:report-publish": project(POST=p.PROJECTS_WRITE, DELETE=p.PROJECTS_WRITE),
    "api:report-export-list": project(POST=p.PROJECTS_READ),
    "api:report-export-detail": project(GET=p.PROJECTS_READ),
    "api:report-export-file": project(GET=p.PROJECTS_READ),
    "api:report-comment-list": project(GET=p.PROJECTS_READ, POST=p.PROJECTS_WRITE),
    "api:report-comment-detail": project(
        GET=p.PROJECTS_READ, PATCH=p.PROJECTS_WRITE, DELETE=p.PROJECTS_WRITE
    ),
    # --- API: monitoring (docs/monitoring.md) ----------------------------------------
    # Members configure monitors and log predictions (a service account's key, usually);
    # viewers read dashboards. GET drift computes a missing window result once (a cache).
    "api:monitor-list": team(GET=p.ARTIFACTS_READ, POST=p.ARTIFACTS_WRITE),
    "api:monitor-detail": team(
        GET=p.ARTIFACTS_READ, PATCH=p.ARTIFACTS_WRITE, DELETE=p.ARTIFACTS_DELETE
    ),
    "api:monitor-predictions": team(POST=p.ARTIFACTS_WRITE),
    "api:monitor-ground-truth": team(POST=p.ARTIFACTS_WRITE),
    "api:monitor-reference": team(GET=p.ARTIFACTS_READ, PUT=p.ARTIFACTS_WRITE),
    "api:monitor-metrics": team(GET=p.ARTIFACTS_READ),
    "api:monitor-drift": team(GET=p.ARTIFACTS_READ, POST=p.ARTIFACTS_WRITE),
    "api:monitor-rule-list": team(GET=p.ARTIFACTS_READ, POST=p.ARTIFACTS_WRITE),
    "api:monitor-rule-detail": team(
        GET=p.ARTIFACTS_READ, PATCH=p.ARTIFACTS_WRITE, DELETE=p.ARTIFACTS_WRITE
    ),
    "api:monitor-alert-list": team(GET=p.ARTIFACTS_READ),
    # --- web pages ----------------------------------------------------------------
    # Pages render for anyone who may read them; each form posts to a route whose
    # permission is the write it performs (viewers get 403 on every write).
    "web:team-list": user(GET=None, POST=None),
    "web:invitation-accept": user(GET=None, POST=None),
    "web:team-settings": team(GET=p.TEAM_READ, POST=p.TEAM_MANAGE),
    "web:team-leave": team(POST=p.TEAM_READ),
    "web:team-members": team(GET=p.TEAM_READ),
    "web:member-role": team(POST=p.TEAM_MANAGE),
    "web:member-remove": team(POST=p.TEAM_MANAGE),
    "web:team-policy": team(POST=p.TEAM_MANAGE),  # require MFA
    "web:team-roles": team(GET=p.TEAM_READ, POST=p.TEAM_MANAGE),
    "web:role-delete": team(POST=p.TEAM_MANAGE),
    "web:team-invitations": team(GET=p.TEAM_MANAGE, POST=p.TEAM_MANAGE),
    "web:invitation-revoke": team(POST=p.TEAM_MANAGE),
    # Personal keys belong to the signed-in user; any member manages their own.
    "web:api-keys": team(GET=p.TEAM_READ, POST=p.TEAM_READ),
    "web:api-key-revoke": team(POST=p.TEAM_READ),
    "web:service-accounts": team(GET=p.TEAM_MANAGE, POST=p.TEAM_MANAGE),
    "web:service-account-key-create": team(POST=p.TEAM_MANAGE),
    "web:service-account-delete": team(POST=p.TEAM_MANAGE),
    "web:team-audit": team(GET=p.TEAM_AUDIT),
    "web:team-sso": team(GET=p.TEAM_MANAGE, POST=p.TEAM_MANAGE),  # single sign-on settings
    "web:team-sso-domains": team(POST=p.TEAM_MANAGE),
    "web:team-sso-domain-delete": team(POST=p.TEAM_MANAGE),
    "web:team-scim": team(GET=p.TEAM_MANAGE, POST=p.TEAM_MANAGE),  # SCIM tokens (apps/scim)
    "web:team-scim-token-revoke": team(POST=p.TEAM_MANAGE),
    "web:project-list": team(GET=p.PROJECTS_READ, POST=p.PROJECTS_WRITE),
    "web:project-detail": project(GET=p.PROJECTS_READ),
    "web:project-settings": project(GET=p.PROJECTS_WRITE, POST=p.PROJECTS_WRITE),
    "web:project-delete": project(POST=p.PROJECTS_DELETE),
    # --- API: deployments (docs/deployments.md) ------------------------------------
    # Reading a deployment and querying its endpoint need what reading the model needs.
    "api:deployment-list": team(GET=p.ARTIFACTS_READ, POST=p.DEPLOYMENTS_WRITE),
    "api:deployment-detail": team(GET=p.ARTIFACTS_READ, DELETE=p.DEPLOYMENTS_WRITE),
    "api:deployment-redeploy": team(POST=p.DEPLOYMENTS_WRITE),
    "api:deployment-rollback": team(POST=p.DEPLOYMENTS_WRITE),
    "api:deployment-stop": team(POST=p.DEPLOYMENTS_WRITE),
    "api:deployment-events": team(GET=p.ARTIFACTS_READ),
    "api:deployment-manifests": team(GET=p.ARTIFACTS_READ),
    "api:deployment-predict": team(POST=p.ARTIFACTS_READ),
    # --- web: registry (templates/registry; docs/registry.md) ------------------------
    # As in the API: linking needs artifacts:write (aliases set while linking need
    # registry:promote, checked by the service), unlinking registry:promote.
    "web:artifact-list": project(GET=p.ARTIFACTS_READ),
    "web:artifact-detail": project(GET=p.ARTIFACTS_READ),
    "web:artifact-update": project(POST=p.ARTIFACTS_WRITE),
    "web:artifact-alias-set": project(POST=p.ARTIFACTS_WRITE),
    "web:artifact-alias-delete": project(POST=p.ARTIFACTS_WRITE),
    "web:artifact-version-detail": project(GET=p.ARTIFACTS_READ),
    "web:artifact-version-update": project(POST=p.ARTIFACTS_WRITE),
    "web:artifact-version-delete": project(POST=p.ARTIFACTS_DELETE),
    "web:artifact-version-link": project(POST=p.ARTIFACTS_WRITE),
    "web:artifact-file": project(GET=p.ARTIFACTS_READ),
    "web:registered-model-list": team(GET=p.ARTIFACTS_READ),
    "web:registered-model-detail": team(GET=p.ARTIFACTS_READ),
    "web:registered-model-update": team(POST=p.ARTIFACTS_WRITE),
    "web:registered-model-version-unlink": team(POST=p.REGISTRY_PROMOTE),
    "web:registered-model-alias-set": team(POST=p.REGISTRY_PROMOTE),
    "web:registered-model-alias-delete": team(POST=p.REGISTRY_PROMOTE),
    # --- web: sweeps (templates/sweeps; docs/sweeps.md "Web pages") ------------------
    # Pause, resume, finish and cancel are one form field (`state`), as PATCH state is.
    "web:sweep-list": project(GET=p.SWEEPS_READ),
    "web:sweep-detail": project(GET=p.SWEEPS_READ),
    "web:sweep-state": project(POST=p.SWEEPS_WRITE),
    # --- web: runs (templates/runs; docs/workspace.md "Web pages") ------------------
    # Read-only pages: edits and deletion go through the run API (api:run-detail).
    "web:run-detail": project(GET=p.RUNS_READ),
    "web:run-compare": project(GET=p.RUNS_READ),
    # --- web: notifications, automations, activity (docs/collaboration.md) -------------
    "web:notification-list": user(GET=None, POST=None),
    # The signed token is the credential (one-click unsubscribe from an email).
    "web:notification-unsubscribe": public(),
    "web:team-integrations": team(GET=p.TEAM_MANAGE, POST=p.TEAM_MANAGE),
    "web:integration-delete": team(POST=p.TEAM_MANAGE),
    "web:delivery-replay": team(POST=p.TEAM_MANAGE),
    "web:automation-list": team(GET=p.TEAM_READ, POST=p.TEAM_MANAGE),
    "web:automation-delete": team(POST=p.TEAM_MANAGE),
    "web:team-activity": team(GET=p.TEAM_READ),
    "web:project-activity": project(GET=p.PROJECTS_READ),
    # --- web: reports (templates/reports; docs/collaboration.md "Reports") -------------
    "web:report-list": project(GET=p.PROJECTS_READ, POST=p.PROJECTS_WRITE),
    "web:report-detail": project(GET=p.PROJECTS_READ),
    "web:report-edit": project(GET=p.PROJECTS_WRITE, POST=p.PROJECTS_WRITE),
    "web:report-versions": project(GET=p.PROJECTS_READ),
    "web:report-version-detail": project(GET=p.PROJECTS_READ),
    "web:report-version-restore": project(POST=p.PROJECTS_WRITE),
    "web:report-share": project(POST=p.PROJECTS_WRITE),
    "web:report-delete": project(POST=p.PROJECTS_WRITE),
    # A share link: the token names the report, then the view applies the project's
    # visibility through open_scope("web:report-detail") (apps/reports/web_views.py).
    "web:report-shared": public(),
    # --- web: monitoring (templates/monitoring; docs/monitoring.md "Web") ------------
    "web:monitor-list": team(GET=p.ARTIFACTS_READ),
    "web:monitor-detail": team(GET=p.ARTIFACTS_READ),
    # --- web: deployments (templates/deployments; docs/deployments.md) ----------------
    "web:deployment-list": team(GET=p.ARTIFACTS_READ),
    "web:deployment-detail": team(GET=p.ARTIFACTS_READ),
    "web:deployment-rollback": team(POST=p.DEPLOYMENTS_WRITE),
    "web:deployment-stop": team(POST=p.DEPLOYMENTS_WRITE),
    # --- WebSockets ---------------------------------------------------------------
    "ws:run-events": project(WS=p.RUNS_READ),  # live events of one run (subscribe only)
    "ws:project-events": project(WS=p.RUNS_READ),  # every run of a project (subscribe only)
    # Live comments of one object, as its comment list's GET (subscribe only).
    "ws:run-comments": project(WS=p.RUNS_READ),
    "ws:artifact-version-comments": project(WS=p.ARTIFACTS_READ),
    "ws:sweep-comments": project(WS=p.SWEEPS_READ),
    "ws:report-comments": project(WS=p.PROJECTS_READ),
    "ws:registered-model-comments": team(WS=p.ARTIFACTS_READ),
    "ws:deployment-events": team(WS=p.ARTIFACTS_READ),  # one deployment's events and logs
    "ws:monitor-events": team(WS=p.ARTIFACTS_READ),  # a monitor's windows as they fill
    "ws:notifications": user(WS=None),  # the signed-in user's own notifications
}


def route_for(name: str | None) -> Route | None:
    return ROUTES.get(name or "")
