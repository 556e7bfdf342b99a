"""A reusable inspection child: the isolation of ingest.inspect without a new
interpreter per file.

Starting Python and importing netCDF4, h5py, GDAL and shapely costs about a second,
more than reading most granules. An Inspector keeps one child process (memory
limited with RLIMIT_AS) and sends it one request at a time over a pipe; the parent
waits with a wall-clock timeout, and each request has a CPU-time budget as the one-shot
child has (ingest.inspect: the timeout plus a second). RLIMIT_CPU counts the whole
life of a process, so before each request the child sets its soft limit to the CPU
seconds it has used so far (getrusage) plus the budget, and lifts it again afterwards:
a request that spends more dies of SIGXCPU. A timeout, crash or error kills the child
and the next file gets a fresh one, and every child is retired after `max_uses` requests, so
state a corrupt file may leave in the C libraries never outlives it.

An archived object can be inspected where it lies (``inspect_ranged``): the child reads
it with h5py through a file whose byte ranges it asks this process for over the same
pipes, so the untrusted bytes are parsed in the child, and neither store credentials nor
a whole copy are needed there.

The same child draws quicklooks (ingest.quicklook): an untrusted file is then never
opened by netCDF-C in the ingesting process, whose other threads it could crash or
hang, and the threads of `ingest --workers N` draw side by side, each in its own child.
It builds chunk indexes (ingest.chunkindex) too, of a local file or of an archived object
read by byte ranges: HDF5 parses the untrusted structure there, and a hang or crash costs
only the index. And it runs any top-level function of JSON values (``call``): the batch jobs' items
(hpc.limits) get the same limits, timeout and replacement as inspection.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingest.inspect import DEFAULT_READER, GIB, PROJECT_ROOT, InspectError, _classify, _load
from ingest.metadata import SwathMetadata

if TYPE_CHECKING:
    from ingest.quicklook import Quicklook

DEFAULT_RENDERER = "ingest.quicklook:make_quicklook"
RANGED_READER = "ingest.readers:read_metadata_from"
# The child's view of a ranged object: 1 MiB blocks (HDF5 metadata and chunks are small and
# scattered), at most 64 of them cached; no fetch asked of the parent may exceed MAX_FETCH.
RANGED_BLOCK = 1 << 20
RANGED_CACHE_BLOCKS = 64
MAX_FETCH = 64 << 20
log = logging.getLogger(__name__)
Serve = Callable[[int, int], bytes]


class Inspector:
    """One child process reading metadata (or drawing quicklooks) for one caller thread."""

    def __init__(self, memory_limit_bytes: int = 2 * GIB, reader: str = DEFAULT_READER,
                 max_uses: int = 200, renderer: str = DEFAULT_RENDERER,
                 cpu_limit_s: int | None = None) -> None:
        self.memory_limit_bytes = memory_limit_bytes
        # CPU seconds one request may use; None: the one-shot child's, from the timeout.
        self.cpu_limit_s = cpu_limit_s
        self.reader = reader
        self.renderer = renderer
        self.max_uses = max_uses
        self._proc: subprocess.Popen[bytes] | None = None
        self._uses = 0
        self.child_cpu_s = 0.0  # CPU seconds the child spent answering, summed

    def inspect(self, path: str | Path, timeout_s: float = 30.0, hints: dict | None = None,
                max_unwrapped_bytes: int | None = None) -> SwathMetadata:
        """Return the file's metadata; raises InspectError like ingest.inspect.inspect_file.

        ``max_unwrapped_bytes`` caps a wrapped file's unwrapped size (the reader's own
        default when None); past it the reason is ``decompression_bomb``.
        """
        request: dict[str, Any] = {"path": str(path), "hints": hints or {}}
        if max_unwrapped_bytes is not None:
            request["max_unwrapped_bytes"] = int(max_unwrapped_bytes)
        payload = self._ask(request, Path(path), timeout_s)
        return SwathMetadata.from_dict(payload["metadata"])

    def inspect_ranged(self, serve: Serve, size: int, name: str, timeout_s: float = 30.0,
                       hints: dict | None = None) -> SwathMetadata:
        """Return the metadata of an HDF5-based object of ``size`` bytes read in the child by
        byte ranges, each fetched here with ``serve(start, stop)`` (e.g. a store's ranged
        file); ``name`` is the granule's file name.

        Raises InspectError as inspect does; an error of ``serve`` itself (the store's) is
        raised as it is, once the child has answered.
        """
        request = {"op": "metadata_ranged", "name": name, "size": int(size),
                   "hints": hints or {}}
        payload = self._ask(request, Path(name), timeout_s, serve=serve, size=int(size))
        return SwathMetadata.from_dict(payload["metadata"])

    def quicklook(self, path: str | Path, timeout_s: float = 30.0) -> Quicklook:
        """Return the file's quicklook drawn in the child.

        Raises NothingToDraw or QuicklookError as make_quicklook does, and QuicklookError
        when the child hangs, crashes or runs out of memory while drawing.
        """
        from ingest.quicklook import NothingToDraw, Quicklook, QuicklookError

        try:
            payload = self._ask({"op": "quicklook", "path": str(path)}, Path(path), timeout_s)
        except InspectError as e:
            if e.reason == "nothing_to_draw":
                raise NothingToDraw(e.message) from None
            if e.reason == "quicklook_error":
                raise QuicklookError(e.message) from None
            raise QuicklookError(f"drawing {Path(path).name} failed: {e.reason}: "
                                 f"{e.message}") from None
        look = payload["quicklook"]
        return Quicklook(base64.b64decode(look["png"]), look["variable"], look["units"],
                         look["width"], look["height"])

    def chunk_index(self, path: str | Path, timeout_s: float = 30.0,
                    object_sha256: str | None = None,
                    geo_pairs: list[tuple[str, str]] | None = None) -> dict:
        """Return the file's chunk index (ingest.chunkindex.build_references), built in the
        child; ``object_sha256`` is the object's, when known (else it is computed), and
        ``geo_pairs`` the (lat, lon) paths to bound per chunk, when known.

        Raises NotIndexable with the reason, also when the child hangs, crashes or runs out
        of memory while building.
        """
        request = {"op": "chunk_index", "path": str(path), "object_sha256": object_sha256,
                   "geo_pairs": geo_pairs}
        return self._index(request, Path(path), timeout_s)

    def chunk_index_ranged(self, serve: Serve, size: int, name: str, object_sha256: str,
                           timeout_s: float = 30.0,
                           geo_pairs: list[tuple[str, str]] | None = None) -> dict:
        """Return the chunk index of an object of ``size`` bytes read in the child by byte
        ranges, each fetched here with ``serve(start, stop)`` (as inspect_ranged does).

        Raises NotIndexable as chunk_index does; an error of ``serve`` itself (the store's)
        is raised as it is.
        """
        request = {"op": "chunk_index_ranged", "name": name, "size": int(size),
                   "object_sha256": object_sha256, "geo_pairs": geo_pairs}
        return self._index(request, Path(name), timeout_s, serve=serve, size=int(size))

    def _index(self, request: dict[str, Any], path: Path, timeout_s: float,
               serve: Serve | None = None, size: int = 0) -> dict:
        from ingest.chunkindex import NotIndexable

        try:
            payload = self._ask(request, path, timeout_s, serve=serve, size=size)
        except InspectError as e:
            if e.reason == NotIndexable.reason:
                raise NotIndexable(e.message) from None
            raise NotIndexable(f"building the index failed: {e.reason}: {e.message}") from None
        return payload["references"]

    def call(self, func: str, args: list[Any], label: str, timeout_s: float = 30.0) -> Any:
        """Return ``func(*args)`` run in the child (``func`` a 'module:function' of JSON
        values returning JSON values); ``label`` names the work in errors.

        Raises InspectError: ``inspect_timeout``, ``inspect_crashed`` and
        ``inspect_out_of_memory`` as inspect does; an exception of ``func`` as its
        ``reason`` attribute (if a string) or ``unreadable``, with its message.
        """
        request = {"op": "call", "func": func, "args": args}
        return self._ask(request, Path(label), timeout_s, local=False)["result"]

    @property
    def running(self) -> bool:
        """Return True if a child is up (the next request pays no start-up)."""
        return self._proc is not None and self._proc.poll() is None

    def __del__(self) -> None:
        # A pooled inspector goes with its thread (an ingest pool's at shutdown): its child
        # is stopped and reaped then, not left to notice its closed stdin on its own.
        try:
            self.close()
        except Exception:  # noqa: BLE001 - nothing can be reported from a finaliser
            log.debug("closing an inspection child failed", exc_info=True)

    def _ask(self, request: dict[str, Any], path: Path, timeout_s: float,
             serve: Serve | None = None, size: int = 0, local: bool = True) -> dict[str, Any]:
        """Send one request, return the child's answer; InspectError for every failure.

        With ``serve``, the child's byte-range requests are answered until its answer comes;
        ``local`` says ``path`` is a file here that must exist.
        """
        if local and serve is None and not path.is_file():
            raise InspectError(path, "not_found", "no such file")
        proc = self._child()
        cpu_limit = self.cpu_limit_s or cpu_budget(timeout_s)
        line = (json.dumps({**request, "cpu_limit_s": cpu_limit}) + "\n").encode()
        deadline = time.monotonic() + timeout_s
        store_error: BaseException | None = None
        try:
            proc.stdin.write(line)
            proc.stdin.flush()
            while True:
                payload = json.loads(self._read_line(proc, deadline - time.monotonic()))
                if "fetch" not in payload:
                    break
                failed = _serve_range(proc, serve, size, payload["fetch"])
                store_error = store_error or failed
        except TimeoutError:
            self.close()
            raise InspectError(path, "inspect_timeout",
                               f"reader did not finish within {timeout_s:g} s") from None
        except (BrokenPipeError, EOFError):
            code = self.close()
            if code == -signal.SIGXCPU:
                raise InspectError(path, "inspect_timeout", f"reader used more than its "
                                   f"{cpu_limit} CPU seconds") from None
            if code is not None and code < 0:
                name = signal.Signals(-code).name
                raise InspectError(path, "inspect_crashed", f"reader died with {name}") from None
            raise InspectError(path, "inspect_crashed",
                               f"reader exited with status {code}") from None
        self._uses += 1
        self.child_cpu_s += float(payload.pop("cpu_s", 0.0))
        if store_error is not None:
            self.close()  # the reader saw a failed read: start clean
            raise store_error
        if "error" in payload:
            reason = payload["error"]["reason"]
            if reason != "nothing_to_draw":  # not a fault, just a file without an image
                self.close()  # a failed read may leave library state behind: start clean
            raise InspectError(path, reason, payload["error"]["message"])
        if self._uses >= self.max_uses:
            self.close()
        return payload

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
             self.reader, self.renderer, str(os.getpid())],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
        )
        self._uses = 0
        return self._proc

    @staticmethod
    def _read_line(proc: subprocess.Popen[bytes], timeout_s: float) -> bytes:
        fd = proc.stdout.fileno()
        ready, _, _ = select.select([fd], [], [], max(0.0, timeout_s))
        if not ready:
            raise TimeoutError
        line = proc.stdout.readline()
        if not line:
            raise EOFError
        return line


def _serve_range(proc: subprocess.Popen[bytes], serve: Serve | None, size: int,
                 asked: Any) -> BaseException | None:
    """Answer one byte-range request of the child; return the store's error, if any.

    The answer is a JSON line, ``{"bytes": n}`` followed by the n bytes or ``{"error": ...}``.
    """
    failed: BaseException | None = None
    data = b""
    try:
        start, stop = (int(v) for v in asked)
        if serve is None or not 0 <= start < stop <= size or stop - start > MAX_FETCH:
            head: dict[str, Any] = {"error": f"refused byte range {start}-{stop} of {size}"}
        else:
            data = serve(start, stop)
            head = {"bytes": len(data)}
    except (TypeError, ValueError) as e:
        head = {"error": f"malformed byte range request ({e})"}
    # A store may fail in many ways (ArchiveError, OSError, botocore's): the reader is told,
    # and the caller gets the store's own error once the child has answered.
    except Exception as e:  # noqa: BLE001
        failed, head = e, {"error": f"the object could not be read: {e}"}
    proc.stdin.write(json.dumps(head).encode() + b"\n" + data)
    proc.stdin.flush()
    return failed


def cpu_budget(timeout_s: float) -> int:
    """CPU seconds one request may use: the one-shot child's limit (ingest.inspect)."""
    return max(1, int(timeout_s) + 1)


_local = threading.local()


def pooled() -> Inspector:
    """Return this thread's reusable Inspector (created on first use)."""
    inspector = getattr(_local, "inspector", None)
    if inspector is None:
        inspector = _local.inspector = Inspector()
    return inspector


def inspect_pooled(path: str | Path, timeout_s: float = 30.0, hints: dict | None = None,
                   max_unwrapped_bytes: int | None = None) -> SwathMetadata:
    """Inspect with this thread's reusable Inspector."""
    return pooled().inspect(path, timeout_s, hints, max_unwrapped_bytes)


def quicklook_pooled(path: str | Path, timeout_s: float = 30.0) -> Quicklook:
    """Draw a quicklook with this thread's reusable Inspector."""
    return pooled().quicklook(path, timeout_s)


def _fetch_through(channel: Any, replies: Any) -> Serve:
    """Child side: a fetch(start, stop) that asks the parent for the bytes."""
    def fetch(start: int, stop: int) -> bytes:
        channel.write(json.dumps({"fetch": [start, stop]}).encode() + b"\n")
        head = json.loads(replies.readline() or b"{}")
        if "bytes" not in head:
            raise OSError(head.get("error", "the parent sent no bytes"))
        data = replies.read(int(head["bytes"]))
        if len(data) != int(head["bytes"]):
            raise OSError(f"short read of range {start}-{stop} from the parent")
        return data

    return fetch


def _answer(request: dict[str, Any], reader: Any, renderer_spec: str,
            fetch: Serve | None = None) -> dict[str, Any]:
    """Child side: the answer to one request (the caller catches what it raises)."""
    if request.get("op") == "metadata_ranged" and fetch is not None:
        from archive.ranged import RangedFile

        with RangedFile(fetch, int(request["size"]), name=request["name"],
                        block_size=RANGED_BLOCK, cache_blocks=RANGED_CACHE_BLOCKS) as f:
            meta = _load(RANGED_READER)(f, request["name"], request["hints"] or None)
        return {"metadata": meta.to_dict()}
    if request.get("op") == "chunk_index_ranged" and fetch is not None:
        from archive.ranged import RangedFile
        from ingest.chunkindex import build_references

        with RangedFile(fetch, int(request["size"]), name=request["name"],
                        block_size=RANGED_BLOCK, cache_blocks=RANGED_CACHE_BLOCKS) as f:
            return {"references": build_references(f, object_sha256=request["object_sha256"],
                                                   geo_pairs=_pairs(request))}
    if request.get("op") == "chunk_index":
        from ingest.chunkindex import build_references

        return {"references": build_references(request["path"],
                                                object_sha256=request["object_sha256"],
                                                geo_pairs=_pairs(request))}
    if request.get("op") == "call":
        return {"result": _load(request["func"])(*request["args"])}
    if request.get("op", "metadata") == "metadata":
        # Only a cap the caller set is passed on: other readers take (path, hints) alone.
        cap = request.get("max_unwrapped_bytes")
        extra = {"max_unwrapped_bytes": cap} if cap is not None else {}
        return {"metadata": reader(request["path"], request["hints"] or None, **extra).to_dict()}
    from ingest.quicklook import NothingToDraw, QuicklookError

    try:
        look = _load(renderer_spec)(request["path"])
    except NothingToDraw as e:
        return {"error": {"reason": "nothing_to_draw", "message": str(e)}}
    except QuicklookError as e:
        return {"error": {"reason": "quicklook_error", "message": str(e)}}
    return {"quicklook": {"png": base64.b64encode(look.png).decode("ascii"),
                          "variable": look.variable, "units": look.units,
                          "width": look.width, "height": look.height}}


def _pairs(request: dict[str, Any]) -> list[tuple[str, str]] | None:
    """The (lat, lon) paths of a chunk index request (JSON lists), or None."""
    pairs = request.get("geo_pairs")
    return None if pairs is None else [(str(lat), str(lon)) for lat, lon in pairs]


def _die_with_parent(parent: int) -> None:
    """Child side (Linux): be killed when the parent's thread goes, so a reader hung in C
    never outlives the process waiting for it (a killed MPI rank, a killed ingest)."""
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: stdin's EOF still ends the child
        return
    if os.getppid() != parent:  # the parent went before the request was made
        os._exit(0)


@contextmanager
def _cpu_budget(seconds: Any) -> Iterator[None]:
    """Child side: let the block use ``seconds`` more CPU seconds (None: no limit), then
    die of SIGXCPU. RLIMIT_CPU is whole seconds of the process's life: the soft limit is
    what was used so far, rounded up, plus the budget; the hard limit stays as it was
    (unlimited), so the soft one can be lifted again."""
    import resource

    if seconds is None:
        yield
        return
    usage = resource.getrusage(resource.RUSAGE_SELF)
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = math.ceil(usage.ru_utime + usage.ru_stime) + max(1, int(seconds))
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_CPU, (hard, hard))


def _serve(memory_limit: int, reader_spec: str, renderer_spec: str = DEFAULT_RENDERER,
           parent: int = 0) -> int:
    """Child side: answer one JSON request per line until stdin closes."""
    import resource

    if parent:
        _die_with_parent(parent)
    resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    # A reader killed by its limits or a broken library leaves no core file behind.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # Keep the protocol channel private: C libraries may print to fd 1.
    channel = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    reader = _load(reader_spec)
    fetch = _fetch_through(channel, sys.stdin.buffer)
    for raw in sys.stdin.buffer:
        started = time.process_time()
        try:
            request = json.loads(raw)
            with _cpu_budget(request.pop("cpu_limit_s", None)):
                payload = _answer(request, reader, renderer_spec, fetch)
        # Untrusted files make C libraries raise anything; every failure becomes a reason.
        except Exception as e:  # noqa: BLE001
            reason, message = _classify(e)
            payload = {"error": {"reason": reason, "message": message}}
        payload["cpu_s"] = time.process_time() - started  # for the ingest's timing lines
        channel.write(json.dumps(payload).encode() + b"\n")
    return 0


if __name__ == "__main__":
    sys.exit(_serve(int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])))
