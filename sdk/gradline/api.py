"""The query client, as `wandb.Api()`: runs with W&B-style filters, history, files.

api = gradline.Api()
runs = api.runs("acme/resnet", filters={"config.lr": {"$gt": 0.01}},
                order="-summary_metrics.accuracy")
best = runs[0]
rows = list(best.scan_history(keys=["loss"]))
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import orjson

from gradline import settings as settings_mod
from gradline.artifact_store import parse_path as parse_artifact_path
from gradline.artifacts import Artifact, artifact_versions, fetch_artifact
from gradline.transport import CommError, HttpClient, UsageError

HIDDEN_CONFIG_PREFIX = "_gradline"


def _q(part: str) -> str:
    return quote(str(part), safe="")


class Api:
    """Read (and lightly edit) runs over the REST API.

    api_key / base_url default to the environment and `gradline login`; `overrides` takes
    {"entity", "project", "base_url"} like W&B's."""

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        overrides: dict | None = None,
        timeout: float | None = None,
    ):
        overrides = dict(overrides or {})
        settings = settings_mod.load(
            {"base_url": base_url or overrides.get("base_url"), "api_key": api_key}
        )
        if not settings.api_key:
            raise UsageError(
                "No API key: pass api_key=, set GRADLINE_API_KEY or run `gradline login`"
            )
        self.settings = settings
        self.base_url = settings.base_url
        self.client = HttpClient(settings.base_url, settings.api_key, timeout or 60.0)
        self._default_entity = overrides.get("entity") or settings.entity
        self._default_project = overrides.get("project") or settings.project

    @classmethod
    def _from_settings(cls, settings: settings_mod.Settings, entity: str | None = None) -> Api:
        """An Api on a run's resolved settings (its cache and artifact folders included)."""
        api = cls.__new__(cls)
        api.settings = settings
        api.base_url = settings.base_url
        api.client = HttpClient(settings.base_url, settings.api_key, max(settings.http_timeout, 60))
        api._default_entity = entity or settings.entity
        api._default_project = settings.project
        return api

    # -- paths -------------------------------------------------------------------------
    @property
    def default_entity(self) -> str:
        if not self._default_entity:
            viewer = self.client.json("GET", "/api/v1/viewer")
            self._default_entity = (viewer or {}).get("default_team")
            if not self._default_entity:
                raise UsageError("this API key has no team: give the entity in the path")
        return self._default_entity

    def _project_path(self, path: str | None) -> tuple[str, str]:
        parts = [p for p in (path or "").strip("/").split("/") if p]
        if len(parts) >= 2:
            return parts[0], parts[1]
        if len(parts) == 1:
            return self.default_entity, parts[0]
        if self._default_project:
            return self.default_entity, self._default_project
        raise ValueError("give a project path: 'team/project' or 'project'")

    # -- queries -----------------------------------------------------------------------
    def runs(
        self,
        path: str | None = None,
        filters: dict | None = None,
        order: str = "-created_at",
        per_page: int = 50,
        include_sweeps: bool = True,
    ) -> Runs:
        entity, project = self._project_path(path)
        return Runs(self, entity, project, filters=filters, order=order, per_page=per_page)

    def run(self, path: str) -> Run:
        """`team/project/run_id`, `project/run_id` (default team), or with /runs/ between."""
        parts = [p for p in path.strip("/").split("/") if p and p != "runs"]
        if len(parts) == 3:
            entity, project, run_id = parts
        elif len(parts) == 2:
            entity, project, run_id = self.default_entity, parts[0], parts[1]
        else:
            raise ValueError("run path must be 'team/project/run_id'")
        data = self.client.json("GET", f"{_project_url(entity, project)}/runs/{_q(run_id)}")
        return Run(self, entity, project, data)

    def projects(self, entity: str | None = None, per_page: int = 200) -> list[Project]:
        entity = entity or self.default_entity
        data = self.client.json("GET", f"/api/v1/teams/{_q(entity)}/projects")
        return [Project(self, entity, p) for p in (data or {}).get("results", [])]

    def project(self, name: str, entity: str | None = None) -> Project:
        entity = entity or self.default_entity
        data = self.client.json("GET", _project_url(entity, name))
        return Project(self, entity, data)

    def viewer(self) -> dict:
        return self.client.json("GET", "/api/v1/viewer")

    # -- deployments (docs/deployments.md) ------------------------------------------
    def deployments(self, entity: str | None = None) -> list:
        """The team's deployments (gradline.deployments.Deployment handles)."""
        from gradline import deployments as _deployments

        return _deployments.deployments(self, entity)

    def deployment(self, key: int | str, entity: str | None = None):
        """One deployment by id or endpoint name."""
        from gradline import deployments as _deployments

        return _deployments.deployment(self, key, entity)

    def sweep(self, path: str) -> Sweep:
        """`team/project/sweep_id` or `project/sweep_id` (default team)."""
        parts = [p for p in path.strip("/").split("/") if p and p != "sweeps"]
        if len(parts) == 3:
            entity, project, sweep_id = parts
        elif len(parts) == 2:
            entity, project, sweep_id = self.default_entity, parts[0], parts[1]
        else:
            raise ValueError("sweep path must be 'team/project/sweep_id'")
        sweep = Sweep(self, entity, project, {"id": sweep_id})
        return sweep.load()

    def reports(self, path: str = "", name: str | None = None, per_page: int = 50) -> list[Report]:
        """The reports of "team/project" (or "project", default team) the key may read,
        newest first, as W&B's `Api().reports(path)`; `name` keeps those with that title."""
        entity, project = self._project_path(path or None)
        data = self.client.json("GET", f"{_project_url(entity, project)}/reports")
        rows = [Report(self, entity, project, r) for r in (data or {}).get("results", [])]
        return [r for r in rows if name is None or r.title == name]

    # -- artifacts ---------------------------------------------------------------------
    def _artifact_path(self, path: str) -> tuple[str, str, str, str]:
        team, project, name, ref = parse_artifact_path(path)
        project = project or self._default_project
        if not project:
            raise ValueError(f"give the project: 'team/project/{name}:{ref}' or 'project/...'")
        return team or self.default_entity, project, name, ref

    def artifact(self, name: str, type: str | None = None) -> Artifact:
        """A version: "team/project/name:alias", "project/name:v2" (default team) …;
        project "model-registry" reads the team's registered models."""
        team, project, art_name, ref = self._artifact_path(name)
        artifact = fetch_artifact(self, team, project, art_name, ref)
        if type is not None and artifact.type != type:
            raise ValueError(f"artifact {name} has type {artifact.type!r}, not {type!r}")
        return artifact

    def artifacts(
        self, type_name: str | None, name: str, per_page: int = 50, tags: Any = None
    ) -> list[Artifact]:
        """Every version of "team/project/name", newest first; with `tags` (a tag or a
        list), only the versions that have all of them, as W&B filters."""
        team, project, art_name, _ = self._artifact_path(name.partition(":")[0])
        versions = artifact_versions(self, team, project, art_name)
        if type_name is not None and versions and versions[0].type != type_name:
            raise ValueError(f"artifact {name} has type {versions[0].type!r}, not {type_name!r}")
        if tags:
            wanted = {tags} if isinstance(tags, str) else {str(t) for t in tags}
            versions = [v for v in versions if wanted <= set(v.tags)]
        return versions

    artifact_versions = artifacts

    def artifact_exists(self, name: str, type: str | None = None) -> bool:
        try:
            self.artifact(name, type)
        except CommError as exc:
            if exc.status == 404:
                return False
            raise
        except ValueError:
            return False
        return True


