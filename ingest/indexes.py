"""Chunk indexes of archived swaths: stored beside the object, recorded in the catalog.

A chunk index (ingest.chunkindex: kerchunk references, version 1, JSON) lets any client
open a NetCDF4/HDF5 swath by byte ranges of its object. It is made:
- at ingest (``attach_chunk_index``), right after the swath is VERIFIED, from the file
  still at hand, when ``INGEST_CHUNK_INDEX`` is on;
- for an existing archive by ``manage.py index`` (``index_swaths``), from the verified
  copy in a store, read by byte ranges.

Either way the file's structure is parsed in the sandboxed inspection child
(ingest.inspector), so a corrupt object costs only its index. The document goes to
``indexes/<swath>/<attempt>.json`` (archive.keys.index_key) in the store of the object,
and ``attrs["chunk_index"]`` records where, its SHA-256 and the SHA-256 of the object it
describes (catalog.services.record_chunk_index). Only objects stored as they are (codec
none) can be indexed: a compressed object's byte ranges are not the file's. When no index
can be made, ``attrs["chunk_index_error"]`` says why; a swath never fails for it.
"""

from __future__ import annotations

import io
import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import F, Q, QuerySet
from django.db.models.fields.json import KT

import archive.config
from archive.errors import ArchiveError, ChecksumMismatch
from archive.keys import index_key
from catalog import services
from catalog.copies import verified_copy_in
from catalog.models import StoredObject, Swath, SwathState
from ingest.chunkindex import FORMAT, NotIndexable, count_refs, dumps

log = logging.getLogger(__name__)
CONTENT_TYPE = "application/json"
RANGED_BLOCK = 1 << 20  # the inspection child asks for runs of its own 1 MiB blocks


def compressed_reason(codec: str) -> str:
    """Why an object stored with ``codec`` has no chunk index."""
    return (f"stored {codec}-compressed: byte ranges of the object are not byte ranges of "
            "the file, so chunks cannot be referenced (only objects stored as they are, "
            "codec none, are indexed)")


def attach_chunk_index(swath_id: int, path: Path, codec: str, store_name: str = "primary",
                       changed: Callable[[], str] | None = None) -> None:
    """Build, store and record the chunk index of a VERIFIED swath from its source file
    (if INGEST_CHUNK_INDEX); ``changed()`` says how the file changed since it was archived.

    Raises nothing for the file's or the store's sake: the swath is VERIFIED already; the
    reason lands in attrs["chunk_index_error"].
    """
    if not settings.INGEST_CHUNK_INDEX:
        return
    row = (Swath.objects.filter(pk=swath_id)
           .values("uuid", "sha256", geolocation=KT("attrs__geolocation")).first())
    if row is None:
        return
    if codec != "none":
        _record_error(swath_id, compressed_reason(codec), path.parent)
        return
    from ingest.inspector import pooled

    try:
        doc = pooled().chunk_index(path, timeout_s=settings.INGEST_INSPECT_TIMEOUT_S,
                                   object_sha256=row["sha256"],
                                   geo_pairs=geolocation_pairs(row["geolocation"]))
        moved = changed() if changed is not None else ""
        if moved:
            raise NotIndexable(f"{path.name} changed since it was archived ({moved})")
        store_index(swath_id, row["uuid"].hex, doc, store_name)
    except NotIndexable as e:
        log.info("no chunk index of %s (swath %s): %s", path, swath_id, e)
        _record_error(swath_id, str(e), path.parent)
    # The store or the database may fail in many ways, and a celery soft time limit may
    # land here too: every failure becomes a reason on the row, never the swath's.
    except Exception as e:  # noqa: BLE001
        log.warning("chunk index of %s (swath %s) failed: %s: %s", path, swath_id,
                    type(e).__name__, e)
        _record_error(swath_id, f"{type(e).__name__}: {e}", path.parent)


def geolocation_pairs(account: Any) -> list[tuple[str, str]] | None:
    """The (lat, lon) paths of a swath's geolocation account (attrs["geolocation"]: the
    pairs of its footprint and those set aside), for per-chunk bounds; None when the row
    has no account (then the bounds' builder chooses the pairs again)."""
    if isinstance(account, str):
        account = json.loads(account)
    if not isinstance(account, dict):
        return None
    found = [*(account.get("pairs") or []), *(account.get("set_aside") or [])]
    return [(p["lat"], p["lon"]) for p in found
            if isinstance(p, dict) and isinstance(p.get("lat"), str)
            and isinstance(p.get("lon"), str)]


