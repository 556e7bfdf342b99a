"""Replication between stores: streamed, source-checked, each copy re-read and verified."""

from __future__ import annotations

import io

import pytest

from archive.errors import ChecksumMismatch, ObjectNotFound
from archive.local import LocalStore
from archive.replication import replicate
from archive.s3 import S3Store
from tests.archive.conftest import PART, payload, sha
from tests.support.s3servers import S3Server


def test_replicate_streams_and_verifies_each_copy_keeping_the_codec(
    s3_store: S3Store, moto_store: S3Store, local_store: LocalStore
) -> None:
    data = payload(PART + 77, seed=21)
    s3_store.put(
        "swaths/3/g.nc",
        io.BytesIO(data),
        codec="zstd",
        sha256=sha(data),
        metadata={"mission": "Aqua"},
    )
    results = replicate("swaths/3/g.nc", s3_store, [moto_store, local_store])
    assert [r.store for r in results] == [moto_store.name, local_store.name]
    assert all(r.verified and r.sha256 == sha(data) and r.size == len(data) for r in results)
    for target in (moto_store, local_store):
        info = target.head("swaths/3/g.nc")
        assert info is not None and info.codec == "zstd" and info.metadata["mission"] == "Aqua"
        with target.open("swaths/3/g.nc") as stream:
            assert stream.read() == data


# rclone only: SeaweedFS answers a GET of a flipped bit with HTTP 500 (its chunk CRC),
# which the store reports as a transient error after its retries, not ChecksumMismatch
# (see test_s3_store.py::test_verify_catches_an_object_edited_in_rclones_data_dir).
def test_replicate_refuses_to_copy_a_corrupt_source(
    rclone_s3: S3Server, rclone_store: S3Store, local_store: LocalStore
) -> None:
    data = payload(PART + 5, seed=22)
    rclone_store.put("swaths/4/g.nc", io.BytesIO(data), sha256=sha(data))
    rclone_s3.corrupt_behind(rclone_store.prefix + "swaths/4/g.nc", 100)
    with pytest.raises(ChecksumMismatch, match="swaths/4/g.nc"):
        replicate("swaths/4/g.nc", rclone_store, [local_store], expected_sha256=sha(data))
    assert local_store.head("swaths/4/g.nc") is None and local_store.list_uploads() == []


def test_replicate_names_a_missing_source(s3_store: S3Store, local_store: LocalStore) -> None:
    with pytest.raises(ObjectNotFound, match="swaths/5/none.nc"):
        replicate("swaths/5/none.nc", s3_store, [local_store])
