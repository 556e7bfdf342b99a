"""Standing orders on PostGIS, catalog rows only: backfill, report-once, `manage.py order`."""

from __future__ import annotations

import io
import math
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.contrib.gis.geos import MultiPolygon, Polygon
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from catalog.models import Product, Region
from subset.orders import OrderError, backfill_order, cancel_order, create_order, resume_order
from subset.recovery import recover_products
from subset.region import parse_bbox
from subset.services import create_order_products
from tests.catalog.factories import box, collection, swath

pytestmark = pytest.mark.django_db
T0 = datetime(2024, 3, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def aral(**kw: object) -> Region:
    return create_order(slug="aral", name="Aral", region=parse_bbox("58,43,62,47"),
                        owner_id=kw.pop("owner_id", None), **kw)  # type: ignore[arg-type]


def over(start: datetime, **kw: object) -> object:
    return swath(box(59, 44, 61, 46), start=start, **kw)


def test_backfill_makes_one_product_per_owed_swath_in_the_window_once() -> None:
    order = aral(variables=["sst"])
    inside = [over(T0 + i * DAY) for i in range(3)]
    over(T0 - 10 * DAY)  # before the window
    over(T0 + 20 * DAY)  # after it
    over(T0, state="PENDING")  # not archived yet
    swath(box(0, 0, 5, 5), start=T0)  # elsewhere
    first = backfill_order(order.pk, T0, T0 + 5 * DAY)
    assert (first.created, first.existing, first.sent) == (3, 0, 0)
    made = Product.objects.filter(region=order)
    assert sorted(p.swath_id for p in made) == sorted(s.pk for s in inside)
    assert {(p.state, p.attempts, tuple(p.variables)) for p in made} == {("QUEUED", 0, ("sst",))}
    again = backfill_order(order.pk, T0, T0 + 5 * DAY)
    assert (again.created, again.existing) == (0, 3)
    assert Product.objects.count() == 3
    # The whole archive: the two outside the window, not the three again.
    assert backfill_order(order.pk).created == 2


def test_backfill_and_the_new_swath_hook_make_the_same_products() -> None:
    order = aral(owner_id=User.objects.create_user("alice").pk)
    early = over(T0)
    (hooked,) = create_order_products(early.pk)  # the swath_verified hook got there first
    late = over(T0 + DAY)
    result = backfill_order(order.pk, batch=1)
    assert (result.created, result.existing) == (1, 1)
    made = Product.objects.get(swath=late)
    assert made.owner.username == "alice" and made.region == order
    # The same identity: the hook would make nothing new for the backfilled swath.
    assert create_order_products(late.pk) == []
    assert made.params == {**hooked.params, "swath": str(late.uuid),
                           "swath_sha256": late.sha256}


def test_backfill_follows_the_orders_collections() -> None:
    modis, ascat = collection("modis"), collection("ascat")
    order = aral(collections=["ascat"])
    over(T0, coll=modis)
    wanted = over(T0, coll=ascat)
    assert backfill_order(order.pk).created == 1
    assert Product.objects.get().swath == wanted


def test_a_cancelled_order_backfills_nothing_and_drops_what_no_worker_started() -> None:
    order = aral()
    over(T0), over(T0 + DAY)
    assert backfill_order(order.pk).created == 2
    started = Product.objects.first()
    Product.objects.filter(pk=started.pk).update(state="RUNNING", attempts=1)
    assert cancel_order(order.pk) == 1
    assert list(Product.objects.values_list("pk", flat=True)) == [started.pk]
    with pytest.raises(OrderError, match="cancelled"):
        backfill_order(order.pk)


def uncuttable(slug: str = "coast") -> Region:
    """An order the admin could save but the kernel refuses: over eo's 10,000 vertices."""
    n = 12_000
    ring = [(60 + 2 * math.cos(2 * math.pi * i / n), 45 + 2 * math.sin(2 * math.pi * i / n))
            for i in range(n)]
    return Region.objects.create(slug=slug, name=slug, order_active=True, geometry=MultiPolygon(
        Polygon([*ring, ring[0]]), srid=4326))


def test_an_order_that_cannot_be_cut_is_reported_once_with_its_reason(caplog) -> None:
    region = uncuttable()
    s = over(T0, verified_at=timezone.now())
    lines: list[str] = []
    recover_products(lines, apply=True, grace=timedelta(0))
    said = [line for line in lines if line.startswith("ORDER coast")]
    assert len(said) == 1 and "stopped, its region cannot be cut" in said[0], lines
    assert "vertices" in said[0] or "too long" in said[0]
    region.refresh_from_db()
    assert region.order_problem and region.order_problem_at is not None
    assert [r.message for r in caplog.records if "coast" in r.message][0].startswith(
        "standing order coast stopped")
    # The next sweeps, and the next swath, say nothing more about it.
    for _ in range(2):
        lines = []
        recover_products(lines, apply=True, grace=timedelta(0))
        assert not [line for line in lines if line.startswith("ORDER")], lines
    caplog.clear()
    assert create_order_products(over(T0 + DAY, verified_at=timezone.now()).pk) == []
    assert not [r for r in caplog.records if "coast" in r.message]
    assert not Product.objects.exists() and s


def test_backfill_of_an_uncuttable_order_is_refused_with_its_reason() -> None:
    region = uncuttable()
    with pytest.raises(OrderError, match="cannot be cut"):
        backfill_order(region.pk)
    region.refresh_from_db()
    assert region.order_problem


def test_resume_starts_a_stopped_order_again_only_once_its_region_can_be_cut() -> None:
    region = uncuttable()
    with pytest.raises(OrderError):
        backfill_order(region.pk)  # finds the problem and stops the order
    region.refresh_from_db()
    stopped, problem = region.order_problem_at, region.order_problem
    with pytest.raises(OrderError, match="still cannot be cut: ") as refused:
        resume_order(region.pk)
    assert problem in str(refused.value)
    region.refresh_from_db()
    assert (region.order_problem, region.order_problem_at) == (problem, stopped)
    # Staff redraw the region (the admin's own save would also clear the problem).
    Region.objects.filter(pk=region.pk).update(geometry=box(59, 44, 61, 46))
    assert resume_order(region.pk) == stopped
    region.refresh_from_db()
    assert region.order_problem == "" and region.order_problem_at is None
    assert resume_order(region.pk) is None  # running: nothing to resume
    assert len(create_order_products(over(T0, verified_at=timezone.now()).pk)) == 1
    cancel_order(region.pk)
    with pytest.raises(OrderError, match="cancelled"):
        resume_order(region.pk)


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("order", *args, stdout=out)
    return out.getvalue()


def test_the_order_command_creates_lists_backfills_and_cancels() -> None:
    User.objects.create_user("alice")
    over(T0), over(T0 + 10 * DAY)
    said = run("create", "aral", "--bbox", "58,43,62,47", "--owner", "alice",
               "--variables", "sst")
    assert "order aral created (owner alice)" in said
    order = Region.objects.get(slug="aral")
    assert order.order_owner.username == "alice" and order.order_variables == ["sst"]
    assert run("list").splitlines() == ["aral\towner=alice\tproducts=0\tactive", "1 order(s)"]
    said = run("backfill", "aral", "--start", "2024-02-01T00:00:00Z",
               "--end", "2024-03-05T00:00:00Z")
    assert "1 product(s) created" in said and "0 swath(s) had theirs already" in said
    said = run("backfill", "aral", "--datetime", "2024-02-01/2024-03-31")
    assert "1 product(s) created" in said and "1 swath(s) had theirs already" in said
    assert "0 product(s) created" in run("backfill", "aral")
    listed = run("list", "--owner", "alice").splitlines()
    assert listed[0] == "aral\towner=alice\tproducts=2\tactive"
    assert "2 product(s) not yet started dropped" in run("cancel", "aral")
    assert run("list").splitlines() == ["0 order(s)"]
    assert "aral\towner=alice\tproducts=0\tno order" in run("list", "--all")
    run("cancel", "aral", "--delete")
    assert not Region.objects.exists()


@pytest.mark.parametrize(("args", "message"), [
    (["create", "big", "--bbox", "-180,-90,180,90"], "--bbox: "),
    (["create", "x", "--bbox", "1,1,2,2", "--owner", "nobody"], "--owner: no user"),
    (["create", "x", "--bbox", "1,1,2,2", "--collection", "nope"], "collections: no collection"),
    (["backfill", "nowhere"], "no region 'nowhere'"),
    (["backfill", "aral", "--start", "soon"], "--start/--end"),
    (["backfill", "aral", "--datetime", "2024-01-01/..", "--end", "2024-02-01"], "not both"),
    (["backfill", "aral", "--batch", "0"], "--batch=0"),
])
def test_the_order_command_refuses_bad_input_naming_the_option(args: list[str],
                                                               message: str) -> None:
    aral()
    with pytest.raises(CommandError, match=message.replace("(", r"\(")):
        run(*args)


def test_the_order_command_resumes_a_stopped_order_or_says_why_it_cannot() -> None:
    uncuttable()
    with pytest.raises(CommandError, match="cannot be cut"):
        run("backfill", "coast")
    assert run("list").splitlines()[0].startswith("coast\towner=-\tproducts=0\tstopped: ")
    with pytest.raises(CommandError, match="order coast still cannot be cut: "):
        run("resume", "coast")
    # Archived while stopped: the hook gives it no product.
    assert create_order_products(over(T0, verified_at=timezone.now()).pk) == []
    Region.objects.filter(slug="coast").update(geometry=box(59, 44, 61, 46))
    said = run("resume", "coast")
    assert said.startswith("order coast resumed (stopped since ")
    assert run("list").splitlines()[0] == "coast\towner=-\tproducts=0\tactive"
    assert "`manage.py order backfill coast` gives it the swaths archived while" in said
    assert "1 product(s) created" in run("backfill", "coast")  # the one archived meanwhile
    assert "not stopped: nothing to resume" in run("resume", "coast")
    with pytest.raises(CommandError, match="no region 'nowhere'"):
        run("resume", "nowhere")


def test_the_order_command_takes_a_negative_west_edge() -> None:
    run("create", "biscay", "--bbox", "-8,43,-1,48")
    assert Region.objects.get(slug="biscay").geometry.extent == (-8, 43, -1, 48)


def test_saving_the_region_in_the_admin_tries_the_order_again() -> None:
    from types import SimpleNamespace

    from django.contrib.admin.sites import site

    region = uncuttable()
    with pytest.raises(OrderError):
        backfill_order(region.pk)
    region.refresh_from_db()
    region.geometry = box(59, 44, 61, 46)
    site._registry[Region].save_model(None, region, SimpleNamespace(changed_data=["geometry"]),
                                      True)
    region.refresh_from_db()
    assert region.order_problem == "" and region.order_problem_at is None
    over(T0)
    assert backfill_order(region.pk).created == 1


def test_with_a_broker_the_backfilled_products_are_sent_once_each(monkeypatch) -> None:
    import subset.orders
    import subset.services

    sent: list[int] = []
    # The broker stands in for the workers: what it is handed is what they would cut.
    monkeypatch.setattr(subset.orders, "uses_broker", lambda: True)
    monkeypatch.setattr(subset.services, "sender", sent.append)
    order = aral()
    over(T0), over(T0 + DAY), over(T0 + 2 * DAY)
    result = backfill_order(order.pk, batch=2)
    assert result.sent == 3 and sorted(sent) == sorted(
        Product.objects.values_list("pk", flat=True))
    assert backfill_order(order.pk).sent == 0 and len(sent) == 3
