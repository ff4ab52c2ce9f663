"""A signing SAML 2.0 identity provider for the tests: builds Responses whose Assertion
and Response are each signed (xmlsec through python3-saml), and variants of them."""

from __future__ import annotations

import base64
import datetime as dt
import re
import uuid
import zlib
from urllib.parse import parse_qsl, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.utils import OneLogin_Saml2_Utils as U

NS = (
    'xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
    'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"'
)


def keypair(cn: str) -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return pem_key, cert.public_bytes(serialization.Encoding.PEM).decode()


def instant(delta_s: int = 0) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=delta_s)).strftime("%Y-%m-%dT%H:%M:%SZ")


def sign(xml: str, key: str, cert: str) -> str:
    out = U.add_sign(xml, key, cert, sign_algorithm=C.RSA_SHA256, digest_algorithm=C.SHA256)
    return out.decode() if isinstance(out, bytes) else out


class SamlIdP:
    def __init__(self, entity_id="https://idp.test/metadata", sso_url="https://idp.test/sso"):
        self.entity_id, self.sso_url = entity_id, sso_url
        self.key, self.cert = keypair("test-idp")

    @staticmethod
    def read_request(location: str) -> tuple[str, str]:
        """(AuthnRequest ID, ACS URL) from our redirect to the IdP."""
        q = dict(parse_qsl(urlsplit(location).query))
        xml = zlib.decompress(base64.b64decode(q["SAMLRequest"]), -15).decode()
        return (
            re.search(r'ID="([^"]+)"', xml).group(1),
            re.search(r'AssertionConsumerServiceURL="([^"]+)"', xml).group(1),
        )

    def assertion(
        self,
        *,
        in_response_to,
        acs,
        audience,
        uid="u-123",
        email="bob@a.example",
        email_verified="true",
        groups=(),
        not_after=300,
        issuer=None,
        assertion_id=None,
        name_id=None,
    ) -> str:
        issuer = issuer or self.entity_id
        aid = assertion_id or "_" + uuid.uuid4().hex
        irt = f' InResponseTo="{in_response_to}"' if in_response_to else ""
        group_values = "".join(f"<saml:AttributeValue>{g}</saml:AttributeValue>" for g in groups)
        verified = (
            f'<saml:Attribute Name="email_verified"><saml:AttributeValue>{email_verified}'
            "</saml:AttributeValue></saml:Attribute>"
            if email_verified is not None
            else ""
        )
        return (
            f'<saml:Assertion {NS} ID="{aid}" Version="2.0" IssueInstant="{instant()}">'
            f"<saml:Issuer>{issuer}</saml:Issuer>"
            f'<saml:Subject><saml:NameID Format="{C.NAMEID_UNSPECIFIED}">{name_id or uid}'
            "</saml:NameID>"
            '<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
            f'<saml:SubjectConfirmationData NotOnOrAfter="{instant(not_after)}" '
            f'Recipient="{acs}"{irt}/></saml:SubjectConfirmation></saml:Subject>'
            f'<saml:Conditions NotBefore="{instant(-60)}" NotOnOrAfter="{instant(not_after)}">'
            f"<saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience>"
            "</saml:AudienceRestriction></saml:Conditions>"
            f'<saml:AuthnStatement AuthnInstant="{instant()}" SessionIndex="{aid}">'
            "<saml:AuthnContext><saml:AuthnContextClassRef>"
            "urn:oasis:names:tc:SAML:2.0:ac:classes:Password</saml:AuthnContextClassRef>"
            "</saml:AuthnContext></saml:AuthnStatement>"
            "<saml:AttributeStatement>"
            f'<saml:Attribute Name="uid"><saml:AttributeValue>{uid}</saml:AttributeValue>'
            "</saml:Attribute>"
            f'<saml:Attribute Name="email"><saml:AttributeValue>{email}</saml:AttributeValue>'
            f"</saml:Attribute>{verified}"
            + (f'<saml:Attribute Name="groups">{group_values}</saml:Attribute>' if groups else "")
            + "</saml:AttributeStatement></saml:Assertion>"
        )

    def response(
        self,
        *,
        in_response_to,
        acs,
        assertion: str,
        issuer=None,
        sign_assertion=True,
        sign_response=True,
        key=None,
        cert=None,
    ) -> str:
        key, cert = key or self.key, cert or self.cert
        if sign_assertion:
            assertion = sign(assertion, key, cert)
            assertion = re.sub(r"^<\?xml[^>]*\?>\s*", "", assertion)
        irt = f' InResponseTo="{in_response_to}"' if in_response_to else ""
        xml = (
            f'<samlp:Response {NS} ID="_{uuid.uuid4().hex}" Version="2.0" '
            f'IssueInstant="{instant()}" Destination="{acs}"{irt}>'
            f"<saml:Issuer>{issuer or self.entity_id}</saml:Issuer>"
            '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/>'
            f"</samlp:Status>{assertion}</samlp:Response>"
        )
        if sign_response:
            xml = sign(xml, key, cert)
        return re.sub(r"^<\?xml[^>]*\?>\s*", "", xml)


def encode(xml: str) -> str:
    return base64.b64encode(xml.encode()).decode()
