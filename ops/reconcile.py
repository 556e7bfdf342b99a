"""Reconcile the catalog with the stores after crashes, lost brokers and lost objects.

What it repairs (RELIABILITY I1-I6, S3, C5, D1):
- STORED rows (crash between upload and verification): verify now -> VERIFIED or FAILED.
- PENDING rows, FAILED rows with attempts left, and UPLOADING rows whose lease
  expired (a worker died, a broker lost its messages): ingest their source again,
  through Celery when a broker is configured.
- Objects under `swaths/<swath uuid>/` with no StoredObject row (a crash after the
  upload completed, before the row was written): adopted when the object's bytes
  hash to the swath's source file, else deleted once older than the grace period.
- Quicklooks and chunk indexes no swath's record names (ops.derived): deleted once older
  than the grace period.
- VERIFIED rows whose copy has vanished: marked MISSING; then every MISSING or CORRUPT
  copy (whoever marked it) is healed (ops.heal): rebuilt from a verified copy and
  re-verified, else the swath is LOST with the reason. A LOST swath whose source file
  is still on disk and hashes to its sha256 is ingested again from it.
- Subset products (primary store only, subset.recovery): standing orders a crash kept
  from firing, QUEUED products older than the grace whose message was lost, and
  FAILED products with automatic attempts left (GIVE-UP, once, for those without).
Every configured store that holds copies is reconciled unless one is named. Dry run by
default; `apply=True` acts. Every finding is one line of the report.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

import archive.config
from archive.errors import ArchiveError
from archive.stores import ObjectInfo, Store
from archive.streaming import sha256_file
from catalog import services
from catalog.copies import BAD_STATES, mark_bad
from catalog.models import StoredObject, Swath, SwathState
from ops.derived import DERIVED, recorded_keys
from ops.fsck import FsckReport, stores_to_check
from ops.heal import heal

log = logging.getLogger(__name__)
_SWATH_KEY = re.compile(r"^swaths/([0-9a-f]{32})/")


@dataclass
class ReconcileReport:
    """What was found and, with apply, done."""

    lines: list[str] = field(default_factory=list)
    requeued: list[int] = field(default_factory=list)

    def add(self, line: str) -> None:
        self.lines.append(line)


def reconcile(store_name: str | None = None, *, apply: bool = False,
              grace: timedelta = timedelta(hours=1)) -> ReconcileReport:
    """Bring rows and objects of ``store_name`` (default: every store holding copies) back
    to the invariants; dry run unless apply."""
    report = ReconcileReport()
    skipped = FsckReport()
    names = stores_to_check(store_name, skipped)
    for warning in skipped.warnings:
        report.add(f"WARNING {warning}")
    reached = []
    for name in names:
        try:
            store = archive.config.get_store(name)
            _finish_stored(store, name, report, apply)
            _adopt_orphans(store, name, report, apply, grace)
            _delete_derived_orphans(store, name, report, apply, grace)
            _find_missing(store, name, report, apply)
        except (LookupError, ArchiveError) as e:
            report.add(f"UNREACHABLE {name}: {e}; left for the next run")
            continue
        reached.append(name)
    healed = heal(stores=reached, apply=apply)
    report.lines.extend(healed.lines)
    _reingest_lost(report, apply)
    _requeue_unfinished(report, apply)
    if "primary" in names:  # the store products are cut from and written to
        from subset.recovery import recover_products

        recover_products(report.lines, apply=apply, grace=grace)
    return report


def _finish_stored(store: Store, name: str, report: ReconcileReport, apply: bool) -> None:
    for copy in StoredObject.objects.filter(
        store=name, state=StoredObject.State.STORED, swath__state=SwathState.STORED
    ).select_related("swath"):
        report.add(f"STORED-UNVERIFIED {name}:{copy.key}")
        if not apply:
            continue
        try:
            store.verify(copy.key, copy.sha256, codec=copy.codec)
        except ArchiveError as e:
            services.mark_failed(copy.swath_id, f"verification after restart failed: {e}",
                                 copy.pk)
            continue
        services.mark_verified(copy.swath_id, copy.pk)


def _adopt_orphans(store: Store, name: str, report: ReconcileReport, apply: bool,
                   grace: timedelta) -> None:
    rows = {o.key: o for o in StoredObject.objects.filter(store=name).select_related("swath")}
    now = timezone.now()
    for info in store.list("swaths/"):
        row = rows.get(info.key)
        # A MISSING or CORRUPT row's object is heal's to rewrite, never an orphan.
        if row is not None and (
            row.state in (StoredObject.State.STORED, StoredObject.State.VERIFIED, *BAD_STATES)
            or _in_flight(row, now)
        ):
            continue
        # No row, or a row left UPLOADING/FAILED by a crash after the upload completed.
        match = _SWATH_KEY.match(info.key)
        swath = row.swath if row is not None and row.swath else (
            Swath.objects.filter(uuid=match.group(1)).first() if match else None
        )
        sha = (_same_bytes(store, info.key, swath)
               if swath is not None and swath.state != SwathState.VERIFIED else None)
        if sha is not None:
            report.add(f"ADOPT {name}:{info.key} -> swath {swath.pk}")
            if apply:
                _adopt(store, name, info, swath, sha)
            continue
        old = info.last_modified is None or info.last_modified < now - grace
        report.add(f"ORPHAN {name}:{info.key}" + (" (deleted)" if apply and old else ""))
        if apply and old:
            store.delete(info.key)


def _delete_derived_orphans(store: Store, name: str, report: ReconcileReport, apply: bool,
                            grace: timedelta) -> None:
    """Quicklooks and chunk indexes no swath's record names (ops.derived)."""
    recorded = recorded_keys(name)
    old = timezone.now() - grace
    for prefix in DERIVED:
        for info in store.list(prefix):
            if info.key in recorded:
                continue
            delete = apply and (info.last_modified is None or info.last_modified < old)
            report.add(f"ORPHAN {name}:{info.key}" + (" (deleted)" if delete else ""))
            if delete:
                store.delete(info.key)


