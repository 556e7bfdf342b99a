"""`archive replicate`: bring a collection's archived swaths up to a replication policy.

For swaths ingested under a weaker policy (or before a store was added): each VERIFIED
swath of the collection gets a VERIFIED copy in every store of the policy, through
ingest.replicas.bring_up, the code ingest itself copies with. Resumable: a swath that
meets the policy costs one indexed lookup per batch and nothing else, and a copy an
interruption cut short is never VERIFIED, so the next run makes it again. A swath whose
copy fails is reported and the run goes on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from catalog.models import Collection, StoredObject, Swath, SwathState
from catalog.policies import ingest_choice, policy_problem, stores_of
from ingest.replicas import CopyOutcome, bring_up

log = logging.getLogger(__name__)


# Copies a store may fail in a row, each after the retries of replicate() and of the
# client (84 s for an endpoint that refuses connections from the start), before the run
# stops trying it: a store that is down would otherwise cost that long per swath.
GIVE_UP_AFTER = 3


class ReplicateRefused(ValueError):
    """The collection or policy named cannot be worked on here; the message says why."""


@dataclass(frozen=True)
class SwathLine:
    """What one swath that lacked copies got."""

    uuid: str
    outcomes: list[CopyOutcome]

    @property
    def failed(self) -> bool:
        return any(not o.ok for o in self.outcomes)

    def lines(self) -> list[str]:
        """One line per store: COPIED/KEPT/WOULD COPY/FAILED, the swath and the store."""
        out = []
        for o in self.outcomes:
            if o.status == "skipped":  # the run's summary counts them
                continue
            if o.status == "failed":
                source = f" (from {o.source})" if o.source else ""
                out.append(f"FAILED {self.uuid} {o.store}{source}: {o.reason}")
            elif o.status == "planned":
                out.append(f"WOULD COPY {self.uuid} {o.store} from {o.source} "
                           f"({o.size / 1e6:.1f} MB)")
            else:
                out.append(f"{o.status.upper()} {self.uuid} {o.store} from {o.source} "
                           f"({o.size / 1e6:.1f} MB)")
        return out


@dataclass
class ReplicateReport:
    """Counts of a run: swaths looked at, already complete, brought up, failed; bytes."""

    collection: str
    policy: str
    stores: list[str]
    dry_run: bool = False
    checked: int = 0
    complete: int = 0
    brought_up: int = 0
    failed: int = 0
    copies: int = 0
    bytes_copied: int = 0
    not_tried: int = 0
    stopped: bool = False
    seconds: float = 0.0
    # Stores given up for the rest of the run, and why.
    given_up: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        """The closing line: counts, bytes and time."""
        verb = "would copy" if self.dry_run else "copied"
        return (f"replicate {self.collection} to {self.policy} ({', '.join(self.stores)}): "
                f"{self.checked} VERIFIED swaths checked, {self.complete} already complete, "
                f"{self.brought_up} {'to bring' if self.dry_run else 'brought'} up, "
                f"{self.failed} failed"
                + (f", {self.not_tried} not tried ({', '.join(self.given_up)} given up)"
                   if self.not_tried else "")
                + f"; {self.copies} copies {verb}, {self.bytes_copied / 1e6:.1f} MB"
                + (", stopped early" if self.stopped else "")
                + f" in {self.seconds:.1f} s")


def replicate_collection(
    slug: str, policy: str | None = None, *, batch: int = 100, dry_run: bool = False,
    set_default: bool = False, give_up_after: int = GIVE_UP_AFTER,
    on_swath: Callable[[SwathLine], None] | None = None,
    on_give_up: Callable[[str, str], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> ReplicateReport:
    """Copy every VERIFIED swath of collection ``slug`` to the stores of ``policy``.

    ``policy`` None: the one ingest would use for the collection (its default_policy, or
    INGEST_POLICY if that keeps more copies). ``set_default`` makes ``policy`` the
    collection's default_policy first, so swaths ingested while the run goes on are
    copied by ingest itself. A store whose last ``give_up_after`` copies failed as an
    unreachable store does (each after the client's own retries) is not tried again in
    this run; ``on_give_up(store, reason)`` hears of it. Raises ReplicateRefused for an
    unknown collection or a policy the configured stores cannot meet, before any copy.
    """
    collection = Collection.objects.filter(slug=slug).first()
    if collection is None:
        raise ReplicateRefused(f"--collection {slug!r}: no such collection")
    if policy is None:
        policy = ingest_choice(collection).policy
    try:
        problem = policy_problem(policy)
    except ValueError as e:
        raise ReplicateRefused(str(e)) from None
    if problem:
        raise ReplicateRefused(f"{problem}; nothing copied")
    names = stores_of(policy)
    report = ReplicateReport(collection=slug, policy=policy, stores=names, dry_run=dry_run)
    if set_default and not dry_run and collection.default_policy != policy:
        Collection.objects.filter(pk=collection.pk).update(default_policy=policy)
    started = time.monotonic()
    last = 0
    in_a_row: dict[str, int] = {}  # failures of each store since its last good copy
    while not report.stopped:
        rows = list(Swath.objects.filter(collection=collection, state=SwathState.VERIFIED,
                                         pk__gt=last)
                    .order_by("pk").values_list("pk", "uuid")[:batch])
        if not rows:
            break
        last = rows[-1][0]
        have: dict[int, set[str]] = {}
        for swath_id, store in StoredObject.objects.filter(
                swath_id__in=[pk for pk, _ in rows], state=StoredObject.State.VERIFIED,
                store__in=names).values_list("swath_id", "store"):
            have.setdefault(swath_id, set()).add(store)
        for swath_id, swath_uuid in rows:
            if should_stop():  # a signal: the swath in hand was finished, stop here
                report.stopped = True
                break
            report.checked += 1
            if set(names) <= have.get(swath_id, set()):
                report.complete += 1
                continue
            line = SwathLine(str(swath_uuid),
                             _bring_up(swath_id, names, dry_run, report.given_up))
            _count(report, line)
            for store, why in _stores_down(line, in_a_row, give_up_after):
                report.given_up[store] = why
                if on_give_up:
                    on_give_up(store, why)
            if on_swath:
                on_swath(line)
    report.seconds = time.monotonic() - started
    return report


def _bring_up(swath_id: int, names: list[str], dry_run: bool,
              skip: dict[str, str]) -> list[CopyOutcome]:
    """bring_up, with anything it did not expect failing this swath only."""
    try:
        return bring_up(swath_id, names, dry_run=dry_run, skip=skip)
    # bring_up turns every store failure into an outcome; anything else (a database
    # error, a bug) must fail this swath, not the swaths after it.
    except Exception as e:  # noqa: BLE001
        log.error("replicating swath %s raised", swath_id, exc_info=True)
        return [CopyOutcome("-", "failed", reason=f"{type(e).__name__}: {e}")]


def _stores_down(line: SwathLine, in_a_row: dict[str, int],
                 give_up_after: int) -> list[tuple[str, str]]:
    """Count each store's failures in a row; return the stores that reached the limit."""
    down = []
    for outcome in line.outcomes:
        if outcome.status == "skipped":
            continue
        in_a_row[outcome.store] = in_a_row.get(outcome.store, 0) + 1 if outcome.down else 0
        if in_a_row[outcome.store] >= give_up_after:
            down.append((outcome.store, f"its last {in_a_row[outcome.store]} copies failed, "
                                        f"the last with: {outcome.reason}"))
    return down


def _count(report: ReplicateReport, line: SwathLine) -> None:
    if not line.outcomes:  # complete after all (another process copied it meanwhile)
        report.complete += 1
        return
    if any(o.status == "failed" for o in line.outcomes):
        report.failed += 1
    elif line.failed:
        report.not_tried += 1
    else:
        report.brought_up += 1
    for o in line.outcomes:
        if o.status in ("copied", "planned"):
            report.copies += 1
            report.bytes_copied += o.size
