"""Raw prediction storage (apps/monitoring/storage.py): a table partitioned by month on
the prediction time, the exactly-once ledger, and the element-wise array sum the window
aggregates use on ingest (INSERT … ON CONFLICT DO UPDATE SET x = monitoring_add(…)).

No foreign key to monitoring_monitor: Django's flush (TRUNCATE without CASCADE) would
refuse the referenced table. Deleting a monitor deletes its rows (services.monitor_delete)
and the retention task removes rows whose monitor is gone (a deleted team)."""

from django.db import migrations

SQL = """
CREATE TABLE monitoring_prediction_key (
    monitor_id bigint NOT NULL,
    prediction_id text NOT NULL,
    ts timestamptz NOT NULL,
    PRIMARY KEY (monitor_id, prediction_id)
);
CREATE TABLE monitoring_prediction (
    monitor_id bigint NOT NULL,
    ts timestamptz NOT NULL,
    prediction_id text NOT NULL,
    version integer NOT NULL,
    num bytea,
    cat text[],
    emb bytea,
    prediction double precision,
    scores bytea,
    latency_ms double precision,
    error text,
    target double precision,
    target_at timestamptz
) PARTITION BY RANGE (ts);
CREATE INDEX monitoring_prediction_monitor_ts ON monitoring_prediction (monitor_id, ts);
CREATE INDEX monitoring_prediction_monitor_id ON monitoring_prediction (monitor_id, prediction_id);
CREATE FUNCTION monitoring_add(a double precision[], b double precision[])
RETURNS double precision[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(coalesce(x, 0) + coalesce(y, 0) ORDER BY i), '{}')
    FROM unnest(a, b) WITH ORDINALITY AS t(x, y, i)
$$;
"""

REVERSE = """
DROP TABLE IF EXISTS monitoring_prediction;
DROP TABLE IF EXISTS monitoring_prediction_key;
DROP FUNCTION IF EXISTS monitoring_add(double precision[], double precision[]);
"""


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0001_initial")]

    operations = [migrations.RunSQL(SQL, REVERSE)]
