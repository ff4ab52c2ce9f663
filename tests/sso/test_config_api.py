"""SSO configuration through the API and the settings page: validation, secrets, domains,
admins only, another team's admin 404; and the outbound address rule."""

from __future__ import annotations

import socket
import threading

import pytest
import requests
from allauth.account.models import EmailAddress
from django.test import Client

from apps.sso import outbound
from apps.sso.models import TeamSSOConfig, VerifiedDomain
from apps.teams.models import AuditEvent
from tests.conftest import client_for
from tests.sso.flows import verify_email

URL = "/api/v1/teams/team-a/sso"
GOOD = {
    "protocol": "oidc",
    "issuer": "http://127.0.0.1:9/",
    "client_id": "gradline",
    "client_secret": "s3cret-value",
}


@pytest.fixture
def private_ok(settings):
    settings.SSO_ALLOW_PRIVATE_ADDRESSES = True


def test_put_get_patch_delete(db, team, admin_user, private_ok):
    api = client_for(admin_user)
    assert api.get(URL).json() == {"configured": False}
    r = api.put(URL, GOOD, format="json")
    assert r.status_code == 200, r.json()
    body = r.json()
    assert body["issuer"] == "http://127.0.0.1:9"  # trailing slash dropped
    assert body["client_secret_set"] is True
    assert "s3cret-value" not in r.content.decode()
    assert body["redirect_uri"].endswith("/accounts/sso/team-a/oidc/callback/")
    assert body["attribute_mapping"]["email"] == "email"
    r = api.patch(URL, {"require_sso": True, "jit_role": "viewer"}, format="json")
    assert r.json()["require_sso"] is True and r.json()["jit_role"] == "viewer"
    stored = TeamSSOConfig.objects.for_team(team).get()
    assert "s3cret-value" not in stored.client_secret_encrypted
    events = AuditEvent.objects.filter(team=team, action="sso.config_changed")
    assert events.count() == 2
    assert "client_secret" in events.order_by("pk").first().detail["changed"]
    assert all("s3cret" not in str(e.detail) for e in events)
    assert api.delete(URL).status_code == 204
    assert api.get(URL).json() == {"configured": False}


@pytest.mark.parametrize(
    "change, field",
    [
        ({"protocol": "ldap"}, "protocol"),
        ({"issuer": "ftp://idp.example"}, "issuer"),
        ({"issuer": "http://idp\x00.example"}, "issuer"),
        ({"client_id": 5}, "client_id"),
        ({"attribute_mapping": {"shoe_size": "x"}}, "attribute_mapping"),
        ({"attribute_mapping": []}, "attribute_mapping"),
        ({"jit_role": "overlord"}, "jit_role"),
        ({"group_roles": {"ml": "overlord"}}, "group_roles"),
        ({"group_roles": "admins"}, "group_roles"),
        ({"require_sso": "yes"}, "require_sso"),
        ({"client_secret": ""}, "client_secret"),  # a new config needs one
        ({"saml_x509cert": "not a certificate"}, "saml_x509cert"),
    ],
)
def test_bad_fields_are_400_naming_them(db, team, admin_user, private_ok, change, field):
    r = client_for(admin_user).put(URL, {**GOOD, **change}, format="json")
    assert r.status_code == 400, r.json()
    assert r.json()["error"]["detail"]["field"] == field


def test_not_a_json_object(db, team, admin_user):
    r = client_for(admin_user).put(URL, [1, 2], format="json")
    assert r.status_code == 400


def test_members_403_and_other_team_404(db, team, admin_user, member_user, other_admin):
    assert client_for(member_user).get(URL).status_code == 403
    assert client_for(member_user).put(URL, GOOD, format="json").status_code == 403
    assert client_for(other_admin).get(URL).status_code == 404
    assert client_for(other_admin).put(URL, GOOD, format="json").status_code == 404
    assert client_for(other_admin).get(f"{URL}/domains").status_code == 404


