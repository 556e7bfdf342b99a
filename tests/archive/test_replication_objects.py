"""Replication between stores, and the OID object facade on top of the store registry."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from archive import config, objects
from archive.errors import ChecksumMismatch, ObjectExists, ObjectNotFound
from archive.local import LocalStore
from archive.replication import replicate, stores_for
from archive.s3 import S3Store
from tests.archive.conftest import PART, flip_bit, payload, sha
from tests.support.s3servers import S3Server


def test_policies_map_to_ordered_store_names() -> None:
    assert stores_for("single") == ("primary",)
    assert stores_for("copy3") == ("primary", "offsite", "tertiary")
    with pytest.raises(ValueError, match="copy9"):
        stores_for("copy9")


def test_replicate_streams_and_verifies_each_copy_keeping_the_codec(
    rclone_store: S3Store, moto_store: S3Store, local_store: LocalStore
) -> None:
    data = payload(PART + 77, seed=21)
    rclone_store.put(
        "swaths/3/g.nc",
        io.BytesIO(data),
        codec="zstd",
        sha256=sha(data),
        metadata={"mission": "Aqua"},
    )
    results = replicate("swaths/3/g.nc", rclone_store, [moto_store, local_store])
    assert [r.store for r in results] == [moto_store.name, local_store.name]
    assert all(r.verified and r.sha256 == sha(data) and r.size == len(data) for r in results)
    for target in (moto_store, local_store):
        info = target.head("swaths/3/g.nc")
        assert info is not None and info.codec == "zstd" and info.metadata["mission"] == "Aqua"
        with target.open("swaths/3/g.nc") as stream:
            assert stream.read() == data


def test_replicate_refuses_to_copy_a_corrupt_source(
    rclone_s3: S3Server, rclone_store: S3Store, local_store: LocalStore
) -> None:
    data = payload(PART + 5, seed=22)
    rclone_store.put("swaths/4/g.nc", io.BytesIO(data), sha256=sha(data))
    flip_bit(rclone_s3.object_path(rclone_store.prefix + "swaths/4/g.nc"), 100)
    rclone_s3.forget()
    with pytest.raises(ChecksumMismatch, match="swaths/4/g.nc"):
        replicate("swaths/4/g.nc", rclone_store, [local_store], expected_sha256=sha(data))
    assert local_store.head("swaths/4/g.nc") is None and local_store.list_uploads() == []


def test_replicate_names_a_missing_source(rclone_store: S3Store, local_store: LocalStore) -> None:
    with pytest.raises(ObjectNotFound, match="swaths/5/none.nc"):
        replicate("swaths/5/none.nc", rclone_store, [local_store])


@pytest.fixture
def registry(tmp_path: Path, rclone_s3: S3Server, s3_prefix: str) -> Iterator[None]:
    """Primary store on disk, offsite store on rclone, configured in the process registry."""
    config.reset()
    config.configure(
        {
            "primary": (f"file://{tmp_path}/primary", {}),
            "offsite": (
                f"s3://{rclone_s3.bucket}/{s3_prefix}",
                {
                    "endpoint_url": rclone_s3.endpoint_url,
                    "access_key": rclone_s3.access_key,
                    "secret_key": rclone_s3.secret_key,
                    "part_size": PART,
                },
            ),
        }
    )
    yield
    config.reset()


@pytest.mark.usefixtures("registry")
def test_an_object_written_like_a_file_is_stored_in_every_store_of_its_policy() -> None:
    data = payload(PART + 9, seed=23)
    with objects.ObjectWriter(policy="replicate", meta={"source": "unit"}) as writer:
        for start in range(0, len(data), 1 << 20):
            writer.write(data[start : start + (1 << 20)])
    oid = writer.oid
    meta = objects.meta(oid)
    assert (meta["size"], meta["sha256"], meta["policy"], meta["source"]) == (
        len(data),
        sha(data),
        "replicate",
        "unit",
    )
    for name in ("primary", "offsite"):
        config.get_store(name).verify(f"objects/{oid}/data", sha(data))
    with objects.get(oid) as stream:
        assert stream.read() == data
    with objects.ObjectReader(oid) as reader:
        reader.seek(PART)
        assert reader.read(9) == data[PART : PART + 9]
    objects.delete(oid)
    assert config.get_store("offsite").head(f"objects/{oid}/data") is None
    with pytest.raises(ObjectNotFound):
        objects.get(oid)


@pytest.mark.usefixtures("registry")
def test_oids_are_never_reused() -> None:
    oid = objects.put(io.BytesIO(b"first"), {"k": "v"})
    assert objects.reserve() != oid
    with pytest.raises(ObjectExists, match=oid):
        objects.put_oid(oid, io.BytesIO(b"second"))
    with objects.get(oid) as stream:
        assert stream.read() == b"first"


@pytest.mark.usefixtures("registry")
def test_an_exception_inside_an_object_writer_stores_nothing() -> None:
    with pytest.raises(RuntimeError), objects.ObjectWriter() as writer:
        writer.write(b"half a swath")
        raise RuntimeError("reader crashed")
    with pytest.raises(ObjectNotFound):
        objects.meta(writer.oid)


@pytest.mark.usefixtures("registry")
def test_an_unreserved_oid_is_refused() -> None:
    with pytest.raises(ObjectNotFound, match="never reserved"):
        objects.put_oid("0" * 32, io.BytesIO(b"x"))
