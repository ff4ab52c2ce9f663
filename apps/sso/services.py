"""Writes for single sign-on: the team's IdP configuration, its verified domains, what a
sign-in through the IdP changes (just-in-time membership, group -> role), break-glass.

Guarantees (docs/identity.md):
- The client secret is stored sealed (apps.sso.secretbox) and never returned.
- Issuer and metadata URLs must pass the outbound address rule (apps.sso.outbound).
- A domain is verified for a team only by an admin who has a verified email address at
  that domain, and belongs to one team at most.
- An SSO sign-in adds a membership only for a user whose IdP-verified email is at one of
  the team's verified domains; group mapping changes roles through
  apps.teams.services (audited; the last admin is never demoted).
"""

from __future__ import annotations

import contextlib
import re

import requests
from allauth.account.models import EmailAddress
from django.db import IntegrityError, transaction

from apps.core.errors import Conflict, DomainError, NotFound, field_error
from apps.sso import outbound, secretbox
from apps.sso.models import OIDC, SAML, TeamSSOConfig, VerifiedDomain
from apps.teams import audit
from apps.teams import services as team_services
from apps.teams.models import CustomRole, Membership, Team
from apps.teams.roles import ADMIN, MEMBER, ROLE_PERMISSIONS, VIEWER

SSO_CONFIG_CHANGED = "sso.config_changed"
SSO_CONFIG_DELETED = "sso.config_deleted"
SSO_DOMAIN_ADDED = "sso.domain_added"
SSO_DOMAIN_REMOVED = "sso.domain_removed"
SSO_SIGNED_IN = "sso.signed_in"
SSO_REFUSED = "sso.refused"
SSO_BREAK_GLASS = "sso.break_glass"

MAPPING_KEYS = frozenset({"uid", "email", "email_verified", "name", "groups"})
DEFAULT_MAPPING = {
    OIDC: {"uid": "sub", "email": "email", "email_verified": "email_verified", "groups": "groups"},
    SAML: {"uid": "uid", "email": "email", "email_verified": "email_verified", "groups": "groups"},
}
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_RANK = {VIEWER: 0, MEMBER: 1, ADMIN: 2}
MAX_TEXT = 255
MAX_CERT = 20000
MAX_GROUPS = 200


def _text(data: dict, field: str, max_length: int = MAX_TEXT) -> str:
    value = data.get(field, "")
    if value is None:
        value = ""
    if not isinstance(value, str) or "\x00" in value or len(value) > max_length:
        raise field_error(f"{field} must be text of at most {max_length} characters.", field)
    return value.strip()


def _bool(data: dict, field: str) -> bool:
    value = data[field]
    if not isinstance(value, bool):
        raise field_error(f"{field} must be true or false.", field)
    return value


def _role_name(team: Team, role, field: str) -> str:
    if not isinstance(role, str) or "\x00" in role or len(role) > 64:
        raise field_error(f"{field} must name a role.", field)
    if role in ROLE_PERMISSIONS or CustomRole.objects.for_team(team).filter(name=role).exists():
        return role
    raise field_error(f"{field}: unknown role {role!r}.", field, code="invalid_role")


def _mapping(value) -> dict:
    if not isinstance(value, dict) or len(value) > len(MAPPING_KEYS):
        raise field_error(
            f"attribute_mapping must be an object with keys among {sorted(MAPPING_KEYS)}.",
            "attribute_mapping",
        )
    out = {}
    for key, name in value.items():
        if key not in MAPPING_KEYS:
            raise field_error(
                f"attribute_mapping: unknown key {key!r}; one of {sorted(MAPPING_KEYS)}.",
                "attribute_mapping",
            )
        if not isinstance(name, str) or not name or len(name) > 200 or "\x00" in name:
            raise field_error(
                f"attribute_mapping.{key} must be a claim or attribute name.", "attribute_mapping"
            )
        out[key] = name
    return out


