"""Where a product's cut runs: a broker's workers, the web process's own worker, or inline.

A web request never cuts: with a broker (CELERY_BROKER_URL) the task goes to Celery; the
embedded default has no broker, so the web process (config.wsgi / config.asgi call
``serve_in_process``) keeps one worker thread with a bounded queue. Command-line
processes (ingest's standing orders, reconcile) have no such thread and cut inline, as
they did before, since a worker thread would die with the command.

The local worker is one thread per web process (gunicorn's workers each have their own),
started by the process's first request: HDF5 is not thread-safe, so one cut at a time
per process. When idle for a sweep interval it re-sends what a restart or a full queue
left behind (subset.recovery, as reconcile does), and a process that exits mid-cut puts
its product back to QUEUED for the next sweep.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import queue
import threading
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connections

log = logging.getLogger(__name__)

DEFAULT_QUEUE = 1000
DEFAULT_SWEEP_S = 60
_WAKE = -1  # not a product: wakes the thread so that stop() is prompt


def uses_broker() -> bool:
    """True when tasks go to a broker (not run eagerly in this process)."""
    from celery import current_app  # the project's app (config.celery), set when loaded

    return not current_app.conf.task_always_eager


def enqueue(product_id: int) -> None:
    """Start the cut of a committed QUEUED product, wherever this process sends cuts."""
    from subset.tasks import cut_subset

    if uses_broker():
        cut_subset.delay(product_id)
    elif _wanted:
        local_worker().submit(product_id)
    else:
        cut_subset.delay(product_id)  # eager: a command-line process cuts inline


class LocalWorker:
    """One daemon thread cutting queued products of this process, and sweeping for lost ones."""

    def __init__(self, max_queue: int, sweep_s: float) -> None:
        self.pid = os.getpid()
        self.jobs: queue.Queue[int] = queue.Queue(maxsize=max_queue)
        self.sweep_s = sweep_s
        self.current: int | None = None
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="subset-worker", daemon=True)

    def start(self) -> None:
        """Start the thread; at process exit, a cut in progress goes back to QUEUED."""
        self.thread.start()
        atexit.register(self.requeue_current)

    def stop(self, timeout: float = 60.0) -> None:
        """Finish the cut in progress, then end the thread (tests; process exit needs none)."""
        self.stopping.set()
        with contextlib.suppress(queue.Full):
            self.jobs.put_nowait(_WAKE)
        self.thread.join(timeout)
        atexit.unregister(self.requeue_current)

    def submit(self, product_id: int) -> None:
        """Queue a product; a full queue leaves it QUEUED in the database for a sweep."""
        try:
            self.jobs.put_nowait(product_id)
        except queue.Full:
            log.warning("subset worker queue is full (%d): product %s waits for a sweep",
                        self.jobs.maxsize, product_id)

    def _run(self) -> None:
        """Cut queued products one at a time; sweep after SUBSET_LOCAL_SWEEP_S idle."""
        try:
            self._sweep()
            idle = 0.0
            while not self.stopping.is_set():
                try:
                    # Short waits, so stop() is prompt; a sweep after sweep_s without work.
                    product_id = self.jobs.get(timeout=min(1.0, self.sweep_s))
                except queue.Empty:
                    idle += min(1.0, self.sweep_s)
                    if idle >= self.sweep_s:
                        idle = 0.0
                        self._sweep()
                    continue
                if product_id != _WAKE:
                    self._cut(product_id)
        finally:
            connections.close_all()  # this thread's own connections

    def _cut(self, product_id: int) -> None:
        """Cut one product (claimed by run_product, so one sent twice is cut once)."""
        from archive.errors import TransientArchiveError
        from subset.products import run_product

        close_old_connections()
        self.current = product_id
        try:
            state = run_product(product_id)
            log.info("product %s: %s", product_id, state)
        except TransientArchiveError as e:
            # run_product put it back to QUEUED; a sweep retries it after the grace.
            log.warning("product %s: transient store error, retried later: %s", product_id, e)
        except Exception:  # the thread must outlive any one job
            log.exception("product %s: the subset worker failed", product_id)
        finally:
            self.current = None
            close_old_connections()

    def _sweep(self) -> None:
        """Re-send products left QUEUED (or RUNNING past their lease), as reconcile does."""
        from subset.recovery import recover_products

        close_old_connections()
        lines: list[str] = []
        try:
            recover_products(lines, apply=True, grace=timedelta(seconds=self.sweep_s))
        except Exception:
            log.exception("subset worker: the sweep for lost products failed")
        finally:
            close_old_connections()
        for line in lines:
            log.warning("subset worker sweep: %s", line)

    def requeue_current(self) -> None:
        """At process exit: the product being cut goes back to QUEUED for the next sweep."""
        from catalog.models import Product
        from subset.products import finish

        product_id = self.current
        if product_id is None:
            return
        try:
            if finish(product_id, Product.State.QUEUED):
                log.warning("product %s put back to QUEUED: the process is exiting", product_id)
        except Exception:
            log.exception("product %s: could not be put back to QUEUED", product_id)


_worker: LocalWorker | None = None
_wanted = False
_lock = threading.Lock()


def serve_in_process() -> None:
    """Called by the web entry points: without a broker, cuts go to a worker thread.

    The thread starts with the first request of each process (so a gunicorn master that
    preloads the app and forks keeps none), or with the first product queued.
    """
    global _wanted
    if uses_broker():
        return
    from django.core.signals import request_started

    _wanted = True
    request_started.connect(_on_request, dispatch_uid="subset-local-worker")


def _on_request(**kwargs: object) -> None:
    """request_started receiver: this process's worker runs from its first request on."""
    if _worker is None or _worker.pid != os.getpid():
        local_worker()


def local_worker() -> LocalWorker:
    """This process's worker thread, started on first use (again in a forked child)."""
    global _worker
    with _lock:
        if _worker is None or _worker.pid != os.getpid():
            _worker = LocalWorker(
                int(getattr(settings, "SUBSET_LOCAL_QUEUE", DEFAULT_QUEUE)),
                float(getattr(settings, "SUBSET_LOCAL_SWEEP_S", DEFAULT_SWEEP_S)))
            _worker.start()
        return _worker


def stop_serving_in_process(timeout: float = 60.0) -> None:
    """Stop this process's worker thread and cut inline again (tests)."""
    global _worker, _wanted
    from django.core.signals import request_started

    with _lock:
        worker, _worker, _wanted = _worker, None, False
    request_started.disconnect(dispatch_uid="subset-local-worker")
    if worker is not None and worker.pid == os.getpid():
        worker.stop(timeout)
