"""Granules with summary geolocation, ingested for real: searches, the API and the admin.

The synthetic ATL07-like subset (tests/fixtures/geoloc_files.py) keeps per-segment means
of the whole unsubsetted granule in a quality_assessment group, 5.1 degrees of latitude
where the science data span 0.6, as real data-centre subsets do.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import h5py
import numpy as np
import pytest
from django.contrib.auth.models import User
from django.test import Client
from pyproj import Geod
from rest_framework.test import APIClient

from catalog.models import IngestRun, Swath
from ingest.geoselect import AUXILIARY_ONLY
from tests.fixtures.geoloc_files import BEAMS, GRANULE_LAT, icesat2_subset
from tests.support.ingesting import ingest_paths

pytestmark = pytest.mark.django_db
GEOD = Geod(ellps="WGS84")


def ingest(path: Path) -> IngestRun:
    return ingest_paths([path], "atl07")


def science_points(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Return (lon, lat) of every beam's sea-ice segments."""
    with h5py.File(path) as fh:
        lat = np.concatenate([fh[f"{b}/sea_ice_segments/latitude"][...] for b in BEAMS])
        lon = np.concatenate([fh[f"{b}/sea_ice_segments/longitude"][...] for b in BEAMS])
    return lon, lat


def _distance_km(lon: np.ndarray, lat: np.ndarray, box: tuple[float, ...]) -> float:
    """Return the distance from the nearest point to a box (0 when a point is inside)."""
    west, south, east, north = box
    clon, clat = np.clip(lon, west, east), np.clip(lat, south, north)
    return float((GEOD.inv(lon, lat, clon, clat)[2] / 1000).min())


@pytest.mark.django_db(transaction=True)
def test_a_region_search_never_returns_a_granule_whose_science_data_lie_outside_it(
        tmp_path: Path, s3_primary: object) -> None:
    path = icesat2_subset(tmp_path / "ATL07-01_20190405_subset.h5")
    run = ingest(path)
    assert run.n_new == 1, run.errors
    swath = Swath.objects.get()
    assert swath.state == "VERIFIED"
    margin_km = swath.attrs["geolocation"]["margin_km"]
    lon, lat = science_points(path)
    client = APIClient()
    # Boxes tiling the whole granule's extent, the summary's, a third of a degree high.
    lats = np.arange(GRANULE_LAT[0] - 0.2, GRANULE_LAT[1] + 0.2, 1 / 3)
    lons = np.arange(-62.0, -58.0, 0.5)
    returned = far = 0
    for south, west in itertools.product(lats, lons):
        box = (west, south, west + 0.5, south + 1 / 3)
        found = client.get("/api/v1/swaths/", {"bbox": ",".join(f"{v:.4f}" for v in box)})
        hit = [f["id"] for f in found.json()["features"]] == [str(swath.uuid)]
        distance = _distance_km(lon, lat, box)
        if distance > 2 * margin_km:
            far += 1
            assert not hit, f"{box}: returned, its science data are {distance:.0f} km away"
        if distance == 0.0:
            returned += 1
            assert hit, f"{box}: holds science data but the search missed it"
    assert far > 100 and returned >= 2


def test_the_swath_detail_names_the_geolocation_its_footprint_was_made_from(
        tmp_path: Path) -> None:
    path = icesat2_subset(tmp_path / "ATL07-01_20190405_subset.h5")
    assert ingest(path).n_new == 1
    swath = Swath.objects.get()
    body = APIClient().get(f"/api/v1/swaths/{swath.uuid}/").json()
    props = body["properties"]
    assert props["footprint_warning"] == ""
    source = props["footprint_source"]
    assert source["rule"] == "science" and source["warnings"] == []
    assert {p["lat"] for p in source["pairs"]} == {
        f"/{b}/sea_ice_segments/latitude" for b in BEAMS}
    assert {p["lat"]: p["reason"] for p in source["set_aside"]} == {
        f"/quality_assessment/{b}/latitude": "auxiliary group 'quality_assessment'"
        for b in BEAMS}


def test_a_granule_whose_only_geolocation_is_a_summary_is_catalogued_with_a_warning(
        tmp_path: Path) -> None:
    path = icesat2_subset(tmp_path / "ATL07-01_20190405_summary.h5", summary_only=True)
    run = ingest(path)
    assert (run.n_new, run.n_failed) == (1, 0), run.errors
    swath = Swath.objects.get()
    assert swath.state == "VERIFIED" and swath.footprint is not None
    assert swath.footprint_warning.startswith(AUXILIARY_ONLY)
    _, south, _, north = swath.footprint.extent
    assert south < GRANULE_LAT[0] + 0.1 and north > GRANULE_LAT[1] - 0.1

    props = APIClient().get(f"/api/v1/swaths/{swath.uuid}/").json()["properties"]
    assert props["footprint_warning"] == swath.footprint_warning
    assert props["footprint_source"]["rule"] == "auxiliary"
    assert "/quality_assessment/gt1l/latitude" in {
        p["lat"] for p in props["footprint_source"]["pairs"]}

    User.objects.create_superuser("manager", "m@example.org", "a-long-test-password")
    admin = Client()
    admin.login(username="manager", password="a-long-test-password")
    listed = admin.get("/admin/catalog/swath/?footprint_warning=yes").content.decode()
    assert swath.granule_id in listed
    clean = admin.get("/admin/catalog/swath/?footprint_warning=no").content.decode()
    assert swath.granule_id not in clean
    page = admin.get(f"/admin/catalog/swath/{swath.pk}/change/").content.decode()
    assert "footprint made from" in page.lower() and "rule: auxiliary" in page
    assert AUXILIARY_ONLY in page
