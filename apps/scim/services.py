"""SCIM writes (docs/identity.md "SCIM"): tokens, and what the team's IdP provisions.

Guarantees:
- A token is shown once; only its prefix and an HMAC digest are stored.
- Provisioning a user (POST, or active=true) makes them a member with the team's SSO
  just-in-time role (TeamSSOConfig.jit_role) or `member`; only addresses at one of the
  team's verified domains are provisioned, so a team's IdP cannot claim other people.
- Deprovisioning (active=false, DELETE) removes the membership, revokes the user's keys
  restricted to this team and ends every session of the user (a session is not per
  team). Keys that reach all the user's teams stay, and no longer reach this one. A User
  row is never deleted; its name is edited only when this team's SCIM created it, and
  its email (userName) never changes through SCIM.
- Every change writes an AuditEvent (`scim.*`, actor null, detail names the token).
"""

from __future__ import annotations

import contextlib
import secrets

from allauth.account.models import EmailAddress
from allauth.usersessions.models import UserSession
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from apps.accounts import keys
from apps.accounts.models import ApiKey, User
from apps.core.errors import Conflict, DomainError, NotFound
from apps.scim import selectors
from apps.scim.errors import ScimError
from apps.scim.models import ScimToken, ScimUser
from apps.sso.models import TeamSSOConfig, VerifiedDomain
from apps.teams import audit
from apps.teams import services as team_services
from apps.teams.models import Membership, Team
from apps.teams.roles import MEMBER, ROLE_PERMISSIONS

TOKEN_PREFIX = "glscim-"  # noqa: S105 (the public part of every token)
TOKEN_RANDOM = 40
LOOKUP_LEN = 16

TOKEN_CREATED = "scim.token_created"  # noqa: S105 (audit action names)
TOKEN_REVOKED = "scim.token_revoked"  # noqa: S105
USER_CREATED = "scim.user_created"
USER_UPDATED = "scim.user_updated"
USER_DEACTIVATED = "scim.user_deactivated"
USER_REACTIVATED = "scim.user_reactivated"
USER_DELETED = "scim.user_deleted"
GROUP_UPDATED = "scim.group_updated"


# --- tokens ---------------------------------------------------------------------------
def _generate_token() -> str:
    return TOKEN_PREFIX + "".join(secrets.choice(keys.ALPHABET) for _ in range(TOKEN_RANDOM))


@transaction.atomic
def scim_token_create(*, team: Team, name, actor) -> tuple[ScimToken, str]:
    if team.is_personal:
        raise DomainError("A personal team has no SCIM provisioning.", code="personal_team")
    if not isinstance(name, str) or not name.strip():
        raise DomainError("name is required.", code="invalid", detail={"field": "name"})
    name = name.strip()
    if len(name) > 100 or "\x00" in name:
        raise DomainError(
            "name must be at most 100 characters.", code="invalid", detail={"field": "name"}
        )
    secret = _generate_token()
    token = ScimToken.objects.for_team(team).create(
        team=team,
        name=name,
        prefix=secret[:LOOKUP_LEN],
        digest=keys.digest(secret),
        created_by=actor,
    )
    audit.audit_record(TOKEN_CREATED, team=team, actor=actor, target=f"{name} ({token.prefix})")
    return token, secret


@transaction.atomic
def scim_token_revoke(*, team: Team, token_id: int, actor) -> None:
    token = selectors.scim_tokens(team).select_for_update(of=("self",)).filter(pk=token_id).first()
    if token is None:
        raise NotFound("No such SCIM token.")
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    audit.audit_record(
        TOKEN_REVOKED, team=team, actor=actor, target=f"{token.name} ({token.prefix})"
    )


