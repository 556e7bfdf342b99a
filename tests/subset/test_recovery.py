"""Reconcile starts the products a crash or a lost broker message left behind."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.gis.geos import MultiPolygon, Polygon

from catalog.models import Product, Region, Swath
from ops.reconcile import reconcile
from subset.region import parse_bbox
from subset.services import MAX_ATTEMPTS, SubsetSpec, create_product
from tests.subset.test_jobs import MODIS, archived

pytestmark = pytest.mark.django_db
NOW = timedelta(0)


@pytest.fixture
def modis(shared_swaths: Path) -> Swath:
    return archived(shared_swaths / MODIS)  # its on_commit hooks never run: a "crash"


def order_over_modis() -> Region:
    return Region.objects.create(
        slug="aral", name="Aral", order_active=True, order_variables=["sea_surface_temperature"],
        geometry=MultiPolygon(Polygon.from_bbox((70, 42, 80, 48)), srid=4326))


def lost_product(swath: Swath) -> Product:
    """A product whose task message never reached a worker (its on_commit never ran)."""
    product, created = create_product(swath, SubsetSpec(parse_bbox("70,42,80,48"), None, []))
    assert created and product.state == "QUEUED"
    return product


def test_a_standing_order_the_crash_kept_from_firing_is_made_by_reconcile(
        modis: Swath, django_capture_on_commit_callbacks) -> None:
    region = order_over_modis()
    Region.objects.create(slug="away", name="y", order_active=True,
                          geometry=MultiPolygon(Polygon.from_bbox((0, 0, 5, 5)), srid=4326))
    dry = reconcile("primary").lines
    assert f"ORDER swath {modis.uuid}: a standing order has no product for it" in dry
    assert not Product.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        applied = reconcile("primary", apply=True).lines
    assert f"ORDER swath {modis.uuid}: 1 standing-order product(s) created" in applied
    (product,) = Product.objects.all()
    assert product.region == region and product.state == "DONE", product.error
    assert not [line for line in reconcile("primary").lines if line.startswith("ORDER")]


def test_an_old_swath_is_not_rescanned_for_orders(modis: Swath) -> None:
    order_over_modis()
    Swath.objects.filter(pk=modis.pk).update(verified_at=modis.verified_at - timedelta(days=3))
    assert not [line for line in reconcile("primary").lines if line.startswith("ORDER")]


def test_a_queued_product_whose_message_was_lost_is_sent_again_after_the_grace(
        modis: Swath, django_capture_on_commit_callbacks) -> None:
    product = lost_product(modis)
    young = reconcile("primary", apply=True, grace=timedelta(hours=1)).lines
    assert not [line for line in young if "product" in line]
    assert Product.objects.get(pk=product.pk).state == "QUEUED"
    with django_capture_on_commit_callbacks(execute=True):
        lines = reconcile("primary", apply=True, grace=NOW).lines
    assert f"REQUEUE product {product.pk} (QUEUED)" in lines
    product.refresh_from_db()
    assert product.state == "DONE" and product.attempts == 1, product.error


def test_a_product_no_worker_may_claim_any_more_is_failed_with_the_reason(
        modis: Swath) -> None:
    product = lost_product(modis)
    Product.objects.filter(pk=product.pk).update(attempts=MAX_ATTEMPTS)
    assert f"GIVE-UP product {product.pk} (QUEUED) after {MAX_ATTEMPTS} attempts" in \
        reconcile("primary", apply=True, grace=NOW).lines
    product.refresh_from_db()
    assert product.state == "FAILED"
    assert f"gave up after {MAX_ATTEMPTS} attempts" in product.error


def test_reconcile_cuts_a_failed_product_again_while_it_has_attempts_left(
        modis: Swath, django_capture_on_commit_callbacks) -> None:
    from tests.subset.test_retry import Outage

    outage = Outage(modis)
    outage.lose()
    with django_capture_on_commit_callbacks(execute=True):
        product = lost_product(modis)
    product.refresh_from_db()
    assert product.state == "FAILED" and "missing from" in product.error
    # A failure younger than the grace waits (a short outage must not use every attempt).
    assert not [line for line in reconcile("primary", apply=True,
                                           grace=timedelta(hours=1)).lines if "product" in line]
    # The same sweep first re-ingests the lost object from its source (MISSING), then
    # sends the product again, once: attempt 2 succeeds, attempt 1's failure is kept.
    with django_capture_on_commit_callbacks(execute=True):
        lines = reconcile("primary", apply=True, grace=NOW).lines
    assert [line for line in lines if line.startswith("REQUEUE product")] == [
        f"REQUEUE product {product.pk} (FAILED, attempt 1 of {MAX_ATTEMPTS}): {product.error}"]
    product.refresh_from_db()
    assert product.state == "DONE" and product.attempts == 2, product.error
    assert [f["attempt"] for f in product.failures] == [1]
    assert not [line for line in reconcile("primary", apply=True, grace=NOW).lines
                if "product" in line]


def test_reconcile_gives_up_once_on_a_failed_product_without_attempts_left(
        modis: Swath, django_capture_on_commit_callbacks, caplog) -> None:
    from tests.subset.test_retry import Outage

    outage = Outage(modis)
    outage.lose()
    try:
        with django_capture_on_commit_callbacks(execute=True):
            product = lost_product(modis)
        Product.objects.filter(pk=product.pk).update(attempts=MAX_ATTEMPTS)
        dry = reconcile("primary", grace=NOW).lines
        assert f"GIVE-UP product {product.pk} (FAILED) after {MAX_ATTEMPTS} attempts" in \
            "\n".join(dry)
        lines = reconcile("primary", apply=True, grace=NOW).lines
        assert [line for line in lines if "product" in line] == [
            line for line in dry if "product" in line]
        assert f"product {product.pk}: gave up after {MAX_ATTEMPTS} attempts" in caplog.text
        product.refresh_from_db()
        assert product.state == "FAILED" and product.attempts == MAX_ATTEMPTS  # not cut again
        assert product.failures == []
        # Said once: the next sweeps leave it to a person.
        assert not [line for line in reconcile("primary", apply=True, grace=NOW).lines
                    if "product" in line]
    finally:
        outage.restore()
