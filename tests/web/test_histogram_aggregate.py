"""The map's 'swaths over time' histogram in headless Chromium: day bars from /stac/aggregate.

A search over a week charts one bar a day, read by one /stac/aggregate request; each
bar's count must be the number of the search's swaths starting that day.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC

import pytest

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
