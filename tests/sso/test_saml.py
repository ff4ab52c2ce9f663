"""SAML 2.0 single sign-on against a signing test IdP: a valid login and every forgery
the issue lists (0 accepted)."""

from __future__ import annotations

import re

import pytest
from allauth.socialaccount.models import SocialAccount
from django.test import Client

from apps.accounts.models import User
from apps.sso import services
from apps.teams.models import Membership
from tests.sso.flows import verify_email
from tests.sso.saml_idp import SamlIdP, encode, keypair

HOST = "sp.example.test"  # python3-saml refuses single-label hosts such as "testserver"
AUDIENCE = f"http://{HOST}/accounts/sso/team-a/saml/metadata/"


@pytest.fixture(scope="module")
def saml_idp():
    return SamlIdP()


@pytest.fixture(scope="module")
def attacker():
    return keypair("attacker")


@pytest.fixture
def saml(db, team, admin_user, saml_idp):
    config = services.sso_config_save(
        team=team,
        data={
            "protocol": "saml",
            "saml_entity_id": saml_idp.entity_id,
            "saml_sso_url": saml_idp.sso_url,
            "saml_x509cert": saml_idp.cert,
            "attribute_mapping": {"uid": "uid", "email": "email", "groups": "groups"},
            "group_roles": {"ml-admins": "admin"},
        },
        actor=admin_user,
    )
    verify_email(admin_user)
    services.domain_add(team=team, domain="a.example", actor=admin_user)
    return config


def browser() -> Client:
    return Client(HTTP_HOST=HOST)


def start(client, saml_idp, team="team-a"):
    r = client.post(f"/accounts/sso/{team}/login/")
    assert r.status_code == 302 and r["Location"].startswith(saml_idp.sso_url), r.content[:300]
    return saml_idp.read_request(r["Location"])


def post(client, xml: str, team="team-a"):
    r = client.post(f"/accounts/sso/{team}/saml/acs/", {"SAMLResponse": encode(xml)})
    assert r.status_code == 302
    return client.get(r["Location"])


def signed_in(client) -> bool:
    return client.session.get("_auth_user_id") is not None


def good(saml_idp, rid, acs, **assertion):
    assertion.setdefault("audience", AUDIENCE)
    return saml_idp.response(
        in_response_to=rid,
        acs=acs,
        assertion=saml_idp.assertion(in_response_to=rid, acs=acs, **assertion),
    )


def test_sp_metadata_per_team(saml):
    r = browser().get("/accounts/sso/team-a/saml/metadata/")
    assert r.status_code == 200
    xml = r.content.decode()
    assert f'entityID="{AUDIENCE}"' in xml
    assert f"http://{HOST}/accounts/sso/team-a/saml/acs/" in xml
    assert 'WantAssertionsSigned="true"' in xml


def test_valid_login_jit_and_groups(saml, saml_idp, team):
    client = browser()
    rid, acs = start(client, saml_idp)
    assert acs == f"http://{HOST}/accounts/sso/team-a/saml/acs/"
    r = post(client, good(saml_idp, rid, acs, groups=["ml-admins"]))
    assert r.status_code == 302, r.content[:600]
    assert signed_in(client)
    user = User.objects.get(email="bob@a.example")
    assert Membership.objects.for_team(team).get(user=user).role == "admin"
    assert SocialAccount.objects.get(user=user).uid == "u-123"


def test_replay_is_rejected(saml, saml_idp):
    client = browser()
    rid, acs = start(client, saml_idp)
    xml = good(saml_idp, rid, acs)
    post(client, xml)
    assert signed_in(client)
    # The same response again: in a new session that started its own sign-in, and in the
    # first session (its state consumed).
    other = browser()
    start(other, saml_idp)
    assert post(other, xml).status_code == 403
    assert not signed_in(other)
    client.logout()
    start(client, saml_idp)
    assert post(client, xml).status_code == 403
    assert not signed_in(client)


def _refused(client, saml_idp, build):
    rid, acs = start(client, saml_idp)
    r = post(client, build(rid, acs))
    assert r.status_code in (400, 403), r.status_code
    assert not signed_in(client)
    return r