def store_index(swath_id: int, swath_uuid: str, doc: dict, store_name: str) -> dict:
    """Store a swath's chunk index document and record it; return the record.

    The record replaced, if any, has its object deleted; the new object is deleted again
    if the row is gone (Swath.DoesNotExist is raised then).
    """
    data = dumps(doc)
    store = archive.config.get_store(store_name)
    # A fresh id per attempt, like data keys: an index key is never written twice.
    key = index_key(swath_uuid, uuid.uuid4().hex)
    result = store.put(key, io.BytesIO(data), size=len(data), content_type=CONTENT_TYPE)
    meta = doc.get("swathstore", {})
    record = {"store": store_name, "key": key, "size": result.size, "sha256": result.sha256,
              "object_sha256": meta.get("object_sha256", ""), "format": FORMAT,
              "builder": meta.get("builder", ""), "chunks": count_refs(doc),
              "skipped": len(meta.get("skipped") or {})}
    try:
        replaced = services.record_chunk_index(swath_id, record)
    except BaseException:
        _discard(store_name, key)
        raise
    _drop(replaced)
    return record


def _record_error(swath_id: int, reason: str, folder: Path | None = None) -> None:
    # The reason may be shown to users: the server's directories are not, so only the
    # file's name stays (the log line has the whole path).
    if folder is not None:
        reason = reason.replace(str(folder) + os.sep, "")
    try:
        _drop(services.record_chunk_index_error(swath_id, reason))
    except Exception as e:  # noqa: BLE001 - the swath stays VERIFIED all the same
        log.warning("could not record why swath %s has no chunk index: %s", swath_id, e)


def _drop(record: dict | None) -> None:
    """Delete the object of an index record the row no longer holds (nothing else would)."""
    if record is not None:
        _discard(record.get("store", "primary"), record["key"])


def _discard(store_name: str, key: str) -> None:
    try:
        archive.config.get_store(store_name).delete(key)
    except (ArchiveError, LookupError) as e:  # fsck-like tools may find it later
        log.warning("could not delete chunk index %s from %s: %s", key, store_name, e)


# Existing archives: `manage.py index` --------------------------------------------------


@dataclass
class Outcome:
    """What `index` did for one swath."""

    uuid: str
    granule_id: str
    status: str  # indexed | not_indexable | failed
    message: str = ""
    chunks: int = 0
    size: int = 0  # bytes of the document
    object_size: int = 0
    bytes_read: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        """Return the report line of this swath."""
        head = f"{self.status.upper():13s} {self.uuid} {self.granule_id}"
        if self.status != "indexed":
            return f"{head}: {self.message}"
        return (f"{head}: {self.chunks} chunks, index {self.size / 1e3:.1f} kB for "
                f"{self.object_size / 1e6:.2f} MB, {self.bytes_read / 1e6:.2f} MB read, "
                f"{self.seconds:.2f} s")


@dataclass
class Report:
    """Every swath's outcome, and whether the run was stopped before the end."""

    outcomes: list[Outcome] = field(default_factory=list)
    stopped: bool = False

    def count(self, status: str) -> int:
        """Return how many swaths ended with ``status``."""
        return sum(1 for o in self.outcomes if o.status == status)

    def summary(self) -> str:
        """Return the closing line of the report."""
        stop = "; stopped early (run again to go on)" if self.stopped else ""
        return (f"index: {len(self.outcomes)} swaths, {self.count('indexed')} indexed, "
                f"{self.count('not_indexable')} not indexable (reason recorded), "
                f"{self.count('failed')} failed (left for the next run){stop}")


def pending(collection: str | None = None, uuids: list[str] | None = None, *,
            rebuild: bool = False, retry_failed: bool = False) -> QuerySet[Swath]:
    """Return the VERIFIED swaths a run covers: those without an index of their current
    object and without a recorded reason (``retry_failed``: with one too; ``rebuild``:
    all)."""
    rows = Swath.objects.filter(state=SwathState.VERIFIED)
    if collection:
        rows = rows.filter(collection__slug=collection)
    if uuids:
        rows = rows.filter(uuid__in=uuids)
    if rebuild:
        return rows
    # An index of another object than the swath's (sha256 differs) counts as none.
    rows = (rows.annotate(indexed_sha256=KT("attrs__chunk_index__object_sha256"))
            .filter(Q(indexed_sha256__isnull=True) | ~Q(indexed_sha256=F("sha256"))))
    if not retry_failed:
        rows = rows.exclude(attrs__has_key="chunk_index_error")
    return rows


