"""The ingest pipeline's verification before VERIFIED (I5) on each kind of store: one HEAD
where the store checked the SHA-256 on arrival (SeaweedFS), a read-back elsewhere."""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

import archive.config
from archive.s3 import S3Store
from archive.streaming import sha256_file
from catalog.models import Swath
from tests.support.ingesting import ingest_paths
from tests.support.s3requests import requests_of
from tests.support.s3servers import S3Server
from tests.support.stores import stores_on

pytestmark = pytest.mark.django_db

MODIS = "SS_MODIS_A-JPL-L2P-v2014.0.nc"  # netCDF-4: stored as it comes, one PutObject


@pytest.fixture
def seaweed_primary(settings: object, seaweed_s3: S3Server, s3_prefix: str) -> Iterator[S3Store]:
    """Make SeaweedFS (under this test's own prefix) the primary store."""
    with stores_on(settings, {"primary": f"s3://{seaweed_s3.bucket}/{s3_prefix}"}, seaweed_s3):
        store = archive.config.get_store("primary")
        assert isinstance(store, S3Store)
        yield store


@pytest.fixture
def granule(tmp_path: Path, shared_swaths: Path) -> Path:
    """A copy of one real uncompressed granule."""
    target = tmp_path / "incoming" / MODIS
    target.parent.mkdir()
    shutil.copy2(shared_swaths / MODIS, target)
    return target


def ingest_counting_requests(primary: S3Store, granule: Path) -> Counter[str]:
    """Ingest ``granule`` into ``primary``; return the S3 requests that took, by name."""
    with requests_of(primary) as seen:
        run = ingest_paths([granule], "mixed")
    assert (run.n_new, run.n_failed) == (1, 0), run.errors
    return seen


def test_on_seaweedfs_a_granule_is_verified_by_the_stores_sha256_without_a_read_back(
    seaweed_primary: S3Store, granule: Path
) -> None:
    seen = ingest_counting_requests(seaweed_primary, granule)
    swath = Swath.objects.get()
    assert swath.state == "VERIFIED" and swath.sha256 == sha256_file(granule)
    assert seen["GetObject"] == 0 and seen["HeadObject+checksum"] == 1


@pytest.mark.s3_servers("rclone")  # SeaweedFS confirms by one HEAD: the test above
def test_on_rclone_a_granule_is_read_back_before_it_is_verified(
    s3_primary: S3Store, granule: Path
) -> None:
    seen = ingest_counting_requests(s3_primary, granule)
    assert Swath.objects.get().state == "VERIFIED"
    assert seen["GetObject"] >= 1 and seen["HeadObject+checksum"] == 0
