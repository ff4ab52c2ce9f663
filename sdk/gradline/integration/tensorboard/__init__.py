"""TensorBoard sync: `init(sync_tensorboard=True)` / `wandb.tensorboard.patch()`.

Event files become run history as W&B makes them: every scalar as its tag, histograms as
Histograms, images as Images, one row per TensorBoard step with that step in
`global_step` (the run's own `_step` keeps counting, so several writers with their own
step counters never collide). A second log directory's tags are prefixed with its path
relative to the directories seen before it (`train/loss`, `validation/loss`), or to
`root_logdir` when one is given.

How: patch() wraps the EventFileWriter of the tensorboard package (which
torch.utils.tensorboard uses) and of tensorboardX, so each writer's log directory is
known when it is created; `root_logdir` is watched too (any writer, recursively). A thread
of the run reads new events from those files about once a second with tensorboard's own
reader (EventFileLoader: records appended since the last read, old-style summaries
migrated); finish() reads them a last time before the run ends. The tensorboard package
is needed for reading; it is imported only when sync starts.

Not done yet (said once by patch): TensorFlow's native writer (`tf.summary` in TF 2) is
only seen under `root_logdir`; the event files themselves are not uploaded (save=True).
"""

from __future__ import annotations

import glob
import io
import os
import threading
import warnings
from typing import Any

__all__ = ["log", "patch", "unpatch"]

POLL_SECONDS = 1.0
_EVENT_GLOB = "events.out.tfevents.*"

_lock = threading.Lock()
_logdirs: dict[str, None] = {}  # log directories of patched writers, in order seen
_roots: dict[str, None] = {}  # root_logdir arguments: watched recursively
_root_logdir: str | None = None
_patched: list[tuple[type, Any]] = []  # (class, original __init__)
_syncs: list[_RunSync] = []


def patched() -> bool:
    return bool(_patched) or bool(_roots)


def patch(
    save: bool = True,
    tensorboard_x: bool | None = None,
    pytorch: bool | None = None,
    root_logdir: str = "",
) -> None:
    """Watch every TensorBoard event file written from now on and log it to the run
    (the current one, or the next one init() starts)."""
    global _root_logdir
    if root_logdir:
        _root_logdir = os.path.abspath(root_logdir)
        _roots[_root_logdir] = None
    for module_name in (
        "tensorboard.summary.writer.event_file_writer",
        "tensorboardX.event_file_writer",
    ):
        if module_name.startswith("tensorboardX") and tensorboard_x is False:
            continue
        try:
            module = __import__(module_name, fromlist=["EventFileWriter"])
        except ImportError:
            continue
        cls = module.EventFileWriter
        if any(c is cls for c, _ in _patched):
            continue
        _patched.append((cls, cls.__init__))
        cls.__init__ = _wrapped_init(cls.__init__)
    import gradline

    if gradline.run is not None and not gradline.run._finished:
        attach(gradline.run)


def unpatch() -> None:
    """Undo patch(): writers created later are not watched (running syncs go on)."""
    global _root_logdir
    while _patched:
        cls, original = _patched.pop()
        cls.__init__ = original
    _roots.clear()
    _root_logdir = None


def _wrapped_init(original: Any) -> Any:
    def __init__(self: Any, logdir: Any, *args: Any, **kwargs: Any) -> None:
        original(self, logdir, *args, **kwargs)
        watch(os.fspath(logdir))

    __init__.__wrapped__ = original
    return __init__


def watch(logdir: str) -> None:
    """Sync the event files of `logdir` (what a patched writer calls)."""
    with _lock:
        _logdirs.setdefault(os.path.abspath(logdir), None)
    for sync in list(_syncs):
        sync.wake()


def attach(run: Any) -> None:
    """Start syncing into `run` (init(sync_tensorboard=True) calls this)."""
    with _lock:
        if any(s.run is run for s in _syncs):
            return
        sync = _RunSync(run)
        _syncs.append(sync)
    run._finish_hooks.append(sync.stop)
    sync.start()


def _namespace(logdir: str, known: list[str]) -> str:
    if _root_logdir and (logdir + os.sep).startswith(_root_logdir + os.sep):
        rel = os.path.relpath(logdir, _root_logdir)
        return "" if rel == "." else rel.replace(os.sep, "/")
    if not known or known[0] == logdir:
        return ""
    common = os.path.commonpath([*known, logdir])
    rel = os.path.relpath(logdir, common)
    return "" if rel == "." else rel.replace(os.sep, "/")


