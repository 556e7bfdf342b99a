"""CPU seconds of PostgreSQL's backends for one database, read from /proc while a load runs.

A backend's CPU is in /proc/PID/stat only while it lives, so a thread samples the
backends of the database (process title `postgres: ... USER DB HOST(PORT) ...`)
every `interval` seconds and keeps each one's last value: what a backend spends in
its last interval before it exits is missed (at most `interval` per backend). The
cluster's background processes (checkpointer, background and WAL writers) serve
every database, other engineers' included; their CPU is kept apart as `background`.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
BACKGROUND = (b"checkpointer", b"background writer", b"walwriter", b"autovacuum")


def _cpu(pid: str) -> float | None:
    """utime + stime of process ``pid`` in seconds; None once it has gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = stat[stat.rindex(b")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def _postmaster_command() -> bytes:
    """The start of the postmaster's command line (its path), which children inherit."""
    for pid in os.listdir("/proc"):
        try:
            if pid.isdigit() and Path(f"/proc/{pid}/comm").read_bytes() == b"postgres\n":
                title = Path(f"/proc/{pid}/cmdline").read_bytes()
                if not title.startswith(b"postgres: "):
                    return title.split(b"\0", 1)[0]
        except OSError:
            continue
    return b"\0never"


class ServerCpu:
    """Context manager: .backends and .background CPU seconds spent while it was open."""

    def __init__(self, database: str, interval: float = 0.1) -> None:
        self._tag = f" {database} ".encode()
        self._interval = interval
        # pid -> "backend", "background", "unknown" (not told yet) or None (not counted)
        self._kind: dict[str, str | None] = {}
        self._postmaster = _postmaster_command()
        self._first: dict[str, float] = {}
        self._last: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="server-cpu", daemon=True)
        self.backends = 0.0
        self.background = 0.0

    def _classify(self, pid: str) -> str | None:
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return None
        if not title.startswith(b"postgres: "):
            # A backend just forked still has the postmaster's command line until it
            # sets its title: look again next time rather than miss all its CPU.
            return "unknown" if title.startswith(self._postmaster) else None
        if self._tag in title:
            return "backend"
        return "background" if any(b in title for b in BACKGROUND) else None

    def _sample(self, baseline: bool) -> None:
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            if self._kind.get(pid, "unknown") == "unknown":
                self._kind[pid] = self._classify(pid)
                # A backend first seen after the start began at zero CPU.
                if not baseline and self._kind[pid] is not None:
                    self._first[pid] = 0.0
            if self._kind[pid] in (None, "unknown"):
                continue
            cpu = _cpu(pid)
            if cpu is None:
                continue
            if baseline:
                self._first[pid] = cpu
            self._last[pid] = cpu

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample(baseline=False)

    def __enter__(self) -> ServerCpu:
        self._sample(baseline=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample(baseline=False)
        for pid, last in self._last.items():
            spent = last - self._first.get(pid, 0.0)
            if self._kind[pid] == "backend":
                self.backends += spent
            else:
                self.background += spent
