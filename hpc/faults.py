"""Fault points for the batch-job tests: ``HPC_FAULT=kind:item-prefix[:n],...``.

Kinds: ``raise`` (a transient error on the first n attempts of the process, default 1),
``fail`` (a permanent error every time), ``exit`` (``os._exit(137)``: the rank dies),
``slow`` (sleep n seconds before the item; prefix ``*`` matches every item).
Unset in production; read through hpc.env like every other variable. Acted on in the
rank by ``hpc.policy.run_item`` before each attempt, also for an item whose work runs in
a limited child (hpc.limits), so a fault's attempt count outlives a replaced child.
"""

from __future__ import annotations

import os
import time
from collections import Counter

from archive.errors import ArchiveError, TransientArchiveError
from hpc.env import fault_spec

EXIT_CODE = 137
_attempts: Counter[str] = Counter()


def reset() -> None:
    """Forget attempt counts (tests)."""
    _attempts.clear()


def item_fault(item_id: str) -> None:
    """Act on the fault selected for ``item_id``, if any."""
    spec = fault_spec()
    if not spec:
        return
    for entry in spec.split(","):
        kind, _, rest = entry.strip().partition(":")
        prefix, _, arg = rest.partition(":")
        if prefix != "*" and not item_id.startswith(prefix):
            continue
        if kind == "slow":
            time.sleep(float(arg or 1))
        elif kind == "exit":
            os._exit(EXIT_CODE)
        elif kind == "fail":
            raise ArchiveError(f"injected permanent failure for {item_id}")
        elif kind == "raise":
            _attempts[item_id] += 1
            if _attempts[item_id] <= int(arg or 1):
                raise TransientArchiveError(
                    f"injected transient failure {_attempts[item_id]} for {item_id}")
