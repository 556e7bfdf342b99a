"""Stored STAC Items: two columns and the triggers that fill them (PostgreSQL only).

See api.stac.storeditems. Rows already in the catalog keep no item until
`manage.py refresh_stac_items` stores them; searches render those live meanwhile.
api.apps installs the triggers again after every migrate, so a later change to the
renderer needs no migration of its own.
"""

from __future__ import annotations

from django.db import migrations


def _install(apps, schema_editor) -> None:
    from api.stac import storeditems

    storeditems.install(schema_editor.connection)


def _uninstall(apps, schema_editor) -> None:
    from api.stac import storeditems

    storeditems.uninstall(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("api", "0001_search_indexes"), ("catalog", "0003_drop_redundant_swath_indexes")]

    operations = [migrations.RunPython(_install, _uninstall)]