@pytest.mark.parametrize(
    "case",
    [
        "unsigned",
        "assertion_only_signed",
        "response_only_signed",
        "attacker_key",
        "tampered_after_signing",
        "wrong_audience",
        "expired",
        "wrong_issuer",
        "wrong_issuer_in_assertion",
        "wrong_recipient",
    ],
)
def test_forgeries_are_rejected(saml, saml_idp, attacker, case):
    def build(rid, acs):
        a = {"in_response_to": rid, "acs": acs, "audience": AUDIENCE}
        if case == "unsigned":
            return saml_idp.response(
                in_response_to=rid,
                acs=acs,
                assertion=saml_idp.assertion(**a),
                sign_assertion=False,
                sign_response=False,
            )
        if case == "assertion_only_signed":
            return saml_idp.response(
                in_response_to=rid,
                acs=acs,
                assertion=saml_idp.assertion(**a),
                sign_response=False,
            )
        if case == "response_only_signed":
            return saml_idp.response(
                in_response_to=rid,
                acs=acs,
                assertion=saml_idp.assertion(**a),
                sign_assertion=False,
            )
        if case == "attacker_key":
            key, cert = attacker
            return saml_idp.response(
                in_response_to=rid, acs=acs, assertion=saml_idp.assertion(**a), key=key, cert=cert
            )
        if case == "tampered_after_signing":
            return good(saml_idp, rid, acs).replace("bob@a.example", "admin@a.example")
        if case == "wrong_audience":
            return good(saml_idp, rid, acs, audience="https://other-sp.example/")
        if case == "expired":
            return good(saml_idp, rid, acs, not_after=-120)
        if case == "wrong_issuer":
            return saml_idp.response(
                in_response_to=rid,
                acs=acs,
                issuer="https://evil-idp.example/",
                assertion=saml_idp.assertion(**a, issuer="https://evil-idp.example/"),
            )
        if case == "wrong_issuer_in_assertion":
            return saml_idp.response(
                in_response_to=rid,
                acs=acs,
                assertion=saml_idp.assertion(**a, issuer="https://evil-idp.example/"),
            )
        if case == "wrong_recipient":
            return good(saml_idp, rid, "https://other-sp.example/acs")
        raise AssertionError(case)

    _refused(browser(), saml_idp, build)
    assert (
        not User.objects.filter(email__in=["bob@a.example", "admin@a.example"])
        .exclude(socialaccount=None)
        .exists()
    )


def test_unsolicited_response_is_rejected(saml, saml_idp):
    client = browser()
    acs = f"http://{HOST}/accounts/sso/team-a/saml/acs/"
    r = post(client, good(saml_idp, None, acs))
    assert r.status_code == 403
    assert not signed_in(client)


# --- XML signature wrapping: a genuine signed response for bob, an unsigned assertion
# for the team admin (admin@a.example) smuggled in; none may sign anyone in. -----------

EVIL = {"uid": "evil", "email": "admin@a.example"}


def _split(xml: str):
    """(head up to the signed assertion, the signed assertion, the tail)."""
    start = xml.index("<saml:Assertion")
    end = xml.index("</saml:Assertion>") + len("</saml:Assertion>")
    return xml[:start], xml[start:end], xml[end:]


