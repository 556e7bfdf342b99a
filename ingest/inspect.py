"""Read a granule's metadata in a child process with time and memory limits.

netCDF-C and HDF5 can hang, abort or segfault on truncated or corrupted files. The reader
runs in a fresh interpreter (``python -m ingest.inspect``; a subprocess rather than
multiprocessing, so it also works from daemonic Celery workers) with RLIMIT_AS and
RLIMIT_CPU set in the child; the parent waits with a wall-clock timeout and turns every
failure into an :class:`InspectError` with a reason and a message naming the file.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ingest.metadata import SwathMetadata

DEFAULT_READER = "ingest.readers:read_metadata"
GIB = 2**30
PROJECT_ROOT = Path(__file__).resolve().parents[1]


class InspectError(Exception):
    """Inspecting a file failed; ``reason`` is one of the classes below, message names the file.

    Reasons: inspect_timeout, inspect_crashed, inspect_out_of_memory, unreadable,
    no_geolocation, unsupported_format, decompression_bomb, corrupt_wrapper, not_found.
    """

    def __init__(self, path: str | Path, reason: str, message: str) -> None:
        super().__init__(f"{path}: {reason}: {message}")
        self.path = str(path)
        self.reason = reason
        self.message = message


def inspect_file(path: str | Path, timeout_s: float = 30.0,
                 memory_limit_bytes: int = 2 * GIB, hints: dict | None = None,
                 reader: str = DEFAULT_READER) -> SwathMetadata:
    """Return the file's metadata read in a limited child process; raises InspectError.

    ``reader`` is a 'module:function' taking (path, hints) and returning SwathMetadata.
    """
    path = Path(path)
    if not path.is_file():
        raise InspectError(path, "not_found", "no such file")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    # One BLAS/OpenMP thread: thread stacks would otherwise eat the address-space limit.
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    cpu_limit = max(1, int(timeout_s) + 1)
    with tempfile.TemporaryDirectory(prefix="inspect-") as tmp:
        result = Path(tmp) / "result.json"
        errors = Path(tmp) / "stderr.txt"
        cmd = [sys.executable, "-m", "ingest.inspect", str(result), str(memory_limit_bytes),
               str(cpu_limit), reader, json.dumps(hints or {}), str(path)]
        with open(errors, "wb") as err:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=err, env=env)
            try:
                code = proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()  # only our own child, by its handle
                proc.wait()
                raise InspectError(path, "inspect_timeout",
                                   f"reader did not finish within {timeout_s:g} s") from None
        return _outcome(path, code, result, errors)


def _tail(errors: Path, limit: int = 400) -> str:
    text = errors.read_bytes()[-limit:].decode("utf-8", "replace").strip()
    return text.splitlines()[-1] if text else ""


def _outcome(path: Path, code: int, result: Path, errors: Path) -> SwathMetadata:
    """Return the metadata the child wrote, or raise the classified error."""
    payload: dict[str, Any] | None = None
    if result.exists():
        try:
            payload = json.loads(result.read_text())
        except (ValueError, OSError):
            payload = None
    if payload and "metadata" in payload and code == 0:
        return SwathMetadata.from_dict(payload["metadata"])
    if payload and "error" in payload:
        raise InspectError(path, payload["error"]["reason"], payload["error"]["message"])
    if code < 0:
        sig = signal.Signals(-code)
        if sig in (signal.SIGXCPU,):
            raise InspectError(path, "inspect_timeout", "reader hit its CPU time limit")
        raise InspectError(path, "inspect_crashed", f"reader died with {sig.name} "
                           f"({_tail(errors) or 'no message'})")
    raise InspectError(path, "inspect_crashed",
                       f"reader exited with status {code} ({_tail(errors) or 'no message'})")


def _load(spec: str) -> Callable[..., SwathMetadata]:
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def _classify(exc: BaseException) -> tuple[str, str]:
    """Return (reason, message) for an exception raised while reading."""
    reason = getattr(exc, "reason", None)
    if isinstance(reason, str):
        return reason, str(exc)
    if isinstance(exc, MemoryError):
        return "inspect_out_of_memory", "reader exceeded its memory limit"
    return "unreadable", f"{type(exc).__name__}: {exc}"


def _child(result: str, memory: int, cpu: int, reader_spec: str, hints: str, path: str) -> int:
    """Run the reader under resource limits and write its result or error as JSON."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    try:
        reader = _load(reader_spec)
        meta = reader(path, json.loads(hints) or None)
        payload: dict[str, Any] = {"metadata": meta.to_dict()}
        code = 0
    # Untrusted files make C libraries raise anything; every failure becomes a reason.
    except Exception as e:  # noqa: BLE001
        reason, message = _classify(e)
        payload, code = {"error": {"reason": reason, "message": message}}, 2
    Path(result).write_text(json.dumps(payload))
    return code


if __name__ == "__main__":  # the child inspect_file starts, with its arguments in order
    result, memory, cpu, reader_spec, hints, path = sys.argv[1:7]
    sys.exit(_child(result, int(memory), int(cpu), reader_spec, hints, path))
