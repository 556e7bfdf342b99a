"""/stac/aggregate on the embedded default (SpatiaLite): the same counts as a brute force.

A `manage.py shell` over a fresh var/ (SpatiaLite) writes synthetic swaths, asks
/stac/aggregate through Django's test client and prints the answers with each row's
values; the counts are checked here against tests.api.test_stac_aggregate's brute force.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tests.api.test_stac_aggregate import ALL, as_counts, brute_force
from tests.conftest import embedded_env, manage_py

pytestmark = pytest.mark.slow  # a SpatiaLite migrate: about 15 s
SCRIPT = f"""
import json, random
from datetime import UTC, datetime, timedelta
from django.test import Client
from django.test.utils import override_settings
from catalog.geometry import bbox_geometry
from catalog.models import Collection, Swath
rnd = random.Random(5)
colls = [Collection.objects.create(slug=s, title=s) for s in ("aqua-l2", "npp-l2")]
t0 = datetime(2023, 12, 30, 22, tzinfo=UTC)
for i in range(240):
    west, south = rnd.uniform(-180, 170), rnd.uniform(-85, 75)
    fp = None if i % 31 == 0 else bbox_geometry(west, south, west + 5, south + 5)
    start = t0 + timedelta(hours=rnd.uniform(0, 500 * 24))
    Swath.objects.create(collection=colls[i % 2], granule_id=f"g{{i}}", filename=f"g{{i}}.nc",
                         footprint=fp, start_time=start, end_time=start + timedelta(minutes=5),
                         platform=rnd.choice(["aqua", "", "npp"]), state="VERIFIED",
                         orbit_direction=rnd.choice(["Ascending", "descending", ""]),
                         sha256=f"{{i:064x}}", size=i)
rows = []
for s in Swath.objects.select_related("collection"):
    c = s.footprint.centroid if s.footprint else None
    rows.append([s.start_time.astimezone(UTC).isoformat(), s.collection.slug, s.platform,
                 s.orbit_direction, [c.x, c.y] if c else None])
client = Client()
out = {{"rows": rows, "answers": []}}
for interval, precision in (("day", 2), ("month", 1), ("year", 3)):
    r = client.get("/stac/aggregate", {{"aggregations": "{ALL}",
                   "datetime_frequency_interval": interval,
                   "centroid_geohash_grid_frequency_precision": precision}})
    out["answers"].append([interval, precision, r.status_code, r.json()])
r = client.get("/stac/aggregate", {{"collections": "npp-l2",
               "aggregations": "total_count,collection_frequency"}})
out["npp"] = r.json()
with override_settings(STAC_AGGREGATE_MAX_ROWS=100):
    r = client.get("/stac/aggregate", {{"aggregations": "total_count"}})
    out["guard"] = [r.status_code, r.json()]
print("RESULT " + json.dumps(out))
"""


def test_spatialite_counts_equal_brute_force_counts(tmp_path: Path) -> None:
    env = embedded_env(tmp_path)
    manage_py(env, "migrate", "--no-input", "-v0", timeout=600)
    printed = manage_py(env, "shell", "-c", SCRIPT, timeout=300)
    out = json.loads(printed.split("RESULT ", 1)[1])
    rows = [tuple(r[:4]) + (tuple(r[4]) if r[4] else None,) for r in out["rows"]]
    assert len(rows) == 240
    for interval, precision, status, body in out["answers"]:
        assert status == 200, body
        assert as_counts(body) == brute_force(rows, interval, precision), interval
    npp = sum(1 for r in rows if r[1] == "npp-l2")
    assert as_counts(out["npp"]) == {"total_count": npp,
                                     "collection_frequency": Counter({"npp-l2": npp})}
    status, body = out["guard"]
    assert status == 400
    assert "would scan too many rows: counted more than 100" in body["error"]
    assert "(STAC_AGGREGATE_MAX_ROWS is 100)" in body["error"]
