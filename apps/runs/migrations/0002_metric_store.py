"""The metric store (DESIGN.md §4): points and rollups, hash-partitioned by run_id.

- runs_point: one row per (run, key, step); the primary key makes every point stored at
  most once (ingest relies on it). value is double precision, so NaN and ±Inf are stored
  natively. wall_time is Unix seconds.
- runs_rollup: per (run, key, level, bucket) the aggregates of the points with
  step >> level = bucket, for the levels in apps/runs/rollups.LEVELS. min/max/sum ignore
  NaN (min/max are NULL when a bucket holds only NaN); count counts every point.

Both tables are partitioned by HASH (run_id) and carry run_id first in every key, so
`SELECT create_distributed_table('runs_point', 'run_id')` (Citus) or a move to
TimescaleDB needs no change outside apps/runs/ingest.py and apps/runs/selectors/.
No foreign key (it would cost an index probe per inserted point); a statement trigger on
runs_run deletes a run's points and rollups whatever deletes the run (run delete,
project delete, team delete).
"""

from django.db import migrations

PARTITIONS = 16


def _partitions(table: str) -> str:
    return "\n".join(
        f"CREATE TABLE {table}_p{i} PARTITION OF {table} "
        f"FOR VALUES WITH (MODULUS {PARTITIONS}, REMAINDER {i});"
        for i in range(PARTITIONS)
    )


FORWARD = f"""
CREATE TABLE runs_point (
    run_id bigint NOT NULL,
    key_id bigint NOT NULL,
    step bigint NOT NULL,
    value double precision NOT NULL,
    wall_time double precision NOT NULL,
    PRIMARY KEY (run_id, key_id, step)
) PARTITION BY HASH (run_id);
{_partitions("runs_point")}

CREATE TABLE runs_rollup (
    run_id bigint NOT NULL,
    key_id bigint NOT NULL,
    level smallint NOT NULL,
    bucket bigint NOT NULL,
    count bigint NOT NULL,
    nan_count bigint NOT NULL,
    sum double precision NOT NULL,
    min double precision,
    max double precision,
    first_step bigint NOT NULL,
    first double precision NOT NULL,
    last_step bigint NOT NULL,
    last double precision NOT NULL,
    wall_min double precision NOT NULL,
    wall_max double precision NOT NULL,
    PRIMARY KEY (run_id, key_id, level, bucket)
) PARTITION BY HASH (run_id);
{_partitions("runs_rollup")}

CREATE FUNCTION runs_delete_metric_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM runs_point WHERE run_id IN (SELECT id FROM old_runs);
    DELETE FROM runs_rollup WHERE run_id IN (SELECT id FROM old_runs);
    RETURN NULL;
END $$;

CREATE TRIGGER runs_run_delete_metrics AFTER DELETE ON runs_run
    REFERENCING OLD TABLE AS old_runs
    FOR EACH STATEMENT EXECUTE FUNCTION runs_delete_metric_rows();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS runs_run_delete_metrics ON runs_run;
DROP FUNCTION IF EXISTS runs_delete_metric_rows();
DROP TABLE IF EXISTS runs_rollup;
DROP TABLE IF EXISTS runs_point;
"""


class Migration(migrations.Migration):
    dependencies = [("runs", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