def _wrap(variant: str, saml_idp, rid, acs) -> str:
    signed = good(saml_idp, rid, acs)
    evil = saml_idp.assertion(in_response_to=rid, acs=acs, audience=AUDIENCE, **EVIL)
    head, assertion, tail = _split(signed)
    same_id = re.search(r'ID="([^"]+)"', assertion).group(1)
    if variant == "evil_before_signed":
        return head + evil + assertion + tail
    if variant == "evil_after_signed":
        return head + assertion + evil + tail
    if variant == "evil_with_same_id_before":
        return head + re.sub(r'ID="[^"]+"', f'ID="{same_id}"', evil, count=1) + assertion + tail
    if variant == "signed_moved_into_evil_advice":
        wrapped = evil.replace(
            "<saml:Conditions", f"<saml:Advice>{assertion}</saml:Advice><saml:Conditions", 1
        )
        return head + wrapped + tail
    if variant == "signed_response_in_evil_extensions":
        return (
            f'<samlp:Response {_ns()} ID="_evil" Version="2.0" IssueInstant="{_now(signed)}" '
            f'Destination="{acs}" InResponseTo="{rid}"><saml:Issuer>{saml_idp.entity_id}'
            "</saml:Issuer><samlp:Extensions>"
            + signed
            + '</samlp:Extensions><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:'
            'SAML:2.0:status:Success"/></samlp:Status>' + evil + "</samlp:Response>"
        )
    if variant == "evil_in_signature_object":
        return signed.replace("</ds:Signature>", f"<ds:Object>{evil}</ds:Object></ds:Signature>", 1)
    if variant == "evil_replaces_signed_keeping_signature":
        signature = re.search(r"<ds:Signature.*?</ds:Signature>", assertion, re.S).group(0)
        forged = evil.replace("</saml:Issuer>", "</saml:Issuer>" + signature, 1)
        forged = re.sub(r'ID="[^"]+"', f'ID="{same_id}"', forged, count=1)
        return head + forged + tail
    if variant == "signature_copied_from_another_response":
        other = good(saml_idp, rid, acs, uid="u-other", email="other@a.example")
        signature = re.search(r"<ds:Signature.*?</ds:Signature>", other, re.S).group(0)
        unsigned = saml_idp.response(
            in_response_to=rid,
            acs=acs,
            assertion=evil,
            sign_assertion=False,
            sign_response=False,
        )
        return unsigned.replace("</saml:Issuer>", "</saml:Issuer>" + signature, 1)
    if variant == "second_response_signature_stripped":
        response_signature = re.search(r"<ds:Signature.*?</ds:Signature>", head, re.S).group(0)
        return head.replace(response_signature, "") + evil + tail
    raise AssertionError(variant)


def _ns():
    from tests.sso.saml_idp import NS

    return NS


def _now(xml: str) -> str:
    return re.search(r'IssueInstant="([^"]+)"', xml).group(1)


WRAPPING = [
    "evil_before_signed",
    "evil_after_signed",
    "evil_with_same_id_before",
    "signed_moved_into_evil_advice",
    "signed_response_in_evil_extensions",
    "evil_in_signature_object",
    "evil_replaces_signed_keeping_signature",
    "signature_copied_from_another_response",
    "second_response_signature_stripped",
]


@pytest.mark.parametrize("variant", WRAPPING)
def test_signature_wrapping_is_rejected(saml, saml_idp, admin_user, variant):
    _refused(browser(), saml_idp, lambda rid, acs: _wrap(variant, saml_idp, rid, acs))
    assert not SocialAccount.objects.filter(user=admin_user).exists()
    assert not User.objects.filter(email="evil").exists()


def test_comment_injection_in_name_id_and_email(saml, saml_idp, admin_user):
    """`admin@a.example<!---->.evil.example`: a parser that stops at the comment would
    read the admin's address; the whole text is used, whose domain is not verified."""
    client = browser()
    rid, acs = start(client, saml_idp)
    injected = "admin@a.example<!---->.evil.example"
    r = post(client, good(saml_idp, rid, acs, uid=injected, name_id=injected, email=injected))
    assert r.status_code == 403
    assert not signed_in(client)
    assert not SocialAccount.objects.filter(user=admin_user).exists()


def test_unverified_email_does_not_link(saml, saml_idp, admin_user):
    for verified in ("false", None):
        client = browser()
        rid, acs = start(client, saml_idp)
        r = post(
            client,
            good(
                saml_idp,
                rid,
                acs,
                uid=f"x-{verified}",
                email="admin@a.example",
                email_verified=verified,
            ),
        )
        assert r.status_code == 403
        assert not signed_in(client)
    assert not SocialAccount.objects.filter(user=admin_user).exists()


def test_tenant_a_response_posted_to_tenant_b(saml, saml_idp, other_team, other_admin):
    """Team B with its own IdP: team A's genuine response at B's ACS is refused."""
    idp_b = SamlIdP(entity_id="https://idp-b.test/metadata", sso_url="https://idp-b.test/sso")
    services.sso_config_save(
        team=other_team,
        data={
            "protocol": "saml",
            "saml_entity_id": idp_b.entity_id,
            "saml_sso_url": idp_b.sso_url,
            "saml_x509cert": idp_b.cert,
        },
        actor=other_admin,
    )
    client = browser()
    rid, acs = start(client, saml_idp)
    xml_a = good(saml_idp, rid, acs)
    rid_b, _ = start(client, idp_b, team="team-b")
    r = post(client, xml_a.replace(rid, rid_b), team="team-b")
    assert r.status_code == 403
    r = post(client, xml_a, team="team-b")
    assert r.status_code == 403
    assert not signed_in(client)
