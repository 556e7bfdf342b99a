"""Catalog operations: short transactions and race-safe state transitions.

Every transition is `filter(id=..., state=OLD).update(state=NEW)` and acts only if
one row changed, so two workers can never both believe they own a swath. No
function here does slow I/O while a transaction is open (RELIABILITY D2).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.gis.geos import GEOSGeometry
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from catalog.models import Collection, StoredObject, Swath, SwathState
from catalog.signals import swath_verified

log = logging.getLogger(__name__)

# After this many failed attempts a swath stays FAILED until a person looks (C4).
MAX_ATTEMPTS = 3


class DuplicateSwath(Exception):
    """The same bytes are already archived; `existing` is the live swath holding them."""

    def __init__(self, existing: Swath) -> None:
        super().__init__(
            f"the same bytes (sha256 {existing.sha256[:12]}...) are already archived as "
            f"{existing.collection.slug}:{existing.granule_id} v{existing.version}"
        )
        self.existing = existing


def get_or_create_collection(slug: str, **defaults: str) -> tuple[Collection, bool]:
    """Return the collection, creating it with defaults (title from the slug)."""
    defaults.setdefault("title", slug.replace("-", " ").replace("_", " ").title())
    return Collection.objects.get_or_create(slug=slug, defaults=defaults)


@dataclass(frozen=True)
class SourceInfo:
    """What the scanner knows of a file before reading it."""

    path: str
    granule_id: str
    size: int
    mtime_ns: int


def find_unchanged(collection_id: int, source: SourceInfo) -> Swath | None:
    """Return the VERIFIED latest version of this granule if the file did not change."""
    latest = (
        Swath.objects.filter(collection_id=collection_id, granule_id=source.granule_id)
        .order_by("-version")
        .only("id", "state", "size", "source_mtime_ns", "version")
        .first()
    )
    if (
        latest is not None
        and latest.state == SwathState.VERIFIED
        and latest.size == source.size
        and latest.source_mtime_ns == source.mtime_ns
    ):
        return latest
    return None


def find_resumable(collection_id: int, granule_id: str) -> Swath | None:
    """Return the latest version if it is unfinished (PENDING, FAILED, lease expired)."""
    latest = (
        Swath.objects.filter(collection_id=collection_id, granule_id=granule_id)
        .order_by("-version")
        .first()
    )
    if latest is None:
        return None
    if latest.state in (SwathState.PENDING, SwathState.FAILED):
        return latest
    if latest.state == SwathState.UPLOADING and latest.lease_until < timezone.now():
        return latest
    return None


def register_swath(
    collection_id: int, source: SourceInfo, fields: dict, ingest_run_id: int | None = None
) -> Swath:
    """Create a PENDING swath (new version if the granule exists) or refresh a resumable one.

    A FAILED row taken up by another ingest run than the one that failed it starts a
    fresh attempt count: MAX_ATTEMPTS bounds the automatic retries (broker redeliveries,
    reconcile; both keep the run or have none), not a data manager's re-run after, say,
    an object-store outage that used up every attempt.
    """
    with transaction.atomic():
        existing = find_resumable(collection_id, source.granule_id)
        if existing is not None:
            fresh = (existing.state == SwathState.FAILED and ingest_run_id is not None
                     and existing.ingest_run_id != ingest_run_id)
            Swath.objects.filter(pk=existing.pk).update(
                source_path=source.path, ingest_run_id=ingest_run_id,
                **({"attempts": 0} if fresh else {}), **fields
            )
            existing.refresh_from_db()
            return existing
        latest = (
            Swath.objects.select_for_update()
            .filter(collection_id=collection_id, granule_id=source.granule_id)
            .order_by("-version")
            .first()
        )
        if latest is not None and latest.state == SwathState.UPLOADING:
            # A live lease: another delivery of the same file is uploading it (a broker
            # redelivery, C3/C4). Its claim_upload will fail, so this one is a no-op.
            return latest
        last = latest.version if latest is not None else None
        return Swath.objects.create(
            collection_id=collection_id,
            granule_id=source.granule_id,
            version=(last or 0) + 1,
            source_path=source.path,
            ingest_run_id=ingest_run_id,
            state=SwathState.PENDING,
            **fields,
        )


def claim_upload(swath_id: int, owner: str, lease_s: int) -> bool:
    """Take the upload lease; False if someone else holds a live one or attempts ran out."""
    now = timezone.now()
    claimable = Swath.objects.filter(pk=swath_id, attempts__lt=MAX_ATTEMPTS).filter(
        state__in=[SwathState.PENDING, SwathState.FAILED]
    ) | Swath.objects.filter(
        pk=swath_id, state=SwathState.UPLOADING, lease_until__lt=now, attempts__lt=MAX_ATTEMPTS
    )
    changed = Swath.objects.filter(pk__in=claimable.values("pk")).update(
        state=SwathState.UPLOADING,
        lease_owner=owner,
        lease_until=now + timedelta(seconds=lease_s),
        attempts=F("attempts") + 1,
        failure_reason="",
    )
    if changed == 1:
        # The attempts before this one are over (failed, or their lease ran out): an object
        # row one left UPLOADING names bytes that never became a copy. Marked FAILED, it is
        # what reconcile adopts or deletes; left UPLOADING it stayed so for ever when a
        # worker died mid-PutObject (no multipart upload for `archive cleanup` to find).
        StoredObject.objects.filter(swath_id=swath_id, state=StoredObject.State.UPLOADING
                                    ).update(state=StoredObject.State.FAILED)
    return changed == 1


def renew_lease(swath_id: int, owner: str, lease_s: int) -> bool:
    """Extend a live upload lease by ``lease_s`` from now; False if ``owner`` no longer holds it."""
    return Swath.objects.filter(
        pk=swath_id, state=SwathState.UPLOADING, lease_owner=owner
    ).update(lease_until=timezone.now() + timedelta(seconds=lease_s)) == 1


def expire_dead_leases(ingest_run_id: int, owner_prefix: str) -> int:
    """End now the upload leases a dead process held for its run's swaths; return how many.

    ``owner_prefix`` names that process (lease owners are "host:pid:attempt"); the run
    id keeps a later process that reuses the pid out of it. The swaths are then taken
    up by the next ingest or reconcile at once, not when the lease would have run out.
    """
    return Swath.objects.filter(
        ingest_run_id=ingest_run_id, state=SwathState.UPLOADING,
        lease_owner__startswith=owner_prefix, lease_until__gt=timezone.now(),
    ).update(lease_until=timezone.now())


def start_object(swath_id: int, store: str, key: str, codec: str) -> StoredObject:
    """Record an upload about to start, with the database's own start time (cleanup horizon)."""
    return StoredObject.objects.create(
        swath_id=swath_id, store=store, key=key, codec=codec,
        state=StoredObject.State.UPLOADING, upload_started_at=timezone.now(),
    )


