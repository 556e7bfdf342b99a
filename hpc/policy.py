"""Failure policies per item (after PyCOMPSs's RETRY / IGNORE / FAIL).

``fail``: the first failure ends the job: no further items are handed out, every rank
stops after its current item, the job exits non-zero and registers nothing.
``skip``: the failure is reported with its reason and the job goes on.
``retry:N`` retries an item up to N times with exponential backoff and jitter, then
fails the job; ``retry:N,skip`` skips it instead. Errors that a retry cannot cure (a
region or variable the swath lacks, a missing object, a checksum mismatch) are not
retried.
"""

from __future__ import annotations

import random
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from archive.errors import ArchiveError, TransientArchiveError
from subset.errors import SubsetError

Work = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]


def retryable(error: BaseException) -> bool:
    """Return True if another attempt may succeed (STYLE 10: transient vs permanent).

    Store errors say so themselves; subset errors (region, variable, size, source) and
    checksum mismatches will not change; anything else (OSError, a netCDF-C or HDF5
    RuntimeError, a dropped connection) may.
    """
    if isinstance(error, TransientArchiveError):
        return True
    return not isinstance(error, SubsetError | ArchiveError)


@dataclass(frozen=True)
class Policy:
    """How to treat a failed item: retries, then skip or fail (jobs carry it as its asdict)."""

    retries: int = 0
    then: str = "fail"  # "fail" | "skip"
    backoff_s: float = 0.5


def parse_policy(text: str, backoff_s: float = 0.5) -> Policy:
    """Parse ``fail``, ``skip``, ``retry:N`` or ``retry:N,skip``.

    >>> parse_policy("retry:3"), parse_policy("skip").then, parse_policy("retry:2,skip").then
    (Policy(retries=3, then='fail', backoff_s=0.5), 'skip', 'skip')
    """
    parts = [p.strip() for p in text.lower().split(",") if p.strip()]
    retries, then = 0, "fail"
    for part in parts:
        if part in ("fail", "skip"):
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
            raise ValueError(f"--on-failure {text!r}: use retry:N, skip, fail or retry:N,skip")
    return Policy(retries, then, backoff_s)


def run_item(work: Work, item: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
    """Run ``work(item, job)`` under the job's policy; never raises for the item's own errors.

    The result's status is done/empty/resumed from the work, or skipped/failed with
    ``reason``; ``attempts`` counts tries and ``seconds`` the whole time spent.
    """
    policy = Policy(**job.get("policy", {}))
    t0 = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        try:
            result = work(item, job)
        except Exception as e:  # every failure is reported; the policy decides what follows
            reason = f"{type(e).__name__}: {e}"
            if attempt <= policy.retries and retryable(e):
                time.sleep(policy.backoff_s * 2 ** (attempt - 1) * (0.5 + random.random()))
                continue
            return {"id": item["id"], "status": "skipped" if policy.then == "skip" else "failed",
                    "reason": reason[:2000], "attempts": attempt, "bytes_read": 0,
                    "bytes_written": 0, "size_in": item.get("size"),
                    "seconds": time.monotonic() - t0,
                    "traceback": traceback.format_exc(limit=6)[-4000:]}
        result["attempts"] = attempt
        result["seconds"] = time.monotonic() - t0
        return result
