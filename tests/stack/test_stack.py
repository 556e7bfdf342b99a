"""`make stack` for real: the production column started by its launcher under honcho,
used through its own entry points (manage.py with its variables, the HTTP API through
gunicorn), hit by a worker killed mid-task and a volume server killed mid-upload, then
audited: nothing archived is lost, and nothing the stack started outlives it.

Select it with `-m stack`. It takes under three minutes on 2 cores, about 80 s of it
waiting for Redis to hand the killed worker's unacknowledged task out again (the
visibility timeout, 40 s here, then Kombu's next look at unacknowledged messages).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from ingest.synth import generate
from tests.stack.stackrun import (
    RunningStack,
    launch,
    processes_with,
    running_stack,
    sha256_of,
)

pytestmark = [pytest.mark.stack, pytest.mark.slow, pytest.mark.timeout(900)]

MODIS = "SS_MODIS_A-JPL-L2P-v2014.0.nc"
BIG_MB = 200
# Short enough for a test, and consistent: the visibility timeout exceeds the task time
# limit by more than 10 % (swathstore.E007); an upload lease expires 10 s after its
# worker died, so reconcile may hand the swath to another.
STACK_SETTINGS = {
    "UPLOAD_LEASE_S": "10",
    "CELERY_TASK_TIME_LIMIT": "30",
    "CELERY_TASK_SOFT_TIME_LIMIT": "25",
    "CELERY_VISIBILITY_TIMEOUT": "40",
}


def granules(shared: Path) -> list[Path]:
    return sorted(p for p in shared.iterdir() if p.suffix != ".md")


UPLOADS = ("SELECT s.lease_owner, s.source_path, o.id IS NOT NULL FROM catalog_swath s "
           "LEFT JOIN catalog_storedobject o ON o.swath_id = s.id AND o.state = 'UPLOADING' "
           "WHERE s.state = 'UPLOADING' AND s.lease_owner <> ''")


def kill_a_worker_mid_task(running: RunningStack, timeout: float = 60, strict_s: float = 6
                           ) -> tuple[str, int, str, bool]:
    """SIGKILL the whole worker (main process and pool) that is uploading a granule;
    return the worker's Procfile name, its pid, the granule's path and whether its
    object was being written (else the worker held the lease but had not started it).

    The uploading process is the one named by the swath's lease ("host:pid:attempt");
    its worker is the session it belongs to (stack/keep.py starts each in its own).
    For ``strict_s`` seconds only an upload whose object row exists is taken.
    """
    workers = ("worker1", "worker2")
    started = time.monotonic()
    while time.monotonic() < started + timeout:
        strict = time.monotonic() < started + strict_s
        for owner, path, writing in running.sql(UPLOADS):
            if strict and not writing:
                continue
            try:
                session = os.getsid(int(owner.split(":")[1]))
            except (ProcessLookupError, ValueError, IndexError):
                continue
            for service in workers:
                if running.pid(service) == session:
                    return service, running.kill(service), path, writing
        time.sleep(0.005)
    raise AssertionError("no upload by a stack worker was seen")


def volume_bytes(running: RunningStack, service: str) -> int:
    root = running.stack.dir / "weed" / service
    return sum(p.stat().st_size for p in root.glob("*.dat"))


def kill_a_volume_server_mid_upload(running: RunningStack, granule_id: str,
                                    timeout: float = 120) -> tuple[str, int]:
    """Wait until ``granule_id`` is being uploaded and one volume server is receiving
    its bytes, SIGKILL that one; return its name and pid. Fails if the upload ended first."""
    deadline = time.monotonic() + timeout
    state = ""
    while state != "UPLOADING":
        assert time.monotonic() < deadline, f"{granule_id} never reached UPLOADING"
        rows = running.sql("SELECT state FROM catalog_swath WHERE granule_id = %s", granule_id)
        state = rows[0][0] if rows else ""
        time.sleep(0.02)
    before = {v: volume_bytes(running, v) for v in ("volume1", "volume2")}
    while True:
        grown = [v for v in before if volume_bytes(running, v) > before[v] + 8 * 2**20]
        if grown:
            break
        assert time.monotonic() < deadline, "no volume server received the upload's bytes"
        time.sleep(0.02)
    pid = running.kill(grown[0])
    (state,) = running.sql("SELECT state FROM catalog_swath WHERE granule_id = %s",
                           granule_id)[0]
    assert state == "UPLOADING", f"the upload had already ended ({state}) at the kill"
    return grown[0], pid


def wait_all_verified(running: RunningStack, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        left = running.sql("SELECT granule_id, state, failure_reason FROM catalog_swath "
                           "WHERE state <> 'VERIFIED'")
        if not left:
            return
        assert time.monotonic() < deadline, f"not VERIFIED: {left}\n{running.log_tail()}"
        time.sleep(0.5)


def wait_verified(running: RunningStack, granule_id: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while running.sql("SELECT 1 FROM catalog_swath WHERE granule_id = %s AND "
                      "state = 'VERIFIED'", granule_id) == []:
        assert time.monotonic() < deadline, f"{granule_id} not VERIFIED\n{running.log_tail()}"
        time.sleep(0.5)


def product_sha256(running: RunningStack) -> str:
    """The SHA-256 the catalog holds for the one subset product's result."""
    ((sha,),) = running.sql("SELECT o.sha256 FROM catalog_product p "
                            "JOIN catalog_storedobject o ON o.id = p.result_id")
    return str(sha)


