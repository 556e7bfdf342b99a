"""Per-region valid-data coverage (issue 23, item 3): ``Swath.coverage``.

The valid-pixel counts of the swath's main variable per H3 cell, as the versioned blob of
ingest/coverage.py; NULL where none was measured (old rows until reinspect fills them).
A nullable column without default: no existing row is rewritten.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('catalog', '0011_region_order_problem'),
    ]

    operations = [
        migrations.AddField(
            model_name='swath',
            name='coverage',
            field=models.BinaryField(blank=True, null=True),
        ),
    ]