def scim_token_authenticate(header: str) -> ScimToken | None:
    """The active token for an `Authorization: Bearer <token>` header, or None."""
    scheme, _, secret = (header or "").partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret.startswith(TOKEN_PREFIX):
        return None
    if len(secret) != len(TOKEN_PREFIX) + TOKEN_RANDOM:
        return None
    token = (
        ScimToken.objects.across_teams()
        .select_related("team")
        .filter(prefix=secret[:LOOKUP_LEN], revoked_at__isnull=True)
        .first()
    )
    if token is None or not keys.digest_matches(secret, token.digest):
        return None
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ScimToken.objects.for_team(token.team).filter(pk=token.pk).update(last_used_at=now)
    return token


# --- users ----------------------------------------------------------------------------
def _bad(detail: str, scim_type: str = "invalidValue") -> ScimError:
    return ScimError(400, detail, scim_type)


def _text(value, field: str, max_length: int = 150) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or "\x00" in value or len(value) > max_length:
        raise _bad(f"{field} must be a string of at most {max_length} characters.")
    return value.strip()


def _bool(value, field: str) -> bool:
    # Entra sends "True"/"False" as strings in PATCH operations.
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise _bad(f"{field} must be a boolean.")


def _name_of(data: dict) -> str | None:
    """The display name from `name` (formatted, or given + family) or `displayName`;
    None when the body names none."""
    name = data.get("name")
    if name is not None and not isinstance(name, dict):
        raise _bad("name must be an object.")
    if name:
        formatted = _text(name.get("formatted"), "name.formatted")
        if formatted:
            return formatted
        parts = [
            _text(name.get("givenName"), "name.givenName"),
            _text(name.get("familyName"), "name.familyName"),
        ]
        if any(parts):
            return " ".join(p for p in parts if p)
    if data.get("displayName") is not None:
        return _text(data.get("displayName"), "displayName")
    return None


def _user_name(data: dict) -> str:
    value = data.get("userName")
    if not isinstance(value, str) or not value.strip():
        raise _bad("userName is required (the user's email address).")
    value = value.strip().lower()
    try:
        validate_email(value)
    except ValidationError:
        raise _bad("userName must be an email address.") from None
    return value


def _default_role(team: Team) -> str:
    config = TeamSSOConfig.objects.for_team(team).first()
    return (config.jit_role if config and config.jit_role else "") or MEMBER


def _record(action: str, team: Team, token: ScimToken, user: User, **detail) -> None:
    audit.audit_record(
        action, team=team, actor=None, target=user.email, detail={"token": token.prefix, **detail}
    )


def _add_member(team: Team, user: User) -> Membership:
    role = _default_role(team)
    base = role if role in ROLE_PERMISSIONS else MEMBER
    membership = team_services.membership_add(team=team, user=user, role=base, actor=None)
    if role != base:
        # A custom role deleted since the SSO setting was saved: the base role stays.
        with contextlib.suppress(DomainError):
            membership = team_services.membership_set_role(
                team=team, user_id=user.pk, role=role, actor=None
            )
    return membership


def _deprovision(team: Team, user: User) -> dict:
    """Membership removed, the user's keys for this team revoked, their sessions ended."""
    if not Membership.objects.for_team(team).filter(user=user).exists():
        return {"keys_revoked": 0, "sessions_ended": 0}
    try:
        team_services.membership_remove(team=team, user_id=user.pk, actor=None, via="scim")
    except Conflict as exc:  # the last admin, a service account
        raise ScimError(409, exc.message, "mutability") from None
    now = timezone.now()
    revoked = ApiKey.objects.filter(user=user, team=team, revoked_at__isnull=True).update(
        revoked_at=now
    )
    sessions = list(UserSession.objects.filter(user=user))
    for session in sessions:
        session.end()
    return {"keys_revoked": revoked, "sessions_ended": len(sessions)}


