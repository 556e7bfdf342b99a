"""Catalog versus stores: find MISSING, CORRUPT, UNREADABLE, ORPHAN, STALE_UPLOAD, LOST.

Reports in the spirit of `rclone check --combined` and iRODS `ifsck`: one line per
problem, a non-zero exit when there is any. By default every configured store that holds
copies is checked, not only the primary. `fsck` only reads unless asked to repair: then
the copies found MISSING, CORRUPT or UNREADABLE are marked so in the catalog and healed
(ops.heal: rebuilt from a verified copy and re-verified, or the swath is LOST). Copies a
reader already marked bad, and LOST swaths, are reported too. `cleanup` aborts stale
uploads, measuring their age by the database's own start times (I3).

UNREADABLE: the object answers HEAD, but reading it fails over the short retry budget of
ops.heal.checking_store (two attempts; SeaweedFS stalls, or answers HTTP 500, on a
needle whose CRC fails, every time). It is repaired as CORRUPT: rewriting verified
bytes over a copy that was only unavailable is harmless. A store that cannot even list
is not checked at all (a warning), so an outage never marks its copies bad.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone

import archive.config
from archive.errors import (
    ArchiveError,
    ChecksumMismatch,
    ObjectNotFound,
    TransientArchiveError,
    UploadsUnlisted,
)
from archive.stores import Store
from catalog.copies import BAD_STATES, mark_bad
from catalog.models import StoredObject, Swath, SwathState
from ops.derived import DERIVED, recorded_keys
from ops.heal import HealReport, Stores, heal

LIVE_STATES = (StoredObject.State.STORED, StoredObject.State.VERIFIED)
ARCHIVE_PREFIXES = ("swaths/", "products/")
KINDS = ("MISSING", "CORRUPT", "UNREADABLE", "ORPHAN", "STALE_UPLOAD", "LOST")


@dataclass(frozen=True)
class Problem:
    """One finding: kind (KINDS), where, and why; ``copy_id`` names a catalogued copy."""

    kind: str
    store: str
    key: str
    detail: str = ""
    copy_id: int | None = field(default=None, compare=False)

    def line(self) -> str:
        tail = f"  {self.detail}" if self.detail else ""
        return f"{self.kind:12s} {self.store}:{self.key}{tail}"


@dataclass
class FsckReport:
    """Everything checked and everything found."""

    checked: int = 0
    listed: int = 0
    stores: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # What could not be checked: not a problem of the archive, so not in the exit status.
    warnings: list[str] = field(default_factory=list)
    healed: HealReport | None = None  # with repair

    def count(self, kind: str) -> int:
        return sum(p.kind == kind for p in self.problems)


@dataclass
class CleanupReport:
    """Uploads aborted, and what kept cleanup from looking (an endpoint that cannot list)."""

    aborted: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def parse_age(text: str) -> timedelta:
    """Parse '90s', '30m', '24h', '7d' (a bare number is seconds).

    >>> parse_age("36h")
    datetime.timedelta(days=1, seconds=43200)
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if not match:
        raise ValueError(f"age {text!r} is not a number with s, m, h or d")
    value, unit = float(match.group(1)), match.group(2) or "s"
    return timedelta(seconds=value * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit])


def fsck(store_name: str | None = None, *, full: bool = False, repair: bool = False,
         workers: int = 8) -> FsckReport:
    """Compare every copy in ``store_name`` (default: every store holding copies) with the
    store; read-only unless ``repair`` (see the module docstring)."""
    report = FsckReport()
    opened = Stores()
    for name in stores_to_check(store_name, report):
        _fsck_store(name, opened, report, full=full, repair=repair, workers=workers)
    if repair:
        report.healed = heal(stores=report.stores, opened=opened)
    report.problems.extend(
        Problem("LOST", "-", str(uuid), reason)
        for uuid, reason in Swath.objects.filter(state=SwathState.LOST)
        .order_by("pk").values_list("uuid", "failure_reason"))
    return report


def stores_to_check(store_name: str | None, report: FsckReport) -> list[str]:
    """Return ``[store_name]``, or the configured stores that hold copies (and primary).

    A store the catalog holds copies in that is not configured here is a warning: its
    copies cannot be checked from this process.
    """
    if store_name is not None:
        return [store_name]
    configured = archive.config.configured_names()
    holding = set(StoredObject.objects.exclude(state=StoredObject.State.FAILED)
                  .values_list("store", flat=True).distinct())
    for name in sorted(holding - set(configured)):
        report.warnings.append(f"the catalog holds copies in store {name!r}, which is not "
                               "configured here; they were not checked")
    return sorted((n for n in configured if n in holding or n == "primary"),
                  key=lambda n: (n != "primary", n))


