"""One file through the archive: inspect, register, upload, verify, index, draw a quicklook.

The order is the one of STYLE.md's data flow: the row is written and committed
before any byte moves, the upload runs with no transaction open, and the row becomes
VERIFIED only after the stored bytes were found to match (invariants I1, I5: read back, or
the SHA-256 the store checked on arrival; docs/ARCHITECTURE.md, "Verification").
The chunk index (ingest.indexes) and the quicklook come after that commit, so they can
neither fail nor delay the swath. ``stage_file`` stops at STORED and returns the rest as a
StoredFile, so a bulk run verifies one file while its worker uploads the next.
"""

from __future__ import annotations

import io
import logging
import os
import socket
import stat
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.contrib.gis.geos import GEOSGeometry, MultiPolygon
from django.db import DatabaseError

import archive.config
from archive.errors import ArchiveError
from archive.faults import fault_point
from archive.keys import quicklook_key
from archive.stores import PutResult, Store
from catalog import services
from catalog.models import IngestItem, SwathState
from catalog.policies import ingest_choice, policy_problem, stores_of
from ingest.indexes import attach_chunk_index
from ingest.replicas import bring_up
from ingest.scan import printable

if TYPE_CHECKING:  # numpy and shapely: not at import time for an annotation
    from ingest.metadata import SwathMetadata

log = logging.getLogger(__name__)
# One DEBUG line per file with the seconds of each step (benchmarks/ingest_bench.py reads
# them); outside "ingest" so the CLI's quieting of library warnings leaves it alone.
timing_log = logging.getLogger("timings.ingest")

# Formats whose internal chunking allows ranged reads: stored as they are.
RANGE_READABLE_FORMATS = {"netcdf4", "hdf5", "hdfeos5"}
SUFFIX = {"netcdf3": ".nc", "netcdf4": ".nc", "hdf5": ".h5", "hdfeos5": ".he5"}
CODEC_SUFFIX = {"none": "", "gzip": ".gz", "zstd": ".zst"}


@dataclass
class FileOutcome:
    """What happened to one file: new, skipped or failed, and why."""

    path: str
    status: str  # "new" | "skipped" | "failed"
    reason: str = ""
    size: int = 0
    swath_id: int | None = None
    seconds: float = 0.0


def record_outcome(run_id: int, outcome: FileOutcome) -> None:
    """Write one file's outcome to its ingest run (an IngestItem row)."""
    IngestItem.objects.create(
        run_id=run_id, path=outcome.path, status=outcome.status, reason=outcome.reason[:4000],
        size=outcome.size, seconds=outcome.seconds, swath_id=outcome.swath_id,
    )


