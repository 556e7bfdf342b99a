"""Stored STAC Items (api.models.StacItem) and, on PostgreSQL, the triggers that keep them.

Swaths already in the catalog get their items from `manage.py refresh_stac_items`;
searches render theirs on each request meanwhile. api.apps installs the functions
again after every migrate, so a later change to the renderer needs no migration.
"""

import django.db.models.deletion
from django.db import migrations, models


def _install(apps, schema_editor) -> None:
    from api.stac import storeditems

    storeditems.install(schema_editor.connection)


def _uninstall(apps, schema_editor) -> None:
    from api.stac import storeditems

    storeditems.uninstall(schema_editor.connection)


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("api", "0001_search_indexes"),
        ("catalog", "0003_drop_redundant_swath_indexes"),
    ]

    operations = [
        migrations.CreateModel(
            name="StacItem",
            fields=[
                ("swath", models.OneToOneField(
                    db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING,
                    primary_key=True, related_name="+", serialize=False, to="catalog.swath")),
                ("uuid", models.UUIDField()),
                ("row_xmin", models.BigIntegerField()),
                ("rev", models.IntegerField()),
                ("wraps", models.BooleanField()),
                ("text", models.TextField()),
            ],
            options={"db_table": "api_stacitem"},
        ),
        migrations.RunPython(_install, _uninstall),
    ]
