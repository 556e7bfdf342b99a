"""Per-item limits: an item run in a child process with a wall-clock timeout and a memory cap.

The child is ingest's inspection child (``ingest.inspector.Inspector``), not a second
mechanism: one long-lived process per rank (RLIMIT_AS as the memory cap), one request
at a time over a pipe, the parent waiting with a wall-clock timeout. A hang, crash or
memory overrun kills it and the next item gets a fresh one; an item that failed with an
error replaces it too, so library state a corrupt file leaves never reaches the next.
The child reads the store itself with the node's environment, as the rank would.

Which items (``--item-limits``): ``auto`` (default) those whose format is read by a
library with a known hang, ``all``, or ``off``. The known hangs are HDF5's: the files
``tests/faults/fixtures/timeout-*.nc`` (NetCDF-4, kept by fuzzing the ingest inspector)
never return from the HDF5 library's dimension-scale walk (``H5DSget_num_scales``, under
h5py, which both ingest's reader and the subset kernel use). So ``auto`` covers NetCDF-4
and HDF5 items and items whose format the manifest does not say (the kernel picks the
library from the magic bytes); NetCDF classic items (netCDF-C's own reader, no kept
hang) run in the rank.

A timeout, crash or memory overrun is the item's failure under the job's policy, never
retried: the same bytes hang the same library again. Its result says which
(``cause``: ``timeout``, ``memory`` or ``crash``).

``hpc.stage --ingest`` reads each file's metadata through ``run_limited`` too (the
reading only, under its job's ``metadata_limits``), so a file that hangs its reader is
that file's failure there as well.
"""

from __future__ import annotations

import argparse
import threading
from dataclasses import asdict, dataclass
from typing import Any

from archive.errors import ArchiveError, TransientArchiveError
from subset.errors import SubsetError

MODES = ("auto", "all", "off")
# Formats read through the HDF5 library (h5py), whose kept fuzz cases hang; "" = unknown.
HANGING_FORMATS = frozenset({"netcdf4", "hdf5", "hdfeos5", ""})
DEFAULT_TIMEOUT_S = 900.0
DEFAULT_MEMORY_MB = 8192
MIN_MEMORY_MB = 512
# A fresh child imports Python, h5py and netCDF4 (1-2 s, more on a loaded node) before
# the item's clock starts: the timeout is the item's, not the interpreter's.
STARTUP_TIMEOUT_S = 120.0
WARM_UP = "hpc.work:warm_up"
# Why an Inspector reason ends an item; the value is the result's ``cause``.
CAUSES = {"inspect_timeout": "timeout", "inspect_out_of_memory": "memory",
          "inspect_crashed": "crash"}
RETRYABLE, PERMANENT = "item_retryable", "item_permanent"


@dataclass(frozen=True)
class Limits:
    """Which items run limited, and their limits (jobs carry it as its asdict)."""

    mode: str = "auto"
    timeout_s: float = DEFAULT_TIMEOUT_S
    memory_mb: int = DEFAULT_MEMORY_MB


class ItemFailed(Exception):
    """The item's work failed in the child; ``message`` is the child's ``Type: text``."""

    def __init__(self, message: str, retryable: bool, cause: str | None = None) -> None:
        super().__init__(message)
        self.message, self.retryable, self.cause = message, retryable, cause


def positive_seconds(text: str) -> float:
    """argparse type of --item-timeout: a number of seconds above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text}")
    return value


def positive_mb(text: str) -> int:
    """argparse type of --item-memory: a whole number of MB, at least MIN_MEMORY_MB."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of MB") from None
    if value < MIN_MEMORY_MB:
        raise argparse.ArgumentTypeError(
            f"must be at least {MIN_MEMORY_MB} MB (the child's interpreter and libraries "
            f"alone map about 220 MB), not {text}")
    return value


def add_limit_arguments(parser: argparse.ArgumentParser, *, what: str, timeout_help: str,
                        memory_help: str) -> None:
    """Add --item-limits, --item-timeout and --item-memory to ``parser``.

    ``what`` helps --item-limits; ``timeout_help`` and ``memory_help`` may name the
    default as ``{default}`` (the timeout shown as ``:g``), so each command says what its
    limits bound in its own words.
    """
    parser.add_argument("--item-limits", choices=MODES, default="auto", help=what)
    parser.add_argument("--item-timeout", type=positive_seconds, default=DEFAULT_TIMEOUT_S,
                        metavar="SECONDS",
                        help=timeout_help.format(default=f"{DEFAULT_TIMEOUT_S:g}"))
    parser.add_argument("--item-memory", type=positive_mb, default=DEFAULT_MEMORY_MB,
                        metavar="MB", help=memory_help.format(default=DEFAULT_MEMORY_MB))


