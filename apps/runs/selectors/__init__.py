"""Run reads (first argument: the team). runs: runs, keys, files, console; history: metric
points and rollups (with apps/runs/ingest.py the only readers of those tables)."""
