"""Copies of an archived swath in the stores of a replication policy, each one verified.

Shared by ingest (pipeline.ensure_replicas, once a swath is VERIFIED) and by
`manage.py archive replicate` (ops/replicate.py, for swaths archived before a policy
was raised). A copy counts toward a policy only as a VERIFIED StoredObject, written after
its bytes were re-read from the target and hashed to the catalog's SHA-256
(archive.replication.replicate). Until then its row is UPLOADING, and FAILED if the
copy failed, so an interrupted or failed copy is never counted, and the next run copies
it again: an object an earlier attempt left at the key is kept if it hashes right and
deleted if not.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from django.utils import timezone

import archive.config
from archive.errors import ArchiveError, ChecksumMismatch, ObjectNotFound, TransientArchiveError
from archive.replication import replicate
from archive.stores import Store
from catalog import services
from catalog.models import StoredObject

log = logging.getLogger(__name__)
VERIFIED = StoredObject.State.VERIFIED


@dataclass(frozen=True)
class CopyOutcome:
    """One store of the policy that lacked a VERIFIED copy, and what became of it.

    status: "copied" (bytes streamed and verified), "kept" (an object an earlier attempt
    left there hashed right), "planned" (a dry run), "failed" (reason says why; ``down``
    when the target store itself failed in a way a retry may cure, as when it is
    unreachable) or "skipped" (not tried: the caller gave the store up, reason says why).
    """

    store: str
    status: str
    size: int = 0
    source: str = ""
    reason: str = ""
    down: bool = False

    @property
    def ok(self) -> bool:
        return self.status not in ("failed", "skipped")


def bring_up(swath_id: int, names: list[str], *, dry_run: bool = False,
             skip: Mapping[str, str] | None = None) -> list[CopyOutcome]:
    """Give swath ``swath_id`` a VERIFIED copy in each store of ``names``; return what was
    done for each store that had none (nothing when the swath meets the policy).

    The copy is made from a VERIFIED copy, the policy's stores first (primary first),
    then any other configured store; a source whose bytes fail their hash or are gone is
    passed over for the next. Stores in ``skip`` are not tried (the value says why).
    Raises nothing for a store's sake: failures are outcomes.
    """
    skip = skip or {}
    copies = list(StoredObject.objects.filter(swath_id=swath_id, state=VERIFIED)
                  .order_by("pk"))
    verified = {c.store for c in copies}
    targets = [name for name in names if name not in verified]  # in the policy's order
    if not targets:
        return []
    configured = set(archive.config.configured_names())
    order = {name: i for i, name in enumerate(names)}
    sources = sorted((c for c in copies if c.store in configured),
                     key=lambda c: (order.get(c.store, len(order)), c.pk))
    outcomes = []
    for name in targets:
        if name in skip:
            outcomes.append(CopyOutcome(name, "skipped", reason=skip[name]))
        elif not sources:
            outcomes.append(CopyOutcome(name, "failed", reason="no VERIFIED copy in a "
                                        "configured store to copy from"))
        elif dry_run:
            outcomes.append(CopyOutcome(name, "planned", sources[0].size or 0,
                                        sources[0].store))
        else:
            outcomes.append(_copy_from_first_good(swath_id, sources, name))
    return outcomes


def _copy_from_first_good(swath_id: int, sources: list[StoredObject],
                          name: str) -> CopyOutcome:
    """Copy to store ``name`` from the first source whose bytes are sound."""
    passed_over = []
    for source in sources:
        if not source.sha256:  # nothing to check the copy against: never a source
            passed_over.append(f"{source.store}: no SHA-256 recorded")
            continue
        obj = _claim(swath_id, name, source.key, source.codec)
        if obj is None:  # another process verified this very copy meanwhile
            return CopyOutcome(name, "kept", source.size or 0, source.store)
        try:
            status, size = _copy(source, archive.config.get_store(source.store),
                                 archive.config.get_store(name), obj)
        except (ChecksumMismatch, ObjectNotFound) as e:
            _fail(obj.pk)
            if e.store != source.store:  # the target's fault: no other source helps
                return CopyOutcome(name, "failed", source=source.store, reason=str(e))
            log.warning("swath %s: source %s:%s unusable: %s", swath_id, source.store,
                        source.key, e)
            passed_over.append(f"{source.store}: {e}")
        except (ArchiveError, OSError, LookupError) as e:
            _fail(obj.pk)
            down = isinstance(e, TransientArchiveError) and e.store == name
            return CopyOutcome(name, "failed", source=source.store,
                               reason=f"{type(e).__name__}: {e}", down=down)
        except BaseException:  # Ctrl-C, a time limit: the row must not stay UPLOADING
            _fail(obj.pk)
            raise
        else:
            return CopyOutcome(name, status, size, source.store)
    return CopyOutcome(name, "failed", reason="every VERIFIED copy failed to read back: "
                       + "; ".join(passed_over))


def _claim(swath_id: int, store: str, key: str, codec: str) -> StoredObject | None:
    """Record a copy about to be written (UPLOADING); None if that row is VERIFIED already.

    An earlier attempt's row (FAILED, or UPLOADING after an interruption) is reused; a
    VERIFIED row is never put back to UPLOADING.
    """
    now = timezone.now()
    obj, created = StoredObject.objects.get_or_create(
        store=store, key=key,
        defaults={"swath_id": swath_id, "codec": codec, "state": StoredObject.State.UPLOADING,
                  "upload_started_at": now},
    )
    if created:
        return obj
    taken = StoredObject.objects.filter(pk=obj.pk).exclude(state=VERIFIED).update(
        swath_id=swath_id, codec=codec, state=StoredObject.State.UPLOADING,
        upload_started_at=now)
    return obj if taken == 1 else None


def _copy(source: StoredObject, source_store: Store, target: Store,
          obj: StoredObject) -> tuple[str, int]:
    """Make ``obj``'s copy VERIFIED; return ("copied" or "kept", original bytes)."""
    key, digest = source.key, source.sha256
    if target.head(key) is not None:  # left by an earlier attempt: keep it only if sound
        try:
            info = target.verify(key, digest, codec=source.codec)
        except ChecksumMismatch as e:
            log.warning("%s: the copy an earlier attempt left in %s is unsound (%s); "
                        "copying again", key, target.name, e)
            target.delete(key)
        else:
            services.mark_copy_verified(obj.pk, size=info.size or 0,
                                        stored_size=info.stored_size, sha256=digest,
                                        etag=info.etag or "")
            return "kept", info.size or 0
    (copy,) = replicate(key, source_store, [target], expected_sha256=digest,
                        codec=source.codec)
    services.mark_copy_verified(obj.pk, size=copy.size, stored_size=copy.stored_size,
                                sha256=copy.sha256, etag=copy.etag or "")
    return "copied", copy.size


def _fail(obj_id: int) -> None:
    StoredObject.objects.filter(pk=obj_id).exclude(state=VERIFIED).update(
        state=StoredObject.State.FAILED)