def _project_url(entity: str, project: str) -> str:
    return f"/api/v1/teams/{_q(entity)}/projects/{_q(project)}"


class Project:
    def __init__(self, api: Api, entity: str, data: dict):
        self._api = api
        self.entity = entity
        self.name = data.get("name")
        self.description = data.get("description", "")
        self.visibility = data.get("visibility")
        self.created_at = data.get("created_at")
        self._data = data

    @property
    def path(self) -> list:
        return [self.entity, self.name]

    @property
    def url(self) -> str:
        return f"{self._api.base_url}/{self.entity}/{self.name}"

    def runs(self, filters: dict | None = None, order: str = "-created_at", per_page: int = 50):
        return self._api.runs(
            f"{self.entity}/{self.name}", filters=filters, order=order, per_page=per_page
        )

    def __repr__(self) -> str:
        return f"<Project {self.entity}/{self.name}>"


class Report:
    """A report, as W&B's BetaReport: id, title (display_name), description, url, user,
    created_at / updated_at, version; `body` (its Markdown) is read on first use."""

    def __init__(self, api: Api, entity: str, project: str, data: dict):
        self._api = api
        self.entity = entity
        self.project = project
        self._load(data)

    def _load(self, data: dict) -> None:
        self._data = data
        self.id = data.get("id")
        self.title = self.name = self.display_name = data.get("title")
        self.description = data.get("description", "")
        self.url = data.get("url")
        self.version = data.get("version")
        self.sharing = data.get("sharing")
        self.published = data.get("published", False)
        self.user = data.get("created_by")
        self.created_at = data.get("created_at")
        self.updated_at = data.get("updated_at")

    @property
    def body(self) -> str:
        if "body" not in self._data:
            path = f"{_project_url(self.entity, self.project)}/reports/{self.id}"
            self._load(self._api.client.json("GET", path))
        return self._data.get("body", "")

    @property
    def panels(self) -> list[dict]:
        self.body  # noqa: B018 - loads the detail, which lists the panels
        return self._data.get("panels", [])

    def to_dict(self) -> dict:
        return dict(self._data)

    def __repr__(self) -> str:
        return f"<Report {self.entity}/{self.project} {self.id} {self.title!r}>"


