"""The seed system's object API (reserve/put/get/delete/meta by OID) as a thin facade on stores."""

from __future__ import annotations

import io
import json
import tempfile
import types
import uuid
from typing import Any, BinaryIO

from archive.config import get_store
from archive.errors import ObjectExists, ObjectNotFound
from archive.replication import replicate, stores_for
from archive.stores import PutResult, Store
from archive.streaming import OwningReader

SPOOL_BYTES = 64 * 1024 * 1024


def _data_key(oid: str) -> str:
    return f"objects/{oid}/data"


def _reservation_key(oid: str) -> str:
    return f"objects/{oid}/reserved.json"


def reserve(policy: str = "single") -> str:
    """Reserve and return a new OID (a random UUID, never reused) stored under ``policy``."""
    stores_for(policy)
    oid = uuid.uuid4().hex
    record = json.dumps({"oid": oid, "policy": policy}).encode()
    get_store(stores_for(policy)[0]).put(
        _reservation_key(oid), io.BytesIO(record), content_type="application/json"
    )
    return oid


def _policy(oid: str) -> str:
    """Return the policy an OID was reserved with (the reservation lives in the primary store)."""
    primary = get_store("primary")
    try:
        with primary.open(_reservation_key(oid)) as stream:
            return str(json.load(stream)["policy"])
    except ObjectNotFound:
        raise ObjectNotFound(f"OID {oid} was never reserved", key=_data_key(oid)) from None


def _stores(oid: str) -> list[Store]:
    return [get_store(name) for name in stores_for(_policy(oid))]


def put_oid(
    oid: str, stream: BinaryIO, meta: dict[str, str] | None = None, *, codec: str = "none"
) -> PutResult:
    """Store ``stream`` under a reserved OID in every store of its policy, verifying each copy."""
    primary, *replicas = _stores(oid)
    key = _data_key(oid)
    if primary.head(key) is not None:
        raise ObjectExists(f"OID {oid} already holds an object; OIDs are never reused", key=key)
    result = primary.put(key, stream, codec=codec, metadata={**(meta or {}), "oid": oid})
    primary.verify(key, result.sha256)
    if replicas:
        replicate(key, primary, replicas, expected_sha256=result.sha256)
    return result


def put(stream: BinaryIO, meta: dict[str, str] | None = None, policy: str = "single") -> str:
    """Reserve an OID under ``policy``, store ``stream`` there and return the OID."""
    oid = reserve(policy)
    put_oid(oid, stream, meta)
    return oid


def get(oid: str) -> BinaryIO:
    """Return a stream of the object's bytes, from the first store of its policy that has it."""
    key = _data_key(oid)
    for store in _stores(oid):
        info = store.head(key)
        if info is not None:
            return store.open(key, expected_sha256=info.sha256)
    raise ObjectNotFound(f"OID {oid}: no copy in any store of its policy", key=key)


def meta(oid: str) -> dict[str, Any]:
    """Return the object's user metadata plus oid, policy, size, sha256 and codec."""
    key = _data_key(oid)
    policy = _policy(oid)
    info = get_store(stores_for(policy)[0]).head(key)
    if info is None:
        raise ObjectNotFound(f"OID {oid}: no object stored yet", key=key)
    user = {k: v for k, v in info.metadata.items() if k not in ("sha256", "size", "codec")}
    return {
        **user,
        "oid": oid,
        "policy": policy,
        "size": info.size,
        "sha256": info.sha256,
        "codec": info.codec,
    }


def delete(oid: str) -> None:
    """Delete every copy of the object, then its reservation (the OID stays unused forever)."""
    key = _data_key(oid)
    stores = _stores(oid)
    for store in stores:
        store.delete(key)
    stores[0].delete(_reservation_key(oid))


class ObjectWriter:
    """A write-only file that stores its bytes under an OID on close (spooled to disk if large)."""

    def __init__(
        self, oid: str | None = None, *, policy: str = "single", meta: dict[str, str] | None = None
    ) -> None:
        self.oid = oid or reserve(policy)
        self.meta = dict(meta or {})
        self.result: PutResult | None = None
        self._spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115

    def write(self, data: bytes) -> int:
        """Buffer ``data``; return its length."""
        return self._spool.write(data)

    def writable(self) -> bool:
        """Return True: this file is written, not read."""
        return True

    @property
    def closed(self) -> bool:
        """Return True once the object has been stored or discarded."""
        return self._spool.closed

    def close(self) -> None:
        """Store what was written (once); the OID then holds the object."""
        if self._spool.closed:
            return
        try:
            self._spool.seek(0)
            self.result = put_oid(self.oid, self._spool, self.meta)  # type: ignore[arg-type]
        finally:
            self._spool.close()

    def discard(self) -> None:
        """Drop what was written without storing anything."""
        self._spool.close()

    def __enter__(self) -> ObjectWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        # An exception inside the with-block must not store a half-written object.
        if exc_type is None:
            self.close()
        else:
            self.discard()


class ObjectReader(OwningReader):
    """A read-only file over an OID's object; seekable when the object is uncompressed."""

    _inner: BinaryIO

    def __init__(self, oid: str) -> None:
        super().__init__()
        self.oid = oid
        key = _data_key(oid)
        for store in _stores(oid):
            info = store.head(key)
            if info is None:
                continue
            if (info.codec or "none") == "none":
                self._inner = store.open_ranged(key)  # type: ignore[assignment]
            else:
                self._inner = store.open(key, expected_sha256=info.sha256)
            return
        raise ObjectNotFound(f"OID {oid}: no copy in any store of its policy", key=key)

    def seekable(self) -> bool:
        """Return True when the object is uncompressed (ranged reads)."""
        return self._inner.seekable()

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        """Read the next bytes into ``buffer``."""
        data = self._inner.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Move to ``offset``; only uncompressed objects can seek."""
        if not self._inner.seekable():
            raise io.UnsupportedOperation(f"OID {self.oid} is compressed and cannot seek")
        return self._inner.seek(offset, whence)

    def tell(self) -> int:
        """Return the current position."""
        return self._inner.tell()

