"""REST swath searches (/api/v1/swaths): the request models that check and document them.

Only the fields declared here are read (unknown names are refused); each is checked by
its one rule (api.params, api.geometry, eo), and the SwathSearch built here is the only
thing that reaches the catalog querysets. No request value ever becomes a lookup name (M5).
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from pydantic import Field, model_validator

from api import paging
from api.exceptions import QueryError
from api.geometry import QueryGeometry, parse_geojson, parse_wkt
from api.params import (
    ORBIT_STATES,
    clean_text,
    parse_float,
    parse_fraction_range,
    parse_list,
    parse_longitude_range,
    parse_orbit,
    parse_orbit_state,
    parse_point,
    parse_token,
)
from api.requests import RequestModel, rule
from api.search import FractionBounds, SwathSearch
from catalog.geometry import circle_geometry
from catalog.models import SwathState
from eo.boxes import Box, parse_box
from eo.times import parse_interval

FEATURE_FIELDS = {
    "uuid", "collection", "granule_id", "version", "filename", "format", "platform",
    "constellation", "instrument", "processing_level", "orbit", "orbit_direction",
    "relative_orbit", "orbit_cycle", "pass_number", "equator_crossing_longitude",
    "start_time", "end_time", "is_empty",
    "size", "sha256", "state", "created_at", "verified_at", "valid_fraction",
}
SKIP = (None, "")
Text = str | int | float  # a body may send a number where a query sends its text


def _text(name: str, then: Any = None, max_len: int = 100_000) -> Any:
    """The rule for a text value: a string (or number) with no control characters."""
    def check(value: object) -> Any:
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise QueryError(f"{name} must be a string")
        text = clean_text(str(value), name, max_len)
        return then(text) if then else text
    return check


Bounds = tuple[int | None, int | None]


def _range(name: str) -> Any:
    """The rule for an orbit-like number or range (api.params.parse_orbit), named."""
    return rule(_text(name, partial(parse_orbit, name=name)), Text, SKIP)


Range = Annotated[Bounds | None, _range("orbit")]


def _longitudes(value: object) -> tuple[float, float]:
    """equator_crossing: 'W,E' text or, in a body, a [W, E] pair of numbers."""
    if isinstance(value, list):
        if len(value) != 2 or not all(isinstance(v, int | float) and not isinstance(v, bool)
                                      for v in value):
            raise QueryError("equator_crossing must be W,E or [W, E]: two longitudes in "
                             "-180..180")
        value = f"{value[0]},{value[1]}"
    return _text("equator_crossing", parse_longitude_range)(value)  # type: ignore[no-any-return]


def _intersects(value: object) -> QueryGeometry:
    return parse_geojson(value) if isinstance(value, dict) else parse_wkt(
        _text("intersects")(value))


def _fraction(text: str, name: str) -> float:
    value = parse_float(text, name)
    if not 0 <= value <= 1:
        raise QueryError(f"{name}={text!r:.40} must be a number in 0..1")
    return value


def _states(value: object) -> list[str]:
    states = parse_list(value, "state", 10)  # type: ignore[arg-type]
    for state in states:
        if state not in SwathState.values:
            raise QueryError(f"state={state!r} must be one of {', '.join(SwathState.values)}")
    return states


def parse_feature_fields(raw: object) -> set[str] | None:
    """'fields=uuid,start_time' keeps those properties (the geometry always stays)."""
    names = set(parse_list(raw, "fields", len(FEATURE_FIELDS)))  # type: ignore[arg-type]
    unknown = names - FEATURE_FIELDS
    if unknown:
        raise QueryError(
            f"fields: unknown {', '.join(sorted(unknown))}; use {', '.join(sorted(FEATURE_FIELDS))}"
        )
    return names


class SwathBody(RequestModel):
    """POST /api/v1/swaths/search/: the GET filters in a JSON body (GeoJSON intersects)."""

    bbox: Annotated[Box | None, rule(_text("bbox", parse_box), Text, SKIP)] = Field(
        None, description="W,S,E,N in degrees; W>E crosses the antimeridian")
    intersects: Annotated[QueryGeometry | None, rule(_intersects, str | dict[str, Any], SKIP)] \
        = Field(None, description="a GeoJSON geometry, or WKT in lon lat")
    point: Annotated[tuple[float, float] | None, rule(_text("point", parse_point), str, SKIP)] \
        = Field(None, description="lon,lat; with radius_km")
    radius_km: Annotated[float | None, rule(
        _text("radius_km", partial(parse_float, name="radius_km")), Text, SKIP)] = Field(
        None, description="radius around point, km (default 1, at most 5000)")
    region: Annotated[str | None, rule(_text("region", lambda t: t[:100]), Text, SKIP)] = \
        Field(None, description="slug of a named region")
    datetime: Annotated[tuple[Any, Any] | None, rule(
        _text("datetime", parse_interval), str, SKIP)] = Field(
        None, description="RFC 3339 instant or start/end; '..' is open; a date as an end "
                          "covers its whole day")
    collection: Annotated[list[str] | None, rule(
        partial(parse_list, name="collection"), str | list[str], SKIP)] = Field(
        None, description="collection slug(s), comma-separated")
    platform: Annotated[str | None, rule(_text("platform", lambda t: t[:100]), Text, SKIP)] \
        = None
    orbit: Range = Field(None, description="absolute orbit N or range A..B")
    relative_orbit: Annotated[Bounds | None, _range("relative_orbit")] = Field(
        None, description="relative orbit N or range A..B (ICESat-2: reference ground "
                          "track; CryoSat-2, Sentinel-1/3: relative orbit)")
    orbit_cycle: Annotated[Bounds | None, _range("orbit_cycle")] = Field(
        None, description="repeat cycle N or range A..B (Jason, Sentinel-6, SARAL, SWOT, "
                          "ICESat-2)")
    pass_number: Annotated[Bounds | None, _range("pass_number")] = Field(
        None, description="pass within the cycle, N or range A..B (Jason, Sentinel-6, "
                          "SARAL, SWOT)")
    orbit_direction: Annotated[str | None, rule(
        _text("orbit_direction", parse_orbit_state), str, SKIP)] = Field(
        None, description=f"{', '.join(ORBIT_STATES)}, any case (STAC sat:orbit_state)")
    equator_crossing: Annotated[tuple[float, float] | None, rule(
        _longitudes, str | list[float], SKIP)] = Field(
        None, description="W,E (a body may send [W, E]): equator-crossing longitude in this "
                          "range (-180..180); W>E crosses the antimeridian, e.g. 170,-170")
    valid_fraction: Annotated[tuple[float | None, float | None] | None, rule(
        _text("valid_fraction", parse_fraction_range), Text, SKIP)] = Field(
        None, description="keep swaths whose fraction of valid pixels over the search's "
                          "area (bbox, intersects, point or region; else the whole swath) "
                          "is at least X (valid_fraction=X), or in A..B (either end may "
                          "be empty), within 0..1; swaths of unknown coverage never pass. "
                          "The features then carry valid_fraction; sortby=-valid_fraction "
                          "sorts on it")
    valid_fraction_min: Annotated[float | None, rule(
        _text("valid_fraction_min", partial(_fraction, name="valid_fraction_min")), Text,
        SKIP)] = Field(None, description="valid_fraction=X..: at least X (0..1)")
    state: Annotated[list[str], rule(_states, str | list[str], SKIP)] = Field(
        [SwathState.VERIFIED], description="default VERIFIED; comma-separated states")
    sortby: Annotated[tuple[tuple[str, bool], ...], rule(paging.parse_sortby, str, SKIP)] = \
        Field(paging.DEFAULT_SORT, description="e.g. -start_time,orbit or -valid_fraction")
    limit: Annotated[int, rule(paging.parse_limit, int, SKIP)] = Field(
        100, description=f"page size (default 100); above {paging.MAX_LIMIT}, "
                         f"{paging.MAX_LIMIT}")
    next: Annotated[str | None, rule(parse_token, str, SKIP)] = Field(
        None, description="token from the previous page")
    fields: Annotated[set[str] | None, rule(parse_feature_fields, str | list[str], SKIP)] = \
        Field(None, description="properties to return, comma-separated")


    @model_validator(mode="before")
    @classmethod
    def _one_area(cls, values: Any) -> Any:
        areas = [k for k in ("bbox", "intersects", "point")
                 if isinstance(values, dict) and values.get(k) not in SKIP]
        if len(areas) > 1:
            raise QueryError(f"use one of bbox, intersects, point; got {', '.join(areas)}")
        if isinstance(values, dict) and values.get("point") in SKIP \
                and values.get("radius_km") not in SKIP:
            raise QueryError("radius_km needs point=lon,lat")
        return values

    def search(self) -> SwathSearch:
        """The checked search."""
        v = self.__dict__
        s = SwathSearch(limit=v["limit"], bbox=v["bbox"], area=v["intersects"],
                        region=v["region"], collections=v["collection"], platform=v["platform"],
                        orbit=v["orbit"], relative_orbit=v["relative_orbit"],
                        orbit_cycle=v["orbit_cycle"], pass_number=v["pass_number"],
                        orbit_direction=v["orbit_direction"],
                        equator_crossing=v["equator_crossing"],
                        states=v["state"] or [SwathState.VERIFIED],
                        order=v["sortby"], token=v["next"])
        lo, hi = v["valid_fraction"] or (None, None)
        if v["valid_fraction_min"] is not None:
            lo = v["valid_fraction_min"] if lo is None else max(lo, v["valid_fraction_min"])
        if lo is not None or hi is not None:
            s.valid_fraction = FractionBounds(lo, hi)
        if v["point"]:
            (lon, lat), radius = v["point"], v["radius_km"]
            s.area = QueryGeometry(circle_geometry(lon, lat, 1.0 if radius is None else radius))
        if v["datetime"]:
            s.start, s.end = v["datetime"]
        return s


class SwathQuery(SwathBody):
    """GET /api/v1/swaths/: WKT intersects; `format` picks the renderer."""

    format: str | None = Field(None, description="json or geojson")
