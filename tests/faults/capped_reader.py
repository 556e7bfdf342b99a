"""A reader spec for the inspector with a small unwrap cap (M3): the default cap is 64 GiB."""

from __future__ import annotations

from pathlib import Path

from ingest.metadata import SwathMetadata
from ingest.readers import read_metadata

CAP = 100 * 2**20


def read(path: str | Path, hints: dict | None = None) -> SwathMetadata:
    """read_metadata with a 100 MiB cap on what a gzip/bzip2/zstd wrapper may expand to."""
    return read_metadata(path, hints, max_unwrapped_bytes=CAP)