class Sweep:
    """A sweep as the query API sees it (W&B's `wandb.apis.public.Sweep`)."""

    def __init__(self, api: Api, entity: str, project: str, data: dict):
        self._api = api
        self.entity = entity
        self.project = project
        self._data = data
        self.id = data.get("id")

    def load(self, force: bool = True) -> Sweep:
        data = self._api.client.json(
            "GET", f"{_project_url(self.entity, self.project)}/sweeps/{_q(self.id)}"
        )
        self._data = data
        self.id = data.get("id")
        self.name = data.get("name")
        self.state = data.get("state")
        self.method = data.get("method")
        self.config = data.get("config") or {}
        self.metric = data.get("metric")
        self.best = data.get("best")
        return self

    @property
    def trials(self) -> list[dict]:
        """`{"run", "params", "state", "metric", "created_at"}`, newest first."""
        return list(self._data.get("trials") or [])

    @property
    def runs(self) -> list[Run]:
        """The runs of the sweep's trials that were started, newest first."""
        return [
            self._api.run(f"{self.entity}/{self.project}/{trial['run']}")
            for trial in self.trials
            if trial.get("state") != "pending"
        ]

    def best_run(self) -> Run | None:
        if not self.best:
            return None
        return self._api.run(f"{self.entity}/{self.project}/{self.best['run']}")

    @property
    def path(self) -> list:
        return [self.entity, self.project, self.id]

    @property
    def url(self) -> str:
        return f"{self._api.base_url}/{self.entity}/{self.project}/sweeps/{self.id}"

    def __repr__(self) -> str:
        return f"<Sweep {self.entity}/{self.project}/{self.id}>"


