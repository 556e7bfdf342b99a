"""The map's Arctic and Antarctic views (web/static/web/js/polar.js) in headless Chromium,
with real granules from ../shared/data/swaths whose footprints reach the poles.

Screenshots go to test-output/web/ (gitignored): look at them.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path

import pytest
import shapely

from catalog.models import Swath
from catalog.services import get_or_create_collection
from ingest.pipeline import ingest_file
from tests.support.liveserver import LiveServer
from tests.web.conftest import SHOTS, Archive
from tests.web.test_map import completed, listed, open_map, wait_search

pytestmark = pytest.mark.browser
NORTH = "CS_LTA__SIR_SAR_2__20191005T151255_20191005T151621_E001.nc"  # CryoSat-2, 74-86 N
SOUTH = "SS_AMSR2-L2B_v08_r38622-v02.0-fv01.0.nc"  # AMSR2, down to 89.4 S


@dataclass
class PolarSwaths:
    north: Swath
    south: Swath


@pytest.fixture
def polar_swaths(web_server: LiveServer, transactional_db: None,
                 shared_swaths: Path) -> PolarSwaths:
    """The two granules ingested through the real pipeline into the server's store (the
    test process's primary store while web_server runs)."""
    got = {}
    for name, file in (("north", NORTH), ("south", SOUTH)):
        collection, _ = get_or_create_collection(f"polar-{name}")
        outcome = ingest_file(shared_swaths / file, collection.pk)
        assert outcome.status == "new", outcome.reason
        got[name] = Swath.objects.get(pk=outcome.swath_id)
    return PolarSwaths(**got)


def footprint(swath: Swath) -> shapely.Geometry:
    return shapely.from_wkb(bytes(swath.footprint.wkb))


def switch(page, name: str) -> None:  # type: ignore[no-untyped-def]
    page.check(f"#projection-{name}")
    page.wait_for_selector(f"#map[data-projection={name}]")


def pieces_on_screen(page, swath: Swath) -> list[dict]:  # type: ignore[no-untyped-def]
    return page.evaluate("id => window.swathstore.map.pieces(id)", str(swath.uuid))


def drawn_box(page, swath: Swath) -> tuple[float, float, float, float]:  # type: ignore[no-untyped-def]
    """Left, top, right, bottom (map pixels) of all the drawn pieces of a footprint."""
    pieces = pieces_on_screen(page, swath)
    assert pieces, f"{swath.granule_id} is not drawn"
    return (min(p["left"] for p in pieces), min(p["top"] for p in pieces),
            max(p["right"] for p in pieces), max(p["bottom"] for p in pieces))


def inside(page, box: tuple[float, float, float, float]) -> bool:  # type: ignore[no-untyped-def]
    frame = page.locator("#map").bounding_box()
    left, top, right, bottom = box
    return left >= 0 and right <= frame["width"] and top >= 0 and bottom <= frame["height"]


def assert_drawn_inside(page, swath: Swath) -> None:  # type: ignore[no-untyped-def]
    """The footprint is drawn: its pieces' pixel boxes are inside the map, not degenerate
    (zooming out, as a user would, while it does not fit)."""
    for _ in range(2):
        if inside(page, drawn_box(page, swath)):
            break
        zoom = page.evaluate("window.swathstore.map.view().zoom")
        page.click(".leaflet-control-zoom-out")
        page.wait_for_function("z => window.swathstore.map.view().zoom === z", arg=zoom - 1)
    left, top, right, bottom = box = drawn_box(page, swath)
    assert inside(page, box), box
    assert right - left > 10 and bottom - top > 10, box


def draw_screen_box(page, cx: float, cy: float, half: float) -> None:  # type: ignore[no-untyped-def]
    """Drag a rectangle centred on container point (cx, cy) with the rectangle tool."""
    frame = page.locator("#map").bounding_box()
    page.click(".leaflet-draw-draw-rectangle")
    x0, y0 = frame["x"] + cx - half, frame["y"] + cy - half
    x1, y1 = frame["x"] + cx + half, frame["y"] + cy + half
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x1, y1, steps=8)
    page.wait_for_timeout(150)  # a busy renderer coalesces moves (see test_map.draw_box)
    page.mouse.move(x1, y1)
    page.wait_for_timeout(150)
    page.mouse.up()


def pole_pixel(page, lat: float) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    p = page.evaluate("lat => window.swathstore.map.toPixel(lat, 0)", lat)
    return p["x"], p["y"]


