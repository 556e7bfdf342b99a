"""ingest.coverage: per-cell valid-pixel counts, their blob, and a region's valid fraction."""

from __future__ import annotations

import h3
import numpy as np
import pytest
from shapely.geometry import MultiPolygon, box

from ingest.coverage import (
    Coverage,
    measure,
    region_fraction,
    region_weights,
    whole_fraction,
)

cell_at = h3.api.basic_int.latlng_to_cell


def grid(west: float, south: float, east: float, north: float, step: float
         ) -> tuple[np.ndarray, np.ndarray]:
    """Pixel centres every `step` degrees over a lon/lat box (lon, lat as 2-D arrays)."""
    lon, lat = np.meshgrid(np.arange(west + step / 2, east, step),
                           np.arange(south + step / 2, north, step))
    return lon, lat


def test_it_counts_every_located_pixel_and_the_valid_ones() -> None:
    lon, lat = grid(0, 40, 4, 44, 0.05)
    valid = lon < 1.0  # a quarter of the box
    cov = measure(lon, lat, valid)
    assert cov is not None
    assert cov.total.sum() == lon.size
    assert cov.valid.sum() == valid.sum()
    assert whole_fraction(cov) == pytest.approx(0.25)
    assert np.all(np.diff(cov.cells.astype(np.int64)) > 0)  # sorted and unique
    assert cov.cells.dtype == np.uint64


def test_it_ignores_pixels_without_finite_geolocation() -> None:
    lon, lat = grid(10, -5, 12, -3, 0.1)
    lon[0, :] = np.nan
    lat[1, :] = -999.0  # a fill value that slipped through: not on Earth
    cov = measure(lon, lat, np.ones(lon.shape, dtype=bool))
    assert cov is not None
    assert cov.total.sum() == lon.size - 2 * lon.shape[1]


def test_it_has_no_coverage_without_geolocation() -> None:
    nan = np.full((3, 4), np.nan)
    assert measure(nan, nan, np.ones((3, 4), dtype=bool)) is None


def test_it_picks_the_finer_resolution_for_a_small_swath_and_the_coarser_for_a_wide_one() -> None:
    small = measure(*grid(0, 0, 3, 3, 0.05), np.ones((60, 60), dtype=bool))
    wide_lon, wide_lat = grid(-60, -30, 60, 30, 0.5)
    wide = measure(wide_lon, wide_lat, np.ones(wide_lon.shape, dtype=bool))
    assert small is not None and small.resolution == 4
    assert wide is not None and wide.resolution == 3
    assert all(h3.api.basic_int.get_resolution(int(c)) == 3 for c in wide.cells)


def test_a_blob_decodes_to_the_same_cells_and_nearly_the_same_counts() -> None:
    lon, lat = grid(-20, 50, 20, 70, 0.1)
    rng = np.random.default_rng(1)
    cov = measure(lon, lat, rng.random(lon.shape) < 0.6)
    assert cov is not None
    blob = cov.encode()
    back = Coverage.decode(blob)
    assert blob[0] == 1  # the format version leads
    assert back.resolution == cov.resolution
    np.testing.assert_array_equal(back.cells, cov.cells)
    assert all(h3.api.basic_int.is_valid_cell(int(c)) for c in back.cells)
    np.testing.assert_allclose(back.total, cov.total, rtol=1e-3)
    np.testing.assert_allclose(back.valid / back.total, cov.valid / cov.total, atol=1 / 510)
    assert len(blob) == 8 + 8 * len(cov.cells)
    np.testing.assert_array_equal(back.occupied, cov.occupied)
    assert Coverage.decode(back.encode()).encode() == back.encode()


def test_a_blob_keeps_cells_on_both_sides_of_the_antimeridian_and_at_the_poles() -> None:
    cells = sorted({cell_at(89.9, 0.0, 4), cell_at(-89.9, 0.0, 4), cell_at(10.0, 179.5, 4),
                    cell_at(10.0, -179.5, 4)})
    cov = Coverage(4, np.array(cells, dtype=np.uint64), np.array([0.0, 1.0, 2.0, 3.0]),
                   np.array([1.0, 2.0, 4.0, 100000.0]))
    back = Coverage.decode(cov.encode())
    assert back.cells.tolist() == cells
    np.testing.assert_allclose(back.total, cov.total, rtol=1e-3)


