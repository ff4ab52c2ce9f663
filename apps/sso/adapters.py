"""allauth's social account adapter for Gradline (settings.SOCIALACCOUNT_ADAPTER).

Guarantees:
- Every outbound request of a social login (discovery, keys, token, userinfo, metadata)
  goes through the address guard (apps.sso.outbound).
- A team's IdP is an allauth app built from its TeamSSOConfig (secret decrypted in
  memory only) and is served with its secret only to the team's own SSO routes
  (URL namespace `sso`); elsewhere it is an inert placeholder, so no generic allauth
  route can drive a team's IdP.
- Account linking never happens on an unverified email: a team IdP signs in an existing
  account it has not signed in before only when it asserts the email as verified and
  the email's domain is verified for that team; otherwise the login stops (403) with
  nothing linked or created. New accounts are made only for verified team domains.
- Instance-wide providers (GitHub, Google, GitLab, a generic OIDC issuer) link to an
  existing account only on an email the provider verified and the account verified too.
- Sign-ups through any provider get a personal team (like password sign-ups).
"""

from __future__ import annotations

from allauth.account.models import EmailAddress
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.core.internal.datakit import parse_bool_safely
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialApp
from django.shortcuts import render

from apps.accounts.models import User
from apps.core.clientip import client_ip
from apps.sso import outbound, secretbox, selectors, services
from apps.sso.models import OIDC
from apps.sso.oidc import PROVIDER as OIDC_PROVIDER
from apps.sso.saml import PROVIDER as SAML_PROVIDER
from apps.teams.services import personal_team_ensure


def _on_sso_route(request) -> bool:
    match = getattr(request, "resolver_match", None)
    return match is not None and match.namespace == "sso"


def _on_allauth_flow_route(request) -> bool:
    match = getattr(request, "resolver_match", None)
    name = getattr(match, "url_name", "") or ""
    return name.endswith(("_login", "_callback")) or name.startswith(("openid_connect", "saml"))


def team_social_app(config, *, with_secret: bool) -> SocialApp:
    mapping = {**services.DEFAULT_MAPPING[config.protocol], **(config.attribute_mapping or {})}
    if config.protocol == OIDC:
        return SocialApp(
            provider=OIDC_PROVIDER,
            provider_id=config.provider_id,
            name=config.team.name,
            client_id=config.client_id,
            secret=secretbox.unseal(config.client_secret_encrypted) if with_secret else "",
            settings={
                "team_slug": config.team.slug,
                "server_url": config.issuer,
                "oauth_pkce_enabled": True,
                "uid_field": mapping["uid"],
                "fetch_userinfo": True,
            },
        )
    return SocialApp(
        provider=SAML_PROVIDER,
        provider_id=config.provider_id,
        name=config.team.name,
        client_id=config.team.slug,
        settings={
            "team_slug": config.team.slug,
            "idp": {
                "entity_id": config.saml_entity_id,
                "sso_url": config.saml_sso_url,
                "x509cert": config.saml_x509cert,
            },
            "attribute_mapping": {
                key: mapping[key] for key in ("uid", "email", "email_verified") if key in mapping
            },
        },
    )


def _placeholder(provider_id: str) -> SocialApp:
    return SocialApp(
        provider=OIDC_PROVIDER,
        provider_id=provider_id,
        name="Single sign-on",
        settings={"team_slug": "-", "server_url": "", "hidden": True},
    )


def _claim(data: dict, name: str):
    value = data.get(name) if isinstance(data, dict) else None
    if isinstance(value, list) and name not in ("groups",):
        value = value[0] if value else None
    return value


def identity_claims(sociallogin) -> dict:
    """The IdP's claims (OIDC userinfo over the ID token) or SAML attributes, flat."""
    extra = sociallogin.account.extra_data or {}
    if "userinfo" in extra or "id_token" in extra:
        merged = dict(extra.get("id_token") or {})
        merged.update(extra.get("userinfo") or {})
        return merged
    return dict(extra)


