"""Real clients against a live server: pystac-client while an ingest runs, stac-api-validator."""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.db import connection

from catalog.models import StoredObject, Swath
from tests.api.live import LiveServer
from tests.catalog.factories import box, collection, swath
from tests.support.stacschemas import API_VALIDATOR_LAUNCHER, require_schemas, schema_map

pytestmark = pytest.mark.django_db(transaction=True)
T0 = datetime(2024, 6, 1, tzinfo=UTC)


def test_pystac_client_gets_every_item_once_while_an_ingest_runs(
        api_server: LiveServer) -> None:
    from pystac_client import Client

    rng = random.Random(5)
    coll = collection("modis-aqua-l2")
    before = {str(swath(box(-10 + rng.random() * 5, 40, 5, 50),
                        start=T0 + timedelta(minutes=rng.randrange(0, 20_000)),
                        coll=coll, platform="aqua").uuid) for _ in range(240)}
    stop = threading.Event()
    added: list[str] = []

    def ingest() -> None:
        # New VERIFIED swaths land inside the same box and window, newest and oldest
        # alike, while the client pages.
        try:
            while not stop.is_set():
                s = swath(box(-8, 42, 0, 48),
                          start=T0 + timedelta(minutes=rng.randrange(0, 20_000)), coll=coll)
                added.append(str(s.uuid))
        finally:
            connection.close()

    writer = threading.Thread(target=ingest)
    writer.start()
    try:
        client = Client.open(f"{api_server.url}/stac/")
        search = client.search(bbox=[-20, 30, 20, 60],
                               datetime="2024-06-01T00:00:00Z/2024-07-01T00:00:00Z", limit=13)
        seen = [item.id for item in search.items()]
    finally:
        stop.set()
        writer.join()
    assert len(added) > 10, "the ingest thread should have written rows meanwhile"
    assert len(seen) == len(set(seen)), "an item was returned twice"
    assert before <= set(seen), f"{len(before - set(seen))} items were missed"
    assert set(seen) - before <= set(added)


def _archived(live: LiveServer, n: int) -> list[Swath]:
    coll = collection("modis-aqua-l2")
    rows = []
    for i in range(n):
        data = f"swath {i} ".encode() * 100
        digest = hashlib.sha256(data).hexdigest()
        s = swath(box(-20 + i, -10, -10 + i, 10), start=T0 + timedelta(hours=i), coll=coll,
                  platform="aqua", instrument="modis", orbit=1000 + i,
                  orbit_direction="ascending", sha256=digest, format="netcdf4")
        Swath.objects.filter(pk=s.pk).update(size=len(data))
        key = f"swaths/{s.uuid}/a.nc"
        live.store.put(key, io.BytesIO(data), size=len(data), sha256=digest)
        StoredObject.objects.create(swath=s, store="primary", key=key, size=len(data),
                                    stored_size=len(data), sha256=digest, state="VERIFIED")
        rows.append(s)
    return rows


def test_stac_api_validator_passes_with_zero_errors(api_server: LiveServer,
                                                    tmp_path: Path) -> None:
    require_schemas()
    _archived(api_server, 12)
    (tmp_path / "run_sav.py").write_text(API_VALIDATOR_LAUNCHER)
    geometry = {"type": "Polygon", "coordinates": [[[-20, -5], [0, -5], [0, 5], [-20, 5],
                                                    [-20, -5]]]}
    cmd = [sys.executable, str(tmp_path / "run_sav.py"), "--root-url",
           f"{api_server.url}/stac/", "--collection", "modis-aqua-l2",
           "--geometry", json.dumps(geometry), "--fields-nested-property", "properties.platform"]
    for cc in ("core", "collections", "features", "item-search", "item-search#fields",
               "item-search#sort", "filter"):
        cmd += ["--conformance", cc]
    env = {**os.environ, "SCHEMA_MAP": json.dumps(schema_map(tmp_path))}
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    report = result.stdout + result.stderr
    assert result.returncode == 0, report[-6000:]
