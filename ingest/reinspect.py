"""Read archived swaths again and bring their catalog rows up to date: `manage.py reinspect`.

It also fills what ingest learnt to measure since, such as the valid-data coverage
(Swath.coverage) of rows catalogued before it existed.

For an archive catalogued by an older reader (a footprint from every lat/lon in the file,
a field ingest has learnt to fill since). Every VERIFIED swath picked is read from its
stored object, never from its source, which may be gone:

- an uncompressed HDF5-based object (NetCDF4, HDF5, HDF-EOS5) where it lies, by byte
  ranges: the inspection child parses them, asking this process for each range
  (ingest.inspector.Inspector.inspect_ranged); only metadata, geolocation, times and the
  main variable (for the valid-data coverage, ingest.validdata) are read. The object's
  recorded SHA-256 and size must match the catalog first.
- any other object (NetCDF3, objects the archive compressed, gzip-wrapped granules) is
  streamed through its codec into a temporary file, checked against the catalog's SHA-256
  as it streams, and inspected like a file being ingested.

The row is rewritten by catalog.services.refresh_swath_metadata with the mapping ingest
uses (ingest.pipeline.metadata_fields), and only where a field differs, so a re-run changes
nothing. Rows are read from the catalog in batches by id, one short transaction per swath;
no transaction is open while an object is read. Stored STAC items follow through the
catalog's triggers (api.stac.storeditems). Collection variable hints are not applied:
ingest does not apply them either, and a re-read gives what ingest would give today.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.db.models import QuerySet

import archive.config
from archive.errors import ArchiveError, ChecksumMismatch
from catalog import services
from catalog.copies import verified_copy_in
from catalog.geometry import EARTH_RADIUS_KM
from catalog.models import StoredObject, Swath, SwathState
from eo.formats import recognise
from ingest.pipeline import metadata_fields

log = logging.getLogger(__name__)
RANGED_BLOCK = 1 << 20  # the inspection child asks for runs of its own 1 MiB blocks
COPY_CHUNK = 1 << 20


@dataclass
class Outcome:
    """What reinspect did to one swath."""

    uuid: str
    granule_id: str
    status: str  # changed | unchanged | failed | gone
    read: str = ""  # ranged | copy
    bytes_read: int = 0
    size: int = 0
    changed: list[str] = field(default_factory=list)  # fields; attrs entries as attrs.<key>
    area_before_km2: float | None = None
    area_after_km2: float | None = None
    warning: str = ""
    message: str = ""

    def line(self, dry_run: bool = False) -> str:
        """Return the report line of this swath."""
        head = f"{self.status.upper():9s} {self.uuid} {self.granule_id}"
        if self.status in ("failed", "gone"):
            return f"{head}: {self.message}"
        how = (f"ranged read, {self.bytes_read / 1e6:.2f} of {self.size / 1e6:.2f} MB"
               if self.read == "ranged" else f"streamed copy, {self.size / 1e6:.2f} MB")
        if self.status == "unchanged":
            return f"{head} ({how})"
        verb = "would change" if dry_run else "changed"
        return (f"{head}: footprint {_km2(self.area_before_km2)} -> "
                f"{_km2(self.area_after_km2)} km2; {verb}: {', '.join(self.changed)}"
                + (f"; warning: {self.warning}" if self.warning else "") + f" ({how})")


def _km2(value: float | None) -> str:
    return "none" if value is None else f"{value:,.0f}"


@dataclass
class Report:
    """Every swath's outcome, and whether the run was stopped before the end."""

    outcomes: list[Outcome] = field(default_factory=list)
    dry_run: bool = False
    stopped: bool = False

    def count(self, status: str) -> int:
        """Return how many swaths ended with ``status``."""
        return sum(1 for o in self.outcomes if o.status == status)

    def summary(self) -> str:
        """Return the closing line of the report."""
        tail = " (dry run: nothing written)" if self.dry_run else ""
        stop = "; stopped early" if self.stopped else ""
        return (f"reinspect: {len(self.outcomes)} swaths, {self.count('changed')} "
                f"{'to change' if self.dry_run else 'changed'}, {self.count('unchanged')} "
                f"unchanged, {self.count('failed')} failed, {self.count('gone')} no longer "
                f"VERIFIED{stop}{tail}")