def create_token(running: RunningStack) -> str:
    out = running.manage_ok(
        "shell", "-c",
        "from django.contrib.auth.models import User; "
        "from rest_framework.authtoken.models import Token; "
        "print(Token.objects.create(user=User.objects.create_user('stack-tester')).key)")
    return out.strip().splitlines()[-1]


def cut_a_subset(running: RunningStack, token: str, swath_uuid: str) -> dict:
    """POST a subset through the API and follow it to the end; return its detail."""
    code, body = running.api("POST", "/api/v1/subsets/", token, {
        "swath": swath_uuid, "bbox": "70,42,80,48", "variables": ["sea_surface_temperature"]})
    assert code == 202, body
    (product,) = body["products"]
    deadline = time.monotonic() + 120
    while True:
        code, detail = running.api("GET", f"/api/v1/subsets/{product['id']}", token)
        assert code == 200, detail
        if detail["state"] not in ("QUEUED", "RUNNING"):
            return detail
        assert time.monotonic() < deadline, f"subset still {detail['state']}"
        time.sleep(0.5)


def test_the_stack_loses_nothing_when_a_worker_and_a_volume_server_die(
        tmp_path: Path, shared_swaths: Path) -> None:
    started = time.monotonic()
    real = granules(shared_swaths)
    (big,) = [Path(i.path) for i in generate(tmp_path / "big", count=1, size=f"{BIG_MB}MB",
                                              seed=11, incompressible=True, compression=None)]
    sources = {p.name: p for p in [*real, big]}
    with running_stack(tmp_path, **STACK_SETTINGS) as running:
        ready_s = time.monotonic() - started
        stack_dir = running.stack.dir

        # 1. Real granules through `ingest --celery`; one worker dies during an upload.
        #    Its task comes back when Redis's visibility timeout has passed; meanwhile
        #    the rest of the stack goes on (steps 2 and 3).
        ingest_real = running.start_manage(tmp_path / "ingest-real.log", "ingest",
                                           *map(str, real), "--celery",
                                           "--collection", "stack-real")
        worker, worker_pid, in_hand, writing = kill_a_worker_mid_task(running)
        killed_at = time.monotonic()
        running.wait_restarted(worker, worker_pid)
        wait_verified(running, MODIS)

        # 2. A subset through the API, by a user with a token.
        token = create_token(running)
        (modis_uuid,) = running.sql("SELECT uuid::text FROM catalog_swath WHERE granule_id = %s",
                                    MODIS)[0]
        detail = cut_a_subset(running, token, modis_uuid)
        assert detail["state"] == "DONE", detail
        subset_sha = product_sha256(running)
        assert running.download_sha256(detail["download"], token) == subset_sha

        # 3. A large granule; the volume server receiving it dies mid-upload.
        ingest_big = running.start_manage(tmp_path / "ingest-big.log", "ingest", str(big),
                                          "--celery", "--collection", "stack-big")
        volume, volume_pid = kill_a_volume_server_mid_upload(running, big.name)
        running.wait_restarted(volume, volume_pid)
        ingest_big.wait(240)  # it may report the upload FAILED: reconcile below re-sends it
        assert ingest_real.wait(240) == 0, (tmp_path / "ingest-real.log").read_text()
        redelivered_s = time.monotonic() - killed_at
        running.wait_healthy()

        # 4. Repair as an operator would: reconcile, then the same ingest runs again
        #    (idempotent: only missing copies are made).
        running.manage_ok("reconcile", "--apply", "--grace", "0s")
        wait_all_verified(running)
        for collection, paths in (("stack-real", real), ("stack-big", [big])):
            out = running.manage_ok("ingest", *map(str, paths), "--celery",
                                    "--collection", collection)
            assert "failed        0" in out, out

        # 5. The audit: every granule VERIFIED with one verified copy in each store,
        #    bytes read back through the API equal to the source's; no copy left half
        #    done; a dead attempt's row (FAILED) names no bytes; the stores and the
        #    catalog agree.
        rows = running.sql(
            "SELECT s.granule_id, s.uuid::text, s.sha256, array_agg(o.store ORDER BY o.store) "
            "FROM catalog_swath s JOIN catalog_storedobject o ON o.swath_id = s.id "
            "WHERE s.state = 'VERIFIED' AND o.state = 'VERIFIED' GROUP BY s.id")
        assert {r[0] for r in rows} == set(sources)
        for granule_id, swath_uuid, sha, stores in rows:
            assert stores == ["offsite", "primary"], (granule_id, stores)
            assert sha == sha256_of(sources[granule_id]), granule_id
            assert running.download_sha256(f"/api/v1/swaths/{swath_uuid}/download") == sha
        assert running.sql("SELECT store, key, state FROM catalog_storedobject WHERE swath_id "
                           "IS NOT NULL AND state NOT IN ('VERIFIED', 'FAILED')") == []
        s3 = launch.s3_client(running.env)
        buckets = {"primary": launch.BUCKETS["primary"], "offsite": launch.BUCKETS["offsite"]}
        dead = running.sql("SELECT store, key FROM catalog_storedobject WHERE state = 'FAILED'")
        for store, key in dead:
            listed = s3.list_objects_v2(Bucket=buckets[store], Prefix=key)
            assert listed.get("KeyCount", 0) == 0, f"a FAILED row's bytes are kept: {key}"
        for store in ("primary", "offsite"):
            running.manage_ok("archive", "--store", store, "fsck", "--full")
            out = running.manage_ok("reconcile", "--store", store, "--grace", "0s")
            assert out.strip().endswith(f"reconcile {store}: 0 found (dry run: --apply to act)"), \
                out
        (killed,) = [p for p in real if str(p) == in_hand]
        outcomes = running.sql("SELECT status, reason FROM catalog_ingestitem WHERE path = %s "
                               "ORDER BY id", str(killed))
        # The subset cut before the volume server died is still there, byte for byte.
        assert running.sql("SELECT state FROM catalog_product") == [("DONE",)]
        assert running.download_sha256(detail["download"], token) == subset_sha

        # 6. Stopped together: nothing it started is left.
        assert running.stop() == 0, running.log_tail()
        left = processes_with(f"STACK_DIR={stack_dir}")
        assert not left, f"processes outlived the stack: {left}"
        assert "stack: stopped" in running.log_tail()
    print(f"\nstack ready in {ready_s:.0f} s; whole test {time.monotonic() - started:.0f} s; "
          f"killed {worker} uploading {killed.name} (object being written: {writing}), "
          f"its run done {redelivered_s:.0f} s later, "
          f"outcomes {outcomes}; dead attempts' rows {dead}; "
          f"killed {volume} during the {BIG_MB} MB upload: "
          f"{(tmp_path / 'ingest-big.log').read_text().strip().splitlines()[-4:]}")