def test_an_empty_coverage_round_trips() -> None:
    empty = Coverage(3, np.array([], dtype=np.uint64), np.array([]), np.array([]))
    back = Coverage.decode(empty.encode())
    assert len(back.cells) == 0
    assert whole_fraction(back) is None


def _mask_at(blob: bytes) -> int:
    """Offset of the first cell's occupancy mask: after the header, cells and fractions."""
    return 8 + 5 * int.from_bytes(blob[4:8], "little")


@pytest.mark.parametrize(("mangle", "message"), [
    (lambda b: b[:5], "shorter than its 8-byte header"),
    (lambda b: bytes([9]) + b[1:], "format version 9"),
    (lambda b: b[:1] + bytes([12]) + b[2:], "resolution 12"),
    (lambda b: b[:3] + bytes([1]) + b[4:], "reserved byte"),
    (lambda b: b[:_mask_at(b)] + bytes([0]) + b[_mask_at(b) + 1:], "occupancy mask"),
    (lambda b: b[:-1], "its header says"),
    (lambda b: b + b"\0", "its header says"),
])
def test_it_refuses_a_damaged_blob_saying_what_is_wrong(mangle, message) -> None:
    cov = measure(*grid(0, 0, 2, 2, 0.05), np.ones((40, 40), dtype=bool))
    assert cov is not None
    with pytest.raises(ValueError, match=message):
        Coverage.decode(mangle(cov.encode()))


def test_it_refuses_unsorted_cells_and_impossible_cells() -> None:
    a, b = sorted((cell_at(0.0, 0.0, 3), cell_at(0.0, 5.0, 3)))
    swapped = Coverage(3, np.array([b, a], dtype=np.uint64), np.ones(2), np.ones(2)).encode()
    with pytest.raises(ValueError, match="not sorted"):
        Coverage.decode(swapped)
    blob = bytearray(Coverage(3, np.array([a], dtype=np.uint64), np.ones(1), np.ones(1))
                     .encode())
    blob[8:12] = (127 << 9 | 0o777).to_bytes(4, "little")  # base cell 127 does not exist
    with pytest.raises(ValueError, match="base cell"):
        Coverage.decode(bytes(blob))
    blob[8:12] = (5 << 9 | 0o707).to_bytes(4, "little")  # digit 7 is unused at res 3
    with pytest.raises(ValueError, match="invalid digit"):
        Coverage.decode(bytes(blob))


def at_resolution(weights: dict[int, float], res: int) -> dict[int, float]:
    """The weights of cells at `res` (region_weights adds children of partial cells)."""
    return {c: w for c, w in weights.items() if h3.api.basic_int.get_resolution(c) == res}


def test_weights_are_one_inside_the_region_and_partial_on_its_edge() -> None:
    region = box(0, 40, 10, 50)
    everything = region_weights(region, 4)
    weights = at_resolution(everything, 4)
    inner = cell_at(45.0, 5.0, 4)
    edge = cell_at(45.0, 0.0, 4)  # its centre lies on the western side
    assert weights[inner] == 1.0
    assert 0.2 < weights[edge] < 0.8
    assert all(0 < w <= 1 for w in weights.values())
    assert cell_at(45.0, -2.0, 4) not in weights
    area = sum(w * h3.api.basic_int.cell_area(c) for c, w in weights.items())
    true_area = 6371.0072**2 * np.radians(10) * (np.sin(np.radians(50)) - np.sin(np.radians(40)))
    assert area == pytest.approx(true_area, rel=0.01)
    children = set(everything) - set(weights)
    assert children == {kid for c, w in weights.items() if w < 1
                        for kid in h3.api.basic_int.cell_to_children(c, 5)} & set(everything)
    assert all(everything[k] == 1.0 or h3.api.basic_int.cell_to_parent(k, 4) in weights
               for k in children)