def worker_id() -> str:
    """Lease owner name: host, pid and a random part, unique per attempt."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def source_info(path: Path) -> services.SourceInfo:
    """Stat a file without following links; refuse anything but a regular file."""
    st = os.lstat(path)
    if not stat.S_ISREG(st.st_mode):
        raise ValueError(f"{path} is not a regular file")
    # Names may not be UTF-8: the catalog keeps them escaped (keys never use them).
    return services.SourceInfo(
        path=printable(path), granule_id=printable(path.name), size=st.st_size,
        mtime_ns=st.st_mtime_ns,
    )


def metadata_fields(meta: object) -> dict:
    """Catalog fields from a SwathMetadata: the one mapping ingest, rebuild-catalog and
    reinspect apply (catalog.services.register_swath / refresh_swath_metadata write it)."""
    footprint = getattr(meta, "footprint", None)
    geom = None
    if footprint is not None and not footprint.is_empty:
        geom = GEOSGeometry(footprint.wkb_hex, srid=4326)
        if geom.geom_type == "Polygon":
            geom = MultiPolygon(geom, srid=4326)
    geolocation = getattr(meta, "geolocation", None) or {}
    attrs = {
        "global_attrs": getattr(meta, "global_attrs", {}),
        "variables": getattr(meta, "variables", {}),
        "geolocation": geolocation,
        "time_source": getattr(meta, "time_source", ""),
        "n_valid_points": getattr(meta, "n_valid_points", None),
    }
    return {
        "filename": printable(Path(meta.path).name),
        "format": meta.format or "",
        "platform": getattr(meta, "platform", None) or "",
        "constellation": getattr(meta, "constellation", None) or "",
        "instrument": getattr(meta, "instrument", None) or "",
        "processing_level": getattr(meta, "processing_level", None) or "",
        "orbit": getattr(meta, "orbit", None),
        "orbit_direction": getattr(meta, "orbit_direction", None) or "",
        "relative_orbit": getattr(meta, "relative_orbit", None),
        "orbit_cycle": getattr(meta, "orbit_cycle", None),
        "pass_number": getattr(meta, "pass_number", None),
        "equator_crossing_longitude": getattr(meta, "equator_crossing_longitude", None),
        "footprint": geom,
        "is_empty": bool(getattr(meta, "is_empty", False)),
        "footprint_warning": "; ".join(geolocation.get("warnings") or []),
        "coverage": getattr(meta, "coverage", None),
        "attrs": attrs,
        **services.time_range(meta.start_time, meta.end_time),
    }


def ingest_file(
    path: str | Path,
    collection_id: int,
    *,
    codec: str | None = None,
    policy: str | None = None,
    ingest_run_id: int | None = None,
) -> FileOutcome:
    """Archive one file; never raises for a bad file (the outcome says what failed).

    ``codec``/``policy`` left None take the collection's (catalog.policies.ingest_choice).
    """
    staged = stage_file(path, collection_id, codec=codec, policy=policy,
                        ingest_run_id=ingest_run_id)
    return staged if isinstance(staged, FileOutcome) else staged.finish()


def stage_file(
    path: str | Path,
    collection_id: int,
    *,
    codec: str | None = None,
    policy: str | None = None,
    ingest_run_id: int | None = None,
) -> FileOutcome | StoredFile:
    """Archive one file up to STORED: its outcome if it ended sooner, else a StoredFile
    whose ``finish()`` (in any thread) verifies it and returns the outcome.

    A bulk run overlaps one file's verification, chunk index and quicklook with the next
    file's inspection and upload this way (ingest.bulk). Never raises for a bad file.
    """
    path = Path(path)
    if codec is None or policy is None:
        choice = ingest_choice(collection_id, codec, policy)
        codec, policy = choice.codec, choice.policy
    clock = FileClock()
    staged: FileOutcome | StoredFile | None = None
    try:
        with clock.segment():
            staged = _stage_file(path, collection_id, codec, policy, ingest_run_id, clock)
    finally:
        if not isinstance(staged, StoredFile):  # this file's last line is written now
            clock.log(path)
    if isinstance(staged, StoredFile):
        staged.policy, staged.clock = policy, clock
    return staged


class FileClock:
    """Wall seconds per step of one file and CPU seconds of the threads that handled it
    and of their inspection children, for the DEBUG timing line (ingest_bench reads it)."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.timings: dict[str, float] = {"inspect": 0.0, "upload": 0.0, "verify": 0.0,
                                          "db": 0.0, "quicklook": 0.0, "index": 0.0,
                                          "thread_cpu": 0.0, "child_cpu": 0.0}

    @contextmanager
    def segment(self) -> Iterator[None]:
        """Count this thread's CPU and its inspection child's while the block runs."""
        cpu = (time.thread_time(), _child_cpu_s())
        try:
            yield
        finally:
            # Upload threads' hashing (multipart) is not in this thread's figure.
            self.timings["thread_cpu"] += time.thread_time() - cpu[0]
            self.timings["child_cpu"] += _child_cpu_s() - cpu[1]

    def log(self, path: Path) -> None:
        if timing_log.isEnabledFor(logging.DEBUG):
            total = time.perf_counter() - self.started
            timing_log.debug("%s total=%.3f %s", printable(path), total,
                             " ".join(f"{k}={v:.3f}" for k, v in self.timings.items()))


def _child_cpu_s() -> float:
    from ingest.inspector import pooled

    return pooled().child_cpu_s


