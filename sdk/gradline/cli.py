"""The `gradline` command: login, sync, runs ls, artifact get/put, sweep, agent, status."""

from __future__ import annotations

import argparse
import getpass
import sys

import orjson

from gradline import settings as settings_mod
from gradline.transport import CommError, HttpClient


def do_login(
    *,
    key: str | None = None,
    host: str | None = None,
    verify: bool = True,
    interactive: bool = True,
) -> bool:
    """Verify `key` against the server and store it (with the host) in the user's config
    file, created with mode 0600."""
    current = settings_mod.load({"base_url": host} if host else None)
    base_url = (host or current.base_url).rstrip("/")
    if not key:
        if not interactive:
            raise ValueError("login() needs an API key (key=...)")
        if sys.stdin.isatty():
            print(f"Create an API key at {base_url}/ (team settings -> API keys).", file=sys.stderr)
            key = getpass.getpass("API key: ")
        else:
            key = sys.stdin.readline()
        key = (key or "").strip()
    if not key:
        raise ValueError("no API key given")
    entity = None
    if verify:
        client = HttpClient(base_url, key, timeout=15.0)
        try:
            viewer = client.json("GET", "/api/v1/viewer")
        finally:
            client.close()
        entity = (viewer or {}).get("default_team")
        print(
            f"gradline: logged in to {base_url} as {viewer.get('email')}"
            + (f" (default team {entity})" if entity else ""),
            file=sys.stderr,
        )
    values = {"base_url": base_url, "api_key": key}
    if entity:
        values["entity"] = entity
    path = settings_mod.write_login_file(values)
    print(f"gradline: API key stored in {path} (mode 0600)", file=sys.stderr)
    return True


def login_with_saved_key(*, host: str | None = None, verify: bool = True) -> bool | None:
    """W&B's `wandb.login()` without a key: use the one already configured (GRADLINE_API_KEY
    / WANDB_API_KEY, the `gradline login` file, netrc for the host). None when there is no
    key. Never raises for a configured key: an unreachable server is said once and True is
    returned (runs then go offline as init() decides); a key the server refuses is said
    and False is returned, as W&B's login(verify=False) reports a bad key at init."""
    current = settings_mod.load({"base_url": host} if host else None)
    if not current.api_key:
        return None
    if not verify:
        return True
    client = HttpClient(current.base_url, current.api_key, timeout=min(current.http_timeout, 10.0))
    try:
        viewer = client.json("GET", "/api/v1/viewer") or {}
    except CommError as exc:
        if exc.status in (401, 403):
            print(
                f"gradline: login: the configured API key was refused by {current.base_url} "
                f"({exc.message}); run `gradline login` or set GRADLINE_API_KEY",
                file=sys.stderr,
            )
            return False
        print(
            f"gradline: login: {current.base_url} is not reachable ({exc.message}); "
            "using the configured API key without checking it",
            file=sys.stderr,
        )
        return True
    finally:
        client.close()
    if not current.silent:
        who = viewer.get("email")
        print(f"gradline: logged in to {current.base_url} as {who}", file=sys.stderr)
    return True


