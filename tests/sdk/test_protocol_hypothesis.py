"""(6) A Hypothesis state machine over the WAL + upload protocol, against the real server
behind a fault-injecting HTTP proxy: requests lost before the server sees them,
responses lost after it stored them, requests delivered twice, uploader restarts (with
and without its acknowledgement file), batch sizes changing, and a crash that leaves a
torn record at the WAL's tail. Records are binary batches (as the SDK writes them, with
key tables that change as they would between processes) or legacy JSON ones, and the
server may stop taking the binary format (415: the uploader falls back to JSON). After
a final `sync`, what the server stored must equal what was logged, exactly once."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)

from gradline import batchfmt
from gradline.settings import Settings
from gradline.sync import sync_dir
from gradline.tracked_run import generate_id
from gradline.transport import CommError, HttpClient
from gradline.uploader import STATE_FILE, WAL_FILE, RunInfo, Uploader, UploadState
from gradline.wal import WalTail, WalWriter, encode_frame
from tests.sdk.conftest import stored_console, stored_points
from tests.sdk.harness import FaultProxy

FAULTS = (None, "lose_request", "lose_response", "duplicate")
KEYS = ("loss", "acc", "lr", "grad/norm")
ENV: dict = {}


class WalUploadMachine(RuleBasedStateMachine):
    @initialize()
    def start(self):
        self.dir = Path(tempfile.mkdtemp(prefix="gl-hypo-"))
        self.wal_path = str(self.dir / WAL_FILE)
        self.writer = WalWriter(self.wal_path, fsync="never")
        self.run_id = generate_id()
        record = {
            "t": "run",
            "v": 1,
            "id": self.run_id,
            "entity": "sdk-team",
            "project": "hypothesis",
            "base_url": ENV["server"].url,
            "body": {},
            "resume": None,
            "id_generated": True,
        }
        self.writer.append(orjson.dumps(record))
        self.info = RunInfo(record)
        self.expected: dict[tuple[str, int], float] = {}
        self.console: list[str] = []
        self.step = 0
        self.max_points = 50
        self.torn = False
        self.keys = batchfmt.KeyTable()
        self._new_uploader()

    def _new_uploader(self):
        client = HttpClient(ENV["proxy"].url, ENV["key"], timeout=10)
        self.engine = Uploader(
            self.dir,
            client,
            self.info,
            UploadState(self.dir),
            WalTail(self.wal_path),
            max_points=self.max_points,
        )

    @rule(
        rows=st.integers(1, 40),
        keys=st.lists(st.sampled_from(KEYS), min_size=1, unique=True),
        # Any finite float, 1e19 and 1e300 included (the run JSON reads them back as floats).
        values=st.floats(allow_nan=False, allow_infinity=False),
        binary=st.booleans(),
        system=st.booleans(),
    )
    def log(self, rows, keys, values, binary, system):
        if self.torn:
            return
        points, sys_points = [], []
        for i in range(rows):
            for j, key in enumerate(keys):
                value = values + i + j / 8
                points.append([key, self.step, value, 1.7e9 + self.step])
                self.expected[(key, self.step)] = value
            if system:
                sys_points.append(["system/cpu", self.step, float(i), 1.7e9 + self.step])
                self.expected[("system/cpu", self.step)] = float(i)
            self.step += 1
        if binary:  # as the pipeline writes them now
            cols = {"points": batchfmt.Columns(), "system": batchfmt.Columns()}
            for part, rows_ in (("points", points), ("system", sys_points)):
                for key, step, value, wall in rows_:
                    cols[part].append(self.keys[key], step, value, wall)
            used = max(max(c.key, default=-1) for c in cols.values()) + 1
            payload = batchfmt.encode(
                self.keys.names[:used], cols["points"], cols["system"], {"heartbeat": True}
            )
        elif sys_points:  # JSON, as SDKs wrote them before the binary format
            payload = orjson.dumps({"t": "b", "points": points, "system": sys_points})
        else:
            payload = orjson.dumps({"t": "p", "heartbeat": True, "points": points})
        self.writer.append(payload)

    @rule(order=st.permutations([*KEYS, "system/cpu"]))
    def new_process_key_table(self, order):
        """Records written by another process number their keys in another order."""
        self.keys = batchfmt.KeyTable()
        for key in order:
            self.keys[key]

    @rule(refuse=st.booleans())
    def server_without_binary(self, refuse):
        """The server (an older one) refuses binary batches with 415, or takes them again."""
        if refuse:
            ENV["proxy"].refuse_types[batchfmt.CONTENT_TYPE] = 415
        else:
            ENV["proxy"].refuse_types.clear()

    @rule(
        lines=st.lists(
            st.text(min_size=1, max_size=20).map(lambda t: t.replace("\x00", "")),
            min_size=1,
            max_size=5,
        )
    )
    def print_lines(self, lines):
        if self.torn:
            return
        record = {
            "t": "b",
            "heartbeat": True,
            "console": [["stdout", 1.7e9, line] for line in lines],
            "console_offset": len(self.console),
        }
        self.console.extend(lines)
        self.writer.append(orjson.dumps(record))

    @rule(faults=st.lists(st.sampled_from(FAULTS), min_size=1, max_size=4))
    def upload(self, faults):
        """One uploader step per fault: a request that the proxy may lose or duplicate."""
        proxy = ENV["proxy"]
        for fault in faults:
            proxy.faults.clear()
            proxy.faults.append(fault)
            try:
                if not self.engine.state.created:
                    self.engine.create()
                else:
                    self.engine.step()
            except CommError as exc:
                assert exc.retryable, exc.message  # lost traffic only ever looks retryable
            finally:
                proxy.faults.clear()

    @rule(lose_state=st.booleans(), max_points=st.sampled_from([1, 7, 50, 1000]))
    def restart_uploader(self, lose_state, max_points):
        """The uploading process dies and a new one starts (maybe without upload.json)."""
        self.engine.client.close()
        if lose_state:
            (self.dir / STATE_FILE).unlink(missing_ok=True)
        self.max_points = max_points
        self._new_uploader()

    @precondition(lambda self: self.step > 0 and not self.torn)
    @rule()
    def crash_mid_write(self):
        """The logging process dies while writing a record: a torn frame at the tail.
        Nothing is logged after that (the process is gone)."""
        frame = encode_frame(orjson.dumps({"t": "p", "points": [["lost", 0, 1.0, 1.7e9]]}))
        with open(self.wal_path, "ab") as fh:
            fh.write(frame[: len(frame) // 2])
        self.torn = True

    def teardown(self):
        if not hasattr(self, "dir"):
            return
        try:
            ENV["proxy"].refuse_types.clear()
            self.engine.client.close()
            self.writer.close()
            server = ENV["server"]
            result = sync_dir(
                self.dir,
                Settings(base_url=server.url, api_key=ENV["key"], retry_max_backoff=0.5),
                progress=False,
                report=lambda msg: None,
            )
            assert result.status in ("synced", "already"), result.message
            stored = stored_points(ENV["db"], self.run_id, "hypothesis")
            assert len(stored) == len(self.expected)
            assert {(k, s): v for k, s, v in stored} == self.expected
            lines = stored_console(ENV["db"], self.run_id)
            assert [(n, t) for n, _, t in lines] == list(enumerate(self.console))
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.mark.slow
def test_wal_upload_protocol_exactly_once(server, sdk_db):
    proxy = FaultProxy(server.url)
    ENV.update(server=server, proxy=proxy, db=sdk_db, key=sdk_db.seed.owner_key)
    try:
        run_state_machine_as_test(
            WalUploadMachine,
            settings=settings(
                max_examples=25,
                stateful_step_count=30,
                deadline=None,
                suppress_health_check=list(HealthCheck),
            ),
        )
    finally:
        proxy.close()
        ENV.clear()