def _stage_file(
    path: Path, collection_id: int, codec: str, policy: str, ingest_run_id: int | None,
    clock: FileClock,
) -> FileOutcome | StoredFile:
    from ingest.inspect import InspectError

    timings = clock.timings
    try:
        source = source_info(path)
    except (OSError, ValueError) as e:
        return FileOutcome(printable(path), "failed", f"cannot read: {e}")
    age = time.time() - source.mtime_ns / 1e9
    if age < settings.INGEST_MIN_FILE_AGE_S:
        return FileOutcome(source.path, "skipped", f"modified {age:.0f} s ago, younger than "
                           f"INGEST_MIN_FILE_AGE_S={settings.INGEST_MIN_FILE_AGE_S}", source.size)
    mark = time.perf_counter()
    unchanged = services.find_unchanged(collection_id, source)
    timings["db"] += time.perf_counter() - mark
    if unchanged:
        problem = ensure_replicas(unchanged.pk, policy)
        if problem:
            return FileOutcome(source.path, "failed", problem, source.size, unchanged.pk)
        return FileOutcome(source.path, "skipped", "already VERIFIED, unchanged", source.size)

    mark = time.perf_counter()
    try:
        fields = metadata_fields(inspect_granule(path))
    except InspectError as e:
        swath = services.register_swath(
            collection_id, source, {"filename": source.granule_id}, ingest_run_id
        )
        # Another delivery of this file may hold a live upload lease on the row (a broker
        # redelivery): this inspection's failure, a timeout under load say, must not
        # fail that upload, which would then be discarded at mark_stored.
        if not services.mark_failed(swath.pk, str(e), spend_attempt=True, unless_leased=True):
            return FileOutcome(source.path, "skipped", f"another worker is uploading it; "
                               f"this inspection failed: {e}", source.size, swath.pk)
        return FileOutcome(source.path, "failed", str(e), source.size, swath.pk)
    timings["inspect"] += time.perf_counter() - mark
    mark = time.perf_counter()
    fields["source_mtime_ns"] = source.mtime_ns
    swath = services.register_swath(collection_id, source, fields, ingest_run_id)
    timings["db"] += time.perf_counter() - mark
    return store_swath(swath.pk, path, source, fields["format"], codec, timings=timings)


def inspect_granule(path: str | Path) -> SwathMetadata:
    """The granule's metadata, read in this thread's inspection child under the ingest
    settings' limits; raises ingest.inspect.InspectError."""
    from ingest.inspector import inspect_pooled

    return inspect_pooled(path, timeout_s=settings.INGEST_INSPECT_TIMEOUT_S,
                          max_unwrapped_bytes=settings.INGEST_UNWRAP_MAX_MB * 2**20)


def ensure_replicas(swath_id: int, policy: str) -> str:
    """Copy a VERIFIED swath to every store of its policy, each copy verified; '' when done,
    else the reason (ingest.replicas.bring_up does the copying, as `archive replicate` does)."""
    problem = policy_problem(policy)
    if problem:
        return problem
    return "; ".join(f"replica in {o.store} failed: {o.reason}"
                     for o in bring_up(swath_id, stores_of(policy)) if not o.ok)


def auto_codec(fmt: str, size: int) -> str:
    """Return the codec "auto" stands for with a file of format ``fmt`` and ``size`` bytes.

    NetCDF4/HDF5 are kept as they are (ranged reads, a chunk index). So is NetCDF classic
    from INGEST_CLASSIC_AS_IS_MB up: a regional cut of a large one by ranged reads took
    half the time of downloading and decoding its zstd copy, while for the small classic
    granules (a few MB) a cut reads the whole object either way and zstd halves what is
    stored (docs/BENCHMARKS.md, "NetCDF classic"). Other formats: zstd.
    """
    if fmt in RANGE_READABLE_FORMATS:
        return "none"
    if fmt == "netcdf3" and size >= settings.INGEST_CLASSIC_AS_IS_MB * 2**20:
        return "none"
    return "zstd"


def upload_swath(
    swath_id: int, path: Path, source: services.SourceInfo, fmt: str, codec: str,
    store_name: str = "primary", timings: dict[str, float] | None = None,
) -> FileOutcome:
    """Upload a registered swath under a lease, then verify it; idempotent per swath.

    ``timings``, when given, accumulates the seconds spent in upload, verify and db.
    """
    staged = store_swath(swath_id, path, source, fmt, codec, store_name, timings)
    return staged if isinstance(staged, FileOutcome) else staged.finish()