def test_each_polar_view_draws_the_swath_over_its_pole_and_a_box_round_the_pole_finds_it(
        page, web_server: LiveServer, polar_swaths: PolarSwaths, shot) -> None:  # type: ignore[no-untyped-def]
    north, south = polar_swaths.north, polar_swaths.south
    open_map(page, web_server)
    assert sorted(listed(page)) == sorted([str(north.uuid), str(south.uuid)])
    shot(page, "0-mercator")

    views = (("arctic", north, south, 90), ("antarctic", south, north, -90))
    for name, swath, other, pole in views:
        if name == "antarctic":  # the Arctic box goes: both swaths again
            before = completed(page)
            page.click("#clear-area")
            wait_search(page, before)
        shown = listed(page)
        assert len(shown) == 2
        switch(page, name)
        page.wait_for_function("n => location.hash.includes(n)", arg=f"/{name}")
        assert listed(page) == shown  # the same search, the same results
        assert_drawn_inside(page, swath)
        assert pieces_on_screen(page, other) == []  # the other hemisphere's swath: not drawn
        shot(page, f"1-{name}")

        # A box on the screen round the pole: the area encloses the pole.
        before = completed(page)
        x, y = pole_pixel(page, pole)
        draw_screen_box(page, x, y, 60)
        wait_search(page, before)
        poly = page.evaluate("window.swathstore.state().poly")
        assert poly and page.input_value("#bbox") == ""
        assert [lon_lat for lon_lat in poly if lon_lat[1] == pole], poly  # closed along it
        area = shapely.Polygon(poly)
        assert area.is_valid
        assert max(p[0] for p in poly) - min(p[0] for p in poly) >= 359.9
        assert listed(page) == [str(swath.uuid)], (poly, page.text_content("#error"))
        assert f"/{name}" in page.url and "poly=" in page.url
        shot(page, f"2-{name}-box-round-the-pole")

    # The list selects on the polar map too.
    page.click(f"#result-list button[data-id='{south.uuid}']")
    page.wait_for_selector("#details:not([hidden]) #details-meta dt")
    assert page.evaluate("window.swathstore.map.selected") == str(south.uuid)
    assert f"swath={south.uuid}" in page.url

    # The permalink brings back the polar view, the area and the results.
    url = page.url
    again = page.context.new_page()
    open_map(again, web_server, url.split("/", 3)[3])
    assert again.get_attribute("#map", "data-projection") == "antarctic"
    assert again.is_checked("#projection-antarctic")
    assert listed(again) == [str(south.uuid)]
    assert again.evaluate("window.swathstore.state().poly") == poly
    assert_drawn_inside(again, south)
    again.close()

    # Back to the world: the search, its area and the results are kept.
    switch(page, "mercator")
    assert listed(page) == [str(south.uuid)]
    assert "/antarctic" not in page.url
    assert_drawn_inside(page, south)
    shot(page, "3-mercator-again")


def test_a_box_near_the_pole_beside_it_or_across_the_antimeridian_searches_that_area(
        page, web_server: LiveServer, polar_swaths: PolarSwaths, shot) -> None:  # type: ignore[no-untyped-def]
    north = polar_swaths.north
    open_map(page, web_server, "#map=3/90/0/arctic")
    assert page.is_checked("#projection-arctic")
    # Beside the pole, over the CryoSat-2 track (lon -10..16, 74..86 N): a plain ring.
    x, y = page.evaluate("() => window.swathstore.map.toPixel(80, 3)").values()
    before = completed(page)
    draw_screen_box(page, x, y, 50)
    wait_search(page, before)
    poly = page.evaluate("window.swathstore.state().poly")
    assert all(abs(lat) < 90 and -180 <= lon <= 180 for lon, lat in poly), poly
    assert 70 < min(lat for _, lat in poly) < max(lat for _, lat in poly) < 89
    assert listed(page) == [str(north.uuid)]
    assert shapely.Polygon(poly).intersects(footprint(north))
    shot(page, "1-beside-the-pole")
    # Across the antimeridian, away from the track: the ring runs on past 180 (unwrapped),
    # which the API cuts at 180; nothing is there.
    x, y = page.evaluate("() => window.swathstore.map.toPixel(80, 180)").values()
    before = completed(page)
    draw_screen_box(page, x, y, 50)
    wait_search(page, before)
    poly = page.evaluate("window.swathstore.state().poly")
    lons = [lon for lon, _ in poly]
    assert max(lons) - min(lons) < 90 and (max(lons) > 180 or min(lons) < -180), poly
    assert all(abs(lat) < 90 for _, lat in poly)
    assert page.get_attribute("#results", "data-state") == "empty"
    assert page.is_hidden("#error")
    shot(page, "2-across-the-antimeridian")
    # A polygon drawn round the pole (four clicks, then the first vertex again).
    frame = page.locator("#map").bounding_box()
    x, y = pole_pixel(page, 90)
    corners = [(frame["x"] + x + dx, frame["y"] + y + dy)
               for dx, dy in ((-50, -50), (50, -50), (50, 50), (-50, 50), (-50, -50))]
    page.click(".leaflet-draw-draw-polygon")
    before = completed(page)
    for cx, cy in corners:
        page.mouse.click(cx, cy)
        page.wait_for_timeout(150)
    wait_search(page, before)
    poly = page.evaluate("window.swathstore.state().poly")
    assert [p for p in poly if p[1] == 90] and shapely.Polygon(poly).is_valid, poly
    assert listed(page) == [str(north.uuid)]
    shot(page, "3-polygon-round-the-pole")


