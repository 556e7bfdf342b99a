"""Run one service of `make stack` and start it again when it dies on its own.

honcho stops the whole stack as soon as any of its processes exits; a production
stack instead restarts a crashed service (compose's ``restart: unless-stopped``). Each
Procfile line therefore runs its service under this keeper:

    python stack/keep.py NAME -- COMMAND ARGS...

- The service runs in a session of its own, so a test (or an operator) can kill it and
  all its children (a Celery worker and its pool, gunicorn and its workers) with one
  ``kill -KILL -PID``; the keeper then starts it again after RESTART_DELAY_S.
- Its pid is written to ``$STACK_DIR/pids/NAME.pid`` at every start.
- On SIGTERM or SIGINT (honcho stopping the stack) the keeper passes SIGTERM to the
  service's session, waits GRACE_S, then SIGKILLs what is left and exits. GRACE_S is
  below honcho's own 5 s, so the keeper, not honcho, has the last word: SeaweedFS does
  not exit within 5 s of SIGTERM, and a Celery pool child would otherwise outlive it.
- If the keeper itself is SIGKILLed, Linux SIGKILLs the service (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

GRACE_S = 4.0
RESTART_DELAY_S = 1.0
POLL_S = 0.1


def _die_with_keeper() -> None:
    """In the child: have Linux SIGKILL it when its keeper dies."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _signal_group(pid: int, signum: int) -> None:
    """Send ``signum`` to the session (process group) led by ``pid``, if any is left."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


def _group_alive(pid: int) -> bool:
    """Return whether any process of the group led by ``pid`` is still there."""
    try:
        os.killpg(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def say(name: str, text: str) -> None:
    """One line on honcho's log stream, prefixed so it is told apart from the service's."""
    print(f"keep[{name}]: {text}", flush=True)


def run(name: str, command: list[str], pid_dir: Path) -> int:
    """Keep ``command`` running until a stop signal arrives; return the exit status."""
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    pid_dir.mkdir(parents=True, exist_ok=True)
    pid_file = pid_dir / f"{name}.pid"
    starts = 0
    while not stopping:
        child = subprocess.Popen(command, start_new_session=True, preexec_fn=_die_with_keeper)
        starts += 1
        pid_file.write_text(f"{child.pid}\n")
        if starts > 1:
            say(name, f"started again (pid {child.pid}, start {starts})")
        while child.poll() is None and not stopping:
            time.sleep(POLL_S)
        if stopping:
            break
        say(name, f"pid {child.pid} exited with {child.returncode}; starting it again "
                  f"in {RESTART_DELAY_S:.0f} s")
        _signal_group(child.pid, signal.SIGKILL)  # its children, if it left any
        deadline = time.monotonic() + RESTART_DELAY_S
        while time.monotonic() < deadline and not stopping:
            time.sleep(POLL_S)
    if child.poll() is None or _group_alive(child.pid):
        _signal_group(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + GRACE_S
        while time.monotonic() < deadline and _group_alive(child.pid):
            child.poll()  # reap the leader, so its group can empty
            time.sleep(POLL_S)
        if _group_alive(child.pid):
            say(name, f"still running {GRACE_S:.0f} s after SIGTERM: SIGKILL")
            _signal_group(child.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        child.wait(5)
    pid_file.unlink(missing_ok=True)
    return 0


def main(argv: list[str]) -> int:
    """Parse ``NAME -- COMMAND...`` and run it."""
    if len(argv) < 3 or argv[1] != "--":
        print("usage: keep.py NAME -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    return run(argv[0], argv[2:], Path(os.environ["STACK_DIR"]) / "pids")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
