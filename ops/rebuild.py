"""Rebuild catalog rows from a store alone: `manage.py archive rebuild-catalog`.

For the day the catalog is lost and no backup is usable. Every object under
`swaths/<swath uuid>/` becomes a Swath and its StoredObject again. The object's user
metadata gives sha256, size and codec when the server kept them (rclone forgets user
metadata on restart; multipart objects carry a sha256 only when the uploader passed
it); whatever is missing is recomputed by reading the object. Times and footprint
are not in the metadata: each object is read once into a temporary file, hashed, and
inspected in the reusable inspection child, so rows come back searchable by region
and time. Rows come back STORED, or VERIFIED with `verify=True` when the re-read
bytes hash to the sha256 recorded with the object. Swath uuids already catalogued
are skipped, so a re-run adds nothing twice.
"""

from __future__ import annotations

import hashlib
import logging
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from django.db import IntegrityError, transaction
from django.utils import timezone

import archive.config
from archive.errors import ArchiveError
from archive.stores import Store
from catalog.models import Collection, StoredObject, Swath, SwathState

log = logging.getLogger(__name__)
_SWATH_KEY = re.compile(r"^swaths/([0-9a-f]{32})/[^/]+$")
_CODEC_SUFFIX = {".gz": "gzip", ".zst": "zstd"}
_FORMAT_SUFFIX = {".nc": "netcdf4", ".h5": "hdf5", ".he5": "hdfeos5"}


@dataclass
class RebuildResult:
    """What a rebuild found and did; `lines` has one line per object."""

    listed: int = 0
    created: int = 0
    verified: int = 0
    skipped: int = 0
    failed: int = 0
    rehashed: int = 0
    lines: list[str] = field(default_factory=list)


def codec_of(key: str, recorded: str | None) -> str:
    """The object's codec: as recorded, else from the key's suffix (keys end .gz/.zst).

    >>> codec_of("swaths/ab/cd.nc.gz", None)
    'gzip'
    >>> codec_of("swaths/ab/cd.nc", None)
    'none'
    """
    if recorded:
        return recorded
    return _CODEC_SUFFIX.get(Path(key).suffix, "none")


def rebuild_catalog(collection_slug: str, store_name: str = "primary", *,
                    verify: bool = False, inspect: bool = True,
                    tmp_dir: str | None = None) -> RebuildResult:
    """Recreate Swath and StoredObject rows for every swath object in the store."""
    store = archive.config.get_store(store_name)
    coll, _ = Collection.objects.get_or_create(
        slug=collection_slug, defaults={"title": collection_slug.replace("-", " ").title()})
    known = {u.hex for u in Swath.objects.values_list("uuid", flat=True)}
    known_keys = set(StoredObject.objects.filter(store=store_name).values_list("key", flat=True))
    result = RebuildResult()
    for listed in store.list("swaths/"):
        result.listed += 1
        match = _SWATH_KEY.match(listed.key)
        if match is None:
            result.lines.append(f"IGNORED {listed.key}: not a swath object key")
            continue
        swath_uuid = match.group(1)
        if listed.key in known_keys or swath_uuid in known:
            result.skipped += 1
            continue
        try:
            line = _rebuild_one(store, store_name, coll, listed.key, swath_uuid, verify,
                                inspect, tmp_dir, result)
        except (ArchiveError, OSError) as e:
            result.failed += 1
            line = f"FAILED {listed.key}: {e}"
        result.lines.append(line)
    return result


def _rebuild_one(store: Store, store_name: str, coll: Collection, key: str,
                 swath_uuid: str, verify: bool, inspect: bool, tmp_dir: str | None,
                 result: RebuildResult) -> str:
    info = store.head(key)
    if info is None:
        raise ArchiveError(f"{key} vanished while listing")
    codec = codec_of(key, info.codec)
    recorded = info.sha256
    fields: dict = {}
    digest, size = recorded, info.size
    if verify or inspect or recorded is None or size is None:
        with tempfile.TemporaryDirectory(prefix="rebuild-", dir=tmp_dir) as tmp:
            # Named after the swath: readers that derive a granule id from the file
            # name then give the uuid, never a temporary name.
            plain = Path(tmp) / (swath_uuid + _suffix(key))
            digest, size = _download(store, key, codec, plain)
            result.rehashed += 1
            if inspect:
                fields = _inspect(plain)
    if recorded is not None and digest != recorded:
        state, reason = SwathState.FAILED, (f"rebuild: bytes hash to {digest[:12]}..., the "
                                            f"object's metadata says {recorded[:12]}...")
    elif verify and recorded is not None:
        state, reason = SwathState.VERIFIED, ""
    else:
        state, reason = SwathState.STORED, ""
    granule = fields.pop("granule_id", None) or swath_uuid
    fields.setdefault("format", _FORMAT_SUFFIX.get(Path(key.removesuffix(".gz")
                                                        .removesuffix(".zst")).suffix, ""))
    fields.setdefault("filename", granule)
    now = timezone.now()
    try:
        with transaction.atomic():
            last = (Swath.objects.filter(collection=coll, granule_id=granule)
                    .order_by("-version").values_list("version", flat=True).first())
            swath = Swath.objects.create(
                uuid=swath_uuid, collection=coll, granule_id=granule[:255],
                version=(last or 0) + 1, size=size,
                sha256=digest if state != SwathState.FAILED else None, state=state,
                failure_reason=reason, verified_at=now if state == SwathState.VERIFIED else None,
                **fields,
            )
            StoredObject.objects.create(
                swath=swath, store=store_name, key=key, codec=codec, size=size,
                stored_size=info.stored_size, sha256=digest or "", etag=info.etag or "",
                state=(StoredObject.State.VERIFIED if state == SwathState.VERIFIED
                       else StoredObject.State.STORED if state == SwathState.STORED
                       else StoredObject.State.CORRUPT),
                verified_at=now if state == SwathState.VERIFIED else None,
            )
    except IntegrityError as e:
        result.failed += 1
        return f"DUPLICATE {key}: the same bytes are already catalogued ({e.__class__.__name__})"
    if state == SwathState.FAILED:
        result.failed += 1
        return f"CORRUPT {key}: {reason}"
    result.created += 1
    result.verified += state == SwathState.VERIFIED
    return f"{state} {key} -> swath {swath.pk} {granule}"


def _suffix(key: str) -> str:
    name = Path(key).name
    for ending in (".gz", ".zst"):
        name = name.removesuffix(ending)
    return Path(name).suffix


def _download(store: Store, key: str, codec: str, dest: Path) -> tuple[str, int]:
    """Copy the object's original bytes to dest; return their sha256 and size."""
    digest = hashlib.sha256()
    size = 0
    with store.open(key, codec=codec) as stream, open(dest, "wb") as out:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    return digest.hexdigest(), size


def _inspect(path: Path) -> dict:
    """Catalog fields read from the file, or {} if it cannot be read (rows stay findable by
    id). ingest's reading side is used lazily: catalog/ otherwise imports only archive/."""
    from ingest.inspect import InspectError
    from ingest.pipeline import inspect_granule, metadata_fields

    try:
        meta = inspect_granule(path)
    except InspectError as e:
        log.warning("rebuild: cannot inspect %s: %s", path.name, e.reason)
        return {}
    fields = metadata_fields(meta)
    fields.pop("filename", None)  # the temporary file's name, not the granule's
    if meta.granule_id:
        fields["granule_id"] = meta.granule_id
    return fields

