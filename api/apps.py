from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate


def _install_stored_items(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    # After every migrate, so the database's triggers are this code's revision
    # (api.stac.storeditems); migration api/0002 made their table.
    from api.stac import storeditems

    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cur:
        cur.execute("SELECT to_regclass('api_stacitem')")
        if cur.fetchone()[0] is None:
            return  # migrated backwards past api/0002
    storeditems.install(connection)


class ApiConfig(AppConfig):
    name = "api"

    def ready(self) -> None:
        from api.stac.itemfill import follow_bulk_load
        from catalog.signals import bulk_load_started

        post_migrate.connect(_install_stored_items, sender=self, dispatch_uid="api-stored-items")
        bulk_load_started.connect(follow_bulk_load, dispatch_uid="api-stored-items")
