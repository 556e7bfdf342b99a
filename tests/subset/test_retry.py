"""A FAILED product is cut again: the same request again, POST .../retry, reconcile.

The failure is real: the swath's object is taken out of the store, then put back.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from rest_framework.test import APIClient

import archive.config
from catalog.models import Product, Swath
from ops.heal import heal
from ops.reconcile import reconcile
from subset.services import max_attempts
from tests.subset.test_jobs import BBOX, archived, post
from tests.support.clients import client_of

pytestmark = pytest.mark.django_db
MODIS = "SS_MODIS_A-JPL-L2P-v2014.0.nc"


@pytest.fixture
def modis(shared_swaths: Path) -> Swath:
    return archived(shared_swaths / MODIS)


class Outage:
    """The swath's object taken out of the store (lost), and put back (restored)."""

    def __init__(self, swath: Swath) -> None:
        self.copy = swath.copies.get()
        self.swath = swath
        self.store = archive.config.get_store(self.copy.store)
        raw, _ = self.store.open_raw(self.copy.key)
        with raw:
            self.data = raw.read()

    def lose(self) -> None:
        self.store.delete(self.copy.key)

    def restore(self) -> None:
        self.store.put(self.copy.key, io.BytesIO(self.data), codec="none", overwrite=True,
                       metadata={"codec": self.copy.codec, "sha256": self.swath.sha256,
                                 "size": str(self.swath.size)})
        # The failed cut marked the copy MISSING; the operator's heal (fsck --repair,
        # reconcile) finds the bytes back, verifies them and makes the copy VERIFIED again.
        heal(swath_ids=[self.swath.pk])


@pytest.fixture
def outage(modis: Swath) -> Iterator[Outage]:
    gone = Outage(modis)
    gone.lose()
    yield gone
    gone.restore()


def failed_product(client: APIClient, modis: Swath, capture) -> dict:  # type: ignore[no-untyped-def]
    code, body = post(client, {"swath": str(modis.uuid), "bbox": BBOX}, capture)
    assert code == 202, body
    detail = client.get(body["products"][0]["url"]).json()
    assert detail["state"] == "FAILED" and "missing from" in detail["error"], detail
    return detail


def test_the_same_request_after_a_failure_is_a_new_attempt_that_succeeds_once_fixed(
        client: APIClient, modis: Swath, outage: Outage,
        django_capture_on_commit_callbacks) -> None:
    first = failed_product(client, modis, django_capture_on_commit_callbacks)
    assert first["attempts"] == 1 and first["failures"] == []
    body = {"swath": str(modis.uuid), "bbox": BBOX}
    code, again = post(client, body, django_capture_on_commit_callbacks)
    assert code == 202 and again["products"][0]["id"] == first["id"]  # a new attempt
    second = client.get(first["url"]).json()
    assert second["state"] == "FAILED" and second["attempts"] == 2
    outage.restore()
    code, _ = post(client, body, django_capture_on_commit_callbacks)
    assert code == 202
    done = client.get(first["url"]).json()
    assert done["state"] == "DONE" and done["error"] == "" and done["download"], done
    assert done["attempts"] == 3 and Product.objects.count() == 1
    # Both failures are kept, in order, with their reasons.
    assert [f["attempt"] for f in done["failures"]] == [1, 2]
    assert all("missing from" in f["error"] and f["at"] for f in done["failures"])
    assert done["failures"][0]["error"] == first["error"]
    # A product that succeeded is not cut again by the same request.
    code, same = post(client, body, django_capture_on_commit_callbacks)
    assert code == 200 and same["products"][0]["state"] == "DONE"
    assert Product.objects.get().attempts == 3


def test_the_retry_endpoint_queues_a_failed_product_for_its_owner(
        client: APIClient, modis: Swath, outage: Outage,
        django_capture_on_commit_callbacks) -> None:
    detail = failed_product(client, modis, django_capture_on_commit_callbacks)
    url = f"/api/v1/subsets/{detail['id']}/retry"
    assert client_of("someone-else").post(url).status_code == 404
    anonymous = APIClient().post(url)
    assert anonymous.status_code == 401, anonymous.content
    assert Product.objects.get().state == "FAILED"  # neither touched it
    outage.restore()
    with django_capture_on_commit_callbacks(execute=True) as sent:
        response = client.post(url)
        assert response.status_code == 202, response.content
        queued = response.json()
        assert queued["state"] == "QUEUED" and queued["error"] == ""  # the product as it is now
        assert queued["failures"][0]["attempt"] == 1
        assert "missing from" in queued["failures"][0]["error"]
    assert len(sent) == 1
    done = client.get(detail["url"]).json()
    assert done["state"] == "DONE" and done["attempts"] == 2, done
    conflict = client.post(url)  # DONE: nothing to retry
    assert conflict.status_code == 409 and "DONE" in conflict.json()["error"]