def store_swath(
    swath_id: int, path: Path, source: services.SourceInfo, fmt: str, codec: str,
    store_name: str = "primary", timings: dict[str, float] | None = None,
) -> FileOutcome | StoredFile:
    """Upload a registered swath under a lease up to STORED: the outcome if it ended
    sooner, else the StoredFile whose ``finish()`` verifies it (upload_swath's first half).
    """
    from catalog.models import Swath

    if timings is None:
        timings = {"upload": 0.0, "verify": 0.0, "db": 0.0}
    mark = time.perf_counter()
    owner = worker_id()
    if not services.claim_upload(swath_id, owner, settings.UPLOAD_LEASE_S):
        state = Swath.objects.filter(pk=swath_id).values_list("state", flat=True).first()
        reason = f"not uploaded: swath is {state} (another worker, or attempts exhausted)"
        status = "skipped" if state in (SwathState.VERIFIED, SwathState.UPLOADING) else "failed"
        return FileOutcome(source.path, status, reason, source.size, swath_id)

    store = archive.config.get_store(store_name)
    if codec == "auto":
        codec = auto_codec(fmt, source.size)
    swath_uuid = Swath.objects.values_list("uuid", flat=True).get(pk=swath_id)
    # A fresh object id per attempt: no key is ever written twice, even on servers
    # that ignore If-None-Match (see docs/ARCHITECTURE.md, "Keys").
    key = f"swaths/{swath_uuid.hex}/{uuid.uuid4().hex}{SUFFIX.get(fmt, '')}{CODEC_SUFFIX[codec]}"
    obj = services.start_object(swath_id, store_name, key, codec)
    stored = StoredFile(swath_id, path, source, store, store_name, key, codec, owner, obj.pk,
                        timings)
    timings["db"] += time.perf_counter() - mark
    try:
        try:
            mark = time.perf_counter()
            with LeaseKeeper(swath_id, owner, settings.UPLOAD_LEASE_S):
                stored.result = store.put(key, path, size=source.size, codec=codec)
            timings["upload"] += time.perf_counter() - mark
        finally:
            # S12: a file that changed while streaming is never archived, whatever
            # the store made of the bytes it was sent.
            changed = _changed(path, source)
        if changed:
            raise ArchiveError(f"{source.path} changed while it was being archived "
                               f"({changed}); it will be retried on the next run")
        fault_point("after_complete_before_commit")
        mark = time.perf_counter()
        result = stored.result
        services.mark_stored(
            swath_id, owner, obj.pk, size=result.size, sha256=result.sha256,
            stored_size=result.stored_size, etag=result.etag or "",
        )
        timings["db"] += time.perf_counter() - mark
    except services.DuplicateSwath as e:
        _discard(store, key)
        Swath.objects.filter(pk=swath_id).delete()
        return FileOutcome(source.path, "skipped", str(e), source.size)
    except (ArchiveError, OSError, services.LeaseLost, SoftTimeLimitExceeded) as e:
        return stored.failed(e)
    return stored