def _in_flight(row: StoredObject, now: object) -> bool:
    """An upload whose swath still holds a live lease: leave it to its worker."""
    swath = row.swath
    return (row.state == StoredObject.State.UPLOADING and swath is not None
            and swath.state == SwathState.UPLOADING and swath.lease_until is not None
            and swath.lease_until > now)


def _same_bytes(store: Store, key: str, swath: Swath) -> str | None:
    """Return the sha256 when the object holds exactly the swath's source file, else None."""
    if not Path(swath.source_path).is_file():
        return None
    sha = sha256_file(swath.source_path)
    try:
        store.verify(key, sha)
    except ArchiveError:
        return None
    return sha


def _adopt(store: Store, name: str, info: ObjectInfo, swath: Swath, sha: str) -> None:
    from ingest.pipeline import worker_id

    checked = store.head(info.key)
    size = os.stat(swath.source_path).st_size
    obj = services.start_copy(swath.pk, name, info.key, checked.codec or "none")
    owner = worker_id()
    Swath.objects.filter(pk=swath.pk).update(
        state=SwathState.UPLOADING, lease_owner=owner,
        lease_until=timezone.now() + timedelta(minutes=5),
    )
    try:
        services.mark_stored(swath.pk, owner, obj.pk, size=size, sha256=sha,
                             stored_size=info.stored_size)
    except services.DuplicateSwath:
        store.delete(info.key)
        StoredObject.objects.filter(pk=obj.pk).delete()
        return
    services.mark_verified(swath.pk, obj.pk)


def _find_missing(store: Store, name: str, report: ReconcileReport, apply: bool) -> None:
    """VERIFIED copies whose object is gone: MISSING, for heal (which runs next)."""
    for copy in StoredObject.objects.filter(
        store=name, state=StoredObject.State.VERIFIED, swath__isnull=False
    ).only("id", "key", "swath_id"):
        if store.head(copy.key) is not None:
            continue
        if not apply:
            report.add(f"MISSING {name}:{copy.key} (swath {copy.swath_id})")
            continue
        mark_bad(copy.pk, StoredObject.State.MISSING, "reconcile: no such object")


def _reingest_lost(report: ReconcileReport, apply: bool) -> None:
    """LOST swaths whose source file is still there, with the same bytes: ingest again.

    The swath becomes FAILED with a fresh attempt count, which the requeue below sends
    (a new copy under a new key; the MISSING and CORRUPT rows stay as history).
    """
    for swath in Swath.objects.filter(state=SwathState.LOST).exclude(source_path="").only(
            "id", "uuid", "source_path", "sha256", "size", "failure_reason"):
        path = Path(swath.source_path)
        # The size first: most sources that changed need no hashing to say so.
        if not path.is_file() or path.stat().st_size != swath.size or \
                sha256_file(str(path)) != swath.sha256:
            continue
        report.add(f"REINGEST LOST swath {swath.uuid} from {path}")
        if apply:
            Swath.objects.filter(pk=swath.pk, state=SwathState.LOST).update(
                state=SwathState.FAILED, attempts=0,
                failure_reason=f"re-ingest from its source after it was LOST: "
                               f"{swath.failure_reason}"[:2000])


def _requeue_unfinished(report: ReconcileReport, apply: bool) -> None:
    now = timezone.now()
    # Out of attempts with its last lease expired: every execution died (a poison file,
    # RELIABILITY C4). Give up loudly instead of requeueing it for ever.
    poisoned = Swath.objects.filter(state=SwathState.UPLOADING, lease_until__lt=now,
                                    attempts__gte=services.MAX_ATTEMPTS)
    for swath in poisoned.only("id", "attempts", "source_path"):
        report.add(f"GIVE-UP swath {swath.pk} after {swath.attempts} attempts "
                   f"{swath.source_path}")
        if apply:
            services.mark_failed(swath.pk, f"gave up after {swath.attempts} attempts: the "
                                 "worker died during every one (see the worker logs)")
            log.error("swath %s: gave up after %s attempts that all died", swath.pk,
                      swath.attempts)
    stuck = Swath.objects.filter(
        Q(state=SwathState.PENDING)
        | Q(state=SwathState.FAILED, attempts__lt=services.MAX_ATTEMPTS)
        | Q(state=SwathState.UPLOADING, lease_until__lt=now, attempts__lt=services.MAX_ATTEMPTS)
    ).exclude(source_path="")
    for swath in stuck.only("id", "state", "source_path", "collection_id"):
        report.add(f"REQUEUE swath {swath.pk} ({swath.state}) {swath.source_path}")
        if not apply:
            continue
        report.requeued.append(swath.pk)
        _send(swath.source_path, swath.collection_id)


def _send(path: str, collection_id: int) -> None:
    from ingest.tasks import ingest_file_task

    if settings.CELERY_TASK_ALWAYS_EAGER:
        from ingest.pipeline import ingest_file

        ingest_file(path, collection_id)
    else:
        ingest_file_task.delay(path, collection_id)
