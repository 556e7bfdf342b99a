"""Celery delivery under faults against real workers and a private Redis (RELIABILITY C1-C4).

Pool children and whole workers are SIGKILLed while they run tasks; messages must
come back (acks_late + reject_on_worker_lost), and the database lease must keep a
redelivered or duplicated ingest from uploading twice.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from django.utils import timezone

from catalog.models import StoredObject, Swath
from ingest.tasks import ingest_file_task
from ops.reconcile import reconcile
from tests.faults import tasks
from tests.faults.conftest import sized
from tests.faults.helpers import audit, cleanup_all, collection, make_sources, wait_until
from tests.support.s3servers import S3Server

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

MB = 1_000_000
FAST_RESTORE = {"CELERY_VISIBILITY_TIMEOUT": "10", "FAULT_UNACKED_RESTORE_INTERVAL": "2",
                "FAULT_UNACKED_RESTORE_THROTTLE": "1"}


def marks(outdir: Path, tag: str, what: str) -> list[Path]:
    return sorted(outdir.glob(f"{tag}.*.{what}"))


def pid_of(mark: Path) -> int:
    return int(mark.name.split(".")[1])


def lease_pid(owner: str) -> int | None:
    """The pool child holding an upload lease: owners are 'host:pid:random'."""
    parts = owner.split(":")
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None


# -- C1 ----------------------------------------------------------------------------------


# Celery's own delivery, no object stored: the S3 server plays no part, so one is enough.
@pytest.mark.s3_servers("rclone")
def test_c1_control_a_child_killed_without_reject_on_worker_lost_loses_its_task(
    private_redis, fault_workers, tmp_path: Path
) -> None:
    worker = fault_workers(private_redis.url, concurrency=1)
    tasks.sleepy_lost.delay("lost", 3, str(tmp_path))
    start = wait_until(lambda: marks(tmp_path, "lost", "start"), 30, what="the task to start")
    worker.kill_child(pid_of(start[0]))
    time.sleep(6)  # the time it would have taken, and more
    assert len(marks(tmp_path, "lost", "start")) == 1, "no re-execution without the flag"
    assert marks(tmp_path, "lost", "done") == []
    assert "WorkerLostError" in worker.log_text()


# Celery's own delivery, no object stored: the S3 server plays no part, so one is enough.
@pytest.mark.s3_servers("rclone")
def test_c1_a_killed_child_requeues_its_task_once(private_redis, fault_workers,
                                                  tmp_path: Path) -> None:
    worker = fault_workers(private_redis.url, concurrency=2)
    n = sized(4, 20)
    for i in range(n):
        tasks.sleepy_requeued.delay(f"t{i}", 1.5, str(tmp_path))
    for i in range(n):
        start = wait_until(lambda i=i: marks(tmp_path, f"t{i}", "start"), 60,
                           what=f"task {i} to start")
        worker.kill_child(pid_of(start[0]))
    wait_until(lambda: all(marks(tmp_path, f"t{i}", "done") for i in range(n)), 90,
               what="every task to finish")
    for i in range(n):
        starts, done = marks(tmp_path, f"t{i}", "start"), marks(tmp_path, f"t{i}", "done")
        assert len(done) == 1, f"task {i} completed {len(done)} times"
        assert len(starts) == 2, f"task {i}: {len(starts)} executions for 1 kill"


def test_c1_ingests_survive_children_killed_mid_upload(private_redis, fault_workers, rng,
                                                       tmp_path: Path, s3_server: S3Server,
                                                       tcp_proxy) -> None:
    """SIGKILL of the pool child during each upload (S2 through Celery): every granule
    ends VERIFIED once, and after lease expiry, reconcile and cleanup nothing is left."""
    n = sized(4, 20)
    size = sized(24, 300) * MB  # an upload of ~1 s at least: the kill lands inside it
    sources = make_sources(tmp_path / "src", n, size, seed=rng.randrange(1000))
    coll = collection()
    # Small granules go through a proxy that paces each connection to 2 MB/s, so an upload
    # lasts ~3 s however loaded the machine is: unpaced, uploads on a busy machine ended
    # before the killer's next look and the test saw too few kills.
    proxy = tcp_proxy(s3_server.endpoint_url)
    proxy.limit_rate(None if size > 100 * MB else 2 * MB)
    worker = fault_workers(private_redis.url, concurrency=2, UPLOAD_LEASE_S="10",
                           S3_PART_SIZE_MB="5", S3_MULTIPART_THRESHOLD_MB="5",
                           endpoint_url=proxy.endpoint_url)
    for path in sources:
        ingest_file_task.delay(str(path), coll.pk, "auto", None, "single")
    killed: dict[str, str] = {}  # granule -> state when killed
    moved_on: set[str] = set()  # uploads that ended before the kill came
    stop = threading.Event()

    def killer() -> None:
        while not stop.is_set() and len(killed) < n:
            for s in Swath.objects.filter(state="UPLOADING").exclude(
                    granule_id__in=list(killed)):
                pid = lease_pid(s.lease_owner)
                if pid is None:
                    continue
                time.sleep(rng.uniform(0.0, sized(0.3, 3.5)))
                # Kill only if that child still holds this upload: one that has moved on
                # may be between tasks, holding the prefork pool's shared pipe lock, and
                # a SIGKILL there wedges the whole pool (billiard#104), a Celery hazard
                # this test is not about.
                if not Swath.objects.filter(pk=s.pk, state="UPLOADING",
                                            lease_owner=s.lease_owner).exists():
                    moved_on.add(s.granule_id)
                    continue
                worker.kill_child(pid)
                killed[s.granule_id] = "UPLOADING"
                break
            time.sleep(0.02)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    last_sweep = [time.monotonic()]
    swept: list[str] = []  # what each sweep found: shown when the test fails

    def all_verified() -> bool:
        # A redelivered task finds the dead child's lease still live and leaves the row
        # to the periodic reconcile (beat, RECONCILE_EVERY_S), which re-enqueues rows
        # whose lease expired: sweep as beat would, every few seconds here.
        if time.monotonic() - last_sweep[0] > 5:
            swept.extend(reconcile("primary", apply=True).lines)
            last_sweep[0] = time.monotonic()
        return Swath.objects.filter(state="VERIFIED").values(
            "granule_id").distinct().count() == n

    try:
        wait_until(all_verified, sized(150, 900), poll=0.5, what="every granule VERIFIED")
    except AssertionError:
        rows = Swath.objects.values_list("granule_id", "version", "state", "attempts",
                                         "lease_until", "failure_reason")
        raise AssertionError(f"killed {killed}; rows {list(rows)}; sweeps {swept}; worker log "
                             f"{worker.log_text()[-4000:]}") from None
    finally:
        stop.set()
        thread.join(5)
    print(f"killed {len(killed)} children: {killed}; uploads that ended first: {moved_on}")
    assert len(killed) >= n - 1
    time.sleep(11)  # every lease of a killed child has expired
    reconcile("primary", apply=True)
    wait_until(lambda: not Swath.objects.filter(state__in=["PENDING", "UPLOADING"]).exists(),
               60, what="requeued rows to settle")
    cleanup_all()
    figures = audit({p.name: p for p in sources})
    print(figures.line())
    assert figures.differ == [] and figures.missing == []
    assert figures.uploads == 0 and figures.stuck == []
    assert figures.duplicates == []
    assert Swath.objects.filter(state="VERIFIED").count() == n
    kills_recorded = sum(Swath.objects.filter(state="VERIFIED").values_list(
        "attempts", flat=True))
    print(f"attempts of the VERIFIED rows: {kills_recorded} for {len(killed)} kills "
          f"{list(Swath.objects.values_list('granule_id', 'attempts'))}; sweeps {swept}")


# -- C2 ----------------------------------------------------------------------------------


# Celery's own delivery, no object stored: the S3 server plays no part, so one is enough.
@pytest.mark.s3_servers("rclone")
def test_c2_a_hard_killed_worker_redelivers_within_the_bound(private_redis, fault_workers,
                                                              tmp_path: Path) -> None:
    """kill -9 of the main process and its children; restart after 1 s. Bound: visibility
    10 s + restore interval 2 s x throttle 1 + 5 s = 17 s."""
    worker = fault_workers(private_redis.url, concurrency=1, **FAST_RESTORE)
    tasks.sleepy_requeued.delay("hard", 2, str(tmp_path))
    wait_until(lambda: marks(tmp_path, "hard", "start"), 30, what="the task to start")
    worker.kill()
    killed_at = time.monotonic()
    time.sleep(1)
    worker.start()
    wait_until(lambda: len(marks(tmp_path, "hard", "start")) == 2, 40, poll=0.1,
               what="the redelivery")
    redelivered = time.monotonic() - killed_at
    print(f"C2 redelivered {redelivered:.1f} s after the hard kill")
    assert redelivered <= 17
    wait_until(lambda: marks(tmp_path, "hard", "done"), 20, what="the task to finish")
    assert len(marks(tmp_path, "hard", "done")) == 1


# -- C3 ----------------------------------------------------------------------------------


# Celery's own delivery, no object stored: the S3 server plays no part, so one is enough.
@pytest.mark.s3_servers("rclone")
def test_c3_control_without_a_lease_a_long_task_runs_twice(private_redis, fault_workers,
                                                            tmp_path: Path) -> None:
    fault_workers(private_redis.url, concurrency=2, **FAST_RESTORE)
    tasks.sleepy_requeued.delay("long", 16, str(tmp_path))
    wait_until(lambda: len(marks(tmp_path, "long", "start")) >= 2, 30,
               what="a second, concurrent execution")
    assert not marks(tmp_path, "long", "done"), "both ran at the same time"


def test_c3_with_the_lease_a_task_longer_than_visibility_uploads_once(
    private_redis, fault_workers, tcp_proxy, s3_server, rng, tmp_path: Path
) -> None:
    """An upload stalled past the visibility timeout (10 s) is redelivered to the other
    process; the lease makes that delivery a no-op: one upload, one object, one row."""
    (source,) = make_sources(tmp_path / "src", 1, 4 * MB, seed=rng.randrange(1000))
    coll = collection()
    proxy = tcp_proxy(s3_server.endpoint_url)
    fault_workers(private_redis.url, concurrency=2, endpoint_url=proxy.endpoint_url,
                  **FAST_RESTORE)
    proxy.stall(22, after=2_000_000, times=1)  # the first upload takes ~22 s
    ingest_file_task.delay(str(source), coll.pk, "auto", None, "single")
    wait_until(lambda: Swath.objects.filter(state="VERIFIED").exists(), 90, poll=0.5,
               what="the granule VERIFIED")
    time.sleep(3)  # let a duplicate finish what it would do
    rows = list(Swath.objects.values_list("granule_id", "version", "state"))
    objects = StoredObject.objects.count()
    print(f"C3 rows {rows}, objects {objects}, proxy connections {proxy.connections}")
    assert len(rows) == 1, f"a duplicate delivery registered another version: {rows}"
    assert objects == 1
    figures = audit({source.name: source})
    assert figures.differ == [] and figures.orphans == []


# -- C4 ----------------------------------------------------------------------------------


def test_c4_a_poison_ingest_stops_after_three_attempts(private_redis, fault_workers, rng,
                                                       tmp_path: Path) -> None:
    """Every execution dies (os._exit mid-upload); the attempts counter must stop it at 3
    with the row FAILED, however often the broker redelivers."""
    (source,) = make_sources(tmp_path / "src", 1, 12 * MB, seed=rng.randrange(1000))
    coll = collection()
    fault_workers(private_redis.url, concurrency=1, ARCHIVE_FAULT="mid_parts:1.0",
                  S3_PART_SIZE_MB="5", S3_MULTIPART_THRESHOLD_MB="5", UPLOAD_LEASE_S="10")
    ingest_file_task.delay(str(source), coll.pk, "auto", None, "single")
    # Three lease cycles (~12 s each here when idle) plus the last lease's expiry; the
    # loop ends as soon as the row is FAILED, so the generous bound only costs time on
    # a machine loaded by the rest of the suite (a CI run once hit a 90 s bound with the
    # third lease still live).
    started = time.monotonic()
    deadline = started + sized(180, 240)
    settled = 0
    while time.monotonic() < deadline and settled < 2:
        if Swath.objects.filter(state="FAILED", attempts__gte=3).exists():
            break
        if Swath.objects.count() > 3:
            break  # each redelivery registering a new version is the loop itself
        if Swath.objects.filter(attempts__gte=3, lease_until__lt=timezone.now()).exists():
            settled += 1  # out of attempts and its last lease expired: one more sweep
        # Expired leases go back to the queue, as the periodic reconcile does.
        reconcile("primary", apply=True)
        time.sleep(2)
    rows = list(Swath.objects.values_list("version", "state", "attempts"))
    print(f"C4 rows (version, state, attempts): {rows} after "
          f"{time.monotonic() - started:.0f} s")
    attempts = sum(a for _, _, a in rows)
    assert attempts <= 3, f"{attempts} executions of a poison message"
    assert len(rows) == 1, "redeliveries must not register new versions"
    assert [state for _, state, _ in rows] == ["FAILED"], (
        f"not given up after {time.monotonic() - started:.0f} s: {rows}")
    assert "gave up after 3 attempts" in Swath.objects.get().failure_reason