def test_personal_team_has_no_sso(db, admin_user, private_ok):
    from apps.teams.selectors import personal_team_of

    slug = personal_team_of(admin_user).slug
    r = client_for(admin_user).put(f"/api/v1/teams/{slug}/sso", GOOD, format="json")
    assert r.status_code == 409


def test_domains_need_a_verified_address_and_belong_to_one_team(
    db, team, admin_user, other_team, other_admin
):
    api = client_for(admin_user)
    r = api.post(f"{URL}/domains", {"domain": "a.example"}, format="json")
    assert r.status_code == 403 and r.json()["error"]["code"] == "domain_not_verified"
    verify_email(admin_user)
    r = api.post(f"{URL}/domains", {"domain": "A.Example."}, format="json")
    assert r.status_code == 201 and r.json()["domain"] == "a.example"
    assert api.post(f"{URL}/domains", {"domain": "a.example"}, format="json").status_code == 409
    # team B's admin, even with a verified address at the domain, cannot claim it.
    EmailAddress.objects.create(user=other_admin, email="x@a.example", verified=True)
    r = client_for(other_admin).post(
        "/api/v1/teams/team-b/sso/domains", {"domain": "a.example"}, format="json"
    )
    assert r.status_code == 409
    for bad in ("", "not a domain", "a" * 300, "exa\x00mple.com", 7):
        r = api.post(f"{URL}/domains", {"domain": bad}, format="json")
        assert r.status_code == 400, bad
    domain_id = api.get(f"{URL}/domains").json()["results"][0]["id"]
    # another team's admin cannot remove it (404), the owner can.
    assert (
        client_for(other_admin).delete(f"/api/v1/teams/team-b/sso/domains/{domain_id}").status_code
        == 404
    )
    assert api.delete(f"{URL}/domains/{domain_id}").status_code == 204
    assert not VerifiedDomain.objects.for_team(team).exists()


# --- outbound address rule ---------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/",
        "http://127.0.0.1:8080/",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/",
        "https://[::ffff:127.0.0.1]/",
        "https://10.0.0.8/",
        "https://172.16.3.4/",
        "https://192.168.1.1/",
        "https://100.64.0.1/",
        "https://localhost/",
    ],
)
def test_internal_issuers_are_refused(db, team, admin_user, url):
    r = client_for(admin_user).put(URL, {**GOOD, "issuer": url}, format="json")
    assert r.status_code == 400
    assert r.json()["error"]["detail"]["field"] == "issuer"
    assert r.json()["error"]["code"] == "address_not_allowed"