def start_copy(swath_id: int, store: str, key: str, codec: str) -> StoredObject:
    """Record a replica about to be written; a failed earlier attempt's row is reused."""
    obj, _ = StoredObject.objects.update_or_create(
        store=store, key=key,
        defaults={"swath_id": swath_id, "codec": codec, "state": StoredObject.State.UPLOADING,
                  "upload_started_at": timezone.now()},
    )
    return obj


def mark_copy_verified(obj_id: int, *, size: int, stored_size: int, sha256: str,
                       etag: str = "") -> None:
    """A replica was written and re-read: it counts toward the policy (and a row reused
    from a MISSING or CORRUPT copy forgets its problem)."""
    StoredObject.objects.filter(pk=obj_id).update(
        state=StoredObject.State.VERIFIED, size=size, stored_size=stored_size, sha256=sha256,
        etag=etag, verified_at=timezone.now(), problem="",
    )


def mark_stored(
    swath_id: int, owner: str, obj_id: int, *, size: int, sha256: str, stored_size: int,
    etag: str = "",
) -> Swath:
    """UPLOADING -> STORED for the lease holder; raise DuplicateSwath if the bytes exist."""
    try:
        with transaction.atomic():
            changed = Swath.objects.filter(
                pk=swath_id, state=SwathState.UPLOADING, lease_owner=owner
            ).update(state=SwathState.STORED, size=size, sha256=sha256)
            if changed != 1:
                raise LeaseLost(f"swath {swath_id}: upload lease of {owner} was lost")
            StoredObject.objects.filter(pk=obj_id).update(
                state=StoredObject.State.STORED, size=size, sha256=sha256,
                stored_size=stored_size, etag=etag,
            )
    except IntegrityError as e:
        existing = Swath.objects.select_related("collection").filter(
            sha256=sha256).exclude(pk=swath_id).first()
        if existing is None:
            raise
        raise DuplicateSwath(existing) from e
    return Swath.objects.get(pk=swath_id)