@transaction.atomic
def scim_user_create(*, team: Team, token: ScimToken, data) -> User:
    if not isinstance(data, dict):
        raise _bad("The body must be a JSON object.", "invalidSyntax")
    email = _user_name(data)
    name = _name_of(data) or ""
    external_id = _text(data.get("externalId"), "externalId", 255)
    active = _bool(data.get("active", True), "active")
    domain = email.rpartition("@")[2]
    if not VerifiedDomain.objects.for_team(team).filter(domain=domain).exists():
        raise _bad(
            f"userName must be an address at one of this team's verified domains "
            f"({domain} is not one; add it under Single sign-on)."
        )
    user = User.objects.filter(email__iexact=email).first()
    created = user is None
    if user is not None:
        if user.is_service_account or selectors.scim_user(team, user.pk) is not None:
            raise ScimError(409, f"User {email} already exists in this team.", "uniqueness")
    else:
        user = User.objects.create_user(email, name=name)
        EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    ScimUser.objects.for_team(team).create(
        team=team, user=user, external_id=external_id, created_user=created
    )
    if active:
        _add_member(team, user)
    _record(USER_CREATED, team, token, user, active=active, new_account=created)
    return user


def _apply(team: Team, token: ScimToken, user: User, link: ScimUser | None, state: dict) -> None:
    """Bring the user to `state` (keys: external_id, name, active; absent = unchanged)."""
    if link is None:  # a member added by hand, now managed by the IdP
        link = ScimUser.objects.for_team(team).create(team=team, user=user)
    changed = []
    if "external_id" in state and state["external_id"] != link.external_id:
        link.external_id = state["external_id"]
        link.save(update_fields=["external_id", "updated_at"])
        changed.append("externalId")
    name = state.get("name")
    if name is not None and name != user.name and link.created_user:
        user.name = name
        user.save(update_fields=["name"])
        changed.append("name")
    if changed:
        _record(USER_UPDATED, team, token, user, fields=changed)
    if "active" in state:
        is_member = Membership.objects.for_team(team).filter(user=user).exists()
        if state["active"] and not is_member:
            membership = _add_member(team, user)
            _record(USER_REACTIVATED, team, token, user, role=membership.role_name)
        elif not state["active"] and is_member:
            _record(USER_DEACTIVATED, team, token, user, **_deprovision(team, user))


def _target(team: Team, user_id) -> tuple[User, ScimUser | None]:
    user = selectors.scim_user(team, user_id)
    if user is None:
        raise ScimError(404, f"No user {str(user_id)[:100]!r} in this team.")
    return user, selectors.scim_link(team, user)


def _same_user_name(user: User, value) -> None:
    if value is not None and (not isinstance(value, str) or value.strip().lower() != user.email):
        raise _bad("userName (the email address) cannot be changed through SCIM.", "mutability")


@transaction.atomic
def scim_user_replace(*, team: Team, token: ScimToken, user_id, data) -> User:
    user, link = _target(team, user_id)
    if not isinstance(data, dict):
        raise _bad("The body must be a JSON object.", "invalidSyntax")
    _same_user_name(user, data.get("userName"))
    state = {
        "external_id": _text(data.get("externalId"), "externalId", 255),
        "active": _bool(data.get("active", True), "active"),
    }
    name = _name_of(data)
    if name is not None:
        state["name"] = name
    _apply(team, token, user, link, state)
    return user


_PATCH_PATHS = {
    "active": "active",
    "externalid": "external_id",
    "displayname": "name",
    "name.formatted": "name",
    "name.givenname": "given",
    "name.familyname": "family",
    "username": "userName",
}


