"""Open a manifest item's swath for the kernel: ranged reads where possible, else a copy.

From the object store (``store_url`` + ``key``): the object's recorded SHA-256 and size
are compared with the manifest first (ranged reads cannot re-hash the whole object),
then an uncompressed HDF5/NetCDF4 object is read by range requests; a compressed or
NetCDF3 object is downloaded whole into scratch, hashed as it streams. From the API
(``url``): the same, over HTTP Range, with the ETag (the sha256) checked instead.

An item may list ``replicas`` (other verified copies: ``store_url``, ``key``, ``codec``):
when the first copy is missing, does not match the manifest, fails its hash while being
downloaded or cannot be read, the next is tried, before the kernel reads a byte. Ranks
have no database, so they do not mark the failing copy: the reasons go into the item's
result (``source_problems``), and the archive's own fsck finds the copy.
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import os
import shutil
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import archive.config
from archive.envconfig import StoreConfig
from archive.errors import ArchiveError, ChecksumMismatch, ObjectNotFound, TransientArchiveError
from archive.ranged import RangedFile, hdf5_by_ranges
from archive.stores import Store
from archive.streaming import CHUNK, HashingReader
from hpc.env import api_token, store_config
from subset import kernel

# Over HTTP (no prefetch) HDF5 reads chunks through the blocks: large ones. A store's
# RangedFile prefetches the chunks, so its blocks hold metadata: the kernel's small ones.
RANGED_BLOCK = 1 << 20
RANGED_CACHE_BLOCKS = 64
HTTP_TIMEOUT_S = 120

@functools.cache
def node_config() -> StoreConfig:
    """Return this process's store configuration, read from its environment once."""
    return store_config()


def store_for(url: str) -> Store:
    """Return this process's store for ``url`` from the one registry (archive.config).

    On a compute node the registry is configured here, from the environment; where Django
    configured it (rank 0 with --register, manage.py), the same reader already did. A URL
    of a named store gets that store; any other, the environment's options for its kind
    (part size, concurrency, endpoint, keys), never a constructor's defaults.
    """
    config = node_config()
    if not archive.config.is_configured():
        archive.config.configure(config)
    return archive.config.store_for_url(url, config.options_for)


def reset_stores() -> None:
    """Re-read the environment and forget the stores opened by this process (tests; fork)."""
    node_config.cache_clear()
    archive.config.forget_opened()


class Counted(os.PathLike[str]):
    """A local copy of the source that reports how many bytes came over the network."""

    def __init__(self, path: Path, size: int) -> None:
        self.path, self.bytes_read = path, size

    def __fspath__(self) -> str:
        return str(self.path)


@contextlib.contextmanager
def open_item(item: dict[str, Any], scratch: Path,
              problems: list[str] | None = None) -> Iterator[Any]:
    """Yield a readable source (RangedFile or Counted path) for a manifest item.

    ``problems`` collects why copies were passed over for a replica.
    """
    if item.get("store_url") and item.get("key"):
        with _open_from_store(item, scratch, problems) as src:
            yield src
    else:
        with _open_from_http(item, scratch) as src:
            yield src


@contextlib.contextmanager
def _open_from_store(item: dict[str, Any], scratch: Path,
                     problems: list[str] | None) -> Iterator[Any]:
    """The item's copy, else each of its ``replicas`` in turn (see the module docstring)."""
    places = [item, *({**item, **replica} for replica in item.get("replicas") or [])]
    failure: ArchiveError | None = None
    for place in places:
        with contextlib.ExitStack() as stack:
            try:
                src = stack.enter_context(_open_copy(place, scratch))
            except ArchiveError as e:
                failure = e
                if problems is not None:
                    problems.append(f"{place['store_url']} {place['key']}: {e}")
                continue
            yield src
            return
    if failure is not None:
        raise failure


