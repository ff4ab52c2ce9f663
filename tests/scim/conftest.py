"""A real HTTP server for the SCIM tests: the ASGI app (config.asgi, as uvicorn serves it
in production) in a thread of the test process, on the test's transactional database."""

from __future__ import annotations

import threading
import time

import pytest
from django.test.utils import modify_settings

from tests.ports import free_port


class _Server:
    def __init__(self):
        import uvicorn

        self.port = free_port()
        self.url = f"http://localhost:{self.port}"
        config = uvicorn.Config(
            "config.asgi:application", host="127.0.0.1", port=self.port,
            lifespan="off", log_level="warning", access_log=False, timeout_graceful_shutdown=5,
        )  # fmt: skip
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="scim-server", daemon=True)

    def start(self):
        self.thread.start()
        deadline = time.monotonic() + 120
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the SCIM test server did not start")
            time.sleep(0.05)
        return self

    def stop(self):
        self.server.should_exit = True
        self.thread.join(30)
        if self.thread.is_alive():
            self.server.force_exit = True
            self.thread.join(30)


@pytest.fixture
def scim_server(transactional_db):
    with modify_settings(ALLOWED_HOSTS={"append": "localhost"}):
        server = _Server().start()
        yield server
        server.stop()