class Runs:
    """Lazily paginated runs of a project: iterate, index, len()."""

    def __init__(
        self,
        api: Api,
        entity: str,
        project: str,
        *,
        filters: dict | None,
        order: str | None,
        per_page: int,
    ):
        self._api = api
        self.entity = entity
        self.project = project
        self.filters = filters or {}
        self.order = _order(order)
        self.per_page = max(1, min(int(per_page), 1000))
        self._loaded: list[Run] = []
        self._cursor: str | None = None
        self._done = False
        self._total: int | None = None

    def _fetch_page(self) -> None:
        params: dict[str, Any] = {"page_size": self.per_page, "order": self.order}
        if self.filters:
            params["filters"] = orjson.dumps(self.filters).decode()
        if self._cursor:
            params["cursor"] = self._cursor
        if self._total is None:
            params["with_total"] = "true"
        data = self._api.client.json(
            "GET", f"{_project_url(self.entity, self.project)}/runs", params=params
        )
        if "total" in data:
            self._total = data["total"]
        self._loaded.extend(
            Run(self._api, self.entity, self.project, r) for r in data.get("results", [])
        )
        self._cursor = data.get("next_cursor")
        self._done = not self._cursor

    def __iter__(self) -> Iterator[Run]:
        i = 0
        while True:
            while i < len(self._loaded):
                yield self._loaded[i]
                i += 1
            if self._done:
                return
            self._fetch_page()

    def __len__(self) -> int:
        if self._total is None and not self._done:
            self._fetch_page()
        return self._total if self._total is not None else len(self._loaded)

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return list(self)[index]
        if index < 0:
            return list(self)[index]
        while index >= len(self._loaded) and not self._done:
            self._fetch_page()
        return self._loaded[index]

    def __bool__(self) -> bool:
        return len(self) > 0

    def __repr__(self) -> str:
        return f"<Runs {self.entity}/{self.project}>"


def _order(order: str | None) -> str:
    """W&B spellings: "+summary_metrics.acc", "-created_at", "createdAt"."""
    order = (order or "-created_at").strip()
    sign = "-" if order.startswith("-") else ""
    name = order.lstrip("+-")
    name = {
        "createdAt": "created_at",
        "updatedAt": "updated_at",
        "heartbeatAt": "heartbeat_at",
        "displayName": "name",
    }.get(name, name)
    return f"{sign}{name}"


class Summary(dict):
    """A run's summary as read from the server (a dict; `update()` via Run.update)."""

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None