@contextlib.contextmanager
def _open_copy(item: dict[str, Any], scratch: Path) -> Iterator[Any]:
    store = store_for(item["store_url"])
    key, sha = item["key"], item.get("sha256")
    info = store.head(key)
    if info is None:
        raise ObjectNotFound(f"{key}: the swath's object is missing from {store.name}",
                             key=key, store=store.name)
    if (sha and info.sha256 and info.sha256 != sha) or (
            info.size is not None and item.get("size") and info.size != item["size"]):
        raise ChecksumMismatch(f"{key}: the stored object does not match the manifest "
                               f"(sha256 {info.sha256}, size {info.size})", key=key)
    codec = item.get("codec") or info.codec or "none"
    if codec == "none":
        with hdf5_by_ranges(store.open_ranged(key, block_size=kernel.RANGED_BLOCK,
                                              cache_blocks=kernel.RANGED_CACHE_BLOCKS)) as ranged:
            if ranged is not None:
                yield ranged
                return
    local = scratch / "source"
    with store.open(key, expected_sha256=sha, codec=codec) as stream:
        size = _copy_to(stream, local, None)
    yield Counted(local, size)


@contextlib.contextmanager
def _open_from_http(item: dict[str, Any], scratch: Path) -> Iterator[Any]:
    reader = HttpRanges(item["url"])
    try:
        size, etag = reader.head()
        sha = item.get("sha256")
        if sha and etag and etag.strip('"') != sha:
            raise ChecksumMismatch(f"{item['url']}: ETag {etag} does not match the manifest "
                                   f"sha256 {sha}")
        with hdf5_by_ranges(RangedFile(reader.fetch, size, name=item["url"],
                                       block_size=RANGED_BLOCK,
                                       cache_blocks=RANGED_CACHE_BLOCKS)) as ranged:
            if ranged is not None:
                yield ranged
                return
        local = scratch / "source"
        got = reader.download(local, sha)
        yield Counted(local, got)
    finally:
        reader.close()


def _copy_to(stream: BinaryIO, path: Path, sha256: str | None) -> int:
    """Copy ``stream`` to ``path``; check ``sha256`` if given; return the byte count."""
    reader = HashingReader(stream)
    with open(path, "wb") as f:
        shutil.copyfileobj(reader, f, CHUNK)
    if sha256 and reader.hexdigest() != sha256:
        raise ChecksumMismatch(f"{path.name}: downloaded bytes hash to {reader.hexdigest()}, "
                               f"expected {sha256}")
    return reader.bytes_read


class HttpRanges:
    """Range requests over one kept-alive HTTP connection (the API's download endpoint)."""

    def __init__(self, url: str) -> None:
        self.url = url
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"{url}: only http(s) URLs can be read")
        self._https = parts.scheme == "https"
        self._netloc = parts.netloc
        self._path = parts.path + (f"?{parts.query}" if parts.query else "")
        self._headers = {}
        token = api_token()
        if token:
            self._headers["Authorization"] = f"Token {token}"
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._conn = cls(self._netloc, timeout=HTTP_TIMEOUT_S)
        return self._conn

    def _request(self, method: str, headers: dict[str, str]) -> http.client.HTTPResponse:
        """Send one request, reconnecting once if a kept-alive connection was dropped."""
        for attempt in (1, 2):
            conn = self._connection()
            try:
                conn.request(method, self._path, headers={**self._headers, **headers})
                return conn.getresponse()
            except (http.client.HTTPException, OSError) as e:
                self.close()
                if attempt == 2:
                    raise TransientArchiveError(f"{method} {self.url}: {e}") from e
        raise AssertionError("unreachable")  # pragma: no cover

    def head(self) -> tuple[int, str | None]:
        """Return (size, ETag) of the resource."""
        response = self._request("HEAD", {})
        response.read()
        if response.status != 200:
            raise _http_error("HEAD", self.url, response.status)
        return int(response.headers["Content-Length"]), response.headers.get("ETag")

    def fetch(self, start: int, stop: int) -> bytes:
        """Return bytes [start, stop) of the resource."""
        response = self._request("GET", {"Range": f"bytes={start}-{stop - 1}"})
        data = response.read()
        if response.status != 206:
            raise _http_error("GET", self.url, response.status)
        return data

    def download(self, path: Path, sha256: str | None) -> int:
        """Copy the whole resource to ``path``, checking ``sha256``; return its size."""
        response = self._request("GET", {})
        if response.status != 200:
            response.read()
            raise _http_error("GET", self.url, response.status)
        return _copy_to(response, path, sha256)

    def close(self) -> None:
        """Close the connection."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _http_error(method: str, url: str, status: int) -> ArchiveError:
    """Return the error for an HTTP status: 5xx and 429 may pass, others will not."""
    cls = TransientArchiveError if status >= 500 or status == 429 else ArchiveError
    return cls(f"{method} {url}: HTTP {status}")
