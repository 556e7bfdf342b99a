from __future__ import annotations

from django.apps import AppConfig


class SubsetConfig(AppConfig):
    name = "subset"

    def ready(self) -> None:
        from catalog.signals import swath_verified
        from subset import dispatch, services
        from subset.services import on_swath_verified

        # services never imports dispatch (which imports the tasks, which import
        # services): the sender is handed over here, once the apps are loaded.
        services.sender = dispatch.enqueue
        # Standing regional orders: products for every new verified swath over a region.
        swath_verified.connect(on_swath_verified, dispatch_uid="subset.standing_orders")
