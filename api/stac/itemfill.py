"""Stored STAC Items of bulk-registered swaths, written beside the load (catalog.bulkload).

Inside the COPY, the insert trigger renders every new row's item: about 20 us a row
on the server's one busy core, which took registration from 0.52x to 0.40x of a
raw COPY (docs/BENCHMARKS.md, Catalog registration). Told by
catalog.signals.bulk_load_started, the triggers leave that to a follower instead:
this one stores each committed batch's items on a second connection, so a second
backend renders them while the first COPYs the next batch. A failure here loses
nothing: those rows are rendered by each search until `manage.py refresh_stac_items`.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

from django.db import DatabaseError, connection

from api.stac import storeditems

log = logging.getLogger(__name__)


class ItemFiller:
    """A follower of one bulk load: loaded(ids) per committed batch, then finish()."""

    def __init__(self) -> None:
        # Two batches in hand at most: a filler that falls behind slows the load
        # rather than letting the rows without items pile up.
        self._queue: queue.Queue[list[int] | None] = queue.Queue(maxsize=2)
        self.error: Exception | None = None
        self._thread = threading.Thread(target=self._run, name="stac-item-fill", daemon=True)
        self._thread.start()

    def loaded(self, ids: list[int]) -> None:
        self._queue.put(ids)

    def finish(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        # Django gives this thread a connection of its own.
        try:
            while (ids := self._queue.get()) is not None:
                if self.error is not None:
                    continue  # keep taking batches so the load never blocks
                try:
                    with connection.cursor() as cur:
                        storeditems.store(cur, ids)
                except DatabaseError as e:
                    self.error = e
                    log.warning("storing the STAC Items of a bulk load failed (%s); searches "
                                "render those swaths until manage.py refresh_stac_items", e)
        finally:
            connection.close()


def follow_bulk_load(sender: Any, **kwargs: Any) -> ItemFiller | None:
    """Receiver of catalog.signals.bulk_load_started (PostgreSQL only)."""
    if connection.vendor != "postgresql":
        return None
    return ItemFiller()
