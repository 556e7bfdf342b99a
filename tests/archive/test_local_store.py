"""LocalStore: round trips, atomic writes, sidecar metadata, listing, cleanup and verification."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from archive import codecs
from archive.errors import ArchiveError, ChecksumMismatch, ObjectExists, ObjectNotFound
from archive.local import LocalStore
from tests.archive.conftest import MiB, Zeros, flip_bit, payload, sha


@pytest.mark.parametrize("codec", codecs.CODECS)
@pytest.mark.parametrize("size", [0, 10, 3 * MiB + 1])
def test_it_round_trips_objects_with_each_codec(
    local_store: LocalStore, codec: str, size: int
) -> None:
    data = payload(size, seed=size)
    result = local_store.put(
        "swaths/1/a.nc", io.BytesIO(data), codec=codec, metadata={"mission": "MODIS"}
    )
    assert (result.size, result.sha256, result.codec) == (size, sha(data), codec)
    info = local_store.head("swaths/1/a.nc")
    assert info is not None
    assert (info.size, info.sha256, info.codec, info.stored_size) == (
        size,
        sha(data),
        codec,
        result.stored_size,
    )
    assert info.metadata["mission"] == "MODIS"
    with local_store.open("swaths/1/a.nc") as stream:
        assert stream.read() == data
    assert local_store.verify("swaths/1/a.nc", sha(data)).size == size


def test_it_puts_from_a_path_and_gets_to_a_path(local_store: LocalStore, tmp_path: Path) -> None:
    source = tmp_path / "in.bin"
    source.write_bytes(payload(MiB))
    local_store.put("k/in.bin", source, codec="zstd")
    local_store.get("k/in.bin", tmp_path / "out.bin")
    assert (tmp_path / "out.bin").read_bytes() == source.read_bytes()


def test_a_failed_write_leaves_no_partial_file_visible(
    local_store: LocalStore, tmp_path: Path
) -> None:
    with pytest.raises(ArchiveError, match="swaths/9/x.nc"):
        local_store.put("swaths/9/x.nc", io.BufferedReader(Zeros(2 * MiB, OSError("disk on fire"))))
    assert local_store.head("swaths/9/x.nc") is None
    assert list(local_store.list()) == []
    assert local_store.list_uploads() == []
    leftovers = [p for p in (tmp_path / "store").rglob("*") if p.is_file()]
    assert leftovers == []


def test_an_interrupted_write_is_cleaned_up_even_on_keyboard_interrupt(
    local_store: LocalStore,
) -> None:
    with pytest.raises(KeyboardInterrupt):
        local_store.put("k/interrupted", Zeros(0, KeyboardInterrupt()))  # type: ignore[arg-type]
    assert local_store.list_uploads() == [] and local_store.head("k/interrupted") is None


def test_stale_temporary_files_are_listed_and_aborted(local_store: LocalStore) -> None:
    crashed = local_store.root / "swaths" / ".archive-tmp.a.nc.0123456789abcdef"
    crashed.parent.mkdir(parents=True)
    crashed.write_bytes(b"half")
    [upload] = local_store.list_uploads()
    assert upload.key == "swaths/a.nc"
    local_store.abort_upload(upload.key, upload.upload_id)
    assert local_store.list_uploads() == [] and not crashed.exists()


def test_a_second_different_write_to_a_key_is_refused(local_store: LocalStore) -> None:
    local_store.put("k/a", io.BytesIO(b"first"))
    again = local_store.put("k/a", io.BytesIO(b"first"))
    assert again.existed
    with pytest.raises(ObjectExists, match="k/a"):
        local_store.put("k/a", io.BytesIO(b"second"))
    with local_store.open("k/a") as stream:
        assert stream.read() == b"first"
    local_store.put("k/a", io.BytesIO(b"second"), overwrite=True)
    assert local_store.verify("k/a", sha(b"second")).size == 6


def test_a_source_that_does_not_match_the_expected_digest_is_not_stored(
    local_store: LocalStore,
) -> None:
    with pytest.raises(ChecksumMismatch, match="k/b"):
        local_store.put("k/b", io.BytesIO(b"changed"), sha256=sha(b"original"))
    assert local_store.head("k/b") is None


def test_verify_catches_bit_rot_and_deletion_behind_its_back(local_store: LocalStore) -> None:
    data = payload(MiB, seed=7)
    local_store.put("k/rot", io.BytesIO(data))
    path = local_store.root / "k" / "rot"
    flip_bit(path, 1234)
    with pytest.raises(ChecksumMismatch, match="k/rot"):
        local_store.verify("k/rot", sha(data))
    os.remove(path)
    with pytest.raises(ObjectNotFound, match="k/rot"):
        local_store.verify("k/rot", sha(data))


def test_a_replaced_file_loses_its_stale_sidecar(local_store: LocalStore) -> None:
    local_store.put("k/swap", io.BytesIO(b"original"))
    path = local_store.root / "k" / "swap"
    replacement = path.with_name("other")
    replacement.write_bytes(b"imposter")
    os.replace(replacement, path)
    info = local_store.head("k/swap")
    assert info is not None and info.sha256 is None


def test_list_returns_keys_in_order_without_sidecars(local_store: LocalStore) -> None:
    for key in ["b/2", "a/1", "a/10", "c"]:
        local_store.put(key, io.BytesIO(key.encode()))
    assert [i.key for i in local_store.list()] == ["a/1", "a/10", "b/2", "c"]
    assert [i.key for i in local_store.list("a/1")] == ["a/1", "a/10"]
    local_store.delete("a/1")
    local_store.delete("a/1")  # deleting twice is fine
    assert [i.key for i in local_store.list("a/")] == ["a/10"]


def test_it_has_no_presigned_urls(local_store: LocalStore) -> None:
    local_store.put("k", io.BytesIO(b"x"))
    assert local_store.presign("k", 60) is None


def test_keys_that_escape_the_root_are_refused(local_store: LocalStore) -> None:
    with pytest.raises(ValueError):
        local_store.put("../escape", io.BytesIO(b"x"))