def _group_roles(team: Team, value) -> dict:
    if not isinstance(value, dict) or len(value) > MAX_GROUPS:
        raise field_error(
            f"group_roles must be an object of at most {MAX_GROUPS} group -> role entries.",
            "group_roles",
        )
    out = {}
    for group, role in value.items():
        if not group or len(group) > 255 or "\x00" in group:
            raise field_error("group_roles: a group name must be 1-255 characters.", "group_roles")
        out[group] = _role_name(team, role, "group_roles")
    return out


def _pem_certificate(value: str) -> str:
    from cryptography import x509

    body = value.strip()
    if "BEGIN CERTIFICATE" not in body:
        body = f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----"
    try:
        x509.load_pem_x509_certificate(body.encode())
    except ValueError:
        raise field_error(
            "saml_x509cert must be the IdP's signing certificate (PEM).", "saml_x509cert"
        ) from None
    return body


MAX_METADATA_BYTES = 1_000_000


def _saml_metadata(url: str) -> dict:
    """entity id, sign-in URL and signing certificate from the IdP's metadata at `url`."""
    from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser

    field = "saml_metadata_url"
    try:
        with outbound.guarded_session() as session:
            response = session.get(url, stream=True)
            response.raise_for_status()
            body = response.raw.read(MAX_METADATA_BYTES + 1, decode_content=True)
    except requests.RequestException as exc:
        raise field_error(f"{field}: the metadata could not be fetched ({exc}).", field) from None
    if len(body) > MAX_METADATA_BYTES:
        raise field_error(f"{field}: the metadata is larger than 1 MB.", field)
    try:
        idp = OneLogin_Saml2_IdPMetadataParser.parse(body).get("idp") or {}
    except Exception:  # any parse failure is the document's fault: a 400
        raise field_error(f"{field}: the document is not SAML IdP metadata.", field) from None
    found = {
        "saml_entity_id": idp.get("entityId", ""),
        "saml_sso_url": (idp.get("singleSignOnService") or {}).get("url", ""),
        "saml_x509cert": idp.get("x509cert", ""),
    }
    if not all(found.values()):
        raise field_error(
            f"{field}: the metadata names no entity id, redirect sign-in URL and signing "
            "certificate.",
            field,
        )
    found["saml_x509cert"] = _pem_certificate(found["saml_x509cert"])
    return found


def _sso_fields(team: Team, config: TeamSSOConfig, data: dict) -> dict:
    """Validated model fields from an API body or form (only the keys present)."""
    if not isinstance(data, dict):
        raise DomainError("The body must be a JSON object.", code="invalid_body")
    fields: dict = {}
    if "protocol" in data:
        if data["protocol"] not in (OIDC, SAML):
            raise field_error("protocol must be 'oidc' or 'saml'.", "protocol")
        fields["protocol"] = data["protocol"]
    for name in ("enabled", "require_sso"):
        if name in data:
            fields[name] = _bool(data, name)
    if "issuer" in data:
        issuer = _text(data, "issuer", outbound.MAX_URL).rstrip("/")
        issuer = issuer.removesuffix("/.well-known/openid-configuration")  # a pasted discovery URL
        fields["issuer"] = outbound.check_url(issuer, "issuer") if issuer else ""
    if "client_id" in data:
        fields["client_id"] = _text(data, "client_id")
    if "client_secret" in data:
        secret = _text(data, "client_secret", 1000)
        if secret:  # an empty value keeps the stored secret (forms never show it)
            fields["client_secret_encrypted"] = secretbox.seal(secret)
    if "saml_entity_id" in data:
        fields["saml_entity_id"] = _text(data, "saml_entity_id", 2000)
    if "saml_sso_url" in data:
        url = _text(data, "saml_sso_url", outbound.MAX_URL)
        if url and not re.match(r"^https?://", url):
            raise field_error("saml_sso_url must be an http or https URL.", "saml_sso_url")
        fields["saml_sso_url"] = url
    if "saml_x509cert" in data:
        cert = _text(data, "saml_x509cert", MAX_CERT)
        fields["saml_x509cert"] = _pem_certificate(cert) if cert else ""
    if "saml_metadata_url" in data:
        url = _text(data, "saml_metadata_url", outbound.MAX_URL)
        fields["saml_metadata_url"] = outbound.check_url(url, "saml_metadata_url") if url else ""
        if url:
            # Read once, now, through the address guard; what it says fills the fields the
            # body leaves out (the sign-in never fetches it).
            for name, value in _saml_metadata(url).items():
                if not data.get(name):
                    fields[name] = value
    if "attribute_mapping" in data:
        fields["attribute_mapping"] = _mapping(data["attribute_mapping"])
    if "jit_role" in data:
        role = data["jit_role"]
        fields["jit_role"] = "" if role in ("", None) else _role_name(team, role, "jit_role")
    if "group_roles" in data:
        fields["group_roles"] = _group_roles(team, data["group_roles"])
    return fields