def _cmd_login(args: argparse.Namespace) -> int:
    try:
        do_login(key=args.key, host=args.host, verify=not args.no_verify)
    except CommError as exc:
        print(f"gradline: login failed: {exc.message}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"gradline: login failed: {exc}", file=sys.stderr)
        return 1
    return 0


def _cmd_sync(args: argparse.Namespace) -> int:
    from gradline.sync import sync_paths

    overrides = {"base_url": args.base_url} if args.base_url else None
    settings = settings_mod.load(overrides)
    sweeps: list = []
    results = sync_paths(
        args.paths or None,
        settings,
        include_synced=args.include_synced,
        sweeps=sweeps,
        entity=args.entity,
        project=args.project,
        base_url=args.base_url,
        force=args.force,
        progress=not args.no_progress,
    )
    failed = 0
    for swept in sweeps:  # offline sweeps (gradline agent --local), before their runs
        failed += not swept.ok
        where = f" {swept.url}" if swept.url and swept.status == "synced" else ""
        print(
            f"gradline: sweep {swept.sweep_id or swept.path}: {swept.status}: "
            f"{swept.message}{where}",
            file=sys.stderr,
        )
    if not results and not sweeps:
        print("gradline: nothing to sync", file=sys.stderr)
        return 0
    for result in results:
        failed += result.status == "failed"
        where = f" {result.url}" if result.url and result.status == "synced" else ""
        print(
            f"gradline: {result.run_dir}: {result.status}: {result.message}{where}",
            file=sys.stderr,
        )
    return 1 if failed else 0


def _cmd_runs_ls(args: argparse.Namespace) -> int:
    from gradline.api import Api

    api = Api(base_url=args.base_url)
    filters = orjson.loads(args.filters) if args.filters else None
    runs = api.runs(args.path, filters=filters, order=args.order, per_page=min(args.limit, 200))
    rows = []
    for i, run in enumerate(runs):
        if i >= args.limit:
            break
        rows.append(run)
    if args.json:
        sys.stdout.write(
            orjson.dumps([r.to_dict() for r in rows], option=orjson.OPT_INDENT_2).decode() + "\n"
        )
        return 0
    keys = [k.strip() for k in (args.summary or "").split(",") if k.strip()]
    header = ["ID", "NAME", "STATE", "CREATED", *[k.upper() for k in keys]]
    table = [header]
    for run in rows:
        created = (run.created_at or "")[:19].replace("T", " ")
        table.append(
            [
                run.id,
                run.name or "",
                run.state or "",
                created,
                *[_short(run.summary.get(k)) for k in keys],
            ]
        )
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip())
    return 0


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else str(value)


def _cmd_artifact_get(args: argparse.Namespace) -> int:
    from gradline.api import Api

    try:
        artifact = Api(base_url=args.base_url).artifact(args.path, type=args.type)
    except ValueError as exc:
        print(f"gradline: {exc}", file=sys.stderr)
        return 1
    root = artifact.download(root=args.root)
    print(f"gradline: {artifact.qualified_name} -> {root}", file=sys.stderr)
    print(root)
    return 0


def _cmd_artifact_put(args: argparse.Namespace) -> int:
    """Upload through a short run (job type artifact-put), as W&B does: the project is
    created if needed, and an interrupted upload stays pending for `gradline sync`."""
    import gradline
    from gradline.artifact_store import parse_path
    from gradline.artifacts import artifact_from_path

    try:
        team, project, name, _ = parse_path(args.name)
        artifact = artifact_from_path(args.path, name, args.type, "cli")
        artifact.description = args.description
    except ValueError as exc:
        print(f"gradline: {exc}", file=sys.stderr)
        return 1
    run = gradline.init(
        project=project,
        entity=team,
        job_type="artifact-put",
        settings={
            "base_url": args.base_url,
            "console": "off",
            "system_metrics": False,
            "silent": True,
            "exit_hooks": False,
        },
    )
    try:
        run.log_artifact(artifact, aliases=args.alias or None).wait()
    except (gradline.GradlineError, ValueError) as exc:
        run.finish(exit_code=1)
        print(f"gradline: {exc}", file=sys.stderr)
        return 1
    run.finish()
    print(artifact.qualified_name)
    return 0


def _read_sweep_config(path: str) -> dict:
    from gradline.sweeps import read_sweep_config

    return read_sweep_config(path)


def _cmd_sweep(args: argparse.Namespace) -> int:
    from gradline.sweeps import sweep
    from gradline.transport import UsageError

    try:
        config = _read_sweep_config(args.config)
        sweep_id = sweep(config, entity=args.entity, project=args.project)
    except (OSError, ValueError, TypeError, UsageError) as exc:
        print(f"gradline: {exc}", file=sys.stderr)
        return 1
    print(sweep_id)
    return 0


def _cmd_agent(args: argparse.Namespace) -> int:
    from gradline.sweeps import agent
    from gradline.transport import UsageError

    try:
        if args.local:  # no server: the engines run here (gradline/sweeps_local.py)
            from gradline.sweeps_local import run_local

            run_local(args.sweep_id, count=args.count, entity=args.entity, project=args.project)
            return 0
        agent(args.sweep_id, entity=args.entity, project=args.project, count=args.count)
    except (OSError, ValueError, TypeError, UsageError) as exc:
        print(f"gradline: {exc}", file=sys.stderr)
        return 1
    return 0