@pytest.mark.parametrize("state", ["QUEUED", "RUNNING", "EMPTY"])
def test_a_product_that_is_not_failed_cannot_be_retried(
        client: APIClient, modis: Swath, django_capture_on_commit_callbacks,
        state: str) -> None:
    with django_capture_on_commit_callbacks(execute=False):  # left QUEUED
        response = client.post("/api/v1/subsets/", {"swath": str(modis.uuid), "bbox": BBOX},
                               format="json")
    pk = response.json()["products"][0]["id"]
    Product.objects.filter(pk=pk).update(state=state)
    answer = client.post(f"/api/v1/subsets/{pk}/retry")
    assert answer.status_code == 409 and state in answer.json()["error"]
    assert Product.objects.get(pk=pk).state == state


def test_a_product_out_of_automatic_attempts_can_be_retried_by_a_person(
        client: APIClient, modis: Swath, outage: Outage,
        django_capture_on_commit_callbacks) -> None:
    detail = failed_product(client, modis, django_capture_on_commit_callbacks)
    Product.objects.filter(pk=detail["id"]).update(attempts=max_attempts())
    assert client.get(detail["url"]).json()["attempts_left"] == 0
    assert f"GIVE-UP product {detail['id']} (FAILED)" in "\n".join(
        reconcile("primary", apply=True, grace=timedelta(0)).lines)
    outage.restore()
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/api/v1/subsets/{detail['id']}/retry").status_code == 202
    done = client.get(detail["url"]).json()
    assert done["state"] == "DONE" and done["attempts"] == max_attempts() + 1, done
    assert done["attempts_left"] == max_attempts() - 1


def test_staff_may_retry_a_product_without_an_owner(
        modis: Swath, outage: Outage, django_capture_on_commit_callbacks) -> None:
    from subset.region import parse_bbox
    from subset.services import SubsetSpec, create_product

    with django_capture_on_commit_callbacks(execute=True):
        product, _ = create_product(modis, SubsetSpec(parse_bbox(BBOX), None, []))
    assert Product.objects.get(pk=product.pk).state == "FAILED"
    url = f"/api/v1/subsets/{product.pk}/retry"
    assert client_of("user").post(url).status_code == 404
    outage.restore()
    with django_capture_on_commit_callbacks(execute=True):
        assert client_of("admin", is_staff=True).post(url).status_code == 202
    assert Product.objects.get(pk=product.pk).state == "DONE"


def test_a_retry_while_the_swaths_object_is_gone_answers_410_with_the_reason(
        client: APIClient, modis: Swath, outage: Outage,
        django_capture_on_commit_callbacks) -> None:
    detail = failed_product(client, modis, django_capture_on_commit_callbacks)
    url = f"/api/v1/subsets/{detail['id']}/retry"
    with django_capture_on_commit_callbacks(execute=False) as sent:
        gone = client.post(url)
    assert gone.status_code == 410, gone.content
    # The failed cut marked the copy MISSING: the answer names the copy and its fault.
    error = gone.json()["error"]
    assert f"subset {detail['id']} cannot be cut again" in error
    assert f"{outage.copy.key} is MISSING" in error, error
    assert not sent
    product = Product.objects.get()
    assert (product.state, product.attempts, product.failures) == ("FAILED", 1, [])
    Swath.objects.filter(pk=modis.pk).update(state="LOST", failure_reason="no copy hashes right")
    lost = client.post(url)
    assert lost.status_code == 410
    assert f"swath {modis.uuid} is LOST: no copy hashes right" in lost.json()["error"]
    Swath.objects.filter(pk=modis.pk).update(state="VERIFIED", failure_reason="")


def test_a_product_that_succeeded_answers_409_even_when_its_swath_is_gone(
        client: APIClient, modis: Swath, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/subsets/", {"swath": str(modis.uuid), "bbox": BBOX},
                               format="json")
    pk = response.json()["products"][0]["id"]
    assert Product.objects.get(pk=pk).state == "DONE"
    Swath.objects.filter(pk=modis.pk).update(state="LOST")
    conflict = client.post(f"/api/v1/subsets/{pk}/retry")
    assert conflict.status_code == 409
    assert conflict.json()["error"] == f"subset {pk} is DONE: only a FAILED product can be retried"


def test_the_schema_describes_the_retry_endpoint(client: APIClient) -> None:
    schema = client.get("/api/schema/?format=json")
    assert schema.status_code == 200, schema.content[:300]
    retry = schema.json()["paths"]["/api/v1/subsets/{id}/retry"]["post"]
    assert set(retry["responses"]) >= {"202", "401", "404", "409", "410"}
