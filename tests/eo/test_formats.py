"""Format recognition by magic bytes (eo.formats) on the shared real granules, on wrapped
copies, and on an HDF5 file behind a user block, which the subset reader now reads by ranges."""

from __future__ import annotations

import bz2
import gzip
import io
from pathlib import Path

import h5py
import numpy as np
import pytest
import zstandard

from archive.ranged import RangedFile
from eo.formats import recognise, recognise_path
from ingest.readers import sniff
from subset.source import open_source

# The shared granules by what their bytes say (docs: ../shared/data/swaths/README.md).
EXPECTED = {
    "ascat_20150702_084200_metopa_45145_eps_o_250_2300_ovw.l2.nc": "netcdf3",
    "JA1_GPN_2PeP001_002_20020115_060706_20020115_070316.nc": "netcdf3",
    "S6A_P4_2__HR_RED__NR_014_191_20210403T004056_20210403T005056_F00.nc": "hdf5",
    "MLS-Aura_L2GP-CO_v05-01-c01_2021d043.he5": "hdf5",
    "GPM_test_file.HDF5": "hdf5",
    "SS_MODIS_A-JPL-L2P-v2014.0.nc": "hdf5",
}


@pytest.mark.parametrize(("name", "kind"), EXPECTED.items())
def test_the_shared_granules_are_recognised_by_their_bytes(shared_swaths: Path, name: str,
                                                           kind: str) -> None:
    assert recognise_path(shared_swaths / name) == kind
    assert sniff(shared_swaths / name) == kind  # ingest asks the same recogniser


@pytest.mark.parametrize(("wrap", "kind"), [(gzip.compress, "gzip"), (bz2.compress, "bzip2"),
                                            (zstandard.compress, "zstd")])
def test_a_wrapped_granule_is_recognised_as_its_wrapper(shared_swaths: Path, wrap: object,
                                                         kind: str) -> None:
    data = (shared_swaths / "GPM_test_file.HDF5").read_bytes()[:4096]
    assert recognise(io.BytesIO(wrap(data))) == kind  # type: ignore[operator]


def test_unknown_and_short_files_are_nothing() -> None:
    assert recognise(io.BytesIO(b"")) is None
    assert recognise(io.BytesIO(b"PK\x03\x04" + bytes(2000))) is None


def _user_block_file(path: Path, user_block: int) -> Path:
    lat, lon = np.meshgrid(np.linspace(10, 20, 400), np.linspace(40, 60, 500), indexing="ij")
    with h5py.File(path, "w", userblock_size=user_block) as f:
        for name, values in (("lat", lat), ("lon", lon), ("sst", lat * 0.5 + lon)):
            f.create_dataset(name, data=values.astype("f8"), chunks=(50, 50))
    return path


@pytest.mark.parametrize("user_block", [512, 4096])
def test_an_hdf5_file_behind_a_user_block_is_read_by_ranges(tmp_path: Path,
                                                            user_block: int) -> None:
    path = _user_block_file(tmp_path / "ub.h5", user_block)
    data = path.read_bytes()
    assert data[:8] != b"\x89HDF\r\n\x1a\n" and data[user_block:user_block + 8] == (
        b"\x89HDF\r\n\x1a\n")

    def fetch(start: int, stop: int) -> bytes:
        return data[start:stop]

    ranged = RangedFile(fetch, len(data), name="ub.h5", block_size=16384, cache_blocks=4)
    # Before eo.formats, subset's own sniffer looked at byte 0 only and said "unknown",
    # so the object was downloaded whole instead of read by ranges.
    assert recognise(ranged) == "hdf5" and ranged.tell() == 0
    with open_source(ranged) as source:
        window = source.var("/sst").read((slice(0, 50), slice(0, 50)))
    assert window.shape == (50, 50)
    assert ranged.bytes_read < len(data) / 4, (ranged.bytes_read, len(data))