def _check_complete(config: TeamSSOConfig) -> None:
    if config.protocol == OIDC:
        missing = [
            name
            for name, value in (
                ("issuer", config.issuer),
                ("client_id", config.client_id),
                ("client_secret", config.client_secret_encrypted),
            )
            if not value
        ]
    else:
        missing = [
            name
            for name, value in (
                ("saml_entity_id", config.saml_entity_id),
                ("saml_sso_url", config.saml_sso_url),
                ("saml_x509cert", config.saml_x509cert),
            )
            if not value
        ]
    if missing:
        raise field_error(
            f"{config.get_protocol_display()} needs {', '.join(missing)}.",
            missing[0],
            code="incomplete",
        )


@transaction.atomic
def sso_config_save(*, team: Team, data: dict, actor) -> TeamSSOConfig:
    """Create or change the team's IdP configuration (PUT and PATCH alike: keys absent
    from `data` keep their value). Audited, without the secret."""
    if team.is_personal:
        raise Conflict("A personal team has no single sign-on.", code="personal_team")
    config = TeamSSOConfig.objects.for_team(team).select_for_update().first()
    created = config is None
    if created:
        config = TeamSSOConfig(team=team)
    fields = _sso_fields(team, config, data)
    if created and "attribute_mapping" not in fields:
        fields["attribute_mapping"] = dict(DEFAULT_MAPPING[fields.get("protocol", OIDC)])
    changed = sorted(
        name for name, value in fields.items() if created or getattr(config, name) != value
    )
    for name, value in fields.items():
        setattr(config, name, value)
    _check_complete(config)
    config.save()
    if changed:
        audit.audit_record(
            SSO_CONFIG_CHANGED,
            team=team,
            actor=actor,
            target=config.protocol,
            detail={
                "changed": [
                    "client_secret" if n == "client_secret_encrypted" else n for n in changed
                ],
                "enabled": config.enabled,
                "require_sso": config.require_sso,
            },
        )
    return config


@transaction.atomic
def sso_config_delete(*, team: Team, actor) -> None:
    deleted, _ = TeamSSOConfig.objects.for_team(team).delete()
    if deleted:  # deleting nothing is a no-op (DELETE is idempotent)
        audit.audit_record(SSO_CONFIG_DELETED, team=team, actor=actor)


def normalize_domain(value) -> str:
    if not isinstance(value, str) or "\x00" in value or len(value) > 253:
        raise field_error("domain must be a domain name.", "domain")
    domain = value.strip().lower().rstrip(".")
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise field_error("domain is not a valid domain name.", "domain") from None
    if not _DOMAIN.match(domain):
        raise field_error("domain is not a valid domain name (like example.com).", "domain")
    return domain