def test_weights_cover_a_region_split_at_the_antimeridian_and_one_over_a_pole() -> None:
    split = MultiPolygon([box(175, -5, 180, 5), box(-180, -5, -175, 5)])
    east = at_resolution(region_weights(box(170, -5, 180, 5), 3), 3)
    whole = at_resolution(region_weights(split, 3), 3)
    assert cell_at(0.0, 179.9, 3) in whole and cell_at(0.0, -179.9, 3) in whole
    area = sum(w * h3.api.basic_int.cell_area(c) for c, w in whole.items())
    assert area == pytest.approx(sum(w * h3.api.basic_int.cell_area(c)
                                     for c, w in east.items()), rel=0.01)
    cap = at_resolution(region_weights(box(-180, 85, 180, 90), 3), 3)
    assert cap[cell_at(90.0, 0.0, 3)] == pytest.approx(1.0)
    cap_area = sum(w * h3.api.basic_int.cell_area(c) for c, w in cap.items())
    true_cap = 2 * np.pi * 6371.0072**2 * (1 - np.sin(np.radians(85)))
    assert cap_area == pytest.approx(true_cap, rel=0.01)


def test_a_region_fraction_weighs_each_cell_by_how_much_the_region_covers() -> None:
    a, b, c = (cell_at(0.0, lon, 3) for lon in (0.0, 3.0, 6.0))
    order = np.argsort([a, b, c])
    cells = np.array([a, b, c], dtype=np.uint64)[order]
    valid = np.array([100.0, 0.0, 50.0])[order]
    total = np.array([100.0, 100.0, 200.0])[order]
    cov = Coverage(3, cells, valid, total)
    weights = {a: 1.0, b: 0.5, cell_at(40.0, 40.0, 3): 1.0}  # c outside, one cell not swath's
    assert region_fraction(cov, weights) == pytest.approx(100.0 / 150.0)
    assert region_fraction(cov, {c: 0.25}) == pytest.approx(0.25)
    assert region_fraction(cov, {cell_at(40.0, 40.0, 3): 1.0}) is None
    assert region_fraction(cov, {}) is None
    assert whole_fraction(cov) == pytest.approx(150.0 / 400.0)


def test_a_swath_half_valid_over_a_region_reads_about_half() -> None:
    lon, lat = grid(-10, -10, 10, 10, 0.05)
    cov = measure(lon, lat, lat > 0)
    assert cov is not None
    north = region_fraction(cov, region_weights(box(-5, 1, 5, 9), cov.resolution))
    middle = region_fraction(cov, region_weights(box(-5, -4, 5, 4), cov.resolution))
    south = region_fraction(cov, region_weights(box(-5, -9, 5, -1), cov.resolution))
    assert north is not None and north > 0.95
    assert middle is not None and abs(middle - 0.5) < 0.05
    assert south is not None and south < 0.05
    assert region_fraction(cov, region_weights(box(100, 0, 110, 10), cov.resolution)) is None


def test_a_track_counts_only_where_it_lies_in_a_cell_the_region_cuts() -> None:
    # A track along one meridian: a region over its cells but east of the track holds
    # none of its pixels, and one over the track holds them all.
    lat = np.arange(40.0, 44.0, 0.01)
    lon = np.full_like(lat, 5.0)
    cov = measure(lon, lat, np.ones(lat.shape, dtype=bool))
    assert cov is not None and cov.occupied is not None
    assert np.all(cov.occupied != 0x7F)  # a line leaves children empty
    beside = box(5.3, 40.0, 7.0, 44.0)  # past the children (~0.2 degrees) the track crosses
    over = box(4.9, 40.0, 7.0, 44.0)
    assert region_fraction(cov, region_weights(beside, cov.resolution)) is None
    assert region_fraction(cov, region_weights(over, cov.resolution)) == pytest.approx(1.0)


def test_a_coverage_without_occupancy_spreads_pixels_over_the_whole_cell() -> None:
    cell = cell_at(0.0, 0.0, 3)
    plain = Coverage(3, np.array([cell], dtype=np.uint64), np.array([3.0]), np.array([4.0]))
    back = Coverage.decode(plain.encode())
    assert back.occupied is not None and back.occupied.tolist() == [0x7F]
    weights = region_weights(box(0.0, -5.0, 5.0, 5.0), 3)
    assert 0 < weights[cell] < 1
    assert region_fraction(back, weights) == pytest.approx(0.75, abs=0.01)