@dataclass
class StoredFile:
    """A swath whose bytes are STORED, not yet VERIFIED: ``finish()`` does the rest.

    The rest is the check of the stored bytes (read back and re-hashed, or the SHA-256 the
    store checked on arrival: I5), VERIFIED, the policy's replicas, then the chunk index
    and the quicklook. It may run in another thread than the upload, while that thread
    goes on with the next file: the row stays STORED (never VERIFIED) until the check
    passed, and a failed check makes it FAILED and discards the object, as it did inline.
    """

    swath_id: int
    path: Path
    source: services.SourceInfo
    store: Store
    store_name: str
    key: str
    codec: str
    owner: str
    obj_id: int
    timings: dict[str, float]
    result: PutResult | None = None
    policy: str | None = None  # set by stage_file: the replicas it brings up once VERIFIED
    clock: FileClock | None = None  # set by stage_file: the file's timing line

    def finish(self) -> FileOutcome:
        """Verify, mark VERIFIED, replicate, index and draw; return the file's outcome."""
        if self.clock is None:
            return self._finish()
        outcome = None
        try:
            with self.clock.segment():
                outcome = self._finish()
        finally:
            self.clock.log(self.path)
        return outcome

    def _finish(self) -> FileOutcome:
        timings, source, result = self.timings, self.source, self.result
        assert result is not None  # only store_swath hands one out, once stored
        try:
            fault_point("after_commit_before_verify")
            mark = time.perf_counter()
            # I5: re-read and re-hashed, or, for a whole object the store checked against
            # our SHA-256 on arrival (SeaweedFS, AWS), that full-object digest by one HEAD.
            self.store.confirm(self.key, result.sha256, codec=self.codec)
            timings["verify"] += time.perf_counter() - mark
            mark = time.perf_counter()
            verified = services.mark_verified(self.swath_id, self.obj_id)
            timings["db"] += time.perf_counter() - mark
        except (ArchiveError, OSError, services.LeaseLost, SoftTimeLimitExceeded) as e:
            return self.failed(e)
        if verified:  # the source file is still at hand: index and draw it now, not later
            mark = time.perf_counter()
            attach_chunk_index(self.swath_id, self.path, self.codec, self.store_name,
                               changed=lambda: _changed(self.path, source))
            timings["index"] = timings.get("index", 0.0) + time.perf_counter() - mark
            mark = time.perf_counter()
            attach_quicklook(self.swath_id, self.path, source, self.store_name)
            timings["quicklook"] = timings.get("quicklook", 0.0) + time.perf_counter() - mark
        if self.policy is not None:
            mark = time.perf_counter()
            problem = ensure_replicas(self.swath_id, self.policy)
            timings["db"] += time.perf_counter() - mark
            if problem:
                return FileOutcome(source.path, "failed", problem, source.size, self.swath_id)
        return FileOutcome(source.path, "new", "", source.size, self.swath_id, result.seconds)

    def failed(self, error: BaseException) -> FileOutcome:
        """Discard the object (if any bytes got there) and mark the swath FAILED."""
        source = self.source
        changed = _changed(self.path, source)
        if changed and "changed while" not in str(error):
            error = ArchiveError(f"{source.path} changed while it was being archived "
                                 f"({changed}); it will be retried on the next run ({error})")
        if self.result is not None:  # bytes reached the store but will never be VERIFIED
            _discard(self.store, self.key)
        if not services.mark_failed(self.swath_id, _failure_reason(error), self.obj_id,
                                    owner=self.owner):
            # Another worker took the swath over (its lease expired here): its outcome
            # is the swath's, and this attempt only leaves its own object behind.
            return FileOutcome(source.path, "skipped", f"lease passed on: {error}",
                               source.size, self.swath_id)
        return FileOutcome(source.path, "failed", str(error), source.size, self.swath_id)


class LeaseKeeper:
    """Renew an upload lease every third of its length while the block runs.

    Without it an upload longer than UPLOAD_LEASE_S (a 700 GB granule at 150 MB/s takes
    78 minutes) would see its lease expire mid-way; reconcile or a redelivered task would
    then start the same upload again, and again, each losing the lease before it ends.
    A lease that another worker took anyway is not renewed: this upload then ends in
    LeaseLost at mark_stored, and its object is discarded.
    """

    def __init__(self, swath_id: int, owner: str, lease_s: int) -> None:
        self.swath_id, self.owner, self.lease_s = swath_id, owner, lease_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{swath_id}", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        from django.db import connection

        try:
            while not self._stop.wait(max(1.0, self.lease_s / 3)):
                try:
                    kept = services.renew_lease(self.swath_id, self.owner, self.lease_s)
                except DatabaseError as e:  # the next beat may reach the database again
                    log.warning("could not renew the upload lease of swath %s: %s",
                                self.swath_id, e)
                    continue
                if not kept:
                    log.warning("swath %s: upload lease of %s passed to another worker; "
                                "this upload will be discarded", self.swath_id, self.owner)
                    return
        finally:
            connection.close()  # this thread's own connection


