"""Periodic maintenance tasks for Celery beat: reconcile, fsck, cleanup (thin wrappers).

Each returns a short summary and logs every finding; fsck findings are logged at
ERROR so an alerting log pipeline sees them. Arguments are names and numbers only.
reconcile and fsck cover every configured store that holds copies unless given one, and
both heal (ops.heal): reconcile the copies found or marked MISSING or CORRUPT, fsck (with
``repair``, the default here) the ones it finds too.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task

log = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def reconcile_task(store: str | None = None, grace_s: int = 3600) -> str:
    """Repair rows and objects, and heal copies (`manage.py reconcile --apply`)."""
    from ops.reconcile import reconcile

    where = store or "all stores"
    report = reconcile(store, apply=True, grace=timedelta(seconds=grace_s))
    for line in report.lines:
        (log.error if line.startswith("LOST") else log.warning)("reconcile %s: %s", where, line)
    summary = f"reconcile {where}: {len(report.lines)} findings, {len(report.requeued)} requeued"
    log.info(summary)
    return summary


@shared_task(ignore_result=True)
def fsck_task(store: str | None = None, full: bool = False, repair: bool = True) -> str:
    """Compare the catalog with the stores and heal what is found
    (`manage.py archive fsck [--full] --repair`)."""
    from ops.fsck import fsck

    where = store or "all stores"
    report = fsck(store, full=full, repair=repair)
    for problem in report.problems:
        log.error("fsck %s", problem.line())
    for warning in report.warnings:
        log.warning("fsck %s: %s", where, warning)
    healed = report.healed
    if healed is not None:
        for line in healed.lines:
            log.warning("fsck heal: %s", line)
    summary = (f"fsck {where}{' --full' if full else ''}: {report.checked} checked, "
               f"{len(report.problems)} problems"
               + (f"; {healed.summary()}" if healed is not None else ""))
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
