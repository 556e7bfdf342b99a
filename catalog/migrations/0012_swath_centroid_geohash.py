"""The STAC aggregation without reading footprints or the heap (issue 23, item 1).

``Swath.centroid_geohash`` is a stored generated column: the database computes the
geohash of the footprint's centroid on every write, and adding the column computes it
for every row already there (PostgreSQL rewrites the table; SQLite remakes it). The
index on (collection, start_time) carries every column an aggregation over a
collection and a time window reads, so PostgreSQL answers it by an index-only scan.
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
        migrations.AddIndex(
            model_name='swath',
            index=models.Index(fields=['collection', 'start_time'], include=('end_time', 'state', 'platform', 'orbit_direction', 'centroid_geohash'), name='swath_coll_start_agg'),
        ),
    ]
