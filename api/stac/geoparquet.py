"""STAC Items as stac-geoparquet, written a row group at a time.

The items are the API's own (api.stac.itemdef, the JSON text a search page serves);
this module only maps that JSON onto the columns the stac-geoparquet specification
names: the properties pulled up to top-level columns, times as native timestamps,
`geometry` as WKB (GeoParquet 1.1, with `bbox` as its covering struct of xmin, ymin,
xmax, ymax), links as a list of structs and assets as a struct of structs. `type` is
left out, as the specification recommends.

The item's shape is fixed by its declaration, so the schema is declared here once and
every batch is parsed against it by Arrow's JSON reader (C++, no Python object per
value); a field the schema lacks is an error, never dropped (the round-trip test
compares exported items with served ones). The footprints, all MultiPolygons, come
out of that parse as GeoArrow's nested lists, which shapely turns into WKB at once.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json
import pyarrow.parquet as pq
import shapely

STAC_GEOPARQUET_VERSION = "1.0.0"
MEDIA_TYPE = "application/vnd.apache.parquet"

_TIME = pa.timestamp("us", tz="UTC")
_TEXTS = pa.list_(pa.string())
PROPERTIES = pa.struct([
    ("datetime", _TIME), ("start_datetime", _TIME), ("end_datetime", _TIME),
    ("title", pa.string()), ("created", _TIME), ("updated", _TIME),
    ("platform", pa.string()), ("constellation", pa.string()), ("instruments", _TEXTS),
    ("processing:level", pa.string()), ("sat:absolute_orbit", pa.int64()),
    ("sat:relative_orbit", pa.int64()), ("sat:orbit_cycle", pa.int64()),
    ("sat:orbit_state", pa.string()), ("swathstore:pass", pa.int64()),
    ("swathstore:equator_crossing_longitude", pa.float64()),
    ("eo:cloud_cover", pa.float64()), ("swathstore:version", pa.int64()),
])
LINK = pa.struct([("rel", pa.string()), ("type", pa.string()), ("href", pa.string())])
_ASSET = [("href", pa.string()), ("type", pa.string()), ("title", pa.string()),
          ("roles", _TEXTS)]
ASSETS = pa.struct([
    ("data", pa.struct([*_ASSET, ("file:size", pa.int64()), ("file:checksum", pa.string())])),
    ("quicklook", pa.struct(_ASSET)),
    ("references", pa.struct(_ASSET)),
])
# A footprint as GeoJSON: always a MultiPolygon (catalog.models.Swath.footprint).
GEOMETRY = pa.struct([("type", pa.string()), ("coordinates", pa.list_(pa.list_(pa.list_(
    pa.list_(pa.float64())))))])
# The item's JSON as Arrow reads it.
ITEM_JSON = pa.schema([
    ("type", pa.string()), ("stac_version", pa.string()), ("stac_extensions", _TEXTS),
    ("id", pa.string()), ("collection", pa.string()), ("geometry", GEOMETRY),
    ("bbox", pa.list_(pa.float64())), ("properties", PROPERTIES),
    ("links", pa.list_(LINK)), ("assets", ASSETS),
])
BBOX = pa.struct([(k, pa.float64()) for k in ("xmin", "ymin", "xmax", "ymax")])
SCHEMA = pa.schema([
    ("stac_version", pa.string()), ("stac_extensions", _TEXTS), ("id", pa.string()),
    ("collection", pa.string()), ("geometry", pa.binary()), ("bbox", BBOX),
    *((f.name, f.type) for f in PROPERTIES), ("links", pa.list_(LINK)), ("assets", ASSETS),
])
GEO_METADATA = {
    "version": "1.1.0",
    "primary_column": "geometry",
    "columns": {"geometry": {
        "encoding": "WKB",
        "geometry_types": ["MultiPolygon", "Polygon"],
        "covering": {"bbox": {k: ["bbox", k] for k in ("xmin", "ymin", "xmax", "ymax")}},
    }},  # no "crs": OGC:CRS84, the footprints' longitude/latitude
}
_PARSE = pa_json.ParseOptions(explicit_schema=ITEM_JSON, unexpected_field_behavior="error")
_READ = pa_json.ReadOptions(use_threads=False, block_size=32 << 20)


def _wkb(geometry: pa.StructArray) -> pa.Array:
    """The items' GeoJSON MultiPolygons (as Arrow parsed them) as WKB.

    Arrow's nested lists are GeoArrow's layout of multipolygons already (offsets of
    polygons, rings and points over one run of coordinates), which shapely builds
    geometries from in one call.
    """
    coords = geometry.field("coordinates")
    polygons = coords.values
    rings = polygons.values
    points = rings.values
    xy = points.values.to_numpy(zero_copy_only=False)
    if len(xy) != 2 * len(points) or coords.offset or polygons.offset or rings.offset:
        raise ValueError("a footprint's positions are not all [lon, lat]")
    geoms = shapely.from_ragged_array(
        shapely.GeometryType.MULTIPOLYGON, xy.reshape(-1, 2),
        (rings.offsets.to_numpy(), polygons.offsets.to_numpy(), coords.offsets.to_numpy()))
    wkb = shapely.to_wkb(geoms, output_dimension=2)
    wkb[geometry.is_null().to_numpy(zero_copy_only=False)] = None
    return pa.array(wkb, pa.binary())


def record_batch(items: Iterable[str]) -> pa.RecordBatch:
    """The stac-geoparquet rows of some items (their JSON text, as the API serves them)."""
    table = pa_json.read_json(io.BytesIO("\n".join(items).encode()),
                              read_options=_READ, parse_options=_PARSE).combine_chunks()
    geometry = table.column("geometry").chunk(0) if table.num_rows else pa.array(
        [], GEOMETRY)
    kinds = pc.unique(geometry.field("type").drop_null()).to_pylist()
    if kinds not in ([], ["MultiPolygon"]):
        raise ValueError(f"footprints are MultiPolygons; found {kinds}")
    box = table.column("bbox").combine_chunks()
    bbox = pa.StructArray.from_arrays(
        [pc.list_element(box, i) for i in range(4)], fields=list(BBOX),
        mask=box.is_null())
    props = table.column("properties").combine_chunks()
    columns = {
        "stac_version": table.column("stac_version"),
        "stac_extensions": table.column("stac_extensions"),
        "id": table.column("id"), "collection": table.column("collection"),
        "geometry": _wkb(geometry), "bbox": bbox,
        **{f.name: props.field(f.name) for f in PROPERTIES},
        "links": table.column("links"), "assets": table.column("assets"),
    }
    arrays = [pa.chunked_array(columns[f.name]).combine_chunks()
              if not isinstance(columns[f.name], pa.Array) else columns[f.name]
              for f in SCHEMA]
    return pa.RecordBatch.from_arrays(arrays, schema=SCHEMA)


class _Pieces(io.RawIOBase):
    """A write-only file that keeps what is written until taken (the response's pieces)."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._written = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self._parts.append(bytes(data))
        self._written += len(data)
        return len(data)

    def tell(self) -> int:
        return self._written

    def take(self) -> bytes:
        out, self._parts = b"".join(self._parts), []
        return out


def write(batches: Iterable[list[str]]) -> Iterator[bytes]:
    """The Parquet file of the items in `batches` (lists of item JSON), written and
    handed on a row group a batch: the bytes of one batch are out before the next is
    read, so memory does not grow with the number of items."""
    sink = _Pieces()
    metadata = {b"geo": json.dumps(GEO_METADATA).encode(),
                b"stac-geoparquet": json.dumps(
                    {"version": STAC_GEOPARQUET_VERSION}).encode()}
    writer = pq.ParquetWriter(sink, SCHEMA.with_metadata(metadata), compression="zstd")
    try:
        for items in batches:
            writer.write_batch(record_batch(items))
            piece = sink.take()
            if piece:
                yield piece
    finally:
        writer.close()
    yield sink.take()
