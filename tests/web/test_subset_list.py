"""The map page lists the signed-in user's subsets, a standing order's among them."""

from __future__ import annotations

import time

import pytest

from tests.support.liveserver import LiveServer
from tests.web.test_map import open_map

pytestmark = pytest.mark.browser


def test_your_subsets_lists_the_products_of_your_standing_order(
        page, web_server: LiveServer, transactional_db: None, signed_in,
        shot) -> None:  # type: ignore[no-untyped-def]
    from django.contrib.auth.models import User

    from subset.orders import backfill_order, create_order
    from subset.region import parse_bbox
    from tests.catalog.factories import box, swath

    user = signed_in(page, web_server, "oceanographer")
    other = User.objects.create_user("someone-else")
    for owner, slug in ((user, "aral"), (other, "theirs")):
        order = create_order(slug=slug, name=slug, region=parse_bbox("58,43,62,47"),
                             owner_id=owner.pk)
        if slug == "aral":
            swath(box(59, 44, 61, 46))
        assert backfill_order(order.pk).created == 1
    open_map(page, web_server)
    page.wait_for_selector("#my-subsets:not([hidden]) li[data-id]")
    items = page.eval_on_selector_all("#my-subsets li", "ls => ls.map(l => l.textContent)")
    assert len(items) == 1 and "order aral" in items[0] and "queued" in items[0]
    shot(page, "your-subsets")


def test_cut_all_results_shows_the_estimate_in_all_then_lists_the_subsets(
        page, web_server: LiveServer, transactional_db: None, signed_in, tmp_path,
        shot) -> None:  # type: ignore[no-untyped-def]
    from catalog.models import Product
    from ingest.bulk import run_in_process, start_run
    from ingest.scan import scan
    from ingest.synth import write_swath

    paths = [tmp_path / f"arabian-{k}.nc" for k in range(2)]
    for k, path in enumerate(paths):  # two consecutive granules, both over the box
        write_swath(path, seed=3, start=f"2024-03-01T10:00:{40 * k:02d}", duration_s=40,
                    n_pixels=120)
    found = scan(paths)
    run_in_process(start_run("web-cut-all", found.files, found.refused,
                             paths=[str(p) for p in paths], options={}), found.files)
    signed_in(page, web_server, "scientist")
    open_map(page, web_server, "#bbox=45,12,55,15&start=2024-03-01&end=2024-03-01")
    page.locator("#cut-all-button", has_text="Cut all 2 results").click()
    page.locator("#cut-all-estimate", has_text="2 subsets: about").wait_for()
    total = page.text_content("#cut-all-estimate")
    assert "to read from the archive" in total and "of files" in total, total
    assert Product.objects.count() == 0  # an estimate cuts nothing
    shot(page, "1-estimate")
    page.click("#cut-all-confirm")
    page.locator("#cut-all-status", has_text="2 subsets asked for").wait_for()
    page.locator("#my-subsets li[data-id]").nth(1).wait_for()
    listed = page.eval_on_selector_all("#my-subsets li", "ls => ls.map(l => l.dataset.id)")
    made = Product.objects.filter(owner__username="scientist")
    assert sorted(map(int, listed)) == sorted(made.values_list("pk", flat=True))
    assert made.values("swath").distinct().count() == 2
    shot(page, "2-cut")
    # The server cuts both in-process after the request; let it finish before
    # pytest-django empties the tables (a TRUNCATE meeting a cut's UPDATE deadlocks).
    deadline = time.monotonic() + 120
    while made.filter(state__in=["QUEUED", "RUNNING"]).exists():
        assert time.monotonic() < deadline, list(made.values_list("state", flat=True))
        time.sleep(0.2)
