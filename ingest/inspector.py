"""A reusable inspection child: the isolation of ingest.inspect without a new
interpreter per file.

Starting Python and importing netCDF4, h5py, GDAL and shapely costs about a second,
more than reading most granules. An Inspector keeps one child process (memory
limited with RLIMIT_AS) and sends it one path at a time over a pipe; the parent
waits with a wall-clock timeout. A timeout, crash or error kills the child and the
next file gets a fresh one, and every child is retired after `max_uses` files, so
state a corrupt file may leave in the C libraries never outlives it.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from ingest.inspect import DEFAULT_READER, GIB, PROJECT_ROOT, InspectError, _classify, _load
from ingest.metadata import SwathMetadata


class Inspector:
    """One child process reading metadata for one caller thread at a time."""

    def __init__(self, memory_limit_bytes: int = 2 * GIB, reader: str = DEFAULT_READER,
                 max_uses: int = 200) -> None:
        self.memory_limit_bytes = memory_limit_bytes
        self.reader = reader
        self.max_uses = max_uses
        self._proc: subprocess.Popen[bytes] | None = None
        self._uses = 0

    def inspect(self, path: str | Path, timeout_s: float = 30.0,
                hints: dict | None = None) -> SwathMetadata:
        """Return the file's metadata; raises InspectError like ingest.inspect.inspect_file."""
        path = Path(path)
        if not path.is_file():
            raise InspectError(path, "not_found", "no such file")
        proc = self._child()
        request = json.dumps({"path": str(path), "hints": hints or {}}) + "\n"
        try:
            proc.stdin.write(request.encode())
            proc.stdin.flush()
            line = self._read_line(proc, timeout_s)
        except TimeoutError:
            self.close()
            raise InspectError(path, "inspect_timeout",
                               f"reader did not finish within {timeout_s:g} s") from None
        except (BrokenPipeError, EOFError):
            code = self.close()
            if code is not None and code < 0:
                name = signal.Signals(-code).name
                raise InspectError(path, "inspect_crashed", f"reader died with {name}") from None
            raise InspectError(path, "inspect_crashed",
                               f"reader exited with status {code}") from None
        self._uses += 1
        payload = json.loads(line)
        if "error" in payload:
            self.close()  # a failed read may leave library state behind: start clean
            raise InspectError(path, payload["error"]["reason"], payload["error"]["message"])
        if self._uses >= self.max_uses:
            self.close()
        return SwathMetadata.from_dict(payload["metadata"])

    def close(self) -> int | None:
        """Stop the child; return its exit status."""
        proc, self._proc, self._uses = self._proc, None, 0
        if proc is None:
            return None
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for stream in (proc.stdin, proc.stdout):
            stream.close()
        return proc.returncode

    def _child(self) -> subprocess.Popen[bytes]:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")])
        )
        env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "ingest.inspector", str(self.memory_limit_bytes),
             self.reader],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
        )
        self._uses = 0
        return self._proc

    @staticmethod
    def _read_line(proc: subprocess.Popen[bytes], timeout_s: float) -> bytes:
        fd = proc.stdout.fileno()
        ready, _, _ = select.select([fd], [], [], timeout_s)
        if not ready:
            raise TimeoutError
        line = proc.stdout.readline()
        if not line:
            raise EOFError
        return line


_local = threading.local()


def inspect_pooled(path: str | Path, timeout_s: float = 30.0,
                   hints: dict | None = None) -> SwathMetadata:
    """Inspect with this thread's reusable Inspector (created on first use)."""
    inspector = getattr(_local, "inspector", None)
    if inspector is None:
        inspector = _local.inspector = Inspector()
    return inspector.inspect(path, timeout_s, hints)


def _serve(memory_limit: int, reader_spec: str) -> int:
    """Child side: answer one JSON request per line until stdin closes."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    # Keep the protocol channel private: C libraries may print to fd 1.
    channel = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    reader = _load(reader_spec)
    for raw in sys.stdin.buffer:
        request = json.loads(raw)
        try:
            meta = reader(request["path"], request["hints"] or None)
            payload: dict[str, Any] = {"metadata": meta.to_dict()}
        # Untrusted files make C libraries raise anything; every failure becomes a reason.
        except Exception as e:  # noqa: BLE001
            reason, message = _classify(e)
            payload = {"error": {"reason": reason, "message": message}}
        channel.write(json.dumps(payload).encode() + b"\n")
    return 0


if __name__ == "__main__":
    sys.exit(_serve(int(sys.argv[1]), sys.argv[2]))
