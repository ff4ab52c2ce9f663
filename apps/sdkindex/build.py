"""Build the SDK wheel that the server offers at /sdk/ (`make install` and the Docker image
run this), so `pip install` against a server always gets the SDK of that server's code.

    python -m apps.sdkindex.build [--out DIR]

The build runs on a temporary copy of sdk/ (no build/ or egg-info folders left in the
tree) without build isolation, so it needs no network: setuptools and wheel come from the
server's own requirements. Older gradline files in the folder are replaced.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SDK = REPO / "sdk"


def default_out() -> Path:
    """SDK_DIST_DIR, else <GRADLINE_VAR_DIR or var/>/sdk-dist (config/settings/base.py)."""
    if os.environ.get("SDK_DIST_DIR"):
        return Path(os.environ["SDK_DIST_DIR"])
    return Path(os.environ.get("GRADLINE_VAR_DIR", REPO / "var")) / "sdk-dist"


def build_wheel(out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gradline-sdk-") as tmp:
        src = Path(tmp) / "sdk"
        shutil.copytree(
            SDK,
            src,
            ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "*.pyc"),
        )
        built = Path(tmp) / "dist"
        pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
        command = [*pip, "wheel", "--quiet", "--no-deps", "--no-build-isolation"]
        command += ["-w", str(built), str(src)]
        subprocess.run(command, check=True)  # noqa: S603 - our interpreter, no user input
        (wheel,) = built.glob("gradline-*.whl")
        for old in out.glob("gradline-*"):
            old.unlink()
        target = out / wheel.name
        shutil.move(str(wheel), target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    print(f"SDK wheel: {build_wheel(args.out or default_out())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