def batches(rows: QuerySet[Swath], size: int) -> Iterator[list[Swath]]:
    """Yield the rows ``size`` at a time in id order (keyset: a row indexed meanwhile,
    which leaves the selection, does not shift the next page)."""
    last = 0
    while True:
        chunk = list(rows.filter(pk__gt=last).order_by("pk")[:size])
        if not chunk:
            return
        yield chunk
        last = chunk[-1].pk


def index_swaths(*, collection: str | None = None, uuids: list[str] | None = None,
                 rebuild: bool = False, retry_failed: bool = False, batch: int = 100,
                 store_name: str = "primary", timeout_s: float | None = None,
                 on_outcome: Callable[[Outcome], None] | None = None,
                 should_stop: Callable[[], bool] | None = None) -> Report:
    """Build the chunk index of every pending swath (see ``pending``) from its verified
    copy in ``store_name``; return the report. A swath whose object cannot be read is
    reported and left for the next run; one that cannot be indexed gets its reason."""
    from ingest.inspector import pooled

    if batch < 1:
        raise ValueError(f"batch must be at least 1, got {batch}")
    timeout = float(timeout_s or settings.INGEST_INSPECT_TIMEOUT_S)
    store = archive.config.get_store(store_name)
    report = Report()
    for chunk in batches(pending(collection, uuids, rebuild=rebuild,
                                 retry_failed=retry_failed), batch):
        for swath in chunk:
            if should_stop is not None and should_stop():
                report.stopped = True
                return report
            outcome = index_swath(swath, store, store_name, pooled(), timeout)
            report.outcomes.append(outcome)
            if on_outcome is not None:
                on_outcome(outcome)
    return report


def index_swath(swath: Swath, store: Any, store_name: str, inspector: Any,
                timeout_s: float) -> Outcome:
    """Build, store and record one swath's chunk index from its verified copy."""
    started = time.perf_counter()
    outcome = Outcome(str(swath.uuid), swath.granule_id, "failed")
    copy = verified_copy_in(swath, store_name)
    if copy is None:
        outcome.message = f"no verified copy in store {store_name!r}"
        return outcome
    outcome.object_size = int(swath.size or 0)
    try:
        if (copy.codec or "none") != "none":
            raise NotIndexable(compressed_reason(copy.codec))
        doc = _build_ranged(swath, copy, store, inspector, timeout_s, outcome)
        record = store_index(swath.pk, swath.uuid.hex, doc, store_name)
    except NotIndexable as e:
        outcome.status, outcome.message = "not_indexable", str(e)
        _record_error(swath.pk, str(e))
        return outcome
    except Swath.DoesNotExist:
        outcome.message = "the swath's row is gone"
        return outcome
    except (ArchiveError, OSError) as e:
        outcome.message = f"reading or writing in {store_name} failed: {e}"
        return outcome
    outcome.status, outcome.chunks, outcome.size = "indexed", record["chunks"], record["size"]
    outcome.seconds = time.perf_counter() - started
    return outcome


def _build_ranged(swath: Swath, copy: StoredObject, store: Any, inspector: Any,
                  timeout_s: float, outcome: Outcome) -> dict:
    """The index of an uncompressed object, built in the child from byte ranges of it."""
    info = store.head(copy.key)
    if info is None:
        raise ArchiveError(f"{copy.key}: the swath's object is missing from {store.name}")
    if (info.sha256 and swath.sha256 and info.sha256 != swath.sha256) or (
            info.size is not None and swath.size and info.size != swath.size):
        raise ChecksumMismatch(f"{copy.key}: the stored object does not match the catalog "
                               f"(sha256 {info.sha256}, size {info.size})", key=copy.key)
    if (info.codec or "none") != "none":
        raise NotIndexable(compressed_reason(info.codec))
    ranged = store.open_ranged(copy.key, block_size=RANGED_BLOCK, cache_blocks=8)
    try:
        def serve(start: int, stop: int) -> bytes:
            ranged.seek(start)
            return bytes(ranged.read(stop - start))

        name = Path(swath.filename or "").name or swath.uuid.hex
        return inspector.chunk_index_ranged(
            serve, ranged.size, name, swath.sha256, timeout_s,
            geo_pairs=geolocation_pairs((swath.attrs or {}).get("geolocation")))
    finally:
        outcome.bytes_read = ranged.bytes_read
        ranged.close()
