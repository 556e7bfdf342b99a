"""The STAC aggregation's geohash grid from a stored column (issue 23, item 1).

``Swath.centroid_geohash`` is a stored generated column: the database computes the
geohash of the footprint's centroid on every write, and adding the column computes it
for every row already there (PostgreSQL rewrites the table; SQLite remakes it).
"""

import django.contrib.gis.db.models.functions
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('catalog', '0011_region_order_problem'),
    ]

    operations = [
        migrations.AddField(
            model_name='swath',
            name='centroid_geohash',
            field=models.GeneratedField(db_persist=True, expression=django.contrib.gis.db.models.functions.GeoHash(django.contrib.gis.db.models.functions.Centroid('footprint'), precision=8), output_field=models.CharField(max_length=8, null=True)),
        ),
    ]
