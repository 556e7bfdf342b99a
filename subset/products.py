"""Cutting one queued product on a worker: claim it, cut it, store the result, finish it.

subset.services creates and enqueues products (the request side); this module is what
the task runs (subset.tasks.cut_subset -> run_product). run_product() claims a product
with a conditional UPDATE, reads the archived object by range requests, runs the kernel,
stores the result and marks the product DONE, EMPTY or FAILED. No transaction is open
while bytes move (STYLE 7).
"""

from __future__ import annotations

import logging
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

import archive.config
from archive.errors import ArchiveError, TransientArchiveError
from archive.keys import product_key
from catalog.models import Product, StoredObject, Swath, SwathState
from subset import kernel
from subset.errors import NoDataInRegion, SubsetError
from subset.services import (
    max_attempts,
    max_bytes,
    open_any_copy,
    spec_from_params,
    swath_geo_bounds,
)

log = logging.getLogger(__name__)


def running_lease() -> timedelta:
    """How long a RUNNING product is its worker's: past it, the worker is taken for dead."""
    return timedelta(seconds=int(getattr(settings, "CELERY_TASK_TIME_LIMIT", 3600)) + 60)


def claim(product_id: int) -> bool:
    """QUEUED (or RUNNING past its lease) -> RUNNING; True if this worker got it.

    Not once the product's automatic attempts are used (reconcile then fails it, and
    only a person's retry gives it more: subset.services.retry_product).
    """
    now = timezone.now()
    changed = Product.objects.filter(
        Q(state=Product.State.QUEUED)
        | Q(state=Product.State.RUNNING, started_at__lt=now - running_lease()),
        pk=product_id, attempts__lt=F("attempts_base") + max_attempts(),
    ).update(state=Product.State.RUNNING, started_at=now, attempts=F("attempts") + 1, error="")
    return changed == 1


def finish(product_id: int, state: str, **fields: Any) -> bool:
    """RUNNING -> state (DONE, EMPTY, FAILED, QUEUED for a retry); True if it changed."""
    return Product.objects.filter(pk=product_id, state=Product.State.RUNNING).update(
        state=state, finished_at=timezone.now() if state != Product.State.QUEUED else None,
        **fields) == 1


def run_product(product_id: int, store_name: str = "primary") -> str:
    """Cut one product; return its final state. TransientArchiveError propagates (retry)."""
    if not claim(product_id):
        return Product.objects.filter(pk=product_id).values_list("state", flat=True).first() or ""
    product = Product.objects.select_related("swath").get(pk=product_id)
    swath = product.swath
    bytes_read = 0
    try:
        if swath.state != SwathState.VERIFIED:
            raise SubsetError(f"swath {swath.uuid} is {swath.state}, not VERIFIED")
        spec = spec_from_params(product.params)
        store = archive.config.get_store(store_name)  # where the product goes
        with tempfile.TemporaryDirectory(prefix="subset-") as tmp:
            out = Path(tmp) / "subset.nc"
            # The source: this store's copy, else the next verified one (open_any_copy).
            with open_any_copy(swath, Path(tmp), store_name) as (src, copy):
                try:
                    result = kernel.subset(
                        src, spec.region, out, variables=spec.variables or None,
                        time_range=(spec.start, spec.end), fill_outside=spec.fill_outside,
                        max_bytes=max_bytes(), provenance=provenance(swath, product),
                        hints=swath.collection.variable_hints or None,
                        geo_bounds=swath_geo_bounds(swath),
                    )
                finally:
                    bytes_read = int(getattr(src, "bytes_read", 0) or copy.stored_size or 0)
            key = product_key(f"p{product.pk}", result.sha256)
            put = store.put(key, out, size=result.size, sha256=result.sha256,
                            content_type="application/x-netcdf")
    except NoDataInRegion as e:
        finish(product_id, Product.State.EMPTY, error=str(e), bytes_read=bytes_read)
        return Product.State.EMPTY
    except TransientArchiveError:
        finish(product_id, Product.State.QUEUED, bytes_read=bytes_read)
        raise
    except (SubsetError, ArchiveError, OSError, RuntimeError) as e:
        reason = f"{type(e).__name__}: {e}"
        finish(product_id, Product.State.FAILED, error=reason[:2000], bytes_read=bytes_read)
        log.warning("product %s FAILED: %s", product_id, reason)
        return Product.State.FAILED
    with transaction.atomic():
        obj, _ = StoredObject.objects.get_or_create(
            store=store_name, key=put.key,
            defaults={"swath": None, "codec": put.codec, "size": put.size,
                      "stored_size": put.stored_size, "sha256": put.sha256,
                      "etag": put.etag or "", "state": StoredObject.State.STORED},
        )
        if not finish(product_id, Product.State.DONE, result=obj, result_size=put.size,
                      bytes_read=bytes_read):
            transaction.set_rollback(True)
            return Product.objects.get(pk=product_id).state
    return Product.State.DONE


def provenance(swath: Swath, product: Product) -> dict[str, Any]:
    """Return the provenance attributes written into a result."""
    return {"granule_id": swath.granule_id, "swath_uuid": str(swath.uuid),
            "sha256": swath.sha256, "collection": swath.collection.slug,
            "product_id": product.pk}
