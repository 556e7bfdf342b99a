"""Where outputs go: a directory or an object store prefix, with done-markers for resume.

An output ``<id>.nc`` becomes visible only complete: in a directory it is written under
``.partial/`` and renamed into place (same file system, atomic); in a store a put is
atomic by itself (a multipart upload is invisible until completed). Only then is the
done-marker ``<id>.nc.done`` written (JSON: sha256, size, parameters), the same way.
A re-run skips an item whose marker matches the job's parameters and whose output has
the recorded size and checksum, and redoes anything else under the same name, so an
item is never written twice under two names.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from archive.errors import ArchiveError
from hpc.sources import store_for

PARTIAL = ".partial"
MARKER = ".done"


def is_store(out: str) -> bool:
    """Return True if ``out`` is an object-store URL rather than a directory."""
    return out.startswith(("s3://", "file://"))


def output_name(item_id: str) -> str:
    """Return the output file name of an item.

    >>> output_name("5f0c-42")
    '5f0c-42.nc'
    """
    return f"{item_id}.nc"


def output_ref(out: str, name: str) -> str:
    """Return the full path or URL of an output (what the report and registration use)."""
    return f"{out.rstrip('/')}/{name}" if is_store(out) else str(Path(out) / name)


def prepare(out: str) -> None:
    """Create the output directory and clear partial files a killed run left (rank 0 only)."""
    if is_store(out):
        return
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(root / PARTIAL, ignore_errors=True)
    (root / PARTIAL).mkdir(exist_ok=True)


@contextlib.contextmanager
def scratch(out: str) -> Any:
    """Yield a private temporary directory for one item (beside the outputs if local)."""
    base = str(Path(out) / PARTIAL) if not is_store(out) else None
    if base is not None:
        os.makedirs(base, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="item-", dir=base) as tmp:
        yield Path(tmp)


def read_marker(out: str, name: str) -> dict[str, Any] | None:
    """Return the done-marker of ``name``, or None if there is none (or it is unreadable)."""
    try:
        if is_store(out):
            store = store_for(out)
            if store.head(name + MARKER) is None:
                return None
            with store.open(name + MARKER) as f:
                data = f.read()
        else:
            data = (Path(out) / (name + MARKER)).read_bytes()
        marker = json.loads(data)
    except (FileNotFoundError, ValueError):
        return None
    return marker if isinstance(marker, dict) else None


def finished(out: str, name: str, params: str) -> dict[str, Any] | None:
    """Return the marker if ``name`` was finished with these parameters and is intact."""
    marker = read_marker(out, name)
    if marker is None or marker.get("params") != params:
        return None
    if marker.get("empty"):
        return marker
    if is_store(out):
        info = store_for(out).head(name)
        ok = info is not None and (info.size or info.stored_size) == marker.get("size") and (
            info.sha256 in (None, marker.get("sha256")))
    else:
        path = Path(out) / name
        ok = path.is_file() and path.stat().st_size == marker.get("size")
    return marker if ok else None


def publish(out: str, name: str, local: Path | None, marker: dict[str, Any]) -> None:
    """Move a finished output into place, then write its done-marker (both atomically)."""
    body = json.dumps(marker, sort_keys=True).encode()
    if is_store(out):
        store = store_for(out)
        if local is not None:
            put = store.put(name, local, size=marker["size"], sha256=marker["sha256"],
                            content_type="application/x-netcdf", overwrite=True)
            if put.sha256 != marker["sha256"]:
                raise ArchiveError(f"{name}: stored with sha256 {put.sha256}, expected "
                                   f"{marker['sha256']}", key=name)
        store.put(name + MARKER, io.BytesIO(body), size=len(body),
                  content_type="application/json", overwrite=True)
        return
    root = Path(out)
    if local is not None:
        with open(local, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(local, root / name)
    fd, tmp = tempfile.mkstemp(dir=root / PARTIAL, prefix=f"{name}.", suffix=MARKER)
    with os.fdopen(fd, "wb") as f:
        f.write(body)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, root / (name + MARKER))
    _fsync_dir(root)


def _fsync_dir(path: Path) -> None:
    """Make renames in ``path`` durable (a power cut must not lose a marker)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
