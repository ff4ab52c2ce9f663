#!/usr/bin/env bash
# Run every benchmark in sequence; each prints name=value lines (copies kept in bench/results/).
# Needs `make install` and `make bench-setup`, PostgreSQL on 127.0.0.1:5432 (BENCH_PG_URL)
# and Redis on 127.0.0.1:6379 (BENCH_REDIS_URL). About 25-35 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/results
for name in ingest history runs_table sdk_overhead artifacts media workspace live_latency; do
  echo "== bench/$name.py"
  timeout 1200 .venv/bin/python "bench/$name.py" 2> "bench/results/$name.log" | tee "bench/results/$name.txt"
done
