"""Rollup levels 6, 10 and 14 join 4, 8, 12 and 16 (apps/runs/rollups.LEVELS): computed
here from the stored points, so runs ingested before keep exact charts."""

from django.db import migrations

NEW_LEVELS = (6, 10, 14)

FORWARD = "\n".join(
    f"""
INSERT INTO runs_rollup (run_id, key_id, level, bucket, count, nan_count, sum, min, max,
                         first_step, first, last_step, last, wall_min, wall_max)
SELECT run_id, key_id, {level}, step >> {level}, count(*),
       count(*) FILTER (WHERE value = 'NaN'),
       coalesce(sum(value) FILTER (WHERE value <> 'NaN'), 0),
       min(value) FILTER (WHERE value <> 'NaN'), max(value) FILTER (WHERE value <> 'NaN'),
       min(step), (array_agg(value ORDER BY step))[1],
       max(step), (array_agg(value ORDER BY step DESC))[1],
       min(wall_time), max(wall_time)
FROM runs_point GROUP BY run_id, key_id, step >> {level}
ON CONFLICT DO NOTHING;
"""
    for level in NEW_LEVELS
)
BACKWARD = f"DELETE FROM runs_rollup WHERE level IN {NEW_LEVELS};"


class Migration(migrations.Migration):
    dependencies = [("runs", "0002_metric_store")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
