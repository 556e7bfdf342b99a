"""Opening a put's source (a path or a binary stream) and learning its size if it can be known."""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

Source = str | os.PathLike[str] | BinaryIO


@contextmanager
def open_source(source: Source) -> Iterator[BinaryIO]:
    """Yield a binary stream for ``source``; a path is opened and closed here, a stream is not."""
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as handle:
            yield handle
    else:
        given: object = source  # a caller may pass a text stream despite the annotation
        if isinstance(given, io.TextIOBase):
            raise TypeError("put() needs a binary stream, got a text stream")
        yield source


def remaining_size(stream: BinaryIO) -> int | None:
    """Return the bytes left in ``stream`` when it is a regular file or BytesIO, else None."""
    if isinstance(stream, io.BytesIO):
        return stream.getbuffer().nbytes - stream.tell()
    try:
        info = os.fstat(stream.fileno())
    except (AttributeError, OSError, io.UnsupportedOperation):
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    try:
        return max(0, info.st_size - stream.tell())
    except (OSError, io.UnsupportedOperation):
        return None


def rewind_point(stream: BinaryIO) -> int | None:
    """Return the position to seek back to for a retry, or None if the stream cannot seek."""
    try:
        if stream.seekable():
            return stream.tell()
    except (AttributeError, OSError, ValueError):
        return None
    return None
