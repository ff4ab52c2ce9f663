"""A small OAuth 2.0 authorization server speaking GitHub's endpoints (authorize, token
with PKCE, /api/v3/user, /api/v3/user/emails), for sign-in tests without the internet.
`profile` and `emails` say who signs in and which addresses GitHub calls verified."""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import secrets
import threading
from urllib.parse import parse_qsl, urlencode, urlsplit


class FakeGitHub:
    def __init__(self):
        self.profile = {"id": 4242, "login": "octo", "name": "Octo Cat", "email": None}
        self.emails: list[dict] = []
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
                if url.path == "/login/oauth/authorize":
                    code = secrets.token_urlsafe(16)
                    fake.codes[code] = query.get("code_challenge", "")
                    self.send_response(302)
                    back = urlencode({"code": code, "state": query["state"]})
                    target = f"{query['redirect_uri']}?{back}"
                    self.send_header("Location", target)
                    self.end_headers()
                    return
                token = self.headers.get("Authorization", "").removeprefix("token ")
                if token not in fake.tokens:
                    return self._json(401, {"message": "Bad credentials"})
                if url.path == "/api/v3/user":
                    return self._json(200, fake.profile)
                if url.path == "/api/v3/user/emails":
                    return self._json(200, fake.emails)
                self._json(404, {})

            def do_POST(self):
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
                self._json(200, {"access_token": token, "token_type": "bearer", "scope": ""})

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> FakeGitHub:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(5)
