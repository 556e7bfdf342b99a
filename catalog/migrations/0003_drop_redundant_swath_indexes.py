"""Drop two indexes on catalog_swath that swath_unique_version already serves.

Both the foreign key's own index (collection_id) and swath_granule
(collection_id, granule_id) are leading prefixes of the unique
(collection_id, granule_id, version) index, so no query needs them, and every
insert paid for them: catalog-only registration is bound by index maintenance.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("catalog", "0002_ingest_items"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="swath", name="swath_granule"),
        migrations.AlterField(
            model_name="swath",
            name="collection",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="swaths",
                to="catalog.collection",
            ),
        ),
    ]