def _cmd_deploy(args: argparse.Namespace) -> int:
    """`gradline deploy MODEL --platform P --endpoint NAME [--option k=v] [--wait]`."""
    import json

    from gradline import deployments
    from gradline.api import Api
    from gradline.transport import UsageError

    options: dict = {}
    for item in args.option or []:
        key, sep, value = item.partition("=")
        if not sep:
            print(f"gradline: --option {item!r} is not KEY=VALUE", file=sys.stderr)
            return 2
        try:
            options[key] = json.loads(value)
        except ValueError:
            options[key] = value
    try:
        api = Api(base_url=args.base_url)
        handle = deployments.deploy(
            api,
            args.model,
            args.platform,
            args.endpoint,
            project=args.project,
            entity=args.entity,
            follow_alias=args.follow_alias,
            **options,
        )
        print(
            f"deployment {handle.id}: {handle.endpoint_name} ({handle.platform}) {handle.version}"
        )
        if args.wait:
            handle.wait(timeout=args.timeout)
            print(f"{handle.endpoint_name}: {handle._data['state']} {handle.url or ''}".rstrip())
    except deployments.DeploymentFailed as exc:
        print(f"gradline: {exc}", file=sys.stderr)
        return 1
    except (UsageError, TimeoutError) as exc:
        print(f"gradline: {exc}", file=sys.stderr)
        return 1
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    from gradline.sync import find_run_dirs, is_synced

    settings = settings_mod.load()
    print(f"server:       {settings.base_url}")
    print(f"config file:  {settings_mod.credentials_path()}")
    print(f"API key:      {'set' if settings.api_key else 'not set (run `gradline login`)'}")
    print(f"default team: {settings.entity or '-'}")
    print(f"mode:         {settings.mode}")
    print(f"run folder:   {settings.root_dir}")
    if settings.api_key:
        client = HttpClient(settings.base_url, settings.api_key, timeout=10.0)
        try:
            viewer = client.json("GET", "/api/v1/viewer")
            print(
                f"logged in as: {viewer.get('email')} (teams: "
                f"{', '.join(t.get('slug', '?') for t in viewer.get('teams') or [])})"
            )
        except CommError as exc:
            print(f"server check: {exc.message}")
        finally:
            client.close()
    dirs = find_run_dirs(None, settings)
    pending = [d for d in dirs if not is_synced(d)]
    print(f"local runs:   {len(dirs)} ({len(pending)} not fully uploaded)")
    for run_dir in pending[:20]:
        print(f"  gradline sync {run_dir}")
    from gradline.sweeps_local import unsynced_sweeps

    ledgers, unsynced = unsynced_sweeps(settings.root_dir)
    if ledgers:
        print(f"offline sweeps: {len(ledgers)} ({len(unsynced)} not uploaded)")
        for ledger in unsynced[:20]:
            print(f"  gradline sync {ledger.parent}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gradline", description="Gradline command line.")
    sub = parser.add_subparsers(dest="command")

    login = sub.add_parser("login", help="store an API key for this machine")
    login.add_argument("key", nargs="?", help="API key (prompted for when omitted)")
    login.add_argument("--host", help="server URL, e.g. https://gradline.example.com")
    login.add_argument("--relogin", action="store_true", help="(accepted for W&B parity)")
    login.add_argument("--no-verify", action="store_true", help="store without checking")
    login.set_defaults(func=_cmd_login)

    sync = sub.add_parser("sync", help="upload offline or unfinished runs")
    sync.add_argument(
        "paths",
        nargs="*",
        help="run directories or folders of them (default: every unsynced run under GRADLINE_DIR)",
    )
    sync.add_argument("--entity", help="team to upload to (default: the run's)")
    sync.add_argument("--project", help="project to upload to (default: the run's)")
    sync.add_argument("--base-url", help="server URL (default: configured or the run's)")
    sync.add_argument("--force", action="store_true", help="re-send everything")
    sync.add_argument(
        "--include-synced", action="store_true", help="also look at runs already synced"
    )
    sync.add_argument("--no-progress", action="store_true", help="no progress bar")
    sync.set_defaults(func=_cmd_sync)

    runs = sub.add_parser("runs", help="query runs")
    runs_sub = runs.add_subparsers(dest="runs_command")
    ls = runs_sub.add_parser("ls", help="list the runs of a project")
    ls.add_argument("path", help="TEAM/PROJECT (or PROJECT for your default team)")
    ls.add_argument("--filters", help='W&B-style JSON filters, e.g. \'{"state": "finished"}\'')
    ls.add_argument(
        "--order",
        default="-created_at",
        help="e.g. --order=-summary_metrics.accuracy (the = keeps the leading minus)",
    )
    ls.add_argument("--limit", type=int, default=50)
    ls.add_argument("--summary", help="comma-separated summary keys to show as columns")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.add_argument("--base-url")
    ls.set_defaults(func=_cmd_runs_ls)

    artifact = sub.add_parser("artifact", help="download or upload artifacts")
    artifact_sub = artifact.add_subparsers(dest="artifact_command")
    get = artifact_sub.add_parser("get", help="download an artifact version")
    get.add_argument("path", help="TEAM/PROJECT/NAME:ALIAS (or PROJECT/NAME:ALIAS)")
    get.add_argument("--root", help="where to put the files (default ./artifacts/NAME:VERSION)")
    get.add_argument("--type", help="fail unless the artifact has this type")
    get.add_argument("--base-url")
    get.set_defaults(func=_cmd_artifact_get)
    put = artifact_sub.add_parser("put", help="upload a file or directory as a new version")
    put.add_argument("path", help="a file or directory")
    put.add_argument("--name", required=True, help="[TEAM/]PROJECT/NAME or NAME")
    put.add_argument("--type", default="dataset", help="artifact type (default dataset)")
    put.add_argument("--alias", action="append", help="alias to set (repeatable)")
    put.add_argument("--description")
    put.add_argument("--base-url")
    put.set_defaults(func=_cmd_artifact_put)

    sweep = sub.add_parser("sweep", help="create a sweep from a config file; prints its id")
    sweep.add_argument("config", help="sweep config: JSON, or YAML when PyYAML is installed")
    sweep.add_argument("--project", help="project (default: the config's, else GRADLINE_PROJECT)")
    sweep.add_argument("--entity", help="team (default: the config's, else your default team)")
    sweep.set_defaults(func=_cmd_sweep)

    agent = sub.add_parser("agent", help="run the trials of a sweep (its program, per trial)")
    agent.add_argument(
        "sweep_id",
        help="ID, PROJECT/ID or TEAM/PROJECT/ID; with --local a config file (JSON / YAML), "
        "or an offline sweep's folder to run more of its trials",
    )
    agent.add_argument(
        "--local",
        action="store_true",
        help="offline sweep: no server; trials run as offline runs, `gradline sync` uploads",
    )
    agent.add_argument("--count", type=int, help="run at most this many trials")
    agent.add_argument("--project", help="project of a bare ID (default: GRADLINE_PROJECT)")
    agent.add_argument("--entity", help="team of an ID without one (default: your default team)")
    agent.set_defaults(func=_cmd_agent)

    deploy = sub.add_parser("deploy", help="serve a registry version on an endpoint")
    deploy.add_argument("model", help="name:alias, name:v3 or model-registry/NAME:alias")
    deploy.add_argument("--platform", required=True, help="local, sagemaker, kubernetes, ...")
    deploy.add_argument("--endpoint", required=True, help="endpoint name")
    deploy.add_argument("--project", help="project of the model (default: GRADLINE_PROJECT)")
    deploy.add_argument("--entity", help="team (default: your default team)")
    deploy.add_argument("--option", action="append", help="target option KEY=VALUE (repeatable)")
    deploy.add_argument("--follow-alias", action="store_true", help="redeploy when it moves")
    deploy.add_argument("--wait", action="store_true", help="wait until healthy or failed")
    deploy.add_argument("--timeout", type=float, default=900.0)
    deploy.add_argument("--base-url")
    deploy.set_defaults(func=_cmd_deploy)

    status = sub.add_parser("status", help="configuration, login and unsynced runs")
    status.set_defaults(func=_cmd_status)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except CommError as exc:
        print(f"gradline: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
