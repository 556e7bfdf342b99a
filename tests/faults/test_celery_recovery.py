"""Broker loss, publish-after-commit, S3 throttling and time limits (RELIABILITY C5-C8)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import transaction

from catalog.models import IngestRun, Swath
from ingest.bulk import run_with_celery, start_run
from ingest.scan import scan
from ingest.tasks import ingest_file_task
from ops.reconcile import reconcile
from tests.conftest import REPO
from tests.faults.conftest import sized
from tests.faults.helpers import audit, cleanup_all, collection, make_sources, wait_until

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

MB = 1_000_000


def queued(redis_server: object) -> int:
    return int(redis_server.client().llen("celery"))


def verified() -> int:
    return Swath.objects.filter(state="VERIFIED").count()


def test_c5_a_wiped_broker_loses_nothing_after_reconcile_and_a_rerun(
    private_redis, fault_workers, rng, tmp_path: Path
) -> None:
    n = sized(8, 50)
    sources = make_sources(tmp_path / "src", n, 2 * MB, seed=rng.randrange(1000))
    coll = collection()
    worker = fault_workers(private_redis.url, concurrency=1, UPLOAD_LEASE_S="10")
    for path in sources:
        ingest_file_task.delay(str(path), coll.pk, "auto", None, "single")
    wait_until(lambda: verified() >= 2, 60, poll=0.1, what="two granules VERIFIED")
    private_redis.shutdown_nosave()  # the queued messages are gone
    worker.kill()
    private_redis.start()
    worker.start()
    time.sleep(11)  # the lease of the killed in-flight task has expired
    report = reconcile("primary", apply=True)
    # One worker finishes the requeued rows one after another: up to n of them, each an
    # inspection, upload, read-back and quicklook (about 2-3 s on a loaded 2-core box).
    wait_until(lambda: not Swath.objects.filter(state__in=["PENDING", "UPLOADING"]).exists(),
               sized(60, 900), what="requeued rows to finish")
    after_reconcile = verified()
    never_started = n - Swath.objects.count()
    print(f"C5: {len(report.requeued)} rows requeued by reconcile; VERIFIED after "
          f"reconcile {after_reconcile}/{n}; {never_started} files had no row (their "
          "messages never reached a worker)")
    # Files whose message never reached a worker have no row: re-running the ingest
    # (idempotent: VERIFIED files are skipped by one lookup) finds them.
    found = scan([tmp_path / "src"])
    run = run_with_celery(start_run(coll.slug, found.files, [], paths=[], options={}),
                          found.files, timeout_s=sized(120, 900))
    figures = audit({p.name: p for p in sources})
    print(f"C5 rerun: new {run.n_new}, skipped {run.n_skipped}; {figures.line()}")
    assert verified() == n
    assert figures.differ == [] and figures.duplicates == [] and figures.missing == []
    assert Swath.objects.count() == n


# Publishing after commit, no worker and no object: the S3 server plays no part.
@pytest.mark.s3_servers("rclone")
def test_c6_a_rolled_back_transaction_publishes_nothing(private_redis, fault_workers,
                                                        tmp_path: Path) -> None:
    (source,) = make_sources(tmp_path / "src", 1, MB, seed=6)
    coll = collection()
    fault_workers(private_redis.url, concurrency=1, ready=False)  # broker only, no worker

    class Rollback(Exception):
        pass

    with pytest.raises(Rollback), transaction.atomic():
        ingest_file_task.delay_on_commit(str(source), coll.pk, "auto", None, "single")
        raise Rollback
    assert queued(private_redis) == 0
    # The control: a plain .delay() inside the same rolled-back transaction escapes it.
    with pytest.raises(Rollback), transaction.atomic():
        ingest_file_task.delay(str(source), coll.pk, "auto", None, "single")
        raise Rollback
    assert queued(private_redis) == 1


DIES_BEFORE_PUBLISH = textwrap.dedent(
    """
    import os, sys
    import django
    django.setup()
    from django.db import transaction
    from ingest.bulk import start_run
    from ingest.scan import scan
    from ingest.tasks import ingest_file_task
    found = scan([sys.argv[1]])
    with transaction.atomic():
        run = start_run("faults", found.files, [], paths=[sys.argv[1]], options={})
        transaction.on_commit(lambda: os._exit(137))  # dies between commit and publish
        for path, _ in found.files:
            ingest_file_task.delay_on_commit(str(path), run.collection_id, "auto", run.pk)
    """
)


def test_c6_a_crash_between_commit_and_publish_is_recovered_by_a_rerun(
    private_redis, fault_workers, tmp_path: Path
) -> None:
    from tests.conftest import _test_database_url

    sources = make_sources(tmp_path / "src", 2, MB, seed=7)
    coll = collection()
    worker = fault_workers(private_redis.url, concurrency=1, ready=False)
    env = {**worker.env, "DJANGO_SETTINGS_MODULE": "config.settings",
           "DATABASE_URL": _test_database_url(), "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", DIES_BEFORE_PUBLISH, str(tmp_path / "src")],
                          cwd=REPO, env=env, capture_output=True, timeout=120)
    assert done.returncode == 137, done.stderr.decode()[-2000:]
    assert IngestRun.objects.count() == 1 and queued(private_redis) == 0
    assert Swath.objects.count() == 0  # no row: reconcile cannot know these files
    worker.start()
    found = scan([tmp_path / "src"])
    run_with_celery(start_run(coll.slug, found.files, [], paths=[], options={}), found.files,
                    timeout_s=90)
    assert verified() == len(sources)


PRODUCT_DIES_BEFORE_PUBLISH = textwrap.dedent(
    """
    import os, sys
    import django
    django.setup()
    from django.db import transaction
    from catalog.models import Swath
    from subset.region import parse_bbox
    from subset.services import SubsetSpec, create_product
    swath = Swath.objects.get(pk=int(sys.argv[1]))
    with transaction.atomic():
        transaction.on_commit(lambda: os._exit(137))  # dies between commit and publish
        create_product(swath, SubsetSpec(parse_bbox("70,42,80,48"), None, []))
    """
)


def test_c6_b_lost_products_and_a_missed_standing_order_are_cut_after_reconcile(
    private_redis, fault_workers, shared_swaths: Path, tmp_path: Path
) -> None:
    """A product whose publisher died after its commit, and a standing order that no
    hook fired for, are both cut by a real worker after one reconcile, each once."""
    from django.contrib.gis.geos import MultiPolygon, Polygon

    from catalog.models import Product, Region
    from tests.conftest import _test_database_url

    source = tmp_path / "src" / "SS_MODIS_A-JPL-L2P-v2014.0.nc"
    source.parent.mkdir()
    source.write_bytes((shared_swaths / source.name).read_bytes())
    coll = collection()
    worker = fault_workers(private_redis.url, concurrency=1)
    ingest_file_task.delay(str(source), coll.pk, "auto", None, "single")
    wait_until(lambda: verified() == 1, 90, what="the granule VERIFIED")
    swath = Swath.objects.get()
    env = {**worker.env, "DJANGO_SETTINGS_MODULE": "config.settings",
           "DATABASE_URL": _test_database_url(), "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", PRODUCT_DIES_BEFORE_PUBLISH, str(swath.pk)],
                          cwd=REPO, env=env, capture_output=True, timeout=120)
    assert done.returncode == 137, done.stderr.decode()[-2000:]
    (lost,) = Product.objects.all()
    # An order over the swath that its (already fired) hook never saw.
    order = Region.objects.create(
        slug="aral", name="Aral", order_active=True, order_variables=["sea_surface_temperature"],
        geometry=MultiPolygon(Polygon.from_bbox((70, 42, 80, 48)), srid=4326))
    time.sleep(3)
    assert Product.objects.get(pk=lost.pk).state == "QUEUED"  # nothing will send it
    lines = reconcile("primary", apply=True, grace=timedelta(seconds=1)).lines
    print("C6 products:", [line for line in lines if "product" in line.lower()])
    assert f"REQUEUE product {lost.pk} (QUEUED)" in lines
    assert f"ORDER swath {swath.uuid}: 1 standing-order product(s) created" in lines
    wait_until(lambda: Product.objects.filter(state="DONE").count() == 2, 120,
               what="both products cut")
    rows = list(Product.objects.values_list("region_id", "state", "attempts", "result_id"))
    print(f"C6 products (region, state, attempts, result): {rows}")
    assert sorted(r[0] or 0 for r in rows) == [0, order.pk]
    assert all(state == "DONE" and attempts == 1 and result for _, state, attempts, result
               in rows)


def test_c7_s3_slowdown_is_retried_with_backoff_and_the_ingest_succeeds(
    private_redis, fault_workers, tcp_proxy, s3_server, tmp_path: Path
) -> None:
    (source,) = make_sources(tmp_path / "src", 1, 2 * MB, seed=8)
    coll = collection()
    proxy = tcp_proxy(s3_server.endpoint_url)
    fault_workers(private_redis.url, concurrency=1, endpoint_url=proxy.endpoint_url,
                  CELERY_VISIBILITY_TIMEOUT="60")
    outage = sized(4, 8)
    fault = proxy.slowdown(times=outage)
    fired_at: list[float] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            while len(fired_at) < fault.fired:
                fired_at.append(time.monotonic())
            time.sleep(0.005)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    ingest_file_task.delay(str(source), coll.pk, "auto", None, "single")
    try:
        wait_until(lambda: Swath.objects.filter(state__in=["VERIFIED", "FAILED"]).exists(),
                   90, what="the ingest to end")
    finally:
        stop.set()
        thread.join(2)
    gaps = [round(b - a, 2) for a, b in zip(fired_at, fired_at[1:], strict=False)]
    swath = Swath.objects.get()
    print(f"C7: {fault.fired} SlowDown answers, gaps {gaps} s, state {swath.state}, "
          f"attempts {swath.attempts}")
    assert swath.state == "VERIFIED", swath.failure_reason
    assert fault.fired == outage and swath.attempts == 1
    assert all(gap < 60 for gap in gaps)  # every retry waits less than the visibility timeout
    assert max(gaps) > min(gaps)  # backoff, not a fixed-rate hammering


def test_c8_a_stalled_upload_hits_the_soft_limit_and_leaves_no_upload(
    private_redis, fault_workers, tcp_proxy, s3_server, tmp_path: Path
) -> None:
    # The publisher stamps its own limits into each message (header `timelimit`), and
    # they override the worker's: the sender's settings must agree (docs/DEPLOYMENT.md).
    # This process has the default limits, so the test's are passed explicitly.
    (warm,) = make_sources(tmp_path / "src", 1, MB, seed=90)  # one PutObject
    (source,) = make_sources(tmp_path / "src", 1, 12 * MB, seed=9)
    coll = collection()
    proxy = tcp_proxy(s3_server.endpoint_url)
    soft, hard = 8, 20
    worker = fault_workers(private_redis.url, concurrency=1, endpoint_url=proxy.endpoint_url,
                           S3_PART_SIZE_MB="5", S3_MULTIPART_THRESHOLD_MB="5",
                           CELERY_TASK_TIME_LIMIT=str(hard),
                           CELERY_TASK_SOFT_TIME_LIMIT=str(soft), CELERY_VISIBILITY_TIMEOUT="30",
                           UPLOAD_LEASE_S="10")
    # A first ingest makes the pool process probe the store before anything stalls, so
    # the stall below hits the swath's own multipart upload, not the capability probe.
    ingest_file_task.delay(str(warm), coll.pk, "auto", None, "single")
    wait_until(lambda: verified() == 1, 60, what="the warm-up ingest to be VERIFIED")
    proxy.drop_connections()  # every part now starts on a fresh connection
    proxy.stall(300, after=3 * MB, times=None)  # every connection hangs after 3 MB
    started = time.monotonic()
    ingest_file_task.apply_async((str(source), coll.pk, "auto", None, "single"),
                                 time_limit=hard, soft_time_limit=soft)
    row = Swath.objects.filter(granule_id=source.name)
    wait_until(lambda: row.filter(state="FAILED").exists()
               or "Hard time limit" in worker.log_text(), hard + 20, what="the task to end")
    ended = time.monotonic() - started
    killed = "Hard time limit" in worker.log_text()
    print(f"C8: the task ended {ended:.1f} s after it was sent "
          f"({'killed at the hard limit' if killed else 'ended by the soft limit'})")
    assert not killed, "the soft limit ends the upload; the hard limit never has to"
    assert ended < hard, "no task runs past task_time_limit"
    state, reason = row.values_list("state", "failure_reason").get()
    assert state == "FAILED" and "soft time limit" in reason, reason
    proxy.clear()
    cleanup_all()
    assert audit().uploads == 0, "cleanup leaves no multipart upload"


@pytest.fixture(autouse=True)
def _no_fault_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARCHIVE_FAULT", raising=False)
    assert "ARCHIVE_FAULT" not in os.environ
