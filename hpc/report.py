"""Job reports: per-rank log files, progress lines while it runs, the summary at the end.

The summary (a table on stdout and JSON beside the logs) counts items done, empty
(no pixel in the region), resumed (finished by an earlier run), skipped, failed and
cancelled (cancel-successors) with reasons; names every item ended by its time limit
(``timeouts``, also memory overruns and crashes of the item's child) and every
cancellation with the failure that caused it; bytes read from the store and written;
per-rank busy time, MB/s, timeouts and cancellations; and the load imbalance, max rank
busy time / mean busy time over the working ranks.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, TextIO

from hpc.scheduler import Outcome

STATUSES = ("done", "empty", "resumed", "skipped", "failed", "cancelled")
NOT_PRODUCED = ("failed", "skipped", "cancelled")


class RankLog:
    """A per-rank log file, one timestamped line per event, flushed as written."""

    def __init__(self, path: str | None, rank: int) -> None:
        self.path = path
        self.rank = rank
        self._file: TextIO | None = None
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 (lives with the job)

    def __call__(self, message: str) -> None:
        """Write one line."""
        if self._file is not None:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
            self._file.write(f"{stamp} rank {self.rank}: {message}\n")
            self._file.flush()

    def close(self) -> None:
        """Close the file."""
        if self._file is not None:
            self._file.close()
            self._file = None


class Progress:
    """Progress lines on rank 0 ("performance metrics on air"), at most one per interval."""

    def __init__(self, total: int, total_bytes: int, interval_s: float = 2.0,
                 stream: TextIO | None = None, label: str = "hpc") -> None:
        self.total, self.total_bytes = total, total_bytes
        self.interval_s = interval_s
        self.stream = stream or sys.stdout
        self.label = label
        self.counts: Counter[str] = Counter()
        self.bytes_in = 0
        self.bytes_read = 0
        self.t0 = time.monotonic()
        self._last = 0.0

    def __call__(self, result: dict[str, Any]) -> None:
        """Count one result and print a line if the interval has passed (or at the end)."""
        self.counts[result.get("status", "?")] += 1
        self.bytes_in += int(result.get("size_in") or 0)
        self.bytes_read += int(result.get("bytes_read") or 0)
        n = sum(self.counts.values())
        now = time.monotonic()
        if result.get("status") in NOT_PRODUCED:
            print(f"[{self.label}] {result['status']} {result['id']}: {result.get('reason')}",
                  file=self.stream, flush=True)
        if now - self._last < self.interval_s and n < self.total:
            return
        self._last = now
        elapsed = now - self.t0
        rate = self.bytes_in / elapsed / 1e6 if elapsed else 0.0
        left = self.total_bytes - self.bytes_in
        eta = f"{left / (self.bytes_in / elapsed):.0f} s" if self.bytes_in and left > 0 else "-"
        counts = " ".join(f"{s} {self.counts[s]}" for s in STATUSES if self.counts[s])
        print(f"[{self.label}] {n}/{self.total} ({100 * n / max(self.total, 1):.0f}%) "
              f"{counts} | {self.bytes_in / 1e6:.1f} MB in, {self.bytes_read / 1e6:.1f} MB "
              f"read, {rate:.1f} MB/s | {elapsed:.1f} s, ETA {eta}",
              file=self.stream, flush=True)


def summarize(outcome: Outcome, job: dict[str, Any], total: int,
              extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the job summary as plain JSON-ready values."""
    counts = Counter(r.get("status") for r in outcome.results)
    working = [w for w in outcome.workers if w.items]
    busy = [w.busy_s for w in working]
    mean = sum(busy) / len(busy) if busy else 0.0
    bytes_read = sum(int(r.get("bytes_read") or 0) for r in outcome.results)
    bytes_written = sum(int(r.get("bytes_written") or 0) for r in outcome.results)
    bytes_in = sum(int(r.get("size_in") or 0) for r in outcome.results
                   if r.get("status") in ("done", "empty"))
    failed = counts["failed"] > 0 or outcome.aborted
    limited = [r for r in outcome.results if r.get("cause")]
    cancelled = [r for r in outcome.results if r.get("status") == "cancelled"]
    summary = {
        "job": job,
        "complete": not failed,
        "exit_code": 1 if failed else (2 if counts["skipped"] or counts["cancelled"] else 0),
        "items": total,
        "counts": {s: counts[s] for s in STATUSES} | {"not_run": total - len(outcome.results)},
        "bytes_in": bytes_in,
        "bytes_read": bytes_read,
        "bytes_written": bytes_written,
        "wall_s": round(outcome.wall_s, 3),
        "mb_per_s_in": round(bytes_in / outcome.wall_s / 1e6, 2) if outcome.wall_s else 0.0,
        "mb_per_s_read": round(bytes_read / outcome.wall_s / 1e6, 2) if outcome.wall_s else 0.0,
        "load_imbalance": round(max(busy) / mean, 3) if mean else 1.0,
        "ranks": [
            {**w.__dict__, "busy_s": round(w.busy_s, 3), "wall_s": round(w.wall_s, 3),
             "cpu_s": round(w.cpu_s, 3),
             "mb_per_s": round(w.bytes_read / w.busy_s / 1e6, 2) if w.busy_s else 0.0,
             # what ended by its limits on this rank, and what its failures cancelled
             "timeouts": sum(r.get("cause") == "timeout" and r.get("rank") == w.rank
                             for r in limited),
             "limit_failures": [r["id"] for r in limited if r.get("rank") == w.rank],
             "cancelled": sum(r.get("rank") == w.rank for r in cancelled)}
            for w in outcome.workers],
        "failures": [{"id": r["id"], "status": r["status"], "reason": r.get("reason"),
                      "attempts": r.get("attempts"), "cause": r.get("cause"),
                      "rank": r.get("rank")}
                     for r in outcome.results if r.get("status") in ("failed", "skipped")],
        "timeouts": [{"id": r["id"], "cause": r["cause"], "status": r["status"],
                      "rank": r.get("rank"), "seconds": round(float(r.get("seconds") or 0), 3),
                      "reason": r.get("reason")} for r in limited],
        "cancelled": [{"id": r["id"], "group": r["group"], "cancelled_by": r["cancelled_by"],
                       "rank": r.get("rank")} for r in cancelled],
        "results": sorted(outcome.results, key=lambda r: r["id"]),
    }
    summary.update(extra or {})
    return summary