def test_the_polar_area_helpers_in_the_browser(page, web_server: LiveServer) -> None:  # type: ignore[no-untyped-def]
    """polar.js's pure lon/lat functions, run by the browser that uses them."""
    page.goto(f"{web_server.url}/")
    page.wait_for_function("window.swathstore")
    got = page.evaluate("""async () => {
      const P = await import('/static/web/js/polar.js');
      const S = await import('/static/web/js/state.js');
      const circle = (lat, from) => Array.from({length: 36}, (_, i) =>
        [((from + i * 10 + 180) % 360) - 180, lat]);
      return {
        round: P.areaRing(circle(80, 37), 90),
        across: P.areaRing([[170, 70], [-170, 70], [-170, 75], [170, 75]], 90),
        plain: P.areaRing([[10, 70], [20, 70], [20, 75]], 90),
        windows: P.toWindows([[170, 70], [190, 70], [190, 75], [170, 75]]),
        clipped: P.clipToHemisphere([[0, 20], [10, 20], [10, 40], [0, 40]], 90),
        hash: S.toHash(S.fromHash('#map=3/-90/0/antarctic&poly=-180,-80;180,-80;180,-90;-180,-90')),
        bad: S.fromHash('#map=3/-90/0/mars').view,
      };
    }""")
    ring = got["round"]
    # Round the pole: from -180 to 180, then closed along the pole.
    assert ring[0] == [-180, 80] and ring[-3] == [180, 80] and ring[-2:] == [[180, 90], [-180, 90]]
    assert shapely.Polygon(ring).is_valid
    assert got["across"] == [[170, 70], [190, 70], [190, 75], [170, 75]]
    assert got["plain"] == [[10, 70], [20, 70], [20, 75]]
    assert got["windows"] == [[[170, 70], [180, 70], [180, 75], [170, 75]],
                              [[-180, 70], [-170, 70], [-170, 75], [-180, 75]]]
    assert sorted(got["clipped"]) == [[0, 30], [0, 40], [10, 30], [10, 40]]
    assert got["hash"] == "#map=3/-90/0/antarctic&poly=-180,-80;180,-80;180,-90;-180,-90"
    assert got["bad"] is None


def test_switching_views_with_500_footprints_is_quick(
        page, web_server: LiveServer, archive_rows: Archive, shot) -> None:  # type: ignore[no-untyped-def]
    """Time from a click on a view to the next frame painted, 500 footprints on the map;
    the first switch to a polar view also clips and projects its base map."""
    open_map(page, web_server)
    assert len(listed(page)) == 500
    runs = []
    for name in ("arctic", "antarctic", "mercator") * 3:
        ms = page.evaluate("""async name => {
          const t0 = performance.now();
          document.getElementById(`projection-${name}`).click();
          await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
          return performance.now() - t0;
        }""", name)
        assert page.get_attribute("#map", "data-projection") == name
        runs.append({"view": name, "ms": round(ms)})
    drawn = page.evaluate("window.swathstore.map.layers.size")
    figures = {name: statistics.median(r["ms"] for r in runs[3:] if r["view"] == name)
               for name in ("arctic", "antarctic", "mercator")}
    figures["first_arctic"] = runs[0]["ms"]
    figures["first_antarctic"] = runs[1]["ms"]
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / "timings-polar-switch.json").write_text(json.dumps(
        {"median": figures, "runs": runs, "footprints_drawn": drawn}, indent=1))
    assert drawn > 0
    assert max(figures.values()) < 5000, figures  # a sanity bound; the figure is recorded
    shot(page, "world-again")
