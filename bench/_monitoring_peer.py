"""Evidently's side of bench/monitoring.py, run in .venv-peers: DataDriftPreset on the
arrays bench/monitoring.py saved (ref.npy, cur.npy in the folder given). Prints one JSON
line: version, seconds (DataFrames built outside the clock), method, per-column verdicts."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd


def main() -> None:
    import evidently
    from evidently import Report
    from evidently.presets import DataDriftPreset

    folder = Path(sys.argv[1])
    ref = np.load(folder / "ref.npy")
    cur = np.load(folder / "cur.npy")
    names = [f"f{i}" for i in range(ref.shape[1])]
    ref_df = pd.DataFrame(ref, columns=names)
    cur_df = pd.DataFrame(cur, columns=names)
    started = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(current_data=cur_df, reference_data=ref_df)
    result = snapshot.dict()
    seconds = time.perf_counter() - started
    verdicts, methods = {}, set()
    for metric in result["metrics"]:
        config = metric.get("config", {})
        if config.get("type", "").endswith("ValueDrift"):
            method = config["method"]
            methods.add(method)
            value, threshold = metric["value"], config["threshold"]
            p_value = "p_value" in method
            verdicts[config["column"]] = bool(value < threshold if p_value else value >= threshold)
    print(
        json.dumps(
            {
                "version": evidently.__version__,
                "seconds": seconds,
                "method": ",".join(sorted(methods)).replace(" ", "_"),
                "drifted": [verdicts[n] for n in names],
            }
        )
    )


if __name__ == "__main__":
    main()
