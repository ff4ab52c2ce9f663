"""Small OAuth 2.0 authorization servers speaking GitHub's and GitLab's endpoints
(authorize, token with PKCE, the user API), for sign-in tests without the internet.
`profile` (and GitHub's `emails`) say who signs in and which addresses are verified."""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import secrets
import threading
from urllib.parse import parse_qsl, urlencode, urlsplit


class FakeOAuthServer:
    """Subclasses name the authorize and token paths and answer `api(path)` for a request
    carrying a token this server issued (`token_of` reads it from the request)."""

    authorize_path = ""
    token_path = ""

    def api(self, path: str):
        """(status, JSON body) for a GET of `path` with a valid token."""
        return 404, {}

    def token_of(self, headers, query: dict) -> str:
        return headers.get("Authorization", "").split(" ")[-1]

    def token_extra(self) -> dict:
        """More fields of the token response (an ID token)."""
        return {}

    def __init__(self):
        self.codes: dict[str, str] = {}  # code -> PKCE challenge
        self.tokens: set[str] = set()
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _json(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                url = urlsplit(self.path)
                query = dict(parse_qsl(url.query))
                if url.path == fake.authorize_path:
                    code = secrets.token_urlsafe(16)
                    fake.codes[code] = query.get("code_challenge", "")
                    self.send_response(302)
                    back = urlencode({"code": code, "state": query["state"]})
                    target = f"{query['redirect_uri']}?{back}"
                    self.send_header("Location", target)
                    self.end_headers()
                    return
                if fake.token_of(self.headers, query) not in fake.tokens:
                    return self._json(401, {"message": "401 Unauthorized"})
                self._json(*fake.api(url.path))

            def do_POST(self):
                if urlsplit(self.path).path != fake.token_path:
                    return self._json(404, {})
                body = dict(
                    parse_qsl(self.rfile.read(int(self.headers["Content-Length"])).decode())
                )
                challenge = fake.codes.pop(body.get("code", ""), None)
                verifier = body.get("code_verifier", "")
                digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
                if challenge is None or digest.rstrip(b"=").decode() != challenge:
                    return self._json(400, {"error": "bad_verification_code"})
                token = secrets.token_urlsafe(16)
                fake.tokens.add(token)
                answer = {"access_token": token, "token_type": "bearer", "scope": ""}
                self._json(200, answer | fake.token_extra())

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> FakeOAuthServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(5)


class FakeGitHub(FakeOAuthServer):
    authorize_path = "/login/oauth/authorize"
    token_path = "/login/oauth/access_token"

    def __init__(self):
        self.profile = {"id": 4242, "login": "octo", "name": "Octo Cat", "email": None}
        self.emails: list[dict] = []
        super().__init__()

    def api(self, path):
        if path == "/api/v3/user":
            return 200, self.profile
        if path == "/api/v3/user/emails":
            return 200, self.emails
        return 404, {}


class FakeGitLab(FakeOAuthServer):
    """GitLab (gitlab.com or self-hosted at `url`): /api/v4/user with the token as the
    `access_token` query parameter, as allauth's adapter sends it. GitLab's user API says
    nothing about whether `email` was confirmed."""

    authorize_path = "/oauth/authorize"
    token_path = "/oauth/token"

    def __init__(self):
        self.profile = {"id": 9001, "username": "tanuki", "name": "Tanu Ki", "email": None}
        super().__init__()

    def token_of(self, headers, query):
        return query.get("access_token", "")

    def api(self, path):
        return (200, self.profile) if path == "/api/v4/user" else (404, {})


class FakeGoogle(FakeOAuthServer):
    """Google's authorize and token endpoints; the token response carries an ID token
    (`claims` over Google's issuer, audience `client_id`). allauth does not check the
    ID token's signature when it came straight from the token endpoint (OpenID Connect
    Core 3.1.3.7), so it is signed with a throwaway key."""

    authorize_path = "/o/oauth2/v2/auth"
    token_path = "/token"

    def __init__(self, client_id: str):
        self.client_id = client_id
        self.claims = {"sub": "1234567890", "name": "Goo Gle"}
        super().__init__()

    def token_extra(self):
        import time

        import jwt

        now = int(time.time())
        claims = {"iss": "https://accounts.google.com", "aud": self.client_id}
        claims |= {"iat": now, "exp": now + 600, **self.claims}
        key = "a throwaway key, not Google's: 32+ bytes"
        return {"id_token": jwt.encode(claims, key, algorithm="HS256")}
