"""Run reads (first argument: the team). runs: runs, keys, files, console; history: metric
points and rollups (with apps/runs/ingest/ the only readers of those tables)."""
