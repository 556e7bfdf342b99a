"""Fixtures for subset tests: small synthetic swaths, rechunked copies, brute-force masks,
and the web process's own subset worker."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import netCDF4
import numpy as np
import pytest
from rest_framework.test import APIClient

from ingest.synth import write_swath
from tests.support.clients import client_of

REPO = Path(__file__).resolve().parents[2]
L2SS_VENV = REPO / ".venv-l2ss" / "bin"


@pytest.fixture
def client() -> APIClient:
    """The API client of a signed-in scientist (pytest-django's ``client`` is not an API one)."""
    return client_of("scientist")


@pytest.fixture(scope="session")
def small_swath(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 271 x 120 MODIS-like swath over the Arabian Sea (lat 10..17, lon 40..61)."""
    path = tmp_path_factory.mktemp("synth") / "small.nc"
    write_swath(path, seed=3, start="2024-03-01T10:00:00", duration_s=40, n_pixels=120)
    return path


@pytest.fixture(scope="session")
def chunky_swath(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1016 x 400 swath (lat 9..22, lon 38..61) with 32 x 32 chunks (416 per variable)."""
    tmp = tmp_path_factory.mktemp("synth")
    write_swath(tmp / "medium.nc", seed=3, start="2024-03-01T09:59:45", duration_s=150,
                n_pixels=400, extra_bands=4)
    rechunk(tmp / "medium.nc", tmp / "chunky.nc", (32, 32))
    return tmp / "chunky.nc"


def rechunk(src: Path, dst: Path, chunks: tuple[int, int]) -> None:
    """Copy a NetCDF4 file, giving every 2-D variable the chunk shape ``chunks``."""
    with netCDF4.Dataset(src) as a, netCDF4.Dataset(dst, "w") as b:
        b.setncatts({k: a.getncattr(k) for k in a.ncattrs()})
        for name, dim in a.dimensions.items():
            b.createDimension(name, len(dim))
        for grp in a.groups.values():
            g = b.createGroup(grp.name)
            g.setncatts({k: grp.getncattr(k) for k in grp.ncattrs()})
            for name, v in grp.variables.items():
                v.set_auto_maskandscale(False)
                fill = v.getncattr("_FillValue") if "_FillValue" in v.ncattrs() else None
                opts = {"chunksizes": chunks} if v.ndim == 2 else {}
                w = g.createVariable(name, v.dtype, v.dimensions, fill_value=fill,
                                     compression="zlib", complevel=1, **opts)
                w.setncatts({k: v.getncattr(k) for k in v.ncattrs() if k != "_FillValue"})
                w.set_auto_maskandscale(False)
                w[...] = v[...]


def lonlat(path: Path, lat: str, lon: str) -> tuple[np.ndarray, np.ndarray]:
    """Return decoded lon/lat as float64 with NaN for fill, read with netCDF4's own rules."""
    with netCDF4.Dataset(path) as ds:
        la = ds[lat][...].astype(np.float64).filled(np.nan).squeeze()
        lo = ds[lon][...].astype(np.float64).filled(np.nan).squeeze()
    return lo, la


def brute_window(mask: np.ndarray) -> tuple[slice, ...]:
    """Return the minimal window of a boolean mask."""
    idx = [np.nonzero(mask.any(axis=tuple(a for a in range(mask.ndim) if a != k)))[0]
           for k in range(mask.ndim)]
    return tuple(slice(int(i[0]), int(i[-1]) + 1) for i in idx)


@pytest.fixture
def local_worker(transactional_db: None, settings: object) -> Iterator[object]:
    """This process serves subsets as a web process of the embedded default does: cuts go
    to its worker thread (subset.dispatch), which sees committed rows only."""
    from subset.dispatch import local_worker as start
    from subset.dispatch import serve_in_process, stop_serving_in_process

    settings.SUBSET_LOCAL_SWEEP_S = 2  # type: ignore[attr-defined]
    serve_in_process()
    worker = start()
    try:
        yield worker
    finally:
        stop_serving_in_process()


def wait_for_product(pk: int, timeout: float = 90.0) -> object:
    """Poll the database until product `pk` has left QUEUED and RUNNING; return it."""
    from catalog.models import Product

    deadline = time.monotonic() + timeout
    while True:
        product = Product.objects.get(pk=pk)
        if product.state not in ("QUEUED", "RUNNING") or time.monotonic() > deadline:
            return product
        time.sleep(0.1)