@transaction.atomic
def scim_user_patch(*, team: Team, token: ScimToken, user_id, data) -> User:
    user, link = _target(team, user_id)
    operations = _operations(data)
    state: dict = {}
    given = family = None
    for op, path, value in operations:
        if path is None:
            if not isinstance(value, dict):
                raise _bad("An operation without a path needs an object value.")
            items = _flatten(value)
        elif path.lower() == "name" and isinstance(value, dict):
            items = _flatten({"name": value})
        else:
            items = [(path, value)]
        for key, item in items:
            field = _PATCH_PATHS.get(key.lower())
            if field is None:
                if _ignored(key):
                    continue
                raise _bad(f"Cannot {op} {key!r} on a user.", "noTarget")
            if op == "remove":
                item = False if field == "active" else ""
            if field == "active":
                state["active"] = _bool(item, "active")
            elif field == "external_id":
                state["external_id"] = _text(item, "externalId", 255)
            elif field == "name":
                state["name"] = _text(item, key)
            elif field == "given":
                given = _text(item, key)
            elif field == "family":
                family = _text(item, key)
            else:
                _same_user_name(user, item)
    if (given is not None or family is not None) and "name" not in state:
        current = [*user.name.split(" ", 1), ""]
        parts = [
            given if given is not None else current[0],
            family if family is not None else current[1],
        ]
        state["name"] = " ".join(p for p in parts if p)
    _apply(team, token, user, link, state)
    return user


# User attributes IdPs send (Entra's default mapping among them) that Gradline does not
# keep: accepted and dropped, so provisioning goes on. The email is userName (immutable).
_IGNORED = {
    "schemas", "id", "meta", "title", "nickname", "profileurl", "usertype", "locale",
    "timezone", "preferredlanguage", "phonenumbers", "addresses", "ims", "photos", "roles",
    "entitlements", "x509certificates", "groups", "name.middlename", "name.honorificprefix",
    "name.honorificsuffix",
}  # fmt: skip


def _ignored(key: str) -> bool:
    key = key.lower()
    return (
        key in _IGNORED
        or key.split("[", 1)[0].split(".", 1)[0] in _IGNORED | {"emails"}
        or key.startswith("urn:ietf:params:scim:schemas:extension:")
    )


def _flatten(value: dict, prefix: str = "") -> list[tuple[str, object]]:
    items = []
    for key, item in value.items():
        path = f"{prefix}{key}"
        if isinstance(item, dict) and key.lower() == "name":
            items += _flatten(item, path + ".")
        else:
            items.append((path, item))
    return items


def _operations(data) -> list[tuple[str, str | None, object]]:
    if not isinstance(data, dict) or not isinstance(data.get("Operations"), list):
        raise _bad("A PATCH body needs an Operations list.", "invalidSyntax")
    if not data["Operations"] or len(data["Operations"]) > 1000:
        raise _bad("Operations must hold 1 to 1000 operations.", "invalidSyntax")
    result = []
    for operation in data["Operations"]:
        if not isinstance(operation, dict):
            raise _bad("Each operation must be an object.", "invalidSyntax")
        op = operation.get("op")
        if not isinstance(op, str) or op.lower() not in ("add", "replace", "remove"):
            raise _bad("op must be add, replace or remove.", "invalidSyntax")
        path = operation.get("path")
        if path is not None and (not isinstance(path, str) or len(path) > 500):
            raise _bad("path must be a string.", "invalidPath")
        if op.lower() == "remove" and path is None:
            raise _bad("A remove operation needs a path.", "noTarget")
        result.append((op.lower(), path, operation.get("value")))
    return result


@transaction.atomic
def scim_user_delete(*, team: Team, token: ScimToken, user_id) -> None:
    user, link = _target(team, user_id)
    detail = {}
    if Membership.objects.for_team(team).filter(user=user).exists():
        detail = _deprovision(team, user)
    if link is not None:
        link.delete()
    _record(USER_DELETED, team, token, user, **detail)


# --- groups (the team's roles) -----------------------------------------------------------
def _group(team: Team, group_id) -> str:
    role = str(group_id)
    if role not in selectors.role_names(team):
        raise ScimError(404, f"No group {role[:100]!r} in this team (groups are its roles).")
    return role


def _member_ids(value) -> list[str]:
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise _bad('members must be a list of {"value": <user id>}.')
    ids = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("value"), (str, int)):
            raise _bad('members must be a list of {"value": <user id>}.')
        ids.append(str(item["value"]))
    return ids


