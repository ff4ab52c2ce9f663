"""The server offers its own SDK (/sdk/): a PEP 503 index and the wheel, built from this
checkout, installable with pip into a fresh virtualenv that then logs a run."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import sysconfig
import textwrap
import venv

import pytest
import requests

from apps.sdkindex.build import build_wheel
from gradline import Api


@pytest.fixture(scope="module")
def sdk_wheel(sdk_db):
    """The wheel in the shared server's SDK_DIST_DIR (<GRADLINE_VAR_DIR>/sdk-dist)."""
    return build_wheel(sdk_db.var_dir / "sdk-dist")


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory):
    """A new virtualenv with pip and without gradline."""
    root = tmp_path_factory.mktemp("fresh") / "venv"
    venv.EnvBuilder(with_pip=True).create(root)
    return root / "bin" / "python"


def lend_dependencies(python) -> None:
    """The SDK's dependencies (requests, orjson, psutil) from this interpreter's
    site-packages, through a .pth line that Python appends after the venv's own
    site-packages: the gradline pip installed there is the one imported. (Added after
    the install: pip would otherwise see this checkout's editable gradline and skip.)"""
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    with open(f"{site}/zz-gradline-test-deps.pth", "w") as fh:
        fh.write(sysconfig.get_path("purelib") + "\n")


def test_index_lists_the_wheel_with_its_digest(server, sdk_wheel):
    root = requests.get(f"{server.url}/sdk/simple/", timeout=30)
    assert root.status_code == 200 and 'href="gradline/"' in root.text
    page = requests.get(f"{server.url}/sdk/simple/gradline/", timeout=30)
    digest = hashlib.sha256(sdk_wheel.read_bytes()).hexdigest()
    assert f"/sdk/files/{sdk_wheel.name}#sha256={digest}" in page.text
    assert requests.get(f"{server.url}/sdk/simple/Gradline/", timeout=30).status_code == 200
    got = requests.get(f"{server.url}/sdk/files/{sdk_wheel.name}", timeout=30)
    assert got.status_code == 200 and got.content == sdk_wheel.read_bytes()
    for missing in ("/sdk/simple/requests/", "/sdk/files/gradline-9.9.9.whl",
                    "/sdk/files/..%2Fsettings.py", "/sdk/files/manage.py"):  # fmt: skip
        assert requests.get(server.url + missing, timeout=30).status_code == 404, missing


def test_pip_installs_the_sdk_from_the_server_and_it_logs_a_run(
    server, sdk_db, sdk_wheel, fresh_venv, tmp_path
):
    installed = subprocess.run(
        [str(fresh_venv), "-m", "pip", "install", "--no-deps", "--disable-pip-version-check",
         "--index-url", f"{server.url}/sdk/simple/", "gradline"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert "Successfully installed gradline" in installed.stdout
    lend_dependencies(fresh_venv)
    script = tmp_path / "train.py"
    script.write_text(
        textwrap.dedent(
            """
            import gradline as wandb
            print("FROM", wandb.__file__)
            run = wandb.init(project="from-index", config={"lr": 0.1})
            for step in range(5):
                wandb.log({"loss": 1.0 / (step + 1)})
            print("RUN", run.id)
            run.finish()
            """
        )
    )
    env = {
        "GRADLINE_BASE_URL": server.url,
        "GRADLINE_API_KEY": sdk_db.seed.owner_key,
        "GRADLINE_ENTITY": sdk_db.seed.team,
        "GRADLINE_DIR": str(tmp_path / "runs"),
        "GRADLINE_CONFIG_DIR": str(tmp_path / "config"),
        "GRADLINE_SYSTEM_METRICS": "false",
        "GRADLINE_GIT": "false",
        "GRADLINE_PIP_FREEZE": "false",
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [str(fresh_venv), str(script)], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert str(fresh_venv.parent.parent) in done.stdout.split("FROM ")[1].splitlines()[0]
    run_id = re.search(r"RUN (\S+)", done.stdout).group(1)
    remote = Api(api_key=sdk_db.seed.owner_key, base_url=server.url).run(
        f"{sdk_db.seed.team}/from-index/{run_id}"
    )
    assert remote.config["lr"] == 0.1 and remote.summary["loss"] == pytest.approx(0.2)
    assert sys.executable != str(fresh_venv)
