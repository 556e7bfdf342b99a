"""Recognise gzip/bzip2/zstd-wrapped granules and unwrap them, streaming, with a size cap."""

from __future__ import annotations

import bz2
import contextlib
import gzip
import os
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import zstandard

from eo.formats import WRAPPERS, recognise_path

DEFAULT_MAX_BYTES = 64 * 2**30  # larger than any real granule; bombs stop here
CHUNK = 2**20


class UnwrapError(Exception):
    """A wrapped file cannot be unwrapped; ``reason`` says why."""

    def __init__(self, path: str | Path, reason: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = str(path)
        self.reason = reason


def detect_wrapper(path: str | Path) -> str | None:
    """Return 'gzip', 'bzip2' or 'zstd' from the magic bytes, or None if not wrapped."""
    kind = recognise_path(path)
    return kind if kind in WRAPPERS.values() else None


def _open_stream(kind: str, src: BinaryIO) -> BinaryIO:
    """Return a file-like reader of the decompressed stream; read(n) never exceeds n bytes."""
    if kind == "gzip":
        return gzip.GzipFile(fileobj=src, mode="rb")  # type: ignore[return-value]
    if kind == "bzip2":
        return bz2.BZ2File(src, mode="rb")  # type: ignore[return-value]
    return zstandard.ZstdDecompressor().stream_reader(src, read_across_frames=True)


def unwrap_to(path: str | Path, dest: BinaryIO, max_bytes: int = DEFAULT_MAX_BYTES) -> int:
    """Stream the decompressed content of ``path`` into ``dest``; return the byte count.

    Raises UnwrapError(reason='decompression_bomb') as soon as the output passes max_bytes,
    and UnwrapError(reason='corrupt_wrapper') if the compressed stream is damaged.
    """
    kind = detect_wrapper(path)
    if kind is None:
        raise UnwrapError(path, "not_wrapped", "not a gzip/bzip2/zstd file")
    written = 0
    try:
        with open(path, "rb") as src, _open_stream(kind, src) as stream:
            while out := stream.read(CHUNK):
                written += len(out)
                if written > max_bytes:
                    raise UnwrapError(path, "decompression_bomb",
                                      f"{kind} content exceeds the {max_bytes} byte cap "
                                      "(decompression bomb?)")
                dest.write(out)
    except (OSError, EOFError, zlib.error, ValueError, zstandard.ZstdError) as e:
        raise UnwrapError(path, "corrupt_wrapper", f"damaged {kind} stream ({e})") from e
    return written


@contextlib.contextmanager
def unwrapped(path: str | Path, max_bytes: int = DEFAULT_MAX_BYTES,
              tmp_dir: str | Path | None = None) -> Iterator[Path]:
    """Yield a path to the plain file: ``path`` itself, or a temp file removed afterwards."""
    if detect_wrapper(path) is None:
        yield Path(path)
        return
    fd, tmp = tempfile.mkstemp(prefix="unwrap-", suffix="-" + Path(path).name, dir=tmp_dir)
    try:
        with os.fdopen(fd, "wb") as dest:
            unwrap_to(path, dest, max_bytes)
        yield Path(tmp)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