def _set_role(team: Team, token: ScimToken, role: str, user_id: str, new_role: str) -> None:
    user = selectors.scim_user(team, user_id)
    if user is None or not Membership.objects.for_team(team).filter(user=user).exists():
        raise _bad(f"User {user_id[:100]!r} is not an active member of this team.")
    membership = Membership.objects.for_team(team).get(user=user)
    if membership.role_name == new_role:
        return
    try:
        team_services.membership_set_role(team=team, user_id=user.pk, role=new_role, actor=None)
    except DomainError as exc:
        raise ScimError(
            exc.status if exc.status in (400, 404, 409) else 400, exc.message, "mutability"
        ) from None
    _record(GROUP_UPDATED, team, token, user, group=role, role=new_role)


def _remove_from(team: Team, token: ScimToken, role: str, user_id: str) -> None:
    fallback = _default_role(team)
    if fallback == role:
        fallback = MEMBER if role != MEMBER else "viewer"
    user = selectors.scim_user(team, user_id)
    membership = Membership.objects.for_team(team).filter(user=user).first() if user else None
    if membership is not None and membership.role_name == role:
        _set_role(team, token, role, user_id, fallback)


def _remove_filter_ids(path: str) -> list[str] | None:
    """`members[value eq "12"]` -> ["12"]; None for another path."""
    text = path.strip()
    if not text.lower().startswith("members[") or not text.endswith("]"):
        return None
    inner = text[len("members[") : -1].strip()
    head, _, value = inner.partition(" eq ")
    if head.strip().lower() != "value" or not value.strip().startswith('"'):
        raise _bad('Only members[value eq "<id>"] is supported.', "invalidPath")
    return [value.strip().strip('"')]


@transaction.atomic
def scim_group_patch(*, team: Team, token: ScimToken, group_id, data) -> str:
    role = _group(team, group_id)
    for op, path, value in _operations(data):
        key = (path or "").strip().lower()
        if path is None and isinstance(value, dict):
            if "displayName" in value and value["displayName"] != role:
                raise _bad("A group is a team role; its name cannot change.", "mutability")
            if "members" in value:
                _replace_members(team, token, role, _member_ids(value["members"]))
            continue
        if key == "members":
            ids = _member_ids(value if op != "remove" or value is not None else [])
            if op == "add":
                for user_id in ids:
                    _set_role(team, token, role, user_id, role)
            elif op == "replace":
                _replace_members(team, token, role, ids)
            else:
                targets = (
                    ids
                    if value is not None
                    else [str(m.user_id) for m in selectors.role_members(team, role)]
                )
                for user_id in targets:
                    _remove_from(team, token, role, user_id)
        elif (ids := _remove_filter_ids(key)) is not None and op == "remove":
            for user_id in ids:
                _remove_from(team, token, role, user_id)
        elif key in ("displayname", "externalid"):
            if key == "displayname" and value != role:
                raise _bad("A group is a team role; its name cannot change.", "mutability")
        else:
            raise _bad(f"Cannot {op} {path!r} on a group.", "noTarget")
    return role


def _replace_members(team: Team, token: ScimToken, role: str, ids: list[str]) -> None:
    wanted = set(ids)
    for membership in selectors.role_members(team, role):
        if str(membership.user_id) not in wanted:
            _remove_from(team, token, role, str(membership.user_id))
    for user_id in ids:
        _set_role(team, token, role, user_id, role)


@transaction.atomic
def scim_group_replace(*, team: Team, token: ScimToken, group_id, data) -> str:
    role = _group(team, group_id)
    if not isinstance(data, dict):
        raise _bad("The body must be a JSON object.", "invalidSyntax")
    if data.get("displayName") not in (None, role):
        raise _bad("A group is a team role; its name cannot change.", "mutability")
    _replace_members(team, token, role, _member_ids(data.get("members") or []))
    return role
