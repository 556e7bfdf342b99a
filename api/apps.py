from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _install_stored_items(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    # After every migrate, so the database's triggers are this code's revision
    # (api.stac.storeditems); migration api/0002 made the columns.
    from django.db import connections

    from api.stac import storeditems

    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cur:
        cur.execute("SELECT 1 FROM information_schema.columns WHERE table_name = 'catalog_swath'"
                    " AND column_name = 'stac_rev'")
        if cur.fetchone() is None:
            return  # migrated backwards past api/0002
    storeditems.install(connection)


class ApiConfig(AppConfig):
    name = "api"

    def ready(self) -> None:
        from django.apps import apps

        # Sent for the catalog: Django sends post_migrate only for apps with models.
        post_migrate.connect(_install_stored_items, sender=apps.get_app_config("catalog"),
                             dispatch_uid="api-stored-items")
