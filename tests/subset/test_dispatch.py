"""Without a broker a web request never cuts: its products go to the process's worker thread.

The local_worker fixture makes this test process serve subsets as a web process of the
embedded default does (config.wsgi calls subset.dispatch.serve_in_process); the rows are
committed (transactional_db), as the worker thread reads them on its own connection.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

import subset.products
from catalog.models import Product, Swath
from subset.dispatch import LocalWorker
from subset.dispatch import local_worker as worker_of_this_process
from subset.products import claim
from subset.region import parse_bbox
from subset.services import SubsetSpec, geos, params_hash
from tests.subset.conftest import wait_for_product
from tests.subset.test_jobs import BBOX, MODIS, archived


@pytest.fixture
def modis(shared_swaths: Path, transactional_db: None) -> Swath:
    return archived(shared_swaths / MODIS)


@pytest.fixture
def client(transactional_db: None) -> APIClient:
    token = Token.objects.create(user=User.objects.create_user("scientist"))
    return APIClient(HTTP_AUTHORIZATION=f"Token {token.key}")


def queued_row(swath: Swath) -> Product:
    """A QUEUED product whose job went nowhere: what a restart leaves behind."""
    spec = SubsetSpec(parse_bbox(BBOX))
    params = spec.params(swath)
    return Product.objects.create(swath=swath, geometry=geos(spec.region), params=params,
                                  params_hash=params_hash(params))


def test_the_request_answers_202_before_the_cut_which_runs_in_the_worker_thread(
        client: APIClient, modis: Swath, local_worker: object,
        monkeypatch: pytest.MonkeyPatch) -> None:
    release, ran_in = threading.Event(), []
    real = subset.products.run_product

    def held(product_id: int, *args: object) -> str:
        ran_in.append(threading.current_thread().name)
        release.wait(30)  # a cut in the request would hold the answer back this long
        return real(product_id, *args)

    monkeypatch.setattr(subset.products, "run_product", held)
    response = client.post("/api/v1/subsets/", {"swath": str(modis.uuid), "bbox": BBOX},
                           format="json")
    assert response.status_code == 202, response.json()
    pk = response.json()["products"][0]["id"]
    assert not release.is_set() and Product.objects.get(pk=pk).state == "QUEUED"
    release.set()
    assert wait_for_product(pk).state == "DONE"
    assert ran_in == ["subset-worker"]
    assert client.get(f"/api/v1/subsets/{pk}").json()["download"]


def test_a_product_a_restart_left_queued_is_cut_by_the_next_sweep(
        modis: Swath, settings) -> None:  # type: ignore[no-untyped-def]
    product = queued_row(modis)
    Product.objects.filter(pk=product.pk).update(
        created_at=timezone.now() - timedelta(minutes=5))
    from subset.dispatch import serve_in_process, stop_serving_in_process

    settings.SUBSET_LOCAL_SWEEP_S = 1
    serve_in_process()
    try:
        worker_of_this_process()  # as the first request after the restart starts it
        assert wait_for_product(product.pk, timeout=60).state == "DONE"
    finally:
        stop_serving_in_process()


def test_a_process_exiting_mid_cut_puts_its_product_back_to_queued(modis: Swath) -> None:
    product = queued_row(modis)
    assert claim(product.pk)  # RUNNING, as a cut in progress
    worker = LocalWorker(max_queue=10, sweep_s=60)  # not started: its state only
    worker.current = product.pk
    worker.requeue_current()  # what atexit calls when gunicorn ends the process
    product.refresh_from_db()
    assert product.state == "QUEUED" and product.attempts == 1 and product.finished_at is None
