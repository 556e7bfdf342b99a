"""A time limit on each SQL statement of an API search on SQLite, as PostgreSQL has.

PostgreSQL runs a search under `SET LOCAL statement_timeout` (api.search). SQLite
has no such setting, so a slow statement held a worker for as long as it took
(a LIKE pattern of 15 `%` took 26 s). sqlite3's progress handler is called every
PROGRESS_STEPS virtual-machine instructions of a running statement; it interrupts
the statement once the statement has run past the limit, and the statement then
fails with OperationalError "interrupted", which timed_out() recognises.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import DatabaseError, connection

# About 10-50 µs of work between two calls, so a statement whose rows each cost
# milliseconds (a geometry test against a large polygon) still stops close to its limit;
# the check, a Python call, costs within the noise of a 500,000-row scan (42-45 ms
# medians with and without it, 15 interleaved runs).
PROGRESS_STEPS = 1_000


@contextmanager
def sqlite_time_limit(ms: int) -> Iterator[None]:
    """Interrupt any statement run inside the block that takes longer than `ms` (SQLite).

    Does nothing on other databases. The limit is per statement: each one executed
    (rows fetched after it count towards it) starts a new allowance.
    """
    if connection.vendor != "sqlite":
        yield
        return
    connection.ensure_connection()
    raw = connection.connection
    deadline = [float("inf")]

    def start(execute: Callable[..., Any], sql: str, params: Any, many: bool,
              context: dict[str, Any]) -> Any:
        deadline[0] = time.monotonic() + ms / 1000
        return execute(sql, params, many, context)

    def over() -> int:
        return 1 if time.monotonic() > deadline[0] else 0

    raw.set_progress_handler(over, PROGRESS_STEPS)
    try:
        with connection.execute_wrapper(start):
            yield
    finally:
        raw.set_progress_handler(None, 0)


def timed_out(error: DatabaseError) -> bool:
    """True when a statement was stopped by its time limit (either database)."""
    text = str(error)
    return ("statement timeout" in text or "canceling statement" in text
            or text == "interrupted")
