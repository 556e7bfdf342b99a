"""Reconcile starts the products a crash or a lost broker message left behind."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.gis.geos import MultiPolygon, Polygon
from django.utils import timezone

from catalog.models import Product, Region, Swath
from ops.reconcile import reconcile
from subset.region import parse_bbox
from subset.services import SubsetSpec, create_product, max_attempts
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
    Product.objects.filter(pk=product.pk).update(attempts=max_attempts())
    assert f"GIVE-UP product {product.pk} (QUEUED) after {max_attempts()} attempts" in \
        reconcile("primary", apply=True, grace=NOW).lines
    product.refresh_from_db()
    assert product.state == "FAILED"
    assert f"gave up after {max_attempts()} attempts" in product.error


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
        f"REQUEUE product {product.pk} (FAILED, attempt 1 of {max_attempts()}): {product.error}"]
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
        Product.objects.filter(pk=product.pk).update(attempts=max_attempts())
        dry = reconcile("primary", grace=NOW).lines
        assert f"GIVE-UP product {product.pk} (FAILED) after {max_attempts()} attempts" in \
            "\n".join(dry)
        lines = reconcile("primary", apply=True, grace=NOW).lines
        assert [line for line in lines if "product" in line] == [
            line for line in dry if "product" in line]
        assert f"product {product.pk}: gave up after {max_attempts()} attempts" in caplog.text
        product.refresh_from_db()
        assert product.state == "FAILED" and product.attempts == max_attempts()  # not cut again
        assert product.failures == []
        # Said once: the next sweeps leave it to a person.
        assert not [line for line in reconcile("primary", apply=True, grace=NOW).lines
                    if "product" in line]
    finally:
        outage.restore()


def product_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if "product" in line]


def test_reconcile_re_sends_only_failed_products_and_stops_at_subset_max_attempts(
        modis: Swath, settings, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    settings.SUBSET_MAX_ATTEMPTS = 2
    an_hour_ago = timezone.now() - timedelta(hours=1)
    failed = lost_product(modis)
    for bbox, state in (("71,42,80,48", "DONE"), ("72,42,80,48", "EMPTY")):
        other, _ = create_product(modis, SubsetSpec(parse_bbox(bbox), None, []))
        Product.objects.filter(pk=other.pk).update(state=state, attempts=1,
                                                   finished_at=an_hour_ago)
    Product.objects.filter(pk=failed.pk).update(state="FAILED", attempts=1, error="first",
                                                finished_at=an_hour_ago)
    with django_capture_on_commit_callbacks(execute=False) as sent:
        lines = reconcile("primary", apply=True, grace=NOW).lines
    assert product_lines(lines) == [f"REQUEUE product {failed.pk} (FAILED, attempt 1 of 2): first"]
    assert len(sent) == 1
    failed.refresh_from_db()
    assert (failed.state, failed.error) == ("QUEUED", "")
    assert [(f["attempt"], f["error"]) for f in failed.failures] == [(1, "first")]
    # Its second attempt fails too: that was the last automatic one.
    Product.objects.filter(pk=failed.pk).update(state="FAILED", attempts=2, error="second",
                                                finished_at=an_hour_ago)
    with django_capture_on_commit_callbacks(execute=False) as sent:
        lines = reconcile("primary", apply=True, grace=NOW).lines
    assert product_lines(lines) == [
        f"GIVE-UP product {failed.pk} (FAILED) after 2 attempts: second"]
    assert not sent
    failed.refresh_from_db()
    assert (failed.state, failed.given_up, failed.error) == ("FAILED", True, "second")
    assert [f["attempt"] for f in failed.failures] == [1]
    assert product_lines(reconcile("primary", apply=True, grace=NOW).lines) == []
    assert sorted(Product.objects.values_list("state", flat=True)) == ["DONE", "EMPTY", "FAILED"]
