"""`make run` is what people self-host with: served like production by default (the app's
own 404 page, no URL listing), static files and /favicon.ico answered, and the links it
hands out name the port it really listens on."""

from __future__ import annotations

import requests

import gradline
from tests.sdk.harness import ServerProcess


class LocalServer(ServerProcess):
    """`python -m config.serve` under the `make run` settings, with neither DEBUG nor
    PUBLIC_BASE_URL set. The secret and pepper are the test settings' own, so the keys
    the shared seed created still authenticate."""

    def env(self) -> dict:
        env = super().env()
        for name in ("PUBLIC_BASE_URL", "DEBUG"):
            env.pop(name, None)
        secret = "test-only-secret-key-not-for-production-0123456789abcdef"
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings.local", SECRET_KEY=secret, API_KEY_PEPPER=secret
        )
        return env


def test_local_server_serves_like_production(sdk_db, tmp_path):
    server = LocalServer(sdk_db, sdk_db.var_dir).start()
    try:
        missing = requests.get(f"{server.url}/no-such-team/nothing/here", timeout=30)
        assert missing.status_code == 404
        assert "<h1>Not found</h1>" in missing.text and "URLconf" not in missing.text

        icon = requests.get(f"{server.url}/favicon.ico", timeout=30, allow_redirects=False)
        assert icon.status_code == 301
        followed = requests.get(f"{server.url}/favicon.ico", timeout=30)
        assert followed.status_code == 200 and b"<svg" in followed.content
        assert requests.get(f"{server.url}/static/js/app.js", timeout=30).status_code == 200

        run = gradline.init(
            project="served",
            settings={
                "base_url": server.url,
                "api_key": sdk_db.seed.owner_key,
                "entity": sdk_db.seed.team,
                "dir": str(tmp_path),
                "system_metrics": False,
                "console": "off",
                "git": False,
                "pip_freeze": False,
                "silent": True,
                "exit_hooks": False,
            },
        )
        run.finish()
        assert run.url == f"{server.url}/{sdk_db.seed.team}/served/runs/{run.id}"
    finally:
        server.stop()
