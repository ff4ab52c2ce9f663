"""GPU system metrics through nvidia-ml-py, checked on a real NVIDIA GPU.

Skipped where no GPU answers NVML (CI, the 2-core dev machines). On a GPU machine it
runs standalone, without Django: `python -m pytest --noconftest -c /dev/null
tests/gpu` with `sdk/` on PYTHONPATH (see docs/benchmarks.md, "GPU check")."""

from __future__ import annotations

import threading
import time

import pytest

pynvml = pytest.importorskip("pynvml", reason="nvidia-ml-py is not installed")


def _gpu_count() -> int:
    try:
        pynvml.nvmlInit()
        return pynvml.nvmlDeviceGetCount()
    except pynvml.NVMLError:
        return 0


pytestmark = pytest.mark.skipif(_gpu_count() == 0, reason="no NVIDIA GPU answers NVML")


def test_gpu_metrics_track_a_real_workload():
    torch = pytest.importorskip("torch")
    from gradline.system import SystemMonitor

    rows: list = []
    lock = threading.Lock()

    def collect(batch):
        with lock:
            rows.extend(batch)

    def samples() -> int:
        with lock:
            return len({step for key, step, _, _ in rows if key == "system/gpu.0.gpu"})

    monitor = SystemMonitor(collect, interval=0.5)
    monitor.start()
    held = torch.empty(4 * 2**30, dtype=torch.uint8, device="cuda")  # 4 GiB, kept alive
    a = torch.randn(8192, 8192, device="cuda")
    deadline = time.monotonic() + 60
    while samples() < 6 and time.monotonic() < deadline:
        for _ in range(20):
            a = torch.tanh(a @ a)
        torch.cuda.synchronize()
    monitor.stop()
    assert samples() >= 6, "the monitor did not sample the GPU"

    def values(name: str) -> list[float]:
        with lock:
            return [v for key, _, v, _ in rows if key == f"system/gpu.0.{name}"]

    for key, step, _value, wall_time in rows:
        assert key.startswith("system/") and isinstance(step, int) and wall_time > 0
    assert max(values("gpu")) > 50, values("gpu")  # busy with matmuls
    assert max(values("memoryAllocatedBytes")) >= held.numel()
    assert 0 < max(values("memoryAllocated")) <= 100
    assert 0 < max(values("temp")) < 120
    assert max(values("powerWatts")) > 50
    print(
        "gpu samples:",
        {n: values(n)[-1] for n in ("gpu", "memory", "memoryAllocated", "temp", "powerWatts")},
    )