class LeaseLost(RuntimeError):
    """Another worker took over this swath; this one must stop without writing."""


def mark_verified(swath_id: int, obj_id: int) -> bool:
    """STORED -> VERIFIED once the stored bytes were re-read and matched (I5)."""
    now = timezone.now()
    with transaction.atomic():
        changed = Swath.objects.filter(pk=swath_id, state=SwathState.STORED).update(
            state=SwathState.VERIFIED, verified_at=now, lease_owner="", lease_until=None
        )
        if changed:
            StoredObject.objects.filter(pk=obj_id).update(
                state=StoredObject.State.VERIFIED, verified_at=now
            )
            # Listeners enqueue work (standing orders): only once the row is committed.
            transaction.on_commit(
                lambda: swath_verified.send(sender=Swath, swath_id=swath_id)
            )
    return changed == 1


def mark_failed(
    swath_id: int, reason: str, obj_id: int | None = None, *, owner: str | None = None,
    spend_attempt: bool = False, unless_leased: bool = False,
) -> bool:
    """Any unfinished state -> FAILED with a reason a person understands; True if it was.

    ``spend_attempt`` counts a failure that happened before any upload lease was taken
    (claim_upload counts the others), so reconcile stops retrying an unreadable file.
    ``unless_leased`` leaves alone a row whose live lease another worker holds.

    With ``owner`` (an upload's lease holder) the row changes only while that worker
    still holds it: a worker whose lease passed to another must not fail the other's
    upload (and spend its attempt). Its own object, ``obj_id``, is marked either way.
    """
    with transaction.atomic():
        rows = Swath.objects.filter(pk=swath_id).exclude(state=SwathState.VERIFIED)
        if owner is not None:
            rows = rows.filter(lease_owner=owner)
        if unless_leased:
            rows = rows.exclude(state=SwathState.UPLOADING, lease_until__gt=timezone.now())
        changed = rows.update(
            state=SwathState.FAILED, failure_reason=reason[:2000], lease_owner="",
            lease_until=None, **({"attempts": F("attempts") + 1} if spend_attempt else {}),
        )
        if obj_id is not None:
            StoredObject.objects.filter(pk=obj_id).exclude(
                state=StoredObject.State.VERIFIED
            ).update(state=StoredObject.State.FAILED)
    if changed:
        log.warning("swath %s FAILED: %s", swath_id, reason)
    else:
        log.info("swath %s left as it is (another worker holds it, or it is VERIFIED): %s",
                 swath_id, reason)
    return bool(changed)


def refresh_swath_metadata(swath_id: int, fields: dict, *, apply: bool = True
                           ) -> dict[str, tuple[Any, Any]] | None:
    """Bring a VERIFIED swath's catalog fields up to metadata read again from its object.

    ``fields`` is what register_swath takes at ingest (ingest.pipeline.metadata_fields), so
    a field that mapping gains later is refreshed too. Returns {field: (before, after)} for
    the fields that differ, written (with the row's updated_at) only when ``apply``; None
    when the row is gone or no longer VERIFIED. Entries of ``attrs`` the file does not give
    (quicklook records) are kept. Nothing changes when nothing differs, so a re-run of the
    same metadata writes nothing (and stored STAC items are not rewritten).
    """
    with transaction.atomic():
        row = (Swath.objects.select_for_update()
               .filter(pk=swath_id, state=SwathState.VERIFIED).first())
        if row is None:
            return None
        changes: dict[str, tuple[Any, Any]] = {}
        for name, value in fields.items():
            if name == "attrs":
                value = {**(row.attrs or {}), **value}
            before = getattr(row, name)
            if not _same_value(before, value):
                changes[name] = (before, value)
        if apply and changes:
            Swath.objects.filter(pk=swath_id).update(
                updated_at=timezone.now(), **{name: new for name, (_, new) in changes.items()})
    return changes