def mapped_identity(config, sociallogin) -> tuple[str, bool, list[str]]:
    """(email, email verified by the IdP, groups) through the team's attribute mapping."""
    mapping = {**services.DEFAULT_MAPPING[config.protocol], **(config.attribute_mapping or {})}
    claims = identity_claims(sociallogin)
    email = _claim(claims, mapping["email"])
    email = email.strip().lower() if isinstance(email, str) else ""
    verified = parse_bool_safely(_claim(claims, mapping["email_verified"]))
    groups = claims.get(mapping["groups"]) or []
    if isinstance(groups, str):
        groups = [groups]
    groups = [g for g in groups if isinstance(g, str)] if isinstance(groups, list) else []
    return email, verified is True, groups


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def get_requests_session(self):
        return outbound.guarded_session()

    def list_apps(self, request, provider=None, client_id=None):
        if isinstance(provider, str) and provider.startswith(selectors.PROVIDER_PREFIX):
            config = selectors.config_for_provider_id(provider)
            if config is not None and request is not None and _on_sso_route(request):
                return [team_social_app(config, with_secret=True)]
            if _on_allauth_flow_route(request):
                return []  # allauth's own /accounts/oidc/<id>/… routes: 404
            return [_placeholder(provider)]  # lists of connected accounts
        return super().list_apps(request, provider=provider, client_id=client_id)

    def can_authenticate_by_email(self, login, email: str) -> bool:
        """Instance providers (GitHub, Google, GitLab, generic OIDC) sign in to an existing
        account by email only when allauth saw the provider vouch for it (only verified
        addresses reach here) and the account's own address is verified: an account
        someone registered with another person's unconfirmed address is never joined.
        Team IdPs link in pre_social_login under the team's domain rule instead."""
        if selectors.config_for_provider_id(login.account.provider) is not None:
            return False
        if not EmailAddress.objects.filter(email__iexact=email, verified=True).exists():
            return False
        return super().can_authenticate_by_email(login, email)

    def _refuse(self, request, config, email: str, reason: str, message: str):
        services.sso_refusal_record(
            team=config.team, email=email, reason=reason, ip=client_ip(request)
        )
        raise ImmediateHttpResponse(
            render(
                request,
                "sso/refused.html",
                {"team": config.team, "message": message},
                status=403,
            )
        )

    def pre_social_login(self, request, sociallogin):
        config = selectors.config_for_provider_id(sociallogin.account.provider)
        if config is None:
            return super().pre_social_login(request, sociallogin)
        email, verified, groups = mapped_identity(config, sociallogin)
        if not email or "@" not in email:
            self._refuse(request, config, "", "no_email", "The identity provider sent no email.")
        # allauth stores these for a new account: the mapped email, verified as asserted.
        sociallogin.email_addresses = [EmailAddress(email=email, verified=verified, primary=True)]
        if sociallogin.user is not None and not sociallogin.is_existing:
            sociallogin.user.email = email
        if not sociallogin.is_existing:
            if not verified:
                self._refuse(
                    request,
                    config,
                    email,
                    "email_unverified",
                    "The identity provider did not assert that this email address is "
                    "verified, so it cannot sign in to or create an account.",
                )
            domain = email.rpartition("@")[2]
            if not selectors.domain_is_verified_for(config.team, domain):
                self._refuse(
                    request,
                    config,
                    email,
                    "domain_not_verified",
                    f"{domain} is not a verified domain of this team; ask a team admin "
                    "to verify it, or sign in with your password.",
                )
            existing = User.objects.filter(email__iexact=email).first()
            if existing is not None:
                # The team owns the domain and its IdP vouches for the address: link.
                sociallogin.connect(request, existing)
        if sociallogin.is_existing:
            services.sso_sign_in_apply(
                config=config,
                user=sociallogin.user,
                email=email,
                groups=groups,
                ip=client_ip(request),
            )

    def is_auto_signup_allowed(self, request, sociallogin):
        if selectors.config_for_provider_id(sociallogin.account.provider) is not None:
            return True
        return super().is_auto_signup_allowed(request, sociallogin)

    def save_user(self, request, sociallogin, form=None):
        user = super().save_user(request, sociallogin, form=form)
        personal_team_ensure(user)
        config = selectors.config_for_provider_id(sociallogin.account.provider)
        if config is not None:
            email, _verified, groups = mapped_identity(config, sociallogin)
            services.sso_sign_in_apply(
                config=config, user=user, email=email, groups=groups, ip=client_ip(request)
            )
        return user