@pytest.fixture
def listener():
    """A TCP listener on 127.0.0.1 counting the connections it accepts."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    accepted = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            accepted.append(conn)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], accepted
    stop.set()
    thread.join(5)
    server.close()


def test_refused_without_a_connection(db, listener):
    port, accepted = listener
    for url in (
        f"http://127.0.0.1:{port}/.well-known/openid-configuration",
        f"http://[::ffff:127.0.0.1]:{port}/",
    ):
        with pytest.raises(requests.ConnectionError, match="loopback, link-local or private"):
            outbound.guarded_session().get(url)
    assert accepted == []


def test_stored_issuer_refused_at_sign_in_without_a_connection(
    db, settings, team, admin_user, listener
):
    """An issuer saved while private addresses were allowed, then the rule switched on:
    the sign-in answers 502 and nothing connects to the address."""
    port, accepted = listener
    settings.SSO_ALLOW_PRIVATE_ADDRESSES = True
    client_for(admin_user).put(URL, {**GOOD, "issuer": f"http://127.0.0.1:{port}"}, format="json")
    settings.SSO_ALLOW_PRIVATE_ADDRESSES = False
    r = Client().post("/accounts/sso/team-a/login/")
    assert r.status_code == 502
    assert accepted == []


def test_pinned_connection_reaches_the_checked_address(db, settings, listener):
    port, accepted = listener
    settings.SSO_ALLOW_PRIVATE_ADDRESSES = True
    with pytest.raises(requests.ConnectionError):  # the listener closes at once
        outbound.guarded_session().get(f"http://localhost:{port}/")
    assert len(accepted) == 1


# --- the settings page -----------------------------------------------------------------


def test_settings_page_saves_config_and_domains(db, team, admin_user, member_user, private_ok):
    web = Client()
    web.force_login(admin_user)
    page = web.get("/team-a/settings/sso")
    assert page.status_code == 200 and b"Verified domains" in page.content
    r = web.post(
        "/team-a/settings/sso",
        {
            "protocol": "oidc",
            "issuer": "http://127.0.0.1:9",
            "client_id": "web-client",
            "client_secret": "web-secret",
            "jit_role": "member",
            "group_roles": '{"ml-admins": "admin"}',
            "enabled": "on",
        },
    )
    assert r.status_code == 302, r.content[:500]
    config = TeamSSOConfig.objects.for_team(team).get()
    assert config.client_id == "web-client" and config.group_roles == {"ml-admins": "admin"}
    # Saving again with an empty secret keeps the stored one.
    web.post(
        "/team-a/settings/sso",
        {
            "protocol": "oidc",
            "issuer": "http://127.0.0.1:9",
            "client_id": "web-client",
            "client_secret": "",
            "enabled": "on",
        },
    )
    config.refresh_from_db()
    assert config.client_secret_encrypted
    r = web.post("/team-a/settings/sso", {"protocol": "oidc", "group_roles": "{not json"})
    assert r.status_code == 400
    verify_email(admin_user)
    assert web.post("/team-a/settings/sso/domains", {"domain": "a.example"}).status_code == 302
    row = VerifiedDomain.objects.for_team(team).get()
    assert web.post(f"/team-a/settings/sso/domains/{row.pk}/delete").status_code == 302
    assert not VerifiedDomain.objects.for_team(team).exists()
    member = Client()
    member.force_login(member_user)
    assert member.get("/team-a/settings/sso").status_code == 403


# --- SAML metadata URLs -------------------------------------------------------------------


def _metadata(cert: str) -> str:
    body = "".join(cert.strip().splitlines()[1:-1])
    return (
        '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
        'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://idp.meta.example/">'
        '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        '<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>'
        f"{body}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
        'Location="https://idp.meta.example/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>'
    )


@pytest.fixture
def metadata_server():
    """A local HTTP server answering IdP metadata (path /md) or junk (other paths)."""
    import http.server

    from tests.sso.saml_idp import keypair

    cert = keypair("meta-idp")[1]
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            body = (_metadata(cert) if self.path == "/md" else "<html>no</html>").encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", cert, hits
    server.shutdown()
    thread.join(5)


def test_saml_metadata_url_fills_the_idp(db, team, admin_user, private_ok, metadata_server):
    base, cert, hits = metadata_server
    r = client_for(admin_user).put(
        URL, {"protocol": "saml", "saml_metadata_url": f"{base}/md"}, format="json"
    )
    assert r.status_code == 200, r.json()
    body = r.json()
    assert body["saml_entity_id"] == "https://idp.meta.example/"
    assert body["saml_sso_url"] == "https://idp.meta.example/sso"
    assert "".join(cert.splitlines()[1:-1]) in body["saml_x509cert"].replace("\n", "")
    assert hits == ["/md"]
    r = client_for(admin_user).put(
        URL, {"protocol": "saml", "saml_metadata_url": f"{base}/junk"}, format="json"
    )
    assert r.status_code == 400 and r.json()["error"]["detail"]["field"] == "saml_metadata_url"


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "169.254.169.254", "[::1]", "10.2.3.4", "192.168.7.7", "172.31.0.9"]
)
def test_internal_metadata_urls_are_refused_without_a_connection(
    db, team, admin_user, metadata_server, host
):
    base, _cert, hits = metadata_server
    port = base.rsplit(":", 1)[1]
    r = client_for(admin_user).put(
        URL, {"protocol": "saml", "saml_metadata_url": f"https://{host}:{port}/md"}, format="json"
    )
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "address_not_allowed"
    assert hits == []