def attach_quicklook(swath_id: int, path: Path, source: services.SourceInfo,
                     store_name: str = "primary") -> None:
    """Render, store and record the quicklook of a VERIFIED swath (if INGEST_QUICKLOOKS).

    Raises nothing for the file's or the store's sake: the swath is VERIFIED already and
    a picture is never worth failing it; the reason lands in attrs["quicklook_error"].
    """
    from catalog.models import Swath

    if not settings.INGEST_QUICKLOOKS:
        return
    # Here, not at the top: processes that never draw need not load netCDF4 and Pillow.
    from ingest.quicklook import NothingToDraw

    row = Swath.objects.filter(pk=swath_id).values("uuid", "is_empty").first()
    if row is None or row["is_empty"]:  # empty: nothing to draw, and nothing wrong either
        return
    try:
        _store_quicklook(swath_id, row["uuid"].hex, path, source, store_name)
    except NothingToDraw as e:
        log.info("no quicklook of %s: %s", source.path, e)
        _record_failure(swath_id, path, str(e))
    # Untrusted files make netCDF-C/HDF5 raise anything, and a celery soft time limit may
    # land here too: every failure becomes a reason on the row, never the swath's.
    except Exception as e:  # noqa: BLE001
        log.warning("quicklook of %s (swath %s) failed: %s: %s", source.path, swath_id,
                    type(e).__name__, e)
        _record_failure(swath_id, path, f"{type(e).__name__}: {e}")


def _record_failure(swath_id: int, path: Path, reason: str) -> None:
    # The reason is public (the quicklook URL's 404 says it): the server's directories
    # are not, so only the file's name stays; the log line above has the whole path.
    for folder in {str(path.parent), printable(path.parent)}:
        reason = reason.replace(folder + os.sep, "")
    try:
        _drop_quicklook(services.record_quicklook_error(swath_id, reason))
    except DatabaseError as e:  # the swath stays VERIFIED all the same
        log.warning("could not record why swath %s has no quicklook: %s", swath_id, e)


def _store_quicklook(swath_id: int, swath_uuid: str, path: Path, source: services.SourceInfo,
                     store_name: str) -> None:
    from ingest.inspector import quicklook_pooled
    from ingest.quicklook import QuicklookError

    # Drawn in this thread's inspection child: netCDF-C never reads the untrusted file
    # in this process, and a hang or crash there costs only the picture.
    look = quicklook_pooled(path, timeout_s=settings.INGEST_INSPECT_TIMEOUT_S)
    changed = _changed(path, source)
    if changed:
        raise QuicklookError(f"{source.path} changed since it was archived ({changed})")
    store = archive.config.get_store(store_name)
    # A fresh id per attempt, like data keys: a quicklook key is never written twice.
    key = quicklook_key(swath_uuid, uuid.uuid4().hex)
    result = store.put(key, io.BytesIO(look.png), size=len(look.png), content_type="image/png")
    record = {"store": store_name, "key": key, "size": result.size, "sha256": result.sha256,
              "variable": look.variable, "units": look.units, "width": look.width,
              "height": look.height}
    try:
        replaced = services.record_quicklook(swath_id, record)
    except BaseException:
        _discard(store, key)
        raise
    _drop_quicklook(replaced)


def _drop_quicklook(record: dict | None) -> None:
    """Delete the object of a quicklook record the row no longer holds (nothing else would)."""
    if record is None:
        return
    try:
        store = archive.config.get_store(record.get("store", "primary"))
    except LookupError as e:
        log.warning("could not delete old quicklook %s: %s", record["key"], e)
        return
    _discard(store, record["key"])


def _changed(path: Path, before: services.SourceInfo) -> str:
    """Describe how the file changed since it was first looked at, or ''."""
    try:
        after = source_info(path)
    except (OSError, ValueError) as e:
        return f"now unreadable: {e}"
    if after.size != before.size:
        return f"size {before.size} -> {after.size}"
    if after.mtime_ns != before.mtime_ns:
        return "modification time moved"
    return ""


def _discard(store: Store, key: str) -> None:
    try:
        store.delete(key)
    except ArchiveError as e:  # fsck reports it as ORPHAN later
        log.warning("could not delete object %s: %s", key, e)


def _failure_reason(error: BaseException) -> str:
    """The row's failure reason; a time limit says so, its exception's text says nothing."""
    if isinstance(error, SoftTimeLimitExceeded):
        return ("SoftTimeLimitExceeded: the Celery soft time limit was reached while "
                "archiving; nothing was kept (an upload the abort missed is left for "
                "`archive cleanup`)")
    return f"{type(error).__name__}: {error}"