class Run:
    """A run as the query API sees it (W&B's `wandb.apis.public.Run`)."""

    def __init__(self, api: Api, entity: str, project: str, data: dict):
        self._api = api
        self.entity = entity
        self.project = project
        self._load(data)

    def _load(self, data: dict) -> None:
        self._data = data
        self.id = data.get("id")
        self.name = data.get("name")
        self.state = data.get("state")
        self.tags = list(data.get("tags") or [])
        self.notes = data.get("notes")
        self.group = data.get("group")
        self.job_type = data.get("job_type")
        self.created_at = data.get("created_at")
        self.updated_at = data.get("updated_at")
        self.heartbeat_at = data.get("heartbeat_at")
        self.user = data.get("user")
        self.config = {
            k: v
            for k, v in (data.get("config") or {}).items()
            if not k.startswith(HIDDEN_CONFIG_PREFIX)
        }
        self.summary = Summary(_float_row(dict(data.get("summary") or {})))
        self._original = {
            "config": dict(self.config),
            "summary": dict(self.summary),
            "tags": list(self.tags),
            "name": self.name,
            "notes": self.notes,
        }

    # W&B names
    @property
    def display_name(self) -> str | None:
        return self.name

    @property
    def summary_metrics(self) -> dict:
        return self.summary

    @property
    def path(self) -> list:
        return [self.entity, self.project, self.id]

    @property
    def url(self) -> str:
        return self._data.get("url") or (
            f"{self._api.base_url}/{self.entity}/{self.project}/runs/{self.id}"
        )

    @property
    def metadata(self) -> dict:
        if "metadata" not in self._data:
            self.load()
        return self._data.get("metadata") or {}

    @property
    def _url(self) -> str:
        return f"{_project_url(self.entity, self.project)}/runs/{_q(self.id)}"

    def to_dict(self) -> dict:
        return dict(self._data)

    def load(self, force: bool = True) -> Run:
        self._load(self._api.client.json("GET", self._url))
        return self

    def __repr__(self) -> str:
        return f"<Run {self.entity}/{self.project}/{self.id} ({self.state})>"

    # -- writes ------------------------------------------------------------------------
    def update(self) -> None:
        """Send local edits of name, notes, tags, config and summary to the server."""
        body: dict[str, Any] = {}
        if self.name != self._original["name"]:
            body["name"] = self.name
        if self.notes != self._original["notes"]:
            body["notes"] = self.notes or ""
        if list(self.tags) != self._original["tags"]:
            body["tags"] = list(self.tags)
        config = {k: v for k, v in self.config.items() if self._original["config"].get(k) != v}
        if config:
            body["config"] = config
        summary = {
            k: v for k, v in self.summary.items() if self._original["summary"].get(k, _MISSING) != v
        }
        summary.update({k: None for k in self._original["summary"] if k not in self.summary})
        if summary:
            body["summary"] = summary
        if body:
            self._load(self._api.client.json("PATCH", self._url, json=body))

    save = update

    def delete(self, delete_artifacts: bool = False) -> None:
        self._api.client.request("DELETE", self._url)

    # -- history -----------------------------------------------------------------------
    def scan_history(
        self,
        keys: list[str] | None = None,
        page_size: int = 1000,
        min_step: int | None = None,
        max_step: int | None = None,
    ) -> Iterator[dict]:
        """Every row at full resolution: dicts with _step, _timestamp, _runtime and the
        keys. With keys, only rows that have all of them (as in W&B); NaN and ±Inf come
        back as floats."""
        params: dict[str, Any] = {"page_size": max(1, min(int(page_size), 10000))}
        if keys:
            params["keys"] = ",".join(keys)
            params["require_all"] = "true"
        if min_step is not None:
            params["min_step"] = int(min_step)
        if max_step is not None:
            params["max_step"] = int(max_step)
        yield from self._scan_pages(params)

    def _scan_pages(self, params: dict) -> Iterator[dict]:
        params = dict(params)
        while True:
            page = self._api.client.json("GET", f"{self._url}/scan", params=params)
            for row in page.get("rows", []):
                yield _float_row(row)
            cursor = page.get("next_cursor")
            if cursor is None:
                return
            params["cursor"] = cursor

    def _logged_keys(self, system: bool) -> list[str]:
        """The run's logged metric keys (the run detail lists them), system/* or not."""
        if "metrics" not in self._data:
            self.load()
        names = sorted(self._data.get("metrics") or {})
        return [k for k in names if k.startswith("system/") == system]

    def history(
        self,
        samples: int = 500,
        keys: list[str] | None = None,
        x_axis: str = "_step",
        pandas: bool = True,
        stream: str = "default",
    ) -> Any:
        """Sampled history. With `keys`, rows that have all of them (plus `x_axis`); without,
        every logged key, each row holding the keys logged at its step (W&B's behaviour).
        `stream="events"` (W&B's name; "system" also works) reads the system metrics
        instead. A run with at most `samples` rows returns them all; a longer one about
        `samples` rows, each a real logged point (the last of its step bucket; the server
        keeps exact min/max per bucket). NaN and ±Inf are floats. A pandas DataFrame when
        pandas is installed and pandas=True, else a list of dicts."""
        if stream not in ("default", "events", "system"):
            raise UsageError(f"history(stream=...) takes 'default' or 'events', not {stream!r}")
        require_all = keys is not None
        if keys is None:
            keys = self._logged_keys(system=stream != "default")[:100]
        if not keys:
            return _frame([], pandas)
        samples = max(1, min(int(samples), 10000))
        wanted_keys = list(keys)
        if x_axis not in ("_step", "_runtime", "_timestamp", None) and x_axis not in keys:
            wanted_keys.append(x_axis)
        params = {"keys": ",".join(wanted_keys), "page_size": samples}
        if require_all:
            params["require_all"] = "true"
        page = self._api.client.json("GET", f"{self._url}/scan", params=params)
        if page.get("next_cursor") is None:  # it all fits: exact rows, no sampling
            return _frame([_float_row(r) for r in page.get("rows", [])], pandas)
        params = {"keys": ",".join(keys), "buckets": samples}
        if x_axis not in ("_step", None):
            params["x_axis"] = x_axis
        data = self._api.client.json("GET", f"{self._url}/history", params=params)
        rows: dict[int, dict] = {}
        for key, series in (data.get("series") or {}).items():
            for i, step in enumerate(series.get("step_end") or []):
                row = rows.setdefault(step, {"_step": step})
                row[key] = series["last"][i]
                if x_axis not in ("_step", None):
                    row.setdefault(x_axis, series["x_end"][i])
        wanted = set(keys) if require_all else set()
        out = [_float_row(r) for _, r in sorted(rows.items()) if wanted.issubset(r)]
        return _frame(out, pandas)

    # -- files -------------------------------------------------------------------------
    def files(self, names: list[str] | None = None, per_page: int = 50) -> list[File]:
        data = self._api.client.json("GET", f"{self._url}/files")
        files = [File(self, f) for f in (data or {}).get("files", [])]
        if names:
            files = [f for f in files if f.name in names]
        return files

    def file(self, name: str) -> File:
        for f in self.files():
            if f.name == name:
                return f
        raise CommError(f"run {self.id} has no file {name!r}", status=404)

    # -- artifacts ---------------------------------------------------------------------
    def _artifacts(self, which: str) -> list[Artifact]:
        data = self._api.client.json("GET", f"{self._url}/artifacts")
        out = []
        for summary in (data or {}).get(which) or []:
            art = Artifact(summary["name"], summary.get("type") or "unspecified")
            art._apply_version(summary, self.entity, self._api)
            art._loaded = False
            out.append(art)
        return out

    def logged_artifacts(self, per_page: int = 100) -> list[Artifact]:
        """The versions this run logged."""
        return self._artifacts("logged")

    def used_artifacts(self, per_page: int = 100) -> list[Artifact]:
        """The versions this run used (use_artifact / use_model)."""
        return self._artifacts("used")

    def console(self, offset: int = 0, limit: int = 1000) -> list[dict]:
        data = self._api.client.json(
            "GET", f"{self._url}/console", params={"offset": offset, "limit": limit}
        )
        return data.get("lines", [])

    def histograms(self, key: str | None = None) -> list[dict]:
        """Logged histograms (rows of media/histograms.jsonl), optionally for one key."""
        try:
            raw = self.file("media/histograms.jsonl").read()
        except CommError:
            return []
        rows = []
        for line in raw.splitlines():
            try:
                row = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # a line cut by a concurrent upload
            if key is None or row.get("key") == key:
                rows.append(row)
        return rows

    # -- media (docs/media.md) -----------------------------------------------------------
    def logged_media(
        self,
        key: str | None = None,
        type: str | None = None,
        step: int | None = None,
    ) -> list[LoggedMedia]:
        """The run's media index: images, audio, video, html, object3d, plotly,
        histogram, table and chart items, by key, step and list index."""
        params: dict[str, Any] = {"limit": 1000}
        for name, value in (("key", key), ("type", type), ("step", step)):
            if value is not None:
                params[name] = value
        out: list[LoggedMedia] = []
        offset = 0
        while True:
            data = self._api.client.json(
                "GET", f"{self._url}/media", params={**params, "offset": offset}
            )
            items = (data or {}).get("items") or []
            out.extend(LoggedMedia(self, item) for item in items)
            if not (data or {}).get("more"):
                return out
            offset += len(items)

    def media_keys(self) -> list[dict]:
        """Per logged media key: type, count, min_step, max_step."""
        return (self._api.client.json("GET", f"{self._url}/media/keys") or {}).get("keys", [])

    def table(self, key: str, step: int | None = None) -> Any:
        """A logged table (the last one of `key`, or the one at `step`) as a Table."""
        items = [m for m in self.logged_media(key=key, step=step) if m.type in ("table", "chart")]
        if not items:
            raise CommError(f"run {self.id} has no table {key!r}", status=404)
        return items[-1].table()


