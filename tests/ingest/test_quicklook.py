"""ingest.quicklook: a PNG of a swath's main variable, north up, bounded in size and memory."""

from __future__ import annotations

import io
from pathlib import Path

import netCDF4
import numpy as np
import pytest
from PIL import Image

import ingest.quicklook
from ingest.quicklook import QuicklookError, render_quicklook
from ingest.synth import write_swath


@pytest.fixture(scope="module")
def swath(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 271 x 120 synthetic MODIS-like granule with some cloud (fill) pixels."""
    path = tmp_path_factory.mktemp("ql") / "small.nc"
    write_swath(path, seed=3, start="2024-03-01T10:00:00", duration_s=40, n_pixels=120,
                cloud_fraction=0.2)
    return path


def png(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def grid(path: Path, lat: np.ndarray, lon: np.ndarray, field: np.ndarray | None = None) -> Path:
    """A NetCDF file with 2-D lat/lon and one 2-D field (default: the latitude itself)."""
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("y", lat.shape[0])
        ds.createDimension("x", lat.shape[1])
        for name, values, standard in (("lat", lat, "latitude"), ("lon", lon, "longitude"),
                                       ("value", lat if field is None else field, None)):
            v = ds.createVariable(name, "f4", ("y", "x"), fill_value=np.float32(-999))
            if standard:
                v.standard_name = standard
            v[:] = values
    return path


def test_a_swath_becomes_a_png_of_its_main_variable(swath: Path) -> None:
    image = png(render_quicklook(swath))
    assert image.mode == "RGBA" and image.size == (120, 271)
    assert image.text["variable"] == "/geophysical_data/sst"
    assert image.text["units"] == "degree_C"
    alpha = np.asarray(image)[..., 3]
    assert (alpha == 0).any() and (alpha == 255).mean() > 0.5  # clouds are transparent


def test_the_long_side_is_at_most_max_size(swath: Path) -> None:
    image = png(render_quicklook(swath, max_size=64))
    assert image.size == (24, 55)  # means of 5 x 5 pixels: the aspect is kept


def test_a_named_variable_is_drawn_on_a_log_scale_when_it_is_chlorophyll(swath: Path) -> None:
    image = png(render_quicklook(swath, variable="chlor_a"))
    assert image.text["variable"] == "/geophysical_data/chlor_a"
    assert image.text["range"].endswith("log10")


def test_reading_in_small_blocks_gives_the_same_picture(
        swath: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    whole = render_quicklook(swath, max_size=50)
    monkeypatch.setattr(ingest.quicklook, "BLOCK_BYTES", 1)  # one box row per read
    assert render_quicklook(swath, max_size=50) == whole


@pytest.mark.parametrize("rows_run", ["south_to_north", "north_to_south"])
def test_north_is_up_and_west_is_left(tmp_path: Path, rows_run: str) -> None:
    lat1 = np.linspace(-40, -30, 40)
    if rows_run == "north_to_south":
        lat1 = lat1[::-1]
    lon1 = np.linspace(10, 20, 30)[::-1]  # columns run east to west
    lat, lon = np.meshgrid(lat1, lon1, indexing="ij")
    image = np.asarray(png(render_quicklook(grid(tmp_path / "g.nc", lat, lon, field=lat + lon))))
    brightness = image[..., :3].astype(int).sum(axis=2)
    # viridis runs dark to bright: the north-east corner (largest lat + lon) is brightest
    assert brightness[0, -1] == brightness.max()
    assert brightness[-1, 0] == brightness.min()


def test_a_file_without_a_2d_field_is_refused(tmp_path: Path) -> None:
    with netCDF4.Dataset(tmp_path / "track.nc", "w") as ds:
        ds.createDimension("time", 100)
        ds.createVariable("height", "f4", ("time",))[:] = np.arange(100)
    with pytest.raises(QuicklookError, match="no 2-D numeric variable"):
        render_quicklook(tmp_path / "track.nc")


def test_a_field_with_no_valid_value_is_refused(tmp_path: Path) -> None:
    lat, lon = np.meshgrid(np.linspace(0, 10, 30), np.linspace(0, 10, 30), indexing="ij")
    path = grid(tmp_path / "empty.nc", lat, lon, field=np.full((30, 30), -999.0))
    with pytest.raises(QuicklookError, match="no valid value"):
        render_quicklook(path)


def test_a_file_netcdf_cannot_open_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.nc").write_text("not a NetCDF file")
    with pytest.raises(QuicklookError, match="cannot open"):
        render_quicklook(tmp_path / "notes.nc")