def _fsck_store(name: str, opened: Stores, report: FsckReport, *, full: bool, repair: bool,
                workers: int) -> None:
    try:
        store = opened.get(name)
        next(iter(store.list(ARCHIVE_PREFIXES[0])), None)  # can it answer at all?
    except (LookupError, ArchiveError) as e:
        report.warnings.append(f"store {name} cannot be reached ({e}); its copies were not "
                               "checked")
        return
    report.stores.append(name)
    rows = StoredObject.objects.filter(store=name, state__in=LIVE_STATES).values_list(
        "key", "size", "stored_size", "sha256", "codec", "pk"
    )
    check = _check_full if full else _check_metadata
    found = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for problem in pool.map(lambda r: check(store, name, *r), rows.iterator()):
            report.checked += 1
            if problem is not None:
                found.append(problem)
    # Copies marked bad before this run (by a reader, an earlier fsck), not yet healed:
    # read before this run marks its own, so none is counted twice.
    earlier = [Problem(state, name, key, problem or "marked earlier", copy_id=pk)
               for key, state, problem, pk in StoredObject.objects.filter(
                   store=name, state__in=BAD_STATES, swath__isnull=False)
               .values_list("key", "state", "problem", "pk")]
    if repair:
        for problem in found:
            state = StoredObject.State.MISSING if problem.kind == "MISSING" else \
                StoredObject.State.CORRUPT
            mark_bad(problem.copy_id, state, f"fsck: {problem.kind} {problem.detail}".strip())
    report.problems.extend(found)
    report.problems.extend(earlier)
    report.problems.extend(_orphans(store, name, report))
    try:
        report.problems.extend(stale_uploads(store, name, horizon=timedelta(0)))
    except UploadsUnlisted as e:
        report.warnings.append(f"{e}; stale multipart uploads were not checked")


def _check_metadata(store: Store, name: str, key: str, size: int | None,
                    stored_size: int | None, sha256: str, codec: str,
                    copy_id: int | None = None) -> Problem | None:
    try:
        info = store.head(key)
    except ArchiveError as e:
        return Problem("UNREADABLE", name, key, f"HEAD fails: {e}", copy_id)
    if info is None:
        return Problem("MISSING", name, key, "no such object", copy_id)
    if stored_size is not None and info.stored_size != stored_size:
        return Problem("CORRUPT", name, key,
                       f"stored size {info.stored_size}, catalog says {stored_size}", copy_id)
    if info.size is not None and size is not None and info.size != size:
        return Problem("CORRUPT", name, key, f"size {info.size}, catalog says {size}", copy_id)
    if info.sha256 is not None and sha256 and info.sha256 != sha256:
        return Problem("CORRUPT", name, key, f"recorded sha256 {info.sha256[:12]}... differs",
                       copy_id)
    return None


def _check_full(store: Store, name: str, key: str, size: int | None,
                stored_size: int | None, sha256: str, codec: str,
                copy_id: int | None = None) -> Problem | None:
    problem = _check_metadata(store, name, key, size, stored_size, sha256, codec, copy_id)
    if problem is not None:
        return problem
    try:
        # The catalog's codec, not the object's metadata: some servers (rclone) lose
        # user metadata on restart.
        store.verify(key, sha256, codec=codec)
    except ChecksumMismatch as e:
        return Problem("CORRUPT", name, key, str(e), copy_id)
    except ObjectNotFound as e:
        return Problem("MISSING", name, key, str(e), copy_id)
    except TransientArchiveError as e:  # after ops.heal.checking_store's bounded retries
        return Problem("UNREADABLE", name, key, f"GET fails: {e}", copy_id)
    except ArchiveError as e:
        return Problem("CORRUPT", name, key, f"cannot be read: {e}", copy_id)
    return None


def _orphans(store: Store, name: str, report: FsckReport) -> Iterator[Problem]:
    known = set(StoredObject.objects.filter(store=name).values_list("key", flat=True))
    for prefix in ARCHIVE_PREFIXES:
        for info in store.list(prefix):
            report.listed += 1
            if info.key not in known:
                yield Problem("ORPHAN", name, info.key, f"{info.stored_size} bytes, no catalog row")
    recorded = recorded_keys(name)
    for prefix, entry in DERIVED.items():
        for info in store.list(prefix):
            report.listed += 1
            if info.key not in recorded:
                yield Problem("ORPHAN", name, info.key,
                              f"{info.stored_size} bytes, no swath's {entry} names it")


def stale_uploads(store: Store, name: str, horizon: timedelta) -> list[Problem]:
    """Unfinished uploads with no live upload row started within the horizon."""
    cutoff = timezone.now() - horizon
    live = {
        key: started
        for key, started in StoredObject.objects.filter(
            store=name, state=StoredObject.State.UPLOADING
        ).values_list("key", "upload_started_at")
    }
    problems = []
    for upload in store.list_uploads():
        started = live.get(upload.key)
        if started is not None and started > cutoff:
            continue  # in flight, and younger than the horizon
        why = "no upload row" if upload.key not in live else f"started {started:%Y-%m-%d %H:%M}"
        problems.append(Problem("STALE_UPLOAD", name, upload.key, f"{upload.upload_id} ({why})"))
    return problems


def cleanup(store_name: str, older_than: timedelta) -> CleanupReport:
    """Abort stale uploads and mark their rows FAILED; report what was aborted."""
    store = archive.config.get_store(store_name)
    report = CleanupReport()
    try:
        report.aborted = stale_uploads(store, store_name, older_than)
    except UploadsUnlisted as e:
        report.warnings.append(f"{e}; no upload was aborted")
    for problem in report.aborted:
        upload_id = problem.detail.split(" ", 1)[0]
        store.abort_upload(problem.key, upload_id)
        StoredObject.objects.filter(
            store=store_name, key=problem.key, state=StoredObject.State.UPLOADING
        ).update(state=StoredObject.State.FAILED)
    return report
