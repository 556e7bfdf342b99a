"""write_chunks: the bytes arrive whole and in order, and failures on either side
propagate after the writer thread has stopped."""

from __future__ import annotations

import io
import os
import sys
import threading

import pytest

from archive.errors import ChecksumMismatch
from archive.writeout import write_chunks, writeback_hint
from tests.archive.conftest import payload


def copy_through_writer(source: io.IOBase, out: io.IOBase, *, chunk: int) -> int:
    """A stream read ``chunk`` bytes at a time into write_chunks, as Store.get feeds it."""
    return write_chunks(iter(lambda: source.read(chunk), b""), out)


class Dribble(io.RawIOBase):
    """A source that returns short reads of uneven sizes, as sockets do."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), 1 + (self.pos * 7919) % 300_000, len(self.data) - self.pos)
        buffer[:n] = self.data[self.pos : self.pos + n]
        self.pos += n
        return n


class FailsAtEnd(io.BytesIO):
    def read(self, n: int | None = -1) -> bytes:  # type: ignore[override]
        data = super().read(n)
        if not data:
            raise ChecksumMismatch("k/x: sha256 differs", key="k/x", store="s", expected="0")
        return data


class FullDisk(io.RawIOBase):
    def __init__(self, room: int) -> None:
        self.room, self.written = room, 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        if self.written + len(data) > self.room:
            raise OSError(28, "No space left on device")
        self.written += len(data)
        return len(data)


@pytest.mark.parametrize("size", [0, 1, 8 * 1024 * 1024, 3 * 8 * 1024 * 1024 + 12345])
def test_every_byte_arrives_in_order(tmp_path, size: int) -> None:
    data = payload(size, seed=size % 97)
    target = tmp_path / "out.bin"
    with open(target, "wb", buffering=0) as out:
        assert copy_through_writer(io.BufferedReader(Dribble(data)), out, chunk=1 << 20) == size
    assert target.read_bytes() == data


def test_a_short_write_is_completed() -> None:
    class Halves(io.BytesIO):
        def write(self, data) -> int:  # type: ignore[override]
            view = memoryview(data)
            return super().write(view[: max(1, len(view) // 2)])

    data = payload(3 * 1024 * 1024 + 5, seed=3)
    out = Halves()
    copy_through_writer(io.BytesIO(data), out, chunk=1 << 20)
    assert out.getvalue() == data


def test_the_sources_error_at_its_end_propagates_after_the_writer_stops() -> None:
    before = threading.active_count()
    with pytest.raises(ChecksumMismatch, match="k/x"):
        copy_through_writer(FailsAtEnd(payload(5 * 1024 * 1024, seed=1)), io.BytesIO(),
                            chunk=1 << 20)
    assert threading.active_count() == before


def test_a_write_error_stops_the_copy_and_propagates() -> None:
    class Endless(io.RawIOBase):
        reads = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            self.reads += 1
            buffer[:] = os.urandom(len(buffer)) if self.reads < 3 else bytes(len(buffer))
            return len(buffer)

    source = Endless()
    with pytest.raises(OSError, match="No space left"):
        copy_through_writer(io.BufferedReader(source), FullDisk(room=4 << 20), chunk=1 << 20)
    assert source.reads < 64  # it stopped reading soon after the writer failed


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="sync_file_range is Linux's")
def test_a_regular_file_takes_the_writeback_hint(tmp_path) -> None:
    """So the fsync before a download's rename no longer waits for the whole file."""
    with open(tmp_path / "out.bin", "wb", buffering=0) as out:
        out.write(payload(1 << 20, seed=5))
        assert writeback_hint(out)(0, 1 << 20) is True


def test_a_pipe_refuses_the_hint_and_still_gets_every_byte() -> None:
    data = payload(3 * 1024 * 1024 + 7, seed=11)
    read_end, write_end = os.pipe()
    received = bytearray()

    def drain() -> None:
        with os.fdopen(read_end, "rb") as pipe:
            while block := pipe.read(1 << 16):
                received.extend(block)

    reader = threading.Thread(target=drain)
    reader.start()
    with os.fdopen(write_end, "wb", buffering=0) as out:
        assert writeback_hint(out)(0, 4096) is False  # ESPIPE: a hint, never an error
        assert copy_through_writer(io.BytesIO(data), out, chunk=1 << 20) == len(data)
    reader.join()
    assert bytes(received) == data
