from django.db import migrations, models


class Migration(migrations.Migration):
    """MetricKey.integral: keys that exist already get False (their values read as floats,
    as before: whether they were logged as whole numbers is unknown without a scan of
    every point); keys created from now on start True and ingest keeps the flag."""

    dependencies = [
        ("runs", "0004_run_json_orjson"),
    ]

    operations = [
        migrations.AddField(
            model_name="metrickey",
            name="integral",
            field=models.BooleanField(default=False, db_default=False),
        ),
        migrations.AlterField(
            model_name="metrickey",
            name="integral",
            field=models.BooleanField(default=True, db_default=True),
        ),
    ]