def selected(collection: str | None = None, uuids: list[str] | None = None
             ) -> QuerySet[Swath]:
    """Return the VERIFIED swaths a run covers (a collection's, some uuids', or all)."""
    rows = Swath.objects.filter(state=SwathState.VERIFIED)
    if collection:
        rows = rows.filter(collection__slug=collection)
    if uuids:
        rows = rows.filter(uuid__in=uuids)
    return rows


def batches(rows: QuerySet[Swath], size: int) -> Iterator[list[Swath]]:
    """Yield the rows ``size`` at a time in id order (keyset: rows added meanwhile are met)."""
    last = 0
    while True:
        chunk = list(rows.filter(pk__gt=last).select_related("collection").order_by("pk")[:size])
        if not chunk:
            return
        yield chunk
        last = chunk[-1].pk


def reinspect(*, collection: str | None = None, uuids: list[str] | None = None,
              dry_run: bool = False, batch: int = 100, store_name: str = "primary",
              timeout_s: float | None = None, tmp_dir: str | None = None,
              on_outcome: Callable[[Outcome], None] | None = None,
              should_stop: Callable[[], bool] | None = None) -> Report:
    """Read the selected VERIFIED swaths again and refresh their rows; return the report.

    A swath that cannot be read (object missing or not matching the catalog, the reader
    failing) is reported and left as it is; the run goes on with the next one.
    """
    from ingest.inspector import pooled

    if batch < 1:
        raise ValueError(f"batch must be at least 1, got {batch}")
    timeout = float(timeout_s or settings.INGEST_INSPECT_TIMEOUT_S)
    store = archive.config.get_store(store_name)
    report = Report(dry_run=dry_run)
    for chunk in batches(selected(collection, uuids), batch):
        for swath in chunk:
            if should_stop is not None and should_stop():
                report.stopped = True
                return report
            outcome = reinspect_swath(swath, store, store_name, pooled(), timeout,
                                      dry_run=dry_run, tmp_dir=tmp_dir)
            report.outcomes.append(outcome)
            if on_outcome is not None:
                on_outcome(outcome)
    return report


def reinspect_swath(swath: Swath, store: Any, store_name: str, inspector: Any,
                    timeout_s: float, *, dry_run: bool = False,
                    tmp_dir: str | None = None) -> Outcome:
    """Read one swath's object again and refresh (or, dry, compare) its row."""
    from ingest.inspect import InspectError

    outcome = Outcome(str(swath.uuid), swath.granule_id, "failed")
    copy = verified_copy_in(swath, store_name)
    if copy is None:
        outcome.message = f"no verified copy in store {store_name!r}"
        return outcome
    try:
        meta = _read(swath, copy, store, inspector, timeout_s, tmp_dir, outcome)
    except InspectError as e:
        outcome.message = f"{e.reason}: {e.message}"
        return outcome
    except (ArchiveError, OSError) as e:
        outcome.message = f"reading {copy.key} from {store_name} failed: {e}"
        return outcome
    fields = metadata_fields(meta)
    fields.pop("filename", None)  # the name the swath was archived under stays
    changes = services.refresh_swath_metadata(swath.pk, fields, apply=not dry_run)
    if changes is None:
        outcome.status, outcome.message = "gone", "the row is no longer VERIFIED"
        return outcome
    outcome.status = "changed" if changes else "unchanged"
    outcome.changed = _changed_names(changes)
    outcome.area_before_km2 = area_km2(swath.footprint)
    outcome.area_after_km2 = area_km2(fields.get("footprint"))
    outcome.warning = fields.get("footprint_warning", "")
    if changes:
        log.info("reinspect %s %s: %s", swath.uuid, "would change" if dry_run else "changed",
                 ", ".join(outcome.changed))
    return outcome


