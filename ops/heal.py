"""Heal: rebuild MISSING and CORRUPT copies from a verified copy; LOST when none is left.

A copy goes MISSING or CORRUPT when fsck finds it so (`archive fsck --repair`), when
reconcile finds a VERIFIED copy's object gone, or when a reader (a download, a subset
cut) finds it missing or failing its hash (catalog.copies.mark_bad). Heal then, per swath:

1. takes the swath's VERIFIED copies as sources, the primary store first;
2. streams a source into the bad copy's store and key, writing over whatever is there.
   The target's put hashes the source as it streams, against the catalog's SHA-256,
   and publishes nothing on a mismatch; the source is then marked CORRUPT and never used
   again, and the next source is tried;
3. re-reads the new copy and hashes it: only a match makes the row VERIFIED again;
4. with no VERIFIED copy left, re-verifies the bad copies in place (a copy that could
   not be read for a while may be whole) and, when none hashes right, marks the swath
   LOST with what became of each copy (Swath.failure_reason: API, admin, fsck's report).

A store that fails mid-heal (unreachable, cut off, timing out) is no verdict on the
bytes: the copy being rebuilt stays MISSING or CORRUPT with the failure in its problem,
a source that could not be read stays VERIFIED, and the next heal tries again. Only a
hash mismatch (CORRUPT) or a missing object (MISSING) marks a source bad. A copy whose
object answers HEAD but can never be read (SeaweedFS stalls, or answers HTTP 500, on a
needle that fails its CRC) is fsck's to judge: `fsck --full` calls it UNREADABLE once
its bounded retries fail, `--repair` marks it CORRUPT, and heal rebuilds it. Writing
verified bytes over a copy that was only unavailable is harmless: erring that way costs
a copy, never data.

Reads and writes here use a short retry budget (checking_store: 2 attempts, at most 20 s
of silence per read, not the stores' 10 attempts and 120 s). SeaweedFS answers a GET of a
needle that fails its CRC with HTTP 500 after 10-15 s, or not before the read times out,
every time: about 3 minutes an object over the stores' own budget, 30-40 s over this one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from django.db import close_old_connections, connection
from django.utils import timezone

import archive.config
from archive.errors import ArchiveError, ChecksumMismatch, ObjectNotFound
from archive.stores import Store
from catalog.copies import BAD_STATES, mark_bad, read_order
from catalog.models import StoredObject, Swath, SwathState

log = logging.getLogger(__name__)

VERIFY_MAX_ATTEMPTS = 2
VERIFY_READ_TIMEOUT_S = 20.0
VERIFY_CONNECT_TIMEOUT_S = 5.0
_RECORDED = {"sha256", "size", "codec", "content-type"}
_MISSING, _CORRUPT = StoredObject.State.MISSING, StoredObject.State.CORRUPT
_VERIFIED = StoredObject.State.VERIFIED


@dataclass
class HealReport:
    """One line per finding and action, and the counts a summary needs."""

    lines: list[str] = field(default_factory=list)
    rebuilt: int = 0
    failed: int = 0
    recovered: int = 0
    lost: list[str] = field(default_factory=list)  # swath uuids
    bytes_copied: int = 0

    def add(self, line: str) -> None:
        self.lines.append(line)

    def merge(self, other: HealReport) -> None:
        self.lines.extend(other.lines)
        self.rebuilt += other.rebuilt
        self.failed += other.failed
        self.recovered += other.recovered
        self.lost.extend(other.lost)
        self.bytes_copied += other.bytes_copied

    def summary(self) -> str:
        return (f"heal: {self.rebuilt} copies rebuilt and re-verified, {self.recovered} "
                f"verified in place, {self.failed} not rebuilt, {len(self.lost)} swaths LOST")


def checking_store(name: str) -> Store:
    """Return store ``name`` for verification and healing: an S3 store with a short retry
    budget, opened apart from the shared one; any other store as configured.

    Raises LookupError for a store that is not configured.
    """
    url, options = archive.config.spec(name)
    if not url.startswith("s3://"):
        return archive.config.get_store(name)
    short = {"max_attempts": VERIFY_MAX_ATTEMPTS,
             "read_timeout": min(options.get("read_timeout", 120), VERIFY_READ_TIMEOUT_S),
             "connect_timeout": min(options.get("connect_timeout", 10),
                                    VERIFY_CONNECT_TIMEOUT_S)}
    return archive.config.open_store(url, **{**options, "name": name, **short})


class Stores:
    """The stores one fsck or heal run opens, each once (checking_store)."""

    def __init__(self) -> None:
        self._opened: dict[str, Store] = {}

    def get(self, name: str) -> Store:
        """Return the run's store ``name``; LookupError if it is not configured."""
        if name not in self._opened:
            self._opened[name] = checking_store(name)
        return self._opened[name]