def _same_value(before: Any, after: Any) -> bool:
    """Return True if a stored field value equals a freshly read one (geometries vertex for
    vertex, JSON documents after a JSON round trip)."""
    if isinstance(before, GEOSGeometry) or isinstance(after, GEOSGeometry):
        if before is None or after is None:
            return before is after
        return before.equals_exact(after, 1e-9)
    if isinstance(before, dict | list) or isinstance(after, dict | list):
        return _json_form(before) == _json_form(after)
    if isinstance(before, memoryview | bytes) and isinstance(after, memoryview | bytes):
        # A BinaryField reads back as a memoryview, which never equals bytes.
        return bytes(before) == bytes(after)
    return before == after


def _json_form(value: Any) -> Any:
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def record_quicklook(swath_id: int, quicklook: dict) -> dict | None:
    """Note a stored quicklook in attrs["quicklook"]; return the record it replaces, if any.

    Raises Swath.DoesNotExist when the row is gone (the caller then deletes the object).
    """
    return _record_stored(swath_id, "quicklook", quicklook)


def record_quicklook_error(swath_id: int, reason: str) -> dict | None:
    """Note why a swath has no quicklook in attrs["quicklook_error"]; return the record
    of the quicklook it had before, if any (a gone row is left be)."""
    return _record_missing(swath_id, "quicklook", reason)


def record_chunk_index(swath_id: int, index: dict) -> dict | None:
    """Note a stored chunk index in attrs["chunk_index"]; return the record it replaces,
    if any (its object is the caller's to delete).

    Raises Swath.DoesNotExist when the row is gone (the caller then deletes the object).
    """
    return _record_stored(swath_id, "chunk_index", index)


def record_chunk_index_error(swath_id: int, reason: str) -> dict | None:
    """Note why a swath has no chunk index in attrs["chunk_index_error"]; return the record
    of the index it had before, if any (a gone row is left be)."""
    return _record_missing(swath_id, "chunk_index", reason)


def _record_stored(swath_id: int, name: str, record: dict) -> dict | None:
    """attrs[name] = record (an object stored beside the swath), dropping name_error."""
    record = {k: _json_text(v) if isinstance(v, str) else v for k, v in record.items()}
    before = _update_attrs(swath_id, {name: record}, drop=f"{name}_error")
    if before is None:
        raise Swath.DoesNotExist(f"swath {swath_id} is gone; its {name.replace('_', ' ')} "
                                 "has no row to go on")
    return _replaced(before.get(name), record)


def _record_missing(swath_id: int, name: str, reason: str) -> dict | None:
    """attrs[name_error] = reason, dropping attrs[name]; return the record dropped."""
    before = _update_attrs(swath_id, {f"{name}_error": _json_text(reason[:500])}, drop=name)
    return _replaced((before or {}).get(name), None)


def _json_text(text: str) -> str:
    """Text a jsonb column takes: names that are not UTF-8 (surrogates) and NULs escaped,
    since quicklook messages quote file names and units come from untrusted files.

    >>> _json_text("caf\\udce9\\x00")
    'caf\\\\udce9\\\\x00'
    """
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def _replaced(old: object, new: dict | None) -> dict | None:
    """The old quicklook (or chunk index) record when it names another object than the
    new one."""
    if not isinstance(old, dict) or not old.get("key"):
        return None
    if new is not None and (old.get("store"), old["key"]) == (new.get("store"), new.get("key")):
        return None
    return old


def _update_attrs(swath_id: int, changes: dict, drop: str) -> dict | None:
    """Merge entries into a swath's attrs and drop one; return the attrs as they were.

    The whole JSON document is rewritten, so the row lock keeps a concurrent writer of
    another entry from being lost; nothing slow happens while it is held. None when
    there is no such row.
    """
    with transaction.atomic():
        before = (Swath.objects.select_for_update().filter(pk=swath_id)
                  .values_list("attrs", flat=True).first())
        if before is None:
            return None
        after = {k: v for k, v in before.items() if k != drop}
        after.update(changes)
        Swath.objects.filter(pk=swath_id).update(attrs=after)
    return before


def time_range(start: datetime | None, end: datetime | None) -> dict:
    """Return start/end fields in order (some granules list them backwards)."""
    if start and end and end < start:
        start, end = end, start
    return {"start_time": start, "end_time": end}
