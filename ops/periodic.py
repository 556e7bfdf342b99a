"""Periodic maintenance tasks for Celery beat: reconcile, fsck, cleanup (thin wrappers).

Each returns a short summary and logs every finding; fsck findings are logged at
ERROR so an alerting log pipeline sees them. Arguments are names and numbers only.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task

log = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def reconcile_task(store: str = "primary", grace_s: int = 3600) -> str:
    """Repair rows and objects of one store (`manage.py reconcile --apply`)."""
    from ops.reconcile import reconcile

    report = reconcile(store, apply=True, grace=timedelta(seconds=grace_s))
    for line in report.lines:
        log.warning("reconcile %s: %s", store, line)
    summary = f"reconcile {store}: {len(report.lines)} findings, {len(report.requeued)} requeued"
    log.info(summary)
    return summary


@shared_task(ignore_result=True)
def fsck_task(store: str = "primary", full: bool = False) -> str:
    """Compare the catalog with one store (`manage.py archive fsck [--full]`); read-only."""
    from ops.fsck import fsck

    report = fsck(store, full=full)
    for problem in report.problems:
        log.error("fsck %s", problem.line())
    for warning in report.warnings:
        log.warning("fsck %s: %s", store, warning)
    summary = (f"fsck {store}{' --full' if full else ''}: {report.checked} checked, "
               f"{len(report.problems)} problems")
    (log.error if report.problems else log.info)(summary)
    return summary


@shared_task(ignore_result=True)
def cleanup_task(store: str = "primary", older_than_s: int = 86400) -> str:
    """Abort multipart uploads older than the horizon (`manage.py archive cleanup`)."""
    from ops.fsck import cleanup

    report = cleanup(store, timedelta(seconds=older_than_s))
    for problem in report.aborted:
        log.warning("cleanup %s: aborted %s %s", store, problem.key, problem.detail)
    for warning in report.warnings:
        log.warning("cleanup %s: %s", store, warning)
    summary = f"cleanup {store}: {len(report.aborted)} uploads aborted"
    log.info(summary)
    return summary