def bad_copies(stores: Iterable[str] | None = None,
               swath_ids: Iterable[int] | None = None) -> list[int]:
    """Return the ids of swaths with a MISSING or CORRUPT copy to heal (VERIFIED or LOST)."""
    rows = StoredObject.objects.filter(
        swath__isnull=False, state__in=BAD_STATES,
        swath__state__in=(SwathState.VERIFIED, SwathState.LOST))
    if stores is not None:
        rows = rows.filter(store__in=list(stores))
    if swath_ids is not None:
        rows = rows.filter(swath_id__in=list(swath_ids))
    return sorted(set(rows.values_list("swath_id", flat=True)))


def heal(*, stores: Iterable[str] | None = None, swath_ids: Iterable[int] | None = None,
         apply: bool = True, workers: int = 1, opened: Stores | None = None) -> HealReport:
    """Rebuild the bad copies in ``stores`` (default all) of ``swath_ids`` (default all).

    Dry run with ``apply=False``: lists the bad copies only. ``workers`` > 1 heals that
    many swaths at once, each in a thread with its own database connection.
    """
    report = HealReport()
    ids = bad_copies(stores, swath_ids)
    wanted = set(stores) if stores is not None else None
    opened = opened or Stores()
    if workers <= 1 or len(ids) <= 1:
        for swath_id in ids:
            report.merge(heal_swath(swath_id, opened, apply=apply, wanted=wanted))
        return report

    def one(swath_id: int) -> HealReport:
        try:
            return heal_swath(swath_id, opened, apply=apply, wanted=wanted)
        finally:
            connection.close()  # this thread's own connection

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for part in pool.map(one, ids):
            report.merge(part)
    close_old_connections()
    return report


def heal_swath(swath_id: int, opened: Stores, *, apply: bool = True,
               wanted: set[str] | None = None) -> HealReport:
    """Heal one swath's bad copies (see the module docstring); return what happened."""
    part = HealReport()
    swath = Swath.objects.filter(pk=swath_id).first()
    if swath is None or swath.state not in (SwathState.VERIFIED, SwathState.LOST):
        return part
    copies = list(swath.copies.filter(state__in=(_VERIFIED, *BAD_STATES)))
    sources = sorted((c for c in copies if c.state == _VERIFIED), key=read_order)
    targets = sorted((c for c in copies if c.state in BAD_STATES
                      and (wanted is None or c.store in wanted)), key=read_order)
    for target in targets:
        part.add(f"{target.state} {target.store}:{target.key} (swath {swath.uuid})"
                 + (f" {target.problem}" if target.problem else ""))
    if not apply or not targets:
        return part
    if not sources:
        sources = _verify_in_place(swath, targets, opened, part)
        targets = [t for t in targets if t not in sources]
    if sources and Swath.objects.filter(pk=swath.pk, state=SwathState.LOST).update(
            state=SwathState.VERIFIED, failure_reason=""):
        part.add(f"RECOVERED swath {swath.uuid}: {sources[0].store}:{sources[0].key} "
                 "hashes right")
    for target in targets:
        if not sources:
            break
        _rebuild(swath, target, sources, opened, part)
    if not StoredObject.objects.filter(swath_id=swath.pk, state=_VERIFIED).exists():
        _mark_lost(swath, part)
    return part


def _verify_in_place(swath: Swath, targets: list[StoredObject], opened: Stores,
                     part: HealReport) -> list[StoredObject]:
    """Return the bad copies whose objects hash right after all, marked VERIFIED again."""
    good = []
    for copy in targets:
        try:
            opened.get(copy.store).verify(copy.key, swath.sha256 or copy.sha256,
                                          codec=copy.codec)
        except (LookupError, ArchiveError):
            continue
        if StoredObject.objects.filter(pk=copy.pk, state__in=BAD_STATES).update(
                state=_VERIFIED, problem="", verified_at=timezone.now()):
            part.recovered += 1
            part.add(f"VERIFIED {copy.store}:{copy.key} hashes right in place")
            good.append(copy)
    return good


