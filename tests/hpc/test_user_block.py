"""An HDF5 object behind a user block is read by ranges on a compute node, not downloaded."""

from __future__ import annotations

from pathlib import Path

from archive.ranged import RangedFile
from hpc import sources
from tests.eo.test_formats import _user_block_file
from tests.hpc.helpers import stage
from tests.support.s3servers import S3Server


def test_a_user_block_hdf5_object_is_read_by_ranges(s3_server: S3Server, node_env: dict,
                                                     tmp_path: Path) -> None:
    path = _user_block_file(tmp_path / "ub.h5", 512)
    url = f"s3://{s3_server.bucket}/hpc-user-block"
    (item,) = stage(s3_server.store("hpc-user-block"), url, [path])
    (tmp_path / "scratch").mkdir()
    with sources.open_item(item, tmp_path / "scratch") as src:
        assert isinstance(src, RangedFile)  # a Counted local copy would mean a download
        assert src.bytes_read < path.stat().st_size / 4
