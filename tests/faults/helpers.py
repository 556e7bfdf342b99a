"""Helpers of the fault suite: seeded source files, bulk-load manifests, waiting, and the
invariant audit."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from archive.streaming import sha256_file
from catalog.models import Collection, StoredObject, Swath


def make_sources(directory: Path, count: int, size: int, seed: int) -> list[Path]:
    """Write `count` distinct synthetic NetCDF4 granules of about `size` bytes."""
    from ingest.synth import write_swath

    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = directory / f"granule_{seed}_{i:03d}.nc"
        write_swath(path, seed=seed * 1000 + i, start=f"2024-03-{1 + i % 28:02d}T0{i % 10}:00:00",
                    target_bytes=size, incompressible=True, compression=None)
        paths.append(path)
    return paths


def catalog_manifest(rows: int, real: list[tuple[str, str, int]], prefix: str) -> list[bytes]:
    """``rows`` bulk-load manifest lines; the first len(real) (key, sha256, size) point at
    real objects, the rest at none. Granule ids are ``prefix`` and the row number."""
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    lines = []
    for i in range(rows):
        key, sha, size = real[i] if i < len(real) else (
            f"swaths/{i:032x}/{i:032x}.nc", f"{i:064x}", 1000)
        start = t0 + timedelta(minutes=5 * i)
        lines.append(json.dumps({
            "granule_id": f"{prefix}{i:06d}.nc", "key": key, "sha256": sha, "size": size,
            "start_time": start.isoformat(),
            "end_time": (start + timedelta(minutes=5)).isoformat(),
            "footprint": "POLYGON((0 0,1 0,1 1,0 1,0 0))",
        }).encode())
    return lines


def wait_until(predicate: Callable[[], object], timeout: float, poll: float = 0.2,
               what: str = "condition") -> object:
    """Return the predicate's first truthy value; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(poll)


def collection(slug: str = "faults") -> Collection:
    return Collection.objects.get_or_create(slug=slug, defaults={"title": slug})[0]


@dataclass
class Audit:
    """The figures RELIABILITY §4 holds, measured over one store and its catalog."""

    verified: int = 0
    differ: list[str] = field(default_factory=list)  # VERIFIED, bytes != source (must be 0)
    missing: list[str] = field(default_factory=list)  # STORED/VERIFIED, no object (must be 0)
    orphans: list[str] = field(default_factory=list)  # objects with no live row
    uploads: int = 0  # multipart uploads listed
    stuck: list[str] = field(default_factory=list)  # UPLOADING rows with an expired lease
    duplicates: list[str] = field(default_factory=list)  # granules with > 1 live object

    def line(self) -> str:
        return (f"verified {self.verified}, differ {len(self.differ)}, missing "
                f"{len(self.missing)}, orphans {len(self.orphans)}, uploads {self.uploads}, "
                f"stuck {len(self.stuck)}, duplicates {len(self.duplicates)}")


def audit(sources: dict[str, Path] | None = None, store_name: str = "primary") -> Audit:
    """Re-read every live copy and compare it with its source file (I1, I2, I4, I5, I6)."""
    from django.utils import timezone

    import archive.config

    store = archive.config.get_store(store_name)
    result = Audit()
    live = StoredObject.objects.filter(
        store=store_name, state__in=["STORED", "VERIFIED"]).select_related("swath")
    per_granule: dict[str, int] = {}
    for copy in live:
        swath = copy.swath
        per_granule[swath.granule_id] = per_granule.get(swath.granule_id, 0) + 1
        if store.head(copy.key) is None:
            result.missing.append(copy.key)
            continue
        if swath.state != "VERIFIED":
            continue
        result.verified += 1
        expected = (sha256_file(sources[swath.granule_id])
                    if sources and swath.granule_id in sources else swath.sha256)
        try:
            store.verify(copy.key, expected, codec=copy.codec)
        except Exception as e:  # noqa: BLE001 - any failure to re-read counts as a difference
            result.differ.append(f"{copy.key}: {e}")
    result.duplicates = [g for g, n in per_granule.items() if n > 1]
    known = set(StoredObject.objects.filter(store=store_name).exclude(
        state__in=["FAILED", "MISSING"]).values_list("key", flat=True))
    result.orphans = [o.key for o in store.list("swaths/") if o.key not in known]
    result.uploads = len(store.list_uploads())
    result.stuck = [
        f"{s.granule_id} v{s.version}"
        for s in Swath.objects.filter(state="UPLOADING", lease_until__lt=timezone.now())
    ]
    return result


def cleanup_all(store_name: str = "primary") -> int:
    """What the periodic cleanup does, with a zero horizon: abort every stale upload."""
    from ops.fsck import cleanup

    return len(cleanup(store_name, timedelta(0)).aborted)