def _rebuild(swath: Swath, target: StoredObject, sources: list[StoredObject],
             opened: Stores, part: HealReport) -> None:
    """Rebuild ``target`` from the first source that works; drop sources found bad."""
    where = f"{target.store}:{target.key}"
    try:
        tstore = opened.get(target.store)
    except LookupError as e:
        _note(target, target.state, f"not rebuilt: {e}", part)
        return
    tried = []
    for source in list(sources):
        try:
            sstore = opened.get(source.store)
        except LookupError as e:
            tried.append(f"{source.store}: {e}")
            continue
        outcome = _copy(swath, source, sstore, target, tstore)
        if outcome is None:
            part.rebuilt += 1
            part.bytes_copied += swath.size or target.size or 0
            part.add(f"REBUILT {where} from {source.store}:{source.key}, re-verified")
            return
        side, state, why = outcome
        tried.append(f"from {source.store}: {why}")
        if side == "source":
            if state is not None:  # proven bad: never a source again
                sources.remove(source)
                mark_bad(source.pk, state, f"{why} (while rebuilding {where})")
                part.add(f"{state} {source.store}:{source.key} (source): {why}")
            continue
        # The target failed (its store, or the re-read of what was written): another
        # source would not help now.
        _note(target, state or target.state, f"not rebuilt: {why}", part)
        return
    _note(target, target.state, "not rebuilt: " + ("; ".join(tried) or "no verified source"),
          part)


def _copy(swath: Swath, source: StoredObject, sstore: Store, target: StoredObject,
          tstore: Store) -> tuple[str, str | None, str] | None:
    """Copy one source over the target and re-verify it; None when done.

    Else (side, state, why): which side failed, and the state it is now known to be in
    (MISSING, CORRUPT) or None when it was only unavailable.
    """
    sha = swath.sha256 or source.sha256
    try:
        info = sstore.head(source.key)
    except ArchiveError as e:
        return "source", None, f"cannot be reached: {e}"
    if info is None:
        return "source", _MISSING, "no such object"
    extra = {k: v for k, v in info.metadata.items() if k not in _RECORDED}
    try:
        # No hash on the read side: put hashes the stream it is given, compares the digest
        # with ``sha256`` and publishes nothing on a mismatch (one SHA-256 pass, not two).
        with sstore.open(source.key, codec=source.codec) as stream:
            tstore.put(target.key, stream, size=swath.size or source.size, codec=target.codec,
                       content_type=info.content_type or "application/octet-stream",
                       metadata=extra, sha256=sha, overwrite=True)
    except ChecksumMismatch as e:
        # The put hashes what the source gives it: a mismatch is the source's bytes.
        return "source", _CORRUPT, f"failed its hash: {e}"
    except ObjectNotFound as e:
        if e.store == tstore.name != sstore.name:
            return "target", None, f"write failed: {e}"
        return "source", _MISSING, f"vanished while being read: {e}"
    except (ArchiveError, OSError) as e:
        if isinstance(e, ArchiveError) and e.store == tstore.name != sstore.name:
            return "target", None, f"write failed: {e}"
        return "source", None, f"read failed: {e}"
    try:
        checked = tstore.verify(target.key, sha, codec=target.codec)
    except ChecksumMismatch as e:
        return "target", _CORRUPT, f"written, but the re-read failed its hash: {e}"
    except ArchiveError as e:
        return "target", None, f"written, but could not be re-read: {e}"
    StoredObject.objects.filter(pk=target.pk, state__in=BAD_STATES).update(
        state=_VERIFIED, problem="", size=checked.size, stored_size=checked.stored_size,
        sha256=sha, etag=checked.etag or "", verified_at=timezone.now())
    return None


def _note(copy: StoredObject, state: str, why: str, part: HealReport) -> None:
    """Keep a copy that could not be rebuilt bad, saying why; count it."""
    stamp = timezone.now().strftime("%Y-%m-%d %H:%M:%SZ")
    StoredObject.objects.filter(pk=copy.pk, state__in=BAD_STATES).update(
        state=state, problem=f"{stamp} {why}"[:2000])
    part.failed += 1
    part.add(f"FAILED {copy.store}:{copy.key}: {why}")
    log.warning("heal: %s:%s %s", copy.store, copy.key, why)


def _mark_lost(swath: Swath, part: HealReport) -> None:
    """No VERIFIED copy is left: the swath is LOST, with what became of each copy."""
    copies = StoredObject.objects.filter(swath_id=swath.pk).exclude(
        state=StoredObject.State.FAILED).order_by("store", "pk")
    accounts = "; ".join(f"{c.store}:{c.key} {c.state}" + (f" ({c.problem})" if c.problem
                                                          else "") for c in copies)
    reason = f"no copy hashes to sha256 {swath.sha256}: {accounts or 'no copy recorded'}"
    if Swath.objects.filter(pk=swath.pk, state=SwathState.VERIFIED).update(
            state=SwathState.LOST, failure_reason=reason[:2000]):
        log.error("swath %s LOST: %s", swath.uuid, reason)
    elif swath.state == SwathState.LOST:
        Swath.objects.filter(pk=swath.pk, state=SwathState.LOST).update(
            failure_reason=reason[:2000])  # still LOST: the latest account of its copies
    part.lost.append(str(swath.uuid))
    part.add(f"LOST swath {swath.uuid}: {reason}")
