"""Catalog versus store: find MISSING, CORRUPT, ORPHAN and STALE_UPLOAD objects.

Reports in the spirit of `rclone check --combined` and iRODS `ifsck`: one line per
problem, a non-zero exit when there is any. `fsck` only reads; `cleanup` aborts
stale uploads, measuring their age by the database's own start times (I3).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone

import archive.config
from archive.errors import ArchiveError, ChecksumMismatch, UploadsUnlisted
from archive.stores import Store
from catalog.models import StoredObject

LIVE_STATES = (StoredObject.State.STORED, StoredObject.State.VERIFIED)
ARCHIVE_PREFIXES = ("swaths/", "products/")


@dataclass(frozen=True)
class Problem:
    """One finding: kind (MISSING, CORRUPT, ORPHAN, STALE_UPLOAD), where, and why."""

    kind: str
    store: str
    key: str
    detail: str = ""

    def line(self) -> str:
        tail = f"  {self.detail}" if self.detail else ""
        return f"{self.kind:12s} {self.store}:{self.key}{tail}"


@dataclass
class FsckReport:
    """Everything checked and everything found."""

    checked: int = 0
    listed: int = 0
    problems: list[Problem] = field(default_factory=list)
    # What could not be checked: not a problem of the archive, so not in the exit status.
    warnings: list[str] = field(default_factory=list)

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


def fsck(store_name: str = "primary", *, full: bool = False, workers: int = 8) -> FsckReport:
    """Compare every live copy in a store with the store itself; read-only."""
    store = archive.config.get_store(store_name)
    report = FsckReport()
    rows = StoredObject.objects.filter(store=store_name, state__in=LIVE_STATES).values_list(
        "key", "size", "stored_size", "sha256", "codec"
    )
    check = _check_full if full else _check_metadata
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for problem in pool.map(lambda r: check(store, store_name, *r), rows.iterator()):
            report.checked += 1
            if problem is not None:
                report.problems.append(problem)
    report.problems.extend(_orphans(store, store_name, report))
    try:
        report.problems.extend(stale_uploads(store, store_name, horizon=timedelta(0)))
    except UploadsUnlisted as e:
        report.warnings.append(f"{e}; stale multipart uploads were not checked")
    return report


def _check_metadata(store: Store, name: str, key: str, size: int | None,
                    stored_size: int | None, sha256: str, codec: str) -> Problem | None:
    try:
        info = store.head(key)
    except ArchiveError as e:
        return Problem("CORRUPT", name, key, f"cannot be read: {e}")
    if info is None:
        return Problem("MISSING", name, key, "no such object")
    if stored_size is not None and info.stored_size != stored_size:
        return Problem("CORRUPT", name, key,
                       f"stored size {info.stored_size}, catalog says {stored_size}")
    if info.size is not None and size is not None and info.size != size:
        return Problem("CORRUPT", name, key, f"size {info.size}, catalog says {size}")
    if info.sha256 is not None and sha256 and info.sha256 != sha256:
        return Problem("CORRUPT", name, key, f"recorded sha256 {info.sha256[:12]}... differs")
    return None


def _check_full(store: Store, name: str, key: str, size: int | None,
                stored_size: int | None, sha256: str, codec: str) -> Problem | None:
    problem = _check_metadata(store, name, key, size, stored_size, sha256, codec)
    if problem is not None:
        return problem
    try:
        # The catalog's codec, not the object's metadata: some servers (rclone) lose
        # user metadata on restart.
        store.verify(key, sha256, codec=codec)
    except ChecksumMismatch as e:
        return Problem("CORRUPT", name, key, str(e))
    except ArchiveError as e:
        return Problem("CORRUPT", name, key, f"cannot be read: {e}")
    return None


def _orphans(store: Store, name: str, report: FsckReport) -> Iterator[Problem]:
    known = set(StoredObject.objects.filter(store=name).values_list("key", flat=True))
    for prefix in ARCHIVE_PREFIXES:
        for info in store.list(prefix):
            report.listed += 1
            if info.key not in known:
                yield Problem("ORPHAN", name, info.key, f"{info.stored_size} bytes, no catalog row")


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