def _read(swath: Swath, copy: StoredObject, store: Any, inspector: Any, timeout_s: float,
          tmp_dir: str | None, outcome: Outcome) -> Any:
    """Return the object's metadata, by ranged reads where the format allows, else a copy."""
    info = store.head(copy.key)
    if info is None:
        raise ArchiveError(f"{copy.key}: the swath's object is missing from {store.name}")
    if (info.sha256 and swath.sha256 and info.sha256 != swath.sha256) or (
            info.size is not None and swath.size and info.size != swath.size):
        raise ChecksumMismatch(f"{copy.key}: the stored object does not match the catalog "
                               f"(sha256 {info.sha256}, size {info.size})", key=copy.key)
    name = _granule_name(swath, copy.key)
    outcome.size = int(swath.size or info.size or 0)
    if (copy.codec or "none") == "none" and (info.codec or "none") == "none":
        ranged = store.open_ranged(copy.key, block_size=RANGED_BLOCK, cache_blocks=8)
        try:
            if recognise(ranged) == "hdf5":

                def serve(start: int, stop: int) -> bytes:
                    ranged.seek(start)
                    return ranged.read(stop - start)

                outcome.read = "ranged"
                try:
                    return inspector.inspect_ranged(serve, ranged.size, name, timeout_s)
                finally:
                    outcome.bytes_read = ranged.bytes_read
        finally:
            ranged.close()
    outcome.read = "copy"
    with tempfile.TemporaryDirectory(prefix="reinspect-", dir=tmp_dir) as tmp:
        # Named as archived: readers label formats and granules by the file name.
        local = Path(tmp) / name
        with store.open(copy.key, expected_sha256=swath.sha256, codec=copy.codec) as stream, \
                open(local, "wb") as out:
            shutil.copyfileobj(stream, out, COPY_CHUNK)
            outcome.bytes_read = out.tell()
        return inspector.inspect(local, timeout_s,
                                 max_unwrapped_bytes=settings.INGEST_UNWRAP_MAX_MB * 2**20)


def _granule_name(swath: Swath, key: str) -> str:
    """Return the swath's file name, safe as a local name (the key's suffix otherwise)."""
    name = Path(swath.filename or "").name.strip()
    if not name or name in (".", "..") or len(name.encode()) > 200:
        return swath.uuid.hex + "".join(Path(key).suffixes[-2:])
    return name


def _changed_names(changes: dict[str, tuple[Any, Any]]) -> list[str]:
    """Return the changed fields, attrs as the entries that differ (attrs.geolocation...)."""
    def text(value: Any) -> str:
        return json.dumps(value, sort_keys=True, default=str)

    names = []
    for name, (before, after) in changes.items():
        if name == "attrs" and isinstance(before, dict) and isinstance(after, dict):
            names += [f"attrs.{key}" for key in sorted(set(before) | set(after))
                      if text(before.get(key)) != text(after.get(key))]
        else:
            names.append(name)
    return names


def area_km2(geom: Any) -> float | None:
    """Return a footprint's area on the sphere in km2 (None without a footprint).

    Edges run straight in longitude/latitude, as the footprint is stored and searched
    (split at +-180, caps closed through the poles), so the area of each ring is
    R^2/2 * |sum((lon[i+1] - lon[i]) * (2 + sin lat[i] + sin lat[i+1]))|, exact for
    areas bounded by meridians and parallels. (Not pyproj: its PROJ beside GDAL's in one
    Django process crashes the interpreter at exit.)
    """
    if geom is None:
        return None
    total = 0.0
    for polygon in geom:
        for i, ring in enumerate(polygon):
            lon, lat = np.radians(np.asarray(ring.coords, dtype=np.float64)).T
            ring_area = abs(np.sum(np.diff(lon) * (2 + np.sin(lat[:-1]) + np.sin(lat[1:]))))
            total += ring_area if i == 0 else -ring_area
    return total / 2 * EARTH_RADIUS_KM**2
