"""What the API keeps of its own: STAC Items stored ahead of searches (api.stac.storeditems)."""

from __future__ import annotations

from django.db import models

from catalog.models import Swath


class StacItem(models.Model):
    """The JSON text of one VERIFIED swath's STAC Item, chr(1) where the base URL goes.

    Written only by the database's triggers and functions (api.stac.storeditems), read
    only by search pages. A cache: a page serves it only when `rev` is the running
    code's, `uuid` the swath's and `row_xmin` the row's, and renders the item itself
    otherwise, so a missing or stale row costs time, never a wrong answer. No foreign
    key: its check would cost every bulk-registered row a lookup; the triggers delete
    items with their swaths instead.
    """

    swath = models.OneToOneField(Swath, primary_key=True, on_delete=models.DO_NOTHING,
                                 db_constraint=False, related_name="+")
    uuid = models.UUIDField()
    # The xmin of the row version it was rendered from: any later write to the row,
    # even one that bypassed the triggers, makes a new version with another xmin.
    row_xmin = models.BigIntegerField()
    rev = models.IntegerField()
    # The footprint's box touches both +-180: the page finishes its bbox in Python.
    wraps = models.BooleanField()
    text = models.TextField()

    class Meta:
        db_table = "api_stacitem"

    def __str__(self) -> str:
        return f"item of swath {self.swath_id} (revision {self.rev})"