class _RunSync:
    """One run's reader thread over the watched event files."""

    def __init__(self, run: Any):
        self.run = run
        self._loaders: dict[str, Any] = {}
        self._prefix: dict[str, str] = {}  # logdir -> key prefix
        self._seen_dirs: list[str] = []
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._read_lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="gradline-tensorboard", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        """The last read, then no more (a finish hook: log() still works here)."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._wake.set()
        self._thread.join(timeout=30)
        self.read_new()
        with _lock:
            if self in _syncs:
                _syncs.remove(self)

    def _loop(self) -> None:
        while not self._stopped.is_set():
            try:
                self.read_new()
            except Exception as exc:  # a bad file must not end the sync of the others
                warnings.warn(f"gradline: TensorBoard sync: {exc}", stacklevel=1)
            self._wake.wait(POLL_SECONDS)
            self._wake.clear()

    def _files(self) -> list[str]:
        with _lock:
            dirs, roots = list(_logdirs), list(_roots)
        found = []
        for logdir in dirs:
            found += glob.glob(os.path.join(glob.escape(logdir), _EVENT_GLOB))
        for root in roots:
            found += glob.glob(os.path.join(glob.escape(root), "**", _EVENT_GLOB), recursive=True)
        return sorted(set(found))

    def read_new(self) -> None:
        from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

        with self._read_lock:
            rows: dict[int, dict] = {}
            for path in self._files():
                loader = self._loaders.get(path)
                if loader is None:
                    loader = self._loaders[path] = EventFileLoader(path)
                prefix = self._prefix_of(os.path.dirname(path))
                for event in loader.Load():
                    if not event.HasField("summary"):
                        continue
                    for value in event.summary.value:
                        converted = convert_value(value)
                        if converted is not None:
                            key = f"{prefix}/{value.tag}" if prefix else value.tag
                            rows.setdefault(int(event.step), {})[key] = converted
            for step in sorted(rows):
                self.run.log({**rows[step], "global_step": step})

    def _prefix_of(self, logdir: str) -> str:
        if logdir not in self._prefix:
            self._prefix[logdir] = _namespace(logdir, self._seen_dirs)
            self._seen_dirs.append(logdir)
        return self._prefix[logdir]


def convert_value(value: Any) -> Any:
    """A TensorBoard Summary.Value as what log() takes: a float, Histogram or Image;
    None for kinds not synced (audio, text, PR curves …)."""
    kind = value.WhichOneof("value")
    if kind == "simple_value":
        return float(value.simple_value)
    if kind == "histo":
        h = value.histo
        return _histogram(list(h.bucket_limit), list(h.bucket), h.min)
    if kind == "image":
        return _image(value.image.encoded_image_string)
    if kind != "tensor":
        return None
    from tensorboard.util import tensor_util

    plugin = value.metadata.plugin_data.plugin_name
    array = tensor_util.make_ndarray(value.tensor)
    if plugin == "scalars" or (not plugin and array.size == 1 and array.dtype.kind in "fiu"):
        return float(array.reshape(-1)[0])
    if plugin == "histograms" and array.ndim == 2 and array.shape[1] == 3 and len(array):
        lefts, rights, counts = array[:, 0], array[:, 1], array[:, 2]
        return _histogram(list(rights), list(counts), float(lefts[0]))
    if plugin == "images" and array.ndim == 1 and len(array) >= 3:
        images = [_image(b) for b in array[2:]]
        return images[0] if len(images) == 1 else images
    return None


def _histogram(rights: list, counts: list, low: float) -> Any:
    """Buckets (right edges, counts) to a Histogram; more than 512 buckets are merged in
    runs of adjacent buckets so the bins stay within Histogram's limit."""
    import math

    from gradline.data_types import MAX_BINS, Histogram

    rights = [float(r) for r in rights]
    counts = [float(c) for c in counts]
    # tensorboard's first/last limits are ±DBL_MAX: clamp to the next edge.
    finite = [r for r in rights if math.isfinite(r) and abs(r) < 1e300]
    if not finite:
        return None
    rights = [min(max(r, finite[0]), finite[-1]) for r in rights]
    low = float(low) if math.isfinite(low) and abs(low) < 1e300 else min(finite[0], rights[0])
    group = max(1, math.ceil(len(counts) / MAX_BINS))
    edges, merged = [min(low, rights[0])], []
    for i in range(0, len(counts), group):
        merged.append(sum(counts[i : i + group]))
        edges.append(max(edges[-1], rights[min(i + group, len(rights)) - 1]))
    return Histogram(np_histogram=(merged, edges))


def _image(encoded: bytes) -> Any:
    from PIL import Image as PILImage

    from gradline.media import Image

    picture = PILImage.open(io.BytesIO(encoded))
    picture.load()
    return Image(picture)


def log(tf_summary_str_or_pb: Any, step: int | None = None, namespace: str = "", **kwargs: Any):
    """W&B's wandb.tensorboard.log: a Summary proto (or its serialized bytes) into the
    current run."""
    from tensorboard.compat.proto import summary_pb2

    from gradline.integration._run import current_run

    run = current_run("wandb.tensorboard.log")
    summary = tf_summary_str_or_pb
    if isinstance(summary, bytes | bytearray):
        summary = summary_pb2.Summary.FromString(bytes(summary))
    row = {}
    for value in summary.value:
        converted = convert_value(value)
        if converted is not None:
            row[f"{namespace}/{value.tag}" if namespace else value.tag] = converted
    if step is not None:
        row["global_step"] = step
    run.log(row)
