"""System metrics, sampled every `system_interval` seconds on a daemon thread, logged as
`system/*` keys whose step is the sample index (continued across resumes)."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import Any, Callable

import psutil


class _Gpus:
    """nvidia-ml-py when installed and a GPU is present; silently absent otherwise."""

    def __init__(self):
        self.nvml: Any = None
        self.handles: list = []
        try:
            import pynvml  # provided by nvidia-ml-py

            pynvml.nvmlInit()
            count = pynvml.nvmlDeviceGetCount()
            self.handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
            self.nvml = pynvml
        except Exception:  # no driver, no GPU, no package: no GPU metrics
            self.nvml = None
            self.handles = []

    def sample(self, out: dict) -> None:
        nvml = self.nvml
        if nvml is None:
            return
        for i, handle in enumerate(self.handles):
            prefix = f"system/gpu.{i}."
            for name, fn in (
                ("gpu", lambda h: nvml.nvmlDeviceGetUtilizationRates(h).gpu),
                ("memory", lambda h: nvml.nvmlDeviceGetUtilizationRates(h).memory),
                ("memoryAllocated", lambda h: _mem_pct(nvml.nvmlDeviceGetMemoryInfo(h))),
                ("memoryAllocatedBytes", lambda h: nvml.nvmlDeviceGetMemoryInfo(h).used),
                ("temp", lambda h: nvml.nvmlDeviceGetTemperature(h, nvml.NVML_TEMPERATURE_GPU)),
                ("powerWatts", lambda h: nvml.nvmlDeviceGetPowerUsage(h) / 1000.0),
            ):
                with contextlib.suppress(Exception):  # a metric this GPU lacks
                    out[prefix + name] = float(fn(handle))

    def close(self) -> None:
        if self.nvml is not None:
            with contextlib.suppress(Exception):
                self.nvml.nvmlShutdown()


def _mem_pct(info: Any) -> float:
    return 100.0 * info.used / info.total if info.total else 0.0


class SystemMonitor:
    def __init__(
        self,
        emit: Callable[[list], None],
        interval: float = 10.0,
        start_index: int = 0,
        disk_path: str | None = None,
    ):
        self.emit = emit
        self.interval = max(0.1, float(interval))
        self.index = start_index
        self.disk_path = disk_path or os.getcwd()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name="gradline-system", daemon=True)
        self._proc = psutil.Process()
        self._net0 = None
        self._disk0 = None
        self._gpus: _Gpus | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop sampling; the thread takes a last sample first, so the run has one from
        its end (waits at most `timeout` for it)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _main(self) -> None:
        self._gpus = _Gpus()
        # First calls prime psutil's CPU counters and the I/O baselines.
        psutil.cpu_percent(None)
        with contextlib.suppress(psutil.Error):
            self._proc.cpu_percent(None)
        self._net0 = _counters(psutil.net_io_counters)
        self._disk0 = _counters(psutil.disk_io_counters)
        # One sample soon after start and one at stop, so a run shorter than the interval
        # still has system metrics (CPU % needs a moment after priming to mean anything).
        self._stop.wait(min(self.interval, 1.0))
        self.sample()
        while not self._stop.wait(self.interval):
            self.sample()
        self.sample()
        if self._gpus is not None:
            self._gpus.close()

    def sample(self) -> dict:
        values: dict[str, float] = {}
        proc = self._proc

        def read(key: str, fn: Callable[[], float]) -> None:
            try:
                values[key] = float(fn())
            except (psutil.Error, OSError, AttributeError, ValueError, TypeError):
                return  # a metric this platform lacks

        read("system/cpu", lambda: psutil.cpu_percent(None))
        mem = psutil.virtual_memory()
        values["system/memory"] = float(mem.percent)
        values["system/memoryAvailableMB"] = mem.available / 2**20
        read("system/disk", lambda: psutil.disk_usage(self.disk_path).percent)
        net = _counters(psutil.net_io_counters)
        if net is not None and self._net0 is not None:
            values["system/network.sent"] = float(net.bytes_sent - self._net0.bytes_sent)
            values["system/network.recv"] = float(net.bytes_recv - self._net0.bytes_recv)
        disk = _counters(psutil.disk_io_counters)
        if disk is not None and self._disk0 is not None:
            values["system/disk.readMB"] = (disk.read_bytes - self._disk0.read_bytes) / 2**20
            values["system/disk.writeMB"] = (disk.write_bytes - self._disk0.write_bytes) / 2**20
        read("system/proc.memory.rssMB", lambda: proc.memory_info().rss / 2**20)
        read("system/proc.memory.percent", proc.memory_percent)
        read("system/proc.cpu.threads", proc.num_threads)
        read("system/proc.cpu.percent", lambda: proc.cpu_percent(None))
        if self._gpus is not None:
            self._gpus.sample(values)
        now = time.time()
        idx = self.index
        self.index += 1
        self.emit([[k, idx, v, now] for k, v in values.items()])
        return values


def _counters(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except (psutil.Error, OSError, RuntimeError):
        return None
