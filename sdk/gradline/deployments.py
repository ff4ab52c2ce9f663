"""Deployments from the SDK (docs/deployments.md), as the product brief's sample:

    wandb.deploy(model="model:latest", platform="sagemaker", endpoint_name="my-endpoint")

`deploy()` asks the server to serve a registry version on an endpoint (a Celery job
does the work) and returns a `Deployment` handle at once; `.wait()` blocks until it is
healthy. Deploying an endpoint that exists redeploys it."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

from gradline.transport import GradlineError, HttpClient

SETTLED = ("healthy", "failed", "stopped")
POLL_S = 0.5


class DeploymentFailed(GradlineError):
    pass


class _Api:
    """What a Deployment needs of the query client (gradline.api.Api has it)."""

    client: HttpClient
    default_entity: str


class Deployment:
    def __init__(self, api: Any, entity: str, data: dict):
        self._api = api
        self.entity = entity
        self._data = data

    # -- state ---------------------------------------------------------------------
    @property
    def _url(self) -> str:
        return f"/api/v1/teams/{quote(self.entity, safe='')}/deployments/{self.id}"

    @property
    def id(self) -> int:
        return self._data["id"]

    @property
    def endpoint_name(self) -> str:
        return self._data["endpoint_name"]

    @property
    def platform(self) -> str:
        return self._data["platform"]

    @property
    def version(self) -> str:
        return self._data["version"]

    @property
    def status(self) -> str:
        """The current state, read from the server (pending, packaging, deploying,
        healthy, failed, stopping, stopped)."""
        self.load()
        return self._data["state"]

    @property
    def url(self) -> str | None:
        return self._data.get("url")

    @property
    def error(self) -> str | None:
        return self._data.get("error")

    @property
    def history(self) -> list[dict]:
        """Every version this endpoint served, newest first, with start and end times."""
        return self._data.get("history", [])

    def load(self) -> Deployment:
        self._data = self._api.client.json("GET", self._url)
        return self

    def to_dict(self) -> dict:
        return dict(self._data)

    # -- waiting and logs ------------------------------------------------------------
    def wait(self, timeout: float = 900.0, raise_on_failure: bool = True) -> Deployment:
        """Block until the current attempt settles (healthy, failed or stopped)."""
        deadline = time.monotonic() + timeout
        attempt = self._data.get("attempt")
        while True:
            self.load()
            if self._data["state"] in SETTLED and self._data.get("attempt") == attempt:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"deployment {self.endpoint_name} still {self._data['state']} after {timeout}s"
                )
            time.sleep(POLL_S)
        if self._data["state"] == "failed" and raise_on_failure:
            raise DeploymentFailed(f"deployment {self.endpoint_name} failed: {self.error}")
        return self

    def logs(self, after: int = 0) -> list[str]:
        """Events and log lines of the deployment, oldest first."""
        lines: list[str] = []
        while True:
            page = self._api.client.json("GET", f"{self._url}/events", params={"after": after})
            events = page.get("events", [])
            if not events:
                return lines
            lines.extend(f"[{e['at']}] {e['message']}" for e in events)
            after = events[-1]["id"]

    # -- actions -------------------------------------------------------------------
    def predict(self, inputs: Any, name: str = "input-0", raw: bool = False) -> Any:
        """Predictions for `inputs` (rows of numbers: a list of lists or a 2-D array) over
        the Open Inference Protocol V2; `raw=True` returns the whole V2 answer."""
        body = (
            inputs if isinstance(inputs, dict) and "inputs" in inputs else _v2_request(inputs, name)
        )
        answer = self._api.client.json("POST", f"{self._url}/predict", json=body)
        if raw:
            return answer
        outputs = answer.get("outputs") or [{}]
        return outputs[0].get("data")

    def redeploy(self, model: str | None = None, follow_alias: bool | None = None) -> Deployment:
        body: dict = {}
        if model is not None:
            body["model"] = model
        if follow_alias is not None:
            body["follow_alias"] = follow_alias
        self._data = self._api.client.json("POST", f"{self._url}/redeploy", json=body)
        return self

    def rollback(self) -> Deployment:
        self._data = self._api.client.json("POST", f"{self._url}/rollback", json={})
        return self

    def stop(self) -> Deployment:
        self._data = self._api.client.json("POST", f"{self._url}/stop", json={})
        return self

    def delete(self) -> None:
        self._api.client.request("DELETE", self._url)

    def manifests(self) -> str:
        """Kubernetes manifests of the deployment, as YAML."""
        return self._api.client.request("GET", f"{self._url}/manifests").text

    def __repr__(self) -> str:
        return f"<Deployment {self.endpoint_name} ({self.platform}) {self._data.get('state')}>"


def _v2_request(inputs: Any, name: str) -> dict:
    rows = inputs.tolist() if hasattr(inputs, "tolist") else list(inputs)
    rows = [list(r) if isinstance(r, list | tuple) else [r] for r in rows]
    width = len(rows[0]) if rows else 0
    flat = [float(v) for row in rows for v in row]
    return {
        "inputs": [{"name": name, "shape": [len(rows), width], "datatype": "FP64", "data": flat}]
    }


def deploy(
    api: Any,
    model: Any,
    platform: str,
    endpoint_name: str,
    *,
    project: str | None = None,
    entity: str | None = None,
    follow_alias: bool = False,
    credentials: dict | None = None,
    **options: Any,
) -> Deployment:
    if not isinstance(model, str):
        name = getattr(model, "qualified_name", None) or getattr(model, "name", None)
        if not isinstance(name, str):
            raise GradlineError("deploy(model=...) takes a reference like 'model:latest'")
        model = name
    entity = entity or api.default_entity
    project = project or getattr(api, "_default_project", None)
    body: dict = {
        "model": model,
        "platform": platform,
        "endpoint_name": endpoint_name,
        "follow_alias": follow_alias,
        "options": options,
    }
    if project:
        body["project"] = project
    if credentials:
        body["credentials"] = credentials
    data = api.client.json("POST", f"/api/v1/teams/{quote(entity, safe='')}/deployments", json=body)
    return Deployment(api, entity, data)


def deployments(api: Any, entity: str | None = None) -> list[Deployment]:
    entity = entity or api.default_entity
    data = api.client.json("GET", f"/api/v1/teams/{quote(entity, safe='')}/deployments")
    return [Deployment(api, entity, d) for d in (data or {}).get("deployments", [])]


def deployment(api: Any, key: int | str, entity: str | None = None) -> Deployment:
    """A deployment by id, or by endpoint name (the first platform found)."""
    entity = entity or api.default_entity
    if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
        handle = Deployment(api, entity, {"id": int(key)})
        return handle.load()
    for found in deployments(api, entity):
        if found.endpoint_name == key:
            return found.load()
    raise GradlineError(f"no deployment named {key!r} in {entity}")
