"""The embedded default from an empty var/: SpatiaLite, a directory store, tasks
in-process. Migrate, make demo swaths, ingest them, serve them over HTTP: the REST
list and the STAC search and items the map page uses, all on SpatiaLite; a subset of
every swath is accepted (202) and cut afterwards by the server's own worker thread."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from api.stac.itemdef import bbox_of
from tests.conftest import REPO, embedded_env, free_port, manage_py, stop_process, wait_for_port

pytestmark = pytest.mark.slow
MAKE_TOKEN = ("from django.contrib.auth.models import User; "
              "from rest_framework.authtoken.models import Token; "
              "print(Token.objects.create(user=User.objects.create_user('smoke')).key)")


def test_embedded_default_ingests_and_serves_swaths(tmp_path: Path) -> None:
    env = embedded_env(tmp_path / "var")
    manage_py(env, "migrate", "--no-input", "-v0")
    first = manage_py(env, "demo", "--count", "3", "--size", "1MB")
    assert "ingested 3 (0 failed)" in first
    assert "nothing to do" in manage_py(env, "demo")  # idempotent on a non-empty archive
    assert (tmp_path / "var" / "swathstore.sqlite3").is_file()
    objects = [p for p in (tmp_path / "var" / "objects").rglob("*") if p.is_file()
               and p.suffix != ".json"]
    assert len(objects) >= 3

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )

    def get(path: str, **params: str) -> Any:
        query = "?" + urlencode(params) if params else ""
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}{query}") as r:
            return json.load(r)

    try:
        wait_for_port(port, 30, server)
        body = get("/api/v1/swaths/")
        assert body["numberReturned"] == 3
        assert {f["properties"]["state"] for f in body["features"]} == {"VERIFIED"}
        assert all(f["geometry"] for f in body["features"])
        for feature in body["features"]:
            searches_find_the_swath(get, feature)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/") as r:
            assert "/stac/" in r.read().decode()  # the map page, which searches through STAC
        token = manage_py(env, "shell", "-c", MAKE_TOKEN).strip().splitlines()[-1]
        subsets_are_queued_then_cut_for_their_owner_only(f"http://127.0.0.1:{port}", token)
    finally:
        stop_process(server, 10)


def searches_find_the_swath(get: Any, feature: dict[str, Any]) -> None:
    """STAC search (as the map asks it), STAC items and the REST list, each by bbox and
    time, return this swath with its bbox; a box on the far side of the Earth does not."""
    uid, props = feature["id"], feature["properties"]
    # A vertex of the footprint: on its edge, which an intersects query counts.
    lon, lat = feature["geometry"]["coordinates"][0][0][0]
    near = box_around(lon, lat)
    far = box_around(lon + 180 if lon < 0 else lon - 180, -lat)  # the antipode
    when = f"{props['start_time']}/{props['end_time']}"

    found = get("/stac/search", bbox=near, datetime=when)
    item = next(f for f in found["features"] if f["id"] == uid)
    assert item["collection"] == props["collection"]
    assert item["properties"]["start_datetime"] == props["start_time"]
    assert item["bbox"] == pytest.approx(bbox_of(feature["geometry"]), abs=1e-6)
    # The map's own request: a page of 500 with the fields extension and a CQL2 filter.
    mapped = get("/stac/search", bbox=near, datetime=when, limit="500",
                 fields="-assets,-links,-bbox", **{"filter-lang": "cql2-text",
                                                   "filter": '"sat:absolute_orbit" >= 1'})
    assert uid in ids(mapped)
    assert uid not in ids(get("/stac/search", bbox=far, datetime=when))
    assert uid not in ids(get("/stac/search", bbox=near,
                              datetime="2000-01-01T00:00:00Z/2000-01-02T00:00:00Z"))

    items = get(f"/stac/collections/{props['collection']}/items", bbox=near, datetime=when)
    assert uid in ids(items)
    assert uid in ids(get(f"/stac/collections/{props['collection']}/items"))
    one = get(f"/stac/collections/{props['collection']}/items/{uid}")
    assert one["bbox"] == item["bbox"]

    assert uid in ids(get("/api/v1/swaths/", bbox=near, datetime=when))
    assert uid not in ids(get("/api/v1/swaths/", bbox=far, datetime=when))
    orbit_filters_find_the_swath(get, feature)


def orbit_filters_find_the_swath(get: Any, feature: dict[str, Any]) -> None:
    """On SpatiaLite too, the swath's own orbit numbers, direction and equator crossing
    find it through REST and CQL2, and a different value does not."""
    uid, props = feature["id"], feature["properties"]
    stac = {"sat:absolute_orbit": "orbit", "sat:orbit_cycle": "orbit_cycle",
            "sat:relative_orbit": "relative_orbit", "swathstore:pass": "pass_number"}
    for queryable, name in stac.items():
        value = props[name]
        if value is None:
            continue
        assert uid in ids(get("/api/v1/swaths/", **{name: f"{value}..{value}"}))
        assert uid not in ids(get("/api/v1/swaths/", **{name: f"{value + 1}.."}))
        assert uid in ids(get("/stac/search", filter=f'"{queryable}" = {value}'))
    if props["orbit_direction"]:
        other = {"ascending": "descending"}.get(props["orbit_direction"], "ascending")
        assert uid in ids(get("/api/v1/swaths/", orbit_direction=props["orbit_direction"]))
        assert uid not in ids(get("/api/v1/swaths/", orbit_direction=other))
        assert uid in ids(get("/stac/search",
                              filter=f"\"sat:orbit_state\" = '{props['orbit_direction']}'"))
    crossing = props["equator_crossing_longitude"]
    if crossing is not None and -170 < crossing < 170:
        # The range across +-180 that holds it, and the one that does not.
        assert uid in ids(get("/api/v1/swaths/", equator_crossing=f"{crossing - 1},"
                              f"{crossing - 2}"))
        assert uid not in ids(get("/api/v1/swaths/", equator_crossing=f"{crossing + 1},"
                                  f"{crossing - 1}"))
        assert uid in ids(get("/stac/search", filter=(
            f'"swathstore:equator_crossing_longitude" BETWEEN {crossing - 1} AND '
            f"{crossing + 1}")))


def box_around(lon: float, lat: float, half: float = 0.5) -> str:
    """A bbox parameter of +-half degrees around a point, kept inside lon/lat range."""
    return ",".join(f"{v:.6f}" for v in (max(lon - half, -180), max(lat - half, -90),
                                          min(lon + half, 180), min(lat + half, 90)))


def ids(collection: dict[str, Any]) -> set[str]:
    return {f["id"] for f in collection["features"]}


def subsets_are_queued_then_cut_for_their_owner_only(base: str, token: str) -> None:
    """A global subset of every swath: 202 at once, each product DONE afterwards, its
    file downloadable by its owner and 404 to anyone else."""
    auth = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    body = json.dumps({"search": {"bbox": "-180,-90,180,90"}, "bbox": "-180,-90,180,90"})
    request = urllib.request.Request(f"{base}/api/v1/subsets/", data=body.encode(),
                                     headers=auth, method="POST")
    with urllib.request.urlopen(request, timeout=30) as r:
        assert r.status == 202
        products = json.load(r)["products"]
    assert len(products) == 3 and {p["state"] for p in products} == {"QUEUED"}
    deadline = time.monotonic() + 120
    for product in products:
        while product["state"] in ("QUEUED", "RUNNING") and time.monotonic() < deadline:
            time.sleep(0.2)
            with urllib.request.urlopen(urllib.request.Request(product["url"], headers=auth),
                                        timeout=30) as r:
                product = json.load(r)
        assert product["state"] == "DONE", product
        with urllib.request.urlopen(urllib.request.Request(product["download"], headers=auth),
                                    timeout=30) as r:
            assert r.read(4) == b"\x89HDF"
        with pytest.raises(urllib.error.HTTPError) as anonymous:
            urllib.request.urlopen(product["download"], timeout=30)
        assert anonymous.value.code == 404