class LoggedMedia:
    """One item of a run's media index (`Run.logged_media`)."""

    def __init__(self, run: Run, data: dict):
        self._run = run
        self._data = data
        self.id = data.get("id")
        self.key = data.get("key")
        self.step = data.get("step")
        self.index = data.get("index")
        self.type = data.get("type")
        self.format = data.get("format")
        self.sha256 = data.get("sha256")
        self.metadata = data.get("metadata") or {}
        self.caption = self.metadata.get("caption")

    @property
    def _url(self) -> str:
        return f"{self._run._url}/media/{self.id}"

    def read(self) -> bytes:
        """The media file's bytes (histograms and tables have none: use .metadata/.rows)."""
        if self.type in ("histogram", "table", "chart"):
            raise UsageError(f"a {self.type} has no file; use .metadata or .rows()")
        return self._run._api.client.request("GET", f"{self._url}/file").content

    def download(self, root: str = ".") -> str:
        path = os.path.join(root, *(self.metadata.get("path") or f"media/{self.id}").split("/"))
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(self.read())
        return path

    def image(self) -> Any:
        """An image item as a PIL image."""
        import io

        from PIL import Image as PILImage

        return PILImage.open(io.BytesIO(self.read()))

    def rows(
        self,
        offset: int = 0,
        limit: int = 1000,
        sort: str | None = None,
        order: str = "asc",
        filters: list | None = None,
    ) -> dict:
        """One page of a table item, sorted and filtered by the server:
        {"columns", "rows": [{"index", "cells"}], "total", "offset"}."""
        params: dict[str, Any] = {"offset": offset, "limit": limit, "order": order}
        if sort is not None:
            params["sort"] = sort
        if filters:
            params["filters"] = orjson.dumps(filters).decode()
        return self._run._api.client.json("GET", f"{self._url}/rows", params=params)

    def table(self) -> Any:
        """The whole table as a gradline.Table (read page by page)."""
        from gradline.table import Table

        columns, data, offset = None, [], 0
        while True:
            page = self.rows(offset=offset, limit=1000)
            columns = page.get("columns") or []
            rows = page.get("rows") or []
            data.extend(row["cells"] for row in rows)
            offset += len(rows)
            if not rows or offset >= int(page.get("total") or 0):
                return Table(columns=columns, data=data)

    def to_dataframe(self) -> Any:
        return self.table().get_dataframe()

    def __repr__(self) -> str:
        return f"<LoggedMedia {self.type} {self.key!r} step {self.step}>"


