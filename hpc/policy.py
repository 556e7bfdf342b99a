"""Failure policies per item (after PyCOMPSs's RETRY / IGNORE / FAIL).

``fail``: the first failure ends the job: no further items are handed out, every rank
stops after its current item, the job exits non-zero and registers nothing.
``skip``: the failure is reported with its reason and the job goes on.
``cancel-successors`` (PyCOMPSs's CANCEL_SUCCESSORS): the failed item is skipped and
every not-yet-started item of its group (``--group-by granule``: the outputs of one
granule; ``region``: of one region) is cancelled, reported ``cancelled``; other groups
go on.
``retry:N`` retries an item up to N times with exponential backoff and jitter, then
fails the job; ``retry:N,skip`` or ``retry:N,cancel-successors`` instead. Errors that a
retry cannot cure (a region or variable the swath lacks, a missing object, a checksum
mismatch, an item's timeout) are not retried (``hpc.limits.retryable``).
"""

from __future__ import annotations

import hashlib
import random
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hpc import faults, limits
from hpc.limits import ItemFailed, retryable

__all__ = ["Cancellations", "Policy", "Work", "group_of", "parse_policy", "retryable",
           "run_item"]
THEN = ("fail", "skip", "cancel-successors")
GROUP_BY = ("granule", "region")

Work = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Policy:
    """How to treat a failed item: retries, then fail, skip or cancel its group's successors
    (jobs carry it as its asdict)."""

    retries: int = 0
    then: str = "fail"  # "fail" | "skip" | "cancel-successors"
    backoff_s: float = 0.5
    group_by: str = "granule"  # "granule" | "region": the groups cancel-successors cancels


def parse_policy(text: str, backoff_s: float = 0.5, group_by: str = "granule") -> Policy:
    """Parse ``fail``, ``skip``, ``cancel-successors``, ``retry:N`` or ``retry:N,<then>``.

    >>> parse_policy("retry:3"), parse_policy("skip").then, parse_policy("retry:2,skip").then
    (Policy(retries=3, then='fail', backoff_s=0.5, group_by='granule'), 'skip', 'skip')
    """
    if group_by not in GROUP_BY:
        raise ValueError(f"--group-by {group_by!r}: use granule or region")
    parts = [p.strip() for p in text.lower().split(",") if p.strip()]
    retries, then = 0, "fail"
    for part in parts:
        if part in THEN:
            then = part
        elif part.startswith("retry"):
            _, _, n = part.partition(":")
            try:
                retries = int(n or 3)
            except ValueError as e:
                raise ValueError(f"--on-failure {text!r}: retry:N needs a whole number") from e
            if not 0 <= retries <= 100:
                raise ValueError(f"--on-failure {text!r}: N must be 0..100")
        else:
            raise ValueError(f"--on-failure {text!r}: use retry:N, skip, fail, "
                             "cancel-successors or retry:N,<skip|cancel-successors>")
    return Policy(retries, then, backoff_s, group_by)


def group_of(item: dict[str, Any], job: dict[str, Any]) -> str:
    """Return the item's group under the job's ``group_by``: ``granule:<granule id>`` (its
    id without one) or ``region:<slug, bbox or a hash of the geometry>`` of the region the
    item is cut to (the job's; the item's own in a job without one)."""
    if Policy(**job.get("policy", {})).group_by == "region":
        spec = job.get("region") or item.get("region") or {}
        name = spec.get("slug") or spec.get("bbox") or hashlib.sha256(
            str(spec.get("wkt") or spec.get("geojson")).encode()).hexdigest()[:16]
        return f"region:{name}"
    return f"granule:{item.get('granule_id') or item['id']}"


@dataclass
class Cancellations:
    """The groups cancel-successors has closed, and the results of the items it cancels."""

    job: dict[str, Any]
    closed: dict[str, str] = field(default_factory=dict)  # group -> the failed item's id

    def close(self, result: dict[str, Any]) -> bool:
        """Note a result; return True if it closes its group (a first failure in it)."""
        group = result.get("cancels")
        if not group or group in self.closed:
            return False
        self.closed[group] = result["id"]
        return True

    def cancelled(self, item: dict[str, Any]) -> dict[str, Any] | None:
        """Return the ``cancelled`` result of an item whose group is closed, else None."""
        group = group_of(item, self.job)
        by = self.closed.get(group)
        if by is None:
            return None
        return {"id": item["id"], "status": "cancelled", "group": group, "cancelled_by": by,
                "reason": f"cancelled: {by} of group {group} failed", "attempts": 0,
                "bytes_read": 0, "bytes_written": 0, "size_in": item.get("size"),
                "seconds": 0.0}


def run_item(work: Work, item: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
    """Run ``work(item, job)`` under the job's policy; never raises for the item's own errors.

    The result's status is done/empty/resumed from the work, or skipped/failed with
    ``reason``; ``attempts`` counts tries and ``seconds`` the whole time spent.
    """
    policy = Policy(**job.get("policy", {}))
    limited = limits.applies(item, job)
    t0 = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        try:
            # Injected faults (tests) act in the rank, whether or not the work runs in a
            # child: a transient fault's attempt count must outlive a replaced child.
            faults.item_fault(item["id"])
            result = limits.run_limited(work, item, job) if limited else work(item, job)
        except Exception as e:  # every failure is reported; the policy decides what follows
            reason = e.message if isinstance(e, ItemFailed) else f"{type(e).__name__}: {e}"
            if attempt <= policy.retries and retryable(e):
                time.sleep(policy.backoff_s * 2 ** (attempt - 1) * (0.5 + random.random()))
                continue
            failed = {"id": item["id"], "status": "failed" if policy.then == "fail" else
                      "skipped", "reason": reason[:2000], "attempts": attempt,
                      "bytes_read": 0, "bytes_written": 0, "size_in": item.get("size"),
                      "seconds": time.monotonic() - t0,
                      "traceback": traceback.format_exc(limit=6)[-4000:]}
            if isinstance(e, ItemFailed) and e.cause:
                failed["cause"] = e.cause
            if policy.then == "cancel-successors":
                failed["cancels"] = group_of(item, job)
            return failed
        result["attempts"] = attempt
        result["seconds"] = time.monotonic() - t0
        return result
