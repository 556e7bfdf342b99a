"""Celery task for subset products: takes an id, re-fetches the row, idempotent."""

from __future__ import annotations

from celery import shared_task

from archive.errors import TransientArchiveError
from subset.products import run_product


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True,
             max_retries=3)
def cut_subset(self, product_id: int) -> str:  # type: ignore[no-untyped-def]
    """Cut one product; a transient store error puts it back in the queue with backoff."""
    try:
        return run_product(product_id)
    except TransientArchiveError as e:
        raise self.retry(exc=e, countdown=min(300, 10 * 2**self.request.retries)) from e
