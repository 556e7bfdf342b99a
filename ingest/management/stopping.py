"""Stopping a long command cleanly: a signal asks it to finish the item in hand, then stop."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


@contextmanager
def stop_requests(*signums: signal.Signals) -> Iterator[list[int]]:
    """Yield a list that collects ``signums`` received inside the block, instead of dying.

    The caller polls the list between items. The previous handlers come back after the
    block. Handlers can only be set from the main thread (not so under some runners):
    elsewhere the list stays empty.
    """
    received: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    main = threading.current_thread() is threading.main_thread()
    previous = {sig: signal.signal(sig, on_signal) for sig in signums} if main else {}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
