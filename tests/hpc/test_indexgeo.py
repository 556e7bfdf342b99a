"""Batch ranks read a swath's geolocation bounds from its chunk index (hpc.plan's
``chunk_index``, fetched by store URL): the same outputs, fewer bytes."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import h5py
import pytest

from hpc.extract import main
from ingest.chunkgeo import chunk_geo_bounds
from ingest.synth import write_swath
from tests.hpc.conftest import outputs_of, report_of
from tests.subset.conftest import rechunk
from tests.support.s3servers import S3Server

BBOX = "44,12,48,15"  # a corner of the first swath (lat 9..22, lon 38..61)


@pytest.fixture(scope="module")
def chunky(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 9 MB swath (2,027 x 600 pixels, lat 9..31) in chunks of 128 x 100 pixels, so most
    geolocation chunks are far from the region."""
    tmp = tmp_path_factory.mktemp("hpc-geo")
    write_swath(tmp / "plain.nc", seed=3, start="2024-03-01T10:00:00", duration_s=300,
                n_pixels=600)
    rechunk(tmp / "plain.nc", tmp / "chunky.nc", (128, 100))
    return tmp / "chunky.nc"


def index_item(server: S3Server, path: Path, item: dict, document: bytes | None = None,
               ) -> dict:
    """Put ``path``'s chunk index document (only its geolocation bounds, as ingest records
    them) beside the object; return the item with the plan's chunk_index record."""
    if document is None:
        with h5py.File(path, "r") as f:
            geo = chunk_geo_bounds(f)
        document = json.dumps({"version": 1, "templates": {"u": ""}, "refs": {},
                               "swathstore": {"object_sha256": item["sha256"],
                                              "geo": geo}}).encode()
    key = f"indexes/{item['id']}.json"
    server.store("hpc-src").put(key, io.BytesIO(document), size=len(document), overwrite=True)
    record = {"store": "primary", "key": key, "size": len(document),
              "sha256": hashlib.sha256(document).hexdigest(),
              "object_sha256": item["sha256"], "format": "kerchunk-v1+json",
              "store_url": item["store_url"]}
    return {**item, "chunk_index": record}


def run(items: list[dict], out: Path) -> dict:
    manifest = out.with_suffix(".jsonl")
    manifest.write_text("".join(json.dumps(i) + "\n" for i in items))
    assert main(["--manifest", str(manifest), "--out", str(out), "--mapping", "serial",
                 "--bbox", BBOX, "--progress", "60"]) == 0
    return report_of(out)


def test_a_rank_with_the_index_writes_the_same_output_reading_fewer_bytes(
        node_env: dict, s3_server: S3Server, chunky: Path, tmp_path: Path) -> None:
    from archive.streaming import sha256_file

    sha = sha256_file(chunky)
    key = f"swaths/chunky-{sha[:12]}/chunky.nc"
    put = s3_server.store("hpc-src").put(key, chunky, overwrite=True)
    item = {"id": f"chunky-{sha[:12]}", "granule_id": "chunky.nc", "collection": "synth",
            "format": "netcdf4", "size": put.size, "sha256": sha, "codec": "none",
            "store_url": f"s3://{s3_server.bucket}/hpc-src", "key": key,
            "region": {"bbox": BBOX}, "planned": "2024-06-01T00:00:00Z"}
    plain = run([item], tmp_path / "plain")
    indexed = run([index_item(s3_server, chunky, item)], tmp_path / "indexed")
    (r_plain,), (r_indexed,) = plain["results"], indexed["results"]
    assert r_plain["status"] == r_indexed["status"] == "done"
    out = outputs_of(tmp_path / "plain")
    assert out and out == outputs_of(tmp_path / "indexed")
    assert r_indexed["bytes_read"] < 0.9 * r_plain["bytes_read"]
    # (Records and documents that cannot be used: tests/subset/test_indexgeo.py.)
