"""Celery tasks for ingest: thin wrappers taking paths and ids, never ORM objects."""

from __future__ import annotations

from celery import shared_task

from ingest.pipeline import ingest_file, record_outcome


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def ingest_file_task(
    path: str, collection_id: int, codec: str | None = None, ingest_run_id: int | None = None,
    policy: str | None = None,
) -> str:
    """Archive one file and record its outcome in the run; idempotent on redelivery.

    A codec or policy left None is the collection's (catalog.policies.ingest_choice).
    """
    outcome = ingest_file(path, collection_id, codec=codec, policy=policy,
                          ingest_run_id=ingest_run_id)
    if ingest_run_id is not None:
        record_outcome(ingest_run_id, outcome)
    return outcome.status