def limits_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """Return the job's limits (Limits as its asdict) from add_limit_arguments' options."""
    return asdict(Limits(args.item_limits, args.item_timeout, args.item_memory))


def applies(item: dict[str, Any], job: dict[str, Any]) -> bool:
    """Return True if ``item`` runs in the limited child under the job's limits."""
    mode = (job.get("limits") or {}).get("mode", "off")
    if mode == "all":
        return True
    return mode == "auto" and str(item.get("format") or "").lower() in HANGING_FORMATS


_local = threading.local()


def _inspector(memory_mb: int) -> Any:
    """Return this thread's child (an Inspector with the job's memory cap)."""
    from ingest.inspector import Inspector

    inspector = getattr(_local, "inspector", None)
    if inspector is None or inspector.memory_limit_bytes != memory_mb << 20:
        close()
        inspector = _local.inspector = Inspector(memory_limit_bytes=memory_mb << 20)
    return inspector


def close() -> None:
    """Stop this thread's child, if any (end of a job; tests)."""
    inspector = getattr(_local, "inspector", None)
    _local.inspector = None
    if inspector is not None:
        _local.spent = getattr(_local, "spent", 0.0) + inspector.child_cpu_s
        inspector.close()


def child_cpu_seconds() -> float:
    """Return the CPU seconds this thread's children spent on the items they answered (a
    killed child's are not known): the rank's own CPU figure leaves them out otherwise."""
    inspector = getattr(_local, "inspector", None)
    return float(getattr(_local, "spent", 0.0)) + (
        float(inspector.child_cpu_s) if inspector is not None else 0.0)


def run_limited(work: Any, item: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
    """Return ``work(item, job)`` run in the limited child; raises ItemFailed."""
    from ingest.inspect import InspectError

    limits = Limits(**job["limits"])
    spec = f"{work.__module__}:{work.__qualname__}"
    inspector = _inspector(limits.memory_mb)
    try:
        if not inspector.running:
            inspector.call(WARM_UP, [], "start-up", STARTUP_TIMEOUT_S)
        result: dict[str, Any] = inspector.call(
            "hpc.limits:in_child", [spec, item, job], item["id"], limits.timeout_s)
    except InspectError as e:
        cause = CAUSES.get(e.reason)
        if cause == "timeout":
            raise ItemFailed(f"timeout: the item did not finish within {limits.timeout_s:g} s "
                             "(child killed)", False, cause) from None
        if cause == "memory":
            raise ItemFailed(f"memory: the item exceeded {limits.memory_mb} MB "
                             "(child killed)", False, cause) from None
        if cause == "crash":
            raise ItemFailed(f"crash: {e.message}", False, cause) from None
        raise ItemFailed(e.message, e.reason == RETRYABLE) from None
    return result


class _ChildError(Exception):
    """An item's error crossing the pipe: its class's verdict as ``reason``."""

    def __init__(self, error: Exception) -> None:
        super().__init__(f"{type(error).__name__}: {error}")
        self.reason = RETRYABLE if retryable(error) else PERMANENT


def in_child(spec: str, item: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
    """Child side: run the work function named by ``spec``; its errors say if retryable."""
    import importlib

    module, _, name = spec.partition(":")
    work = getattr(importlib.import_module(module), name)
    try:
        result: dict[str, Any] = work(item, job)
    except MemoryError:
        raise  # the inspector's own class: the child is over its cap
    except Exception as e:  # every failure crosses the pipe; the parent's policy decides
        raise _ChildError(e) from e
    return result


def retryable(error: BaseException) -> bool:
    """Return True if another attempt may succeed (STYLE 10: transient vs permanent).

    Store errors say so themselves; subset errors (region, variable, size, source) and
    checksum mismatches will not change; a child's error keeps its class's verdict, and a
    timeout, crash or memory overrun will recur; anything else (OSError, a netCDF-C or
    HDF5 RuntimeError, a dropped connection) may.
    """
    if isinstance(error, ItemFailed):
        return error.retryable
    if isinstance(error, TransientArchiveError):
        return True
    return not isinstance(error, SubsetError | ArchiveError)
