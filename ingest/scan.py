"""Directory scanner: regular files under the given roots, never following links out.

Symlinks, FIFOs, devices and names that cannot be keys are reported, not read;
keys never come from file names anyway (RELIABILITY M4).
"""

from __future__ import annotations

import fnmatch
import os
import stat
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ScanResult:
    """Files to ingest, files refused (with why), and the per-directory counts."""

    files: list[tuple[Path, int]] = field(default_factory=list)  # (path, size)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    per_dir: Counter = field(default_factory=Counter)

    @property
    def total_bytes(self) -> int:
        return sum(size for _, size in self.files)


def scan(roots: list[str | Path], include: list[str] | None = None) -> ScanResult:
    """Walk the roots (files or directories) and classify every entry."""
    result = ScanResult()
    for root in roots:
        root = Path(root)
        try:
            st = os.lstat(root)
        except OSError as e:
            result.refused.append((str(root), f"cannot stat: {e.strerror}"))
            continue
        if stat.S_ISREG(st.st_mode):
            _consider(result, root, st, include)
        elif stat.S_ISDIR(st.st_mode):
            _walk(result, root, include)
        else:
            result.refused.append((str(root), "not a regular file or directory"))
    result.files.sort()
    return result


def _walk(result: ScanResult, root: Path, include: list[str] | None) -> None:
    def onerror(e: OSError) -> None:
        result.refused.append((str(e.filename), f"cannot list: {e.strerror}"))

    # followlinks=False: a symlinked directory is reported, never entered.
    for dirpath, dirnames, filenames in os.walk(root, onerror=onerror, followlinks=False):
        for name in sorted(dirnames):
            full = Path(dirpath) / name
            if full.is_symlink():
                result.refused.append((printable(full), "symbolic link: not followed"))
        for name in sorted(filenames):
            full = Path(dirpath) / name
            try:
                st = os.lstat(full)
            except OSError as e:
                result.refused.append((printable(full), f"cannot stat: {e.strerror}"))
                continue
            _consider(result, full, st, include)


def _consider(
    result: ScanResult, path: Path, st: os.stat_result, include: list[str] | None
) -> None:
    if include and not any(fnmatch.fnmatch(path.name, pat) for pat in include):
        return
    if stat.S_ISLNK(st.st_mode):
        result.refused.append((printable(path), "symbolic link: not followed"))
    elif not stat.S_ISREG(st.st_mode):
        result.refused.append((printable(path), "not a regular file (FIFO, device or socket)"))
    elif not os.access(path, os.R_OK):
        result.refused.append((printable(path), "permission denied"))
    elif any(ord(c) < 0x20 or ord(c) == 0x7F for c in path.name):
        result.refused.append((printable(path), "control character in the file name"))
    else:
        result.files.append((path, st.st_size))
        result.per_dir[str(path.parent)] += 1


def printable(path: Path | str) -> str:
    """A path safe to print, log and store: undecodable bytes and controls escaped.

    >>> printable(Path(os.fsdecode(b"caf\\xe9\\n.nc")))
    'caf\\\\xe9\\\\n.nc'
    """
    text = os.fsencode(path).decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
