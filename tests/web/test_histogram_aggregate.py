"""The map's uses of /stac/aggregate in headless Chromium: the 'swaths over time' day bars
and the count grid.

A search over a week charts one bar a day, read by one /stac/aggregate request; each
bar's count must be the number of the search's swaths starting that day. The count
grid's cells must hold the swaths whose footprint centroid is in each geohash cell.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC

import pytest

from tests.api.test_stac_aggregate import geohash
from tests.support.liveserver import LiveServer
from tests.web.conftest import Archive

pytestmark = pytest.mark.browser
WEEK = "start=2024-01-01&end=2024-01-07"


def test_day_bars_count_the_swaths_starting_each_day_in_one_request(
        page, web_server: LiveServer, archive_rows: Archive, shot) -> None:  # type: ignore[no-untyped-def]
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url))
    page.goto(f"{web_server.url}/#{WEEK}")
    page.wait_for_selector("#histogram[data-state=done]")
    titles = page.eval_on_selector_all("#histogram-bars .bar", "bs => bs.map(b => b.title)")
    per_day = Counter(s.start_time.astimezone(UTC).strftime("%Y-%m-%d")
                      for s in archive_rows.swaths)
    assert len(titles) == 7
    for title in titles:
        day, count = title.split(": ")
        n = per_day.get(day, 0)
        assert count == f"{n} swath{'' if n == 1 else 's'}", title
    assert sum(per_day.values()) == len(archive_rows.swaths) > 0
    assert "starting each day" in page.text_content("#histogram-caption")
    aggregates = [u for u in asked if "/stac/aggregate?" in u]
    assert len(aggregates) == 1
    assert "datetime_frequency_interval=day" in aggregates[0]
    assert not [u for u in asked if "/stac/search?" in u and "limit=1&fields=id" in u]
    shot(page, "histogram-days")


def test_the_count_grid_shows_the_swaths_per_centroid_cell(
        page, web_server: LiveServer, archive_rows: Archive, shot) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{web_server.url}/#{WEEK}")
    page.wait_for_selector("#histogram[data-state=done]")
    page.check("#count-grid")
    page.wait_for_selector("#count-grid[data-state=done]")
    cells = page.evaluate("window.swathstore.grid.cells")
    precision = page.evaluate("window.swathstore.grid.precision")
    want = Counter(geohash(*s.footprint.centroid.coords, precision)
                   for s in archive_rows.swaths if s.footprint is not None)
    assert {c["key"]: c["count"] for c in cells} == want
    drawn = page.evaluate("window.swathstore.grid.layer.getLayers().length")
    assert drawn == len(want) > 1
    shot(page, "count-grid")
    page.uncheck("#count-grid")
    assert page.evaluate("window.swathstore.grid.layer.getLayers().length") == 0
