"""`manage.py reinspect`: archived swaths read again from their objects, rows brought up to
date, on PostGIS with each real S3 server (rclone, SeaweedFS) and with the local directory
store.

A row "catalogued by the old reader" is made the way that reader made it: a footprint from
every lat/lon pair of the file, largest per group, all groups (the code before
ingest.geoselect), and attrs without the account of the footprint's geolocation.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import h5py
import netCDF4  # noqa: F401  (before h5py reads: HDF5 filter plugins)
import numpy as np
import pytest
from django.contrib.gis.geos import GEOSGeometry
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from rest_framework.test import APIClient

import archive.config
from catalog.models import StoredObject, Swath
from ingest.footprint import footprint
from ingest.geoloc import choose_pairs, find_pairs, iter_variables, read_lonlat
from ingest.geoselect import AUXILIARY_ONLY
from ingest.reinspect import reinspect
from tests.fixtures.geoloc_files import DATA_LAT, icesat2_subset
from tests.support.ingesting import ingest_paths

pytestmark = pytest.mark.django_db
SUBSET = "ATL07-01_20190405_subset.h5"
SUMMARY = "ATL07-01_20190406_summary.h5"
JASON = "JA1_GPN_2PeP001_002_20020115_060706_20020115_070316.nc"  # NetCDF3: stored zstd
GPM = "GPM_test_file.HDF5"  # HDF5 stored as it is: read by ranges
NORTH_OF_THE_DATA = "-62,71.5,-58,72.6"  # only the quality_assessment summary reaches it


def ingest(paths: list[Path], codec: str = "auto") -> None:
    run = ingest_paths(paths, "atl07", codec=codec)
    assert run.n_failed == 0, run.errors


def old_footprint(path: Path) -> GEOSGeometry:
    """The footprint the reader before ingest.geoselect made: every pair, all groups."""
    with h5py.File(path) as fh:
        pairs = choose_pairs(find_pairs(list(iter_variables(fh))))
        made = footprint([(*read_lonlat(p), p.kind) for p in pairs])
    return GEOSGeometry(made.geometry.wkb_hex, srid=4326)


def make_old(swath: Swath, path: Path) -> None:
    """Turn a row into what the old reader catalogued, with a quicklook record beside."""
    attrs = dict(swath.attrs)
    geo = attrs["geolocation"]
    attrs["geolocation"] = {k: geo[k] for k in ("lat", "lon", "time", "shape", "kind",
                                                 "margin_km")}
    attrs["quicklook"] = {"key": "quicklooks/x.png", "store": "primary"}
    Swath.objects.filter(pk=swath.pk).update(footprint=old_footprint(path), attrs=attrs,
                                             footprint_warning="")


def found_in(bbox: str) -> set[str]:
    body = APIClient().get("/api/v1/swaths/", {"bbox": bbox}).json()
    return {f["id"] for f in body["features"]}


def run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("reinspect", *args, stdout=out)
    except SystemExit as e:
        return int(e.code), out.getvalue()
    return 0, out.getvalue()


def stored_item_geometry(swath: Swath) -> dict | None:
    with connection.cursor() as cur:
        cur.execute("SELECT text FROM api_stacitem WHERE swath_id = %s", [swath.pk])
        row = cur.fetchone()
    return json.loads(row[0].replace("\x01", "http://x"))["geometry"] if row else None


@pytest.fixture
def incoming(tmp_path: Path, shared_swaths: Path) -> Path:
    root = tmp_path / "incoming"
    root.mkdir()
    icesat2_subset(root / SUBSET)
    shutil.copy2(shared_swaths / JASON, root / JASON)
    shutil.copy2(shared_swaths / GPM, root / GPM)
    return root


def test_reinspect_on_s3_makes_an_old_footprint_the_science_datas_and_the_item_follows(
        incoming: Path, s3_primary: object) -> None:
    ingest([incoming])
    subset = Swath.objects.get(granule_id=SUBSET)
    fresh = subset.footprint
    make_old(subset, incoming / SUBSET)
    assert str(subset.uuid) in found_in(NORTH_OF_THE_DATA), "the old footprint's defect"
    old_item = stored_item_geometry(subset)
    if connection.vendor == "postgresql":
        assert max(c[1] for poly in old_item["coordinates"] for c in poly[0]) > 72
    others = {s.granule_id: (s.footprint, s.attrs) for s in Swath.objects.exclude(pk=subset.pk)}

    code, out = run("--dry-run", "--batch", "1")
    assert code == 0, out
    lines = {line.split()[2].rstrip(":"): line for line in out.splitlines() if line.startswith(
        ("CHANGED", "UNCHANGED"))}
    assert "would change: footprint" in lines[SUBSET] and "attrs.geolocation" in lines[SUBSET]
    assert lines[GPM].startswith("UNCHANGED") and "ranged read" in lines[GPM]
    assert lines[JASON].startswith("UNCHANGED") and "streamed copy" in lines[JASON]
    assert "3 swaths, 1 to change, 2 unchanged, 0 failed" in out and "dry run" in out
    assert str(subset.uuid) in found_in(NORTH_OF_THE_DATA), "a dry run writes nothing"

    code, out = run()
    assert code == 0, out
    line = next(x for x in out.splitlines() if SUBSET in x)
    before, after = (float(v.replace(",", "")) for v in
                     line.split("footprint ")[1].split(" km2")[0].split(" -> "))
    assert after < before / 4, line
    subset.refresh_from_db()
    assert subset.footprint.equals_exact(fresh, 1e-9)
    assert subset.attrs["geolocation"]["rule"] == "science"
    assert subset.attrs["quicklook"] == {"key": "quicklooks/x.png", "store": "primary"}
    assert str(subset.uuid) not in found_in(NORTH_OF_THE_DATA)
    assert str(subset.uuid) in found_in(f"-61,{DATA_LAT[0]},-59.5,{DATA_LAT[1]}")
    for other in Swath.objects.exclude(pk=subset.pk):
        assert other.footprint.equals_exact(others[other.granule_id][0], 1e-9)
        assert other.attrs == others[other.granule_id][1]
    if connection.vendor == "postgresql":  # stored STAC items follow through the triggers
        new_item = stored_item_geometry(subset)
        assert new_item != old_item
        assert max(c[1] for poly in new_item["coordinates"] for c in poly[0]) < 71
        served = APIClient().get("/stac/search", {"ids": str(subset.uuid)}).json()
        assert served["features"][0]["geometry"] == new_item

    code, out = run()
    assert code == 0 and "3 swaths, 0 changed, 3 unchanged, 0 failed" in out, out


def test_reinspect_on_the_local_store_reads_compressed_objects_through_their_codec(
        tmp_path: Path) -> None:
    src = tmp_path / "incoming"
    src.mkdir()
    icesat2_subset(src / SUBSET)
    icesat2_subset(src / SUMMARY, summary_only=True, orbit=1)
    ingest([src / SUBSET], codec="gzip")
    ingest([src / SUMMARY], codec="none")
    assert archive.config.get_store("primary").__class__.__name__ == "LocalStore"
    rows = {s.granule_id: s for s in Swath.objects.all()}
    for name, swath in rows.items():
        make_old(swath, src / name)
    Swath.objects.filter(granule_id=SUMMARY).update(footprint=None, is_empty=True)

    code, out = run("--collection", "atl07")
    assert code == 0, out
    lines = {x.split()[2].rstrip(":"): x for x in out.splitlines() if x.startswith("CHANGED")}
    assert "streamed copy" in lines[SUBSET] and "ranged read" in lines[SUMMARY]
    assert "footprint none -> " in lines[SUMMARY] and "footprint_warning" in lines[SUMMARY]
    assert f"warning: {AUXILIARY_ONLY}" in lines[SUMMARY]
    summary = Swath.objects.get(granule_id=SUMMARY)
    assert not summary.is_empty and summary.footprint is not None
    assert summary.footprint_warning.startswith(AUXILIARY_ONLY)
    subset = Swath.objects.get(granule_id=SUBSET)
    _, south, _, north = subset.footprint.extent
    assert north - south < 1.0
    assert run("--collection", "atl07")[1].count("UNCHANGED") == 2


def test_reinspect_fills_the_coverage_of_rows_catalogued_before_it_existed(
        incoming: Path) -> None:
    ingest([incoming])
    fresh = {s.granule_id: bytes(s.coverage) for s in Swath.objects.all()}
    assert all(fresh.values())
    Swath.objects.update(coverage=None)  # as the rows of an archive ingested before

    code, out = run()
    assert code == 0, out
    lines = {x.split()[2].rstrip(":"): x for x in out.splitlines() if x.startswith("CHANGED")}
    assert set(lines) == set(fresh), out
    assert all("changed: coverage" in line for line in lines.values())
    assert "ranged read" in lines[GPM] and "streamed copy" in lines[JASON]
    assert {s.granule_id: bytes(s.coverage) for s in Swath.objects.all()} == fresh
    assert run()[1].count("UNCHANGED") == 3


def test_a_swath_whose_object_is_gone_or_altered_is_reported_and_the_others_go_on(
        tmp_path: Path) -> None:
    src = tmp_path / "incoming"
    src.mkdir()
    for i in range(3):
        icesat2_subset(src / f"ATL07-0{i}_subset.h5", orbit=i)
    ingest([src])
    rows = list(Swath.objects.order_by("pk"))
    for swath in rows:
        make_old(swath, src / swath.granule_id)
    store = archive.config.get_store("primary")
    gone, altered, fine = rows
    store.delete(gone.copies.get().key)
    key = altered.copies.get().key
    with store.open(key) as stream:
        data = bytearray(stream.read())
    data[-1] ^= 0xFF
    store.put(key, io.BytesIO(bytes(data)), size=len(data), overwrite=True)
    before = dict(Swath.objects.values_list("pk", "footprint"))  # the old footprints

    code, out = run("--batch", "2")
    assert code == 1, out
    failed = [x for x in out.splitlines() if x.startswith("FAILED")]
    assert len(failed) == 2, out
    assert any(str(gone.uuid) in x and "missing" in x for x in failed)
    assert any(str(altered.uuid) in x and "does not match the catalog" in x for x in failed)
    assert "1 changed, 0 unchanged, 2 failed" in out
    for swath in (gone, altered):
        swath.refresh_from_db()
        assert swath.footprint.equals_exact(before[swath.pk], 1e-9), "a failed read writes nothing"
    fine.refresh_from_db()
    assert not fine.footprint.equals_exact(before[fine.pk], 1e-9)


def test_a_stop_request_ends_the_run_after_the_swath_in_hand(tmp_path: Path) -> None:
    src = tmp_path / "incoming"
    src.mkdir()
    for i in range(3):
        icesat2_subset(src / f"ATL07-0{i}_subset.h5", orbit=i)
    ingest([src])
    seen: list[str] = []
    report = reinspect(batch=1, on_outcome=lambda o: seen.append(o.uuid),
                       should_stop=lambda: len(seen) >= 1)
    assert report.stopped and len(report.outcomes) == 1
    assert "stopped early" in report.summary()


def test_arguments_that_name_nothing_are_refused_naming_them() -> None:
    for args, named in ((["--collection", "no-such"], "--collection 'no-such'"),
                        (["--swath", "not-a-uuid"], "--swath 'not-a-uuid'"),
                        (["--swath", "0" * 32], "no such swath"),
                        (["--batch", "0"], "--batch must be at least 1"),
                        (["--store", "offsite"], "--store 'offsite'")):
        with pytest.raises(CommandError, match=named) as err:
            call_command("reinspect", *args, stdout=io.StringIO())
        assert err.value.returncode == 2


def test_a_swath_that_is_not_verified_is_refused_by_uuid(tmp_path: Path) -> None:
    icesat2_subset(tmp_path / SUBSET)
    ingest([tmp_path / SUBSET])
    swath = Swath.objects.get()
    Swath.objects.filter(pk=swath.pk).update(state="FAILED")
    with pytest.raises(CommandError, match="is FAILED"):
        call_command("reinspect", "--swath", str(swath.uuid), stdout=io.StringIO())
    assert not StoredObject.objects.filter(swath=swath, state="FAILED").exists()


def test_the_ranged_reader_gives_what_reading_the_file_gives(shared_swaths: Path) -> None:
    from ingest.inspector import Inspector

    inspector = Inspector()
    try:
        for name in (GPM, "MLS-Aura_L2GP-CO_v05-01-c01_2021d043.he5", "ATL03_gt1l.h5"):
            data = (shared_swaths / name).read_bytes()
            ranged = inspector.inspect_ranged(lambda a, b, d=data: d[a:b], len(data), name, 60)
            whole = inspector.inspect(shared_swaths / name, 60)
            assert ranged.to_dict() | {"path": None} == whole.to_dict() | {"path": None}, name
    finally:
        inspector.close()


def test_a_store_error_during_a_ranged_read_is_raised_as_the_stores(shared_swaths: Path
                                                                     ) -> None:
    from ingest.inspector import RANGED_BLOCK, Inspector

    name = "processed_ATL07-01_20190222003738_08490201_003_02.h5"  # 2 MB: several blocks
    data = (shared_swaths / name).read_bytes()
    assert len(data) > RANGED_BLOCK

    def failing(start: int, stop: int) -> bytes:
        if start >= RANGED_BLOCK:
            raise ConnectionResetError("the store hung up")
        return data[start:stop]

    inspector = Inspector()
    try:
        with pytest.raises(ConnectionResetError, match="hung up"):
            inspector.inspect_ranged(failing, len(data), name, 60)
        whole = inspector.inspect_ranged(lambda a, b: data[a:b], len(data), name, 60)
        assert whole.footprint is not None and np.isfinite(whole.footprint.area)
    finally:
        inspector.close()


def test_the_reported_area_is_the_spheres_for_boxes_and_polar_caps() -> None:
    from django.contrib.gis.geos import MultiPolygon, Polygon

    from catalog.geometry import EARTH_RADIUS_KM
    from ingest.reinspect import area_km2

    cap = MultiPolygon(Polygon(((-180, 80), (180, 80), (180, 90), (-180, 90), (-180, 80))))
    band = 2 * np.pi * EARTH_RADIUS_KM**2 * (1 - np.sin(np.radians(80)))
    assert area_km2(cap) == pytest.approx(band, rel=1e-9)
    holed = MultiPolygon(Polygon(((0, 0), (10, 0), (10, 10), (0, 10), (0, 0)),
                                 ((2, 2), (3, 2), (3, 3), (2, 3), (2, 2))))
    whole = MultiPolygon(Polygon(((0, 0), (10, 0), (10, 10), (0, 10), (0, 0))))
    assert 0 < area_km2(holed) < area_km2(whole) == pytest.approx(1.23e6, rel=0.01)
    assert area_km2(None) is None
