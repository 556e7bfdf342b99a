"""The map page lists the signed-in user's subsets, a standing order's among them."""

from __future__ import annotations

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