@transaction.atomic
def domain_add(*, team: Team, domain, actor) -> VerifiedDomain:
    """Verify `domain` for `team`: the admin must hold a verified email address at it."""
    if team.is_personal:
        raise Conflict("A personal team has no single sign-on.", code="personal_team")
    domain = normalize_domain(domain)
    if not EmailAddress.objects.filter(
        user=actor, verified=True, email__iendswith=f"@{domain}"
    ).exists():
        raise DomainError(
            f"To verify {domain}, add and confirm an email address at {domain} in your "
            "account's email settings first.",
            code="domain_not_verified",
            detail={"field": "domain"},
            status=403,
        )
    try:
        with transaction.atomic():
            row = VerifiedDomain.objects.for_team(team).create(
                team=team, domain=domain, verified_by=actor
            )
    except IntegrityError:
        raise Conflict(
            f"{domain} is already verified by a team.",
            code="domain_taken",
            detail={"field": "domain"},
        ) from None
    audit.audit_record(SSO_DOMAIN_ADDED, team=team, actor=actor, target=domain)
    return row


@transaction.atomic
def domain_remove(*, team: Team, domain_id: int, actor) -> None:
    row = VerifiedDomain.objects.for_team(team).filter(pk=domain_id).first()
    if row is None:
        raise NotFound("No such domain.")
    row.delete()
    audit.audit_record(SSO_DOMAIN_REMOVED, team=team, actor=actor, target=row.domain)


def _mapped_role(team: Team, config: TeamSSOConfig, groups: list[str]) -> str | None:
    """The most privileged role the user's IdP groups map to (custom roles rank as their
    base role), or None when no group is mapped."""
    best, best_rank = None, -1
    customs = {r.name: r.base_role for r in CustomRole.objects.for_team(team)}
    for group in groups:
        role = config.group_roles.get(group)
        if role is None:
            continue
        base = role if role in _RANK else customs.get(role)
        if base is None:  # a custom role deleted since the mapping was saved
            continue
        if _RANK[base] > best_rank:
            best, best_rank = role, _RANK[base]
    return best


@transaction.atomic
def sso_sign_in_apply(*, config: TeamSSOConfig, user, email: str, groups: list[str], ip=None):
    """What a successful sign-in through the team's IdP changes: a membership for a user
    of a verified domain (the mapped role, else `jit_role`; none when JIT is off and no
    group is mapped), and for an existing member the mapped role when a group maps.
    Returns the membership or None."""
    team = config.team
    membership = Membership.objects.for_team(team).filter(user=user).first()
    role = _mapped_role(team, config, groups)
    domain = email.rpartition("@")[2].lower()
    if membership is None:
        role = role or config.jit_role
        if not role or not VerifiedDomain.objects.for_team(team).filter(domain=domain).exists():
            return None
        base = role if role in ROLE_PERMISSIONS else MEMBER
        membership = team_services.membership_add(team=team, user=user, role=base, actor=None)
        if role != base:
            membership = team_services.membership_set_role(
                team=team, user_id=user.pk, role=role, actor=None
            )
    elif role is not None and membership.role_name != role:
        # The last admin keeps its role (Conflict): the IdP cannot lock the team out.
        with contextlib.suppress(Conflict):
            membership = team_services.membership_set_role(
                team=team, user_id=user.pk, role=role, actor=None
            )
    audit.audit_record(
        SSO_SIGNED_IN,
        team=team,
        actor=user,
        target=user.email,
        detail={"protocol": config.protocol, "role": membership.role_name},
        ip=ip,
    )
    return membership


def sso_refusal_record(*, team: Team, email: str, reason: str, ip=None) -> None:
    audit.audit_record(SSO_REFUSED, team=team, target=email, detail={"reason": reason}, ip=ip)


def break_glass_record(*, team: Team, actor, reason: str, ip=None) -> None:
    reason = (reason or "").strip()
    if not reason or len(reason) > 500 or "\x00" in reason:
        raise field_error("Say why you need password access (at most 500 characters).", "reason")
    audit.audit_record(SSO_BREAK_GLASS, team=team, actor=actor, detail={"reason": reason}, ip=ip)