class File:
    def __init__(self, run: Run, data: dict):
        self._run = run
        self.name = data.get("path")
        self.size = data.get("size")
        self.sha256 = data.get("sha256")
        self.mimetype = data.get("content_type")
        self.updated_at = data.get("updated_at")

    @property
    def _url(self) -> str:
        return f"{self._run._url}/files/{quote(self.name)}"

    @property
    def url(self) -> str:
        return self._run._api.client.url(self._url)

    def read(self) -> bytes:
        return self._run._api.client.request("GET", self._url).content

    def download(self, root: str = ".", replace: bool = False, exist_ok: bool = False) -> str:
        path = os.path.join(root, *self.name.split("/"))
        if os.path.exists(path) and not replace:
            if exist_ok:
                return path
            raise ValueError(f"{path} exists; pass replace=True to overwrite it")
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        resp = self._run._api.client.request("GET", self._url, stream=True)
        with open(path, "wb") as fh:
            for chunk in resp.iter_content(1024 * 1024):
                fh.write(chunk)
        return path

    def __repr__(self) -> str:
        return f"<File {self.name} ({self.size} bytes)>"


_MISSING = object()


# The wire spells non-finite floats as strings (JSON has no NaN). Metric values are always
# numbers, so in history rows these strings can only mean the floats; summaries follow W&B,
# whose summaries hold NaN and ±Inf as floats too.
_NON_FINITE = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


def _float_row(row: dict) -> dict:
    for key, value in row.items():
        if isinstance(value, str) and value in _NON_FINITE:
            row[key] = _NON_FINITE[value]
    return row


def _frame(rows: list[dict], pandas: bool) -> Any:
    if pandas:
        try:
            import pandas as pd
        except ImportError:
            return rows
        return pd.DataFrame(rows)
    return rows