def table(summary: dict[str, Any]) -> str:
    """Return the summary as a text table."""
    lines = [f"{'rank':>4} {'host':<16} {'pid':>7} {'items':>5} {'busy s':>8} {'wall s':>8} "
             f"{'cpu s':>7} {'read MB':>9} {'written MB':>10} {'MB/s':>7} {'timeouts':>8} "
             f"{'cancelled':>9}"]
    for w in summary["ranks"]:
        lines.append(f"{w['rank']:>4} {w['host'][:16]:<16} {w['pid']:>7} {w['items']:>5} "
                     f"{w['busy_s']:>8.2f} {w['wall_s']:>8.2f} {w['cpu_s']:>7.1f} "
                     f"{w['bytes_read'] / 1e6:>9.1f} {w['bytes_written'] / 1e6:>10.1f} "
                     f"{w['mb_per_s']:>7.1f} {w.get('timeouts', 0):>8} "
                     f"{w.get('cancelled', 0):>9}")
    c = summary["counts"]
    lines.append(" ".join(f"{k} {v}" for k, v in c.items()) + f" (of {summary['items']})")
    lines.append(f"wall {summary['wall_s']:.2f} s; {summary['bytes_in'] / 1e6:.1f} MB of input "
                 f"({summary['mb_per_s_in']:.1f} MB/s); read {summary['bytes_read'] / 1e6:.1f} "
                 f"MB, wrote {summary['bytes_written'] / 1e6:.1f} MB; load imbalance "
                 f"{summary['load_imbalance']:.2f} (max busy / mean busy)")
    for f in summary["failures"][:20]:
        lines.append(f"  {f['status']} {f['id']} after {f['attempts']} attempt(s): {f['reason']}")
    if len(summary["failures"]) > 20:
        lines.append(f"  ... and {len(summary['failures']) - 20} more in the JSON report")
    for t in summary.get("timeouts", []):
        lines.append(f"  {t['cause']}: {t['id']} on rank {t['rank']}, ended after "
                     f"{t['seconds']:.1f} s ({t['status']})")
    for c in summary.get("cancelled", [])[:20]:
        lines.append(f"  cancelled {c['id']}: {c['cancelled_by']} of {c['group']} failed")
    if len(summary.get("cancelled", [])) > 20:
        lines.append(f"  ... and {len(summary['cancelled']) - 20} more cancelled in the report")
    verdict = "complete" if summary["complete"] else "FAILED: nothing may be registered"
    lines.append(f"job {verdict}, exit code {summary['exit_code']}")
    return "\n".join(lines)


def write_json(path: str | os.PathLike[str], doc: dict[str, Any]) -> None:
    """Write ``doc`` as JSON atomically."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1, sort_keys=True, default=str)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, target)
