"""The ingest hot path (docs/design.md §4): parse, validate and store one batch of a run.

The public entry point; callers import from here. Three parts, each readable on its own:

- `parsing`: the wire formats. JSON ([key, step, value, wall_time] lists) and the binary
  columnar format (application/x-gradline-batch), gzip allowed; `decode_request` turns a
  request body into a validated `Batch`.
- `validation`: the rules for keys, steps, values, wall times, console lines and the
  summary/config objects (apps.core.jsonlimits), the same in both formats. The binary
  format is checked with whole-array operations and builds no Python object per point.
- `storage`: the storage protocol that writes a `Batch` for a run: run lock, direct
  COPY or staging + INSERT … ON CONFLICT, rollups and key summaries, console, the run's
  summary/config/heartbeat, retries on deadlock.

Below them, `contract` holds the limits, the value encoding (NaN/Infinity as strings)
and `Batch` itself, and `pgcopy` PostgreSQL's binary COPY of numpy columns. Imports
point down only: parsing -> validation -> contract, storage -> pgcopy, contract.

Guarantees:
- Exactly once per (run, key, step): the primary key of runs_point makes a second copy
  impossible; a re-sent batch reports its points as duplicates, a different value for a
  stored (key, step) is rejected as "conflict" and never overwrites it.
- The counts are exact, also with concurrent writers: every writer of a run's points
  takes the run's row lock (`FOR NO KEY UPDATE`) before touching points, rollups or key
  summaries, so classification, rollups and summaries see a stable run. Writers of
  different runs never wait for each other.
- Invalid records are rejected one by one with a reason naming the field; the valid
  records of the same batch are stored.

Only this package writes runs_point / runs_rollup (with apps/runs/selectors reading them),
so a move to Citus or TimescaleDB stays inside these two places.
"""

from apps.runs.ingest.contract import (
    MAX_CONSOLE_LINE_CHARS,
    MAX_CONSOLE_LINE_NUMBER,
    MAX_CONSOLE_LINES,
    MAX_ERRORS_LISTED,
    MAX_KEY_LENGTH,
    MAX_POINTS,
    MAX_STEP,
    NONFINITE,
    PARTS,
    RESERVED_KEYS,
    SYSTEM_PREFIX,
    Batch,
    json_number,
    json_safe,
)
from apps.runs.ingest.parsing import (
    BATCH_CONTENT_TYPE,
    BATCH_MAGIC,
    BATCH_PREFIX,
    BATCH_RECORD_BYTES,
    decode_request,
    is_binary,
    validate_binary,
)
from apps.runs.ingest.storage import IngestResult, write_batch
from apps.runs.ingest.validation import validate

__all__ = [
    "BATCH_CONTENT_TYPE",
    "BATCH_MAGIC",
    "BATCH_PREFIX",
    "BATCH_RECORD_BYTES",
    "MAX_CONSOLE_LINES",
    "MAX_CONSOLE_LINE_CHARS",
    "MAX_CONSOLE_LINE_NUMBER",
    "MAX_ERRORS_LISTED",
    "MAX_KEY_LENGTH",
    "MAX_POINTS",
    "MAX_STEP",
    "NONFINITE",
    "PARTS",
    "RESERVED_KEYS",
    "SYSTEM_PREFIX",
    "Batch",
    "IngestResult",
    "decode_request",
    "is_binary",
    "json_number",
    "json_safe",
    "validate",
    "validate_binary",
    "write_batch",
]
