# The "report" target kind (apps/reports): choices only, no schema change.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('comments', '0001_initial'),
    ]

    operations = [
        migrations.AlterField(
            model_name='comment',
            name='target_kind',
            field=models.CharField(choices=[('run', 'Run'), ('artifact_version', 'Artifact Version'), ('registered_model', 'Registered Model'), ('sweep', 'Sweep'), ('report', 'Report')], max_length=32),
        ),
        migrations.AlterField(
            model_name='follow',
            name='target_kind',
            field=models.CharField(choices=[('run', 'Run'), ('artifact_version', 'Artifact Version'), ('registered_model', 'Registered Model'), ('sweep', 'Sweep'), ('report', 'Report')], max_length=32),
        ),
    ]
