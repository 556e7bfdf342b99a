"""An S3Store used by a process and then inherited by processes forked from it.

Celery's prefork pool does exactly this: the main process probes the primary store at
worker_ready, after its first children were forked, so every child that replaces a killed
one inherits a store whose client holds a pooled keep-alive connection (RELIABILITY C1).
"""

from __future__ import annotations

import io
import multiprocessing
import os
import signal
import threading
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

from archive import config, probe
from archive.errors import ArchiveError
from archive.s3 import S3Store
from tests.archive.conftest import PART, payload, sha
from tests.support.s3servers import S3Server

FORK = multiprocessing.get_context("fork")


def _store(server: S3Server, prefix: str) -> S3Store:
    # Short timeouts and no retries: a request whose answer another process read stalls
    # until the read timeout, and a retry would hide the first wrong answer.
    return server.store(prefix, part_size=PART, read_timeout=5, max_attempts=1,
                        upload_attempts=1)


def _run_children(target: object, jobs: list[tuple], timeout: float = 120) -> list[object]:
    """Fork one child per job, start them together, return what each put on the queue."""
    barrier: Barrier = FORK.Barrier(len(jobs))
    answers: Queue = FORK.Queue()
    children = [FORK.Process(target=target, args=(*job, barrier, answers)) for job in jobs]
    for child in children:
        child.start()
    try:
        return [answers.get(timeout=timeout) for _ in children]
    finally:
        for child in children:
            child.join(10)
            if child.is_alive():  # stuck on an answer it will never get
                child.kill()


def _heads(store: S3Store, key: str, size: int, rounds: int, barrier: Barrier,
           answers: Queue) -> None:
    barrier.wait(30)
    wrong: list[object] = []
    for _ in range(rounds):
        try:
            info = store.head(key)
            got: object = None if info is None else info.stored_size
        except ArchiveError as e:
            got = f"{type(e).__name__}: {e}"
        if got != size:
            wrong.append(got)
    answers.put((key, len(wrong), wrong[:3]))


def test_children_forked_after_the_store_was_used_each_get_their_own_answers(
    rclone_s3: S3Server, s3_prefix: str
) -> None:
    store = _store(rclone_s3, s3_prefix)
    sizes = {"a": 1000, "b": 2000}
    for key, size in sizes.items():
        store.put(key, io.BytesIO(bytes(size)))  # the parent's client now pools a connection
    # Two children sharing one TCP connection read each other's answers only when their
    # requests overlap on it; 10 rounds of 100 HEADs each made that happen in every run
    # before the store made its clients per process.
    for _ in range(10):
        results = _run_children(_heads, [(store, k, s, 100) for k, s in sizes.items()])
        assert all(n == 0 for _, n, _ in results), f"(key, wrong answers, first): {results}"


def _puts(store: S3Store, path: Path, digest: str, times: int, barrier: Barrier,
          answers: Queue) -> None:
    barrier.wait(30)
    failures = []
    for i in range(times):
        key = f"{os.getpid()}/{i}"
        try:
            result = store.put(key, path, size=path.stat().st_size)
            if result.sha256 != digest:
                failures.append(f"{key}: put hashed {result.sha256}")
            store.verify(key, digest)
        except ArchiveError as e:
            failures.append(f"{type(e).__name__}: {e}")
    answers.put(failures)


def test_children_forked_after_the_store_probed_upload_in_parts(
    rclone_s3: S3Server, s3_prefix: str, tmp_path: Path
) -> None:
    """Before each child made its own client, a part's ETag read from another upload's
    answer made rclone refuse CompleteMultipartUpload with InvalidPart (the C1 failure)."""
    store = _store(rclone_s3, s3_prefix)
    # The Celery main process probes at worker_ready; here the probe may be cached from an
    # earlier test, so a HEAD makes sure the parent's client pools a connection.
    store.capabilities()
    assert store.head("absent") is None
    data = payload(3 * PART + 1234, seed=7)
    source = tmp_path / "granule.nc"
    source.write_bytes(data)
    # Every shape of the shared connection showed up in 5 runs before the fix: InvalidPart,
    # BadDigest, NoSuchUpload mid-upload, an object missing after its put succeeded.
    for _ in range(3):
        results = _run_children(_puts, [(store, source, sha(data), 2)] * 2, timeout=120)
        assert results == [[], []]


def _use_registry_and_probe_cache() -> None:
    signal.alarm(10)  # a child stuck on an inherited lock dies by SIGALRM instead
    config.configured_names()
    probe.reset_cache()


def test_a_child_forked_while_a_thread_holds_the_registry_locks_can_still_use_them() -> None:
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with config._lock, probe._lock:
            held.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    try:
        child = FORK.Process(target=_use_registry_and_probe_cache)
        child.start()
        child.join(30)
    finally:
        release.set()
        holder.join()
    assert child.exitcode == 0, f"the forked child ended with {child.exitcode}"
