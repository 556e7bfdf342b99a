"""A fork-per-case fuzz harness: one parent imports the readers once, each case runs in a
forked child with the limits of ingest.inspect (RLIMIT_AS, RLIMIT_CPU, a wall clock).

Starting an interpreter per case (ingest.inspect) or per failure (ingest.inspector,
which replaces its child after any error) costs about a second here; forking a warm
parent costs milliseconds, so hundreds of mutations fit in a CI run. Run as
`python -m tests.faults.fuzzharness`: one JSON request per line on stdin
({"path": ..., "timeout": s}), one JSON outcome per line on stdout.
"""

from __future__ import annotations

import json
import os
import resource
import select
import signal
import sys
import time

MEMORY = 2 * 2**30


def _child(path: str, write_fd: int, cpu_s: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 2))
    from ingest.inspect import _classify
    from ingest.readers import read_metadata

    try:
        read_metadata(path)
        outcome = {"outcome": "ok"}
    except Exception as e:  # noqa: BLE001 - untrusted files make C libraries raise anything
        reason, message = _classify(e)
        outcome = {"outcome": "error", "reason": reason, "message": message[:300]}
    os.write(write_fd, json.dumps(outcome).encode())
    os._exit(0)


def run_case(path: str, timeout: float) -> dict:
    """Read one file in a forked child; classify hangs and crashes from the parent."""
    read_fd, write_fd = os.pipe()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        _child(path, write_fd, max(1, int(timeout)))
    os.close(write_fd)
    chunks = []
    deadline = started + timeout
    while True:
        left = deadline - time.monotonic()
        ready, _, _ = select.select([read_fd], [], [], max(0.0, left))
        if not ready:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(read_fd)
            return {"outcome": "timeout", "seconds": timeout}
        data = os.read(read_fd, 65536)
        if not data:
            break
        chunks.append(data)
    os.close(read_fd)
    _, status = os.waitpid(pid, 0)
    seconds = round(time.monotonic() - started, 3)
    if chunks:
        return {**json.loads(b"".join(chunks)), "seconds": seconds}
    if os.WIFSIGNALED(status):
        sig = signal.Signals(os.WTERMSIG(status)).name
        kind = "timeout" if sig == "SIGXCPU" else "crash"
        return {"outcome": kind, "signal": sig, "seconds": seconds}
    return {"outcome": "crash", "status": os.WEXITSTATUS(status), "seconds": seconds}


def main() -> int:
    os.environ.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    from ingest.readers import read_metadata

    # Warm the parent once (netCDF4, h5py, GDAL and every lazy import of the readers),
    # so a forked case pays only for its own read.
    for path in sys.argv[1:]:
        read_metadata(path)
    try:
        read_metadata(__file__)  # not a granule: every reader's can_open, GDAL's drivers
    except Exception:  # noqa: BLE001, S110 - expected: no reader recognises it
        pass

    for line in sys.stdin:
        request = json.loads(line)
        result = run_case(request["path"], float(request.get("timeout", 30)))
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
