"""Catalog-only registration: many swath records at once from a JSON-lines manifest.

For objects already in a store (a migrated archive, a catalog rebuilt elsewhere).
On PostgreSQL rows go in by COPY with ids drawn from the sequence up front, so each
batch is two COPYs (swaths, then their StoredObject rows). Footprints (WKT or
GeoJSON) are parsed, checked (validity, lon/lat range) and written as EWKB by
vectorised shapely calls in the thread that parses the next batch. SpatiaLite (the
embedded default) uses batched inserts. Rows whose sha256 or granule id is already
catalogued are skipped: a re-run loads nothing twice.
"""

from __future__ import annotations

import io
import os
import queue
import re
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import orjson
import shapely
from django.contrib.gis.geos import GEOSGeometry
from django.db import connection, transaction
from django.utils import timezone

from catalog.models import Collection, StoredObject, Swath, SwathState
from catalog.signals import bulk_load_started

REQUIRED = ("granule_id", "key", "sha256", "size")
_SHA = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class LoadResult:
    """Counts of one registration run."""

    loaded: int = 0
    skipped: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)
    seconds: float = 0.0

    @property
    def rows_per_s(self) -> float:
        return self.loaded / self.seconds if self.seconds else 0.0


@dataclass
class Record:
    line: int
    doc: dict
    sha256: str
    footprint: str | None = None  # hex EWKB, checked; None: no footprint (empty swath)


def parse_line(n: int, raw: bytes | str, result: LoadResult) -> Record | None:
    """Parse one line; a bad one is recorded as rejected (by line number) and skipped."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        result.rejected.append((n, f"line {n}: not JSON ({e})"))
        return None
    if not isinstance(doc, dict):
        result.rejected.append((n, f"line {n}: not a JSON object"))
        return None
    missing = [k for k in REQUIRED if doc.get(k) in (None, "")]
    if missing:
        result.rejected.append((n, f"line {n}: missing {', '.join(missing)}"))
        return None
    sha = str(doc["sha256"]).lower()
    if not _SHA.match(sha):
        result.rejected.append((n, f"line {n}: sha256 {doc['sha256']!r} is not 64 hex digits"))
        return None
    if not isinstance(doc["size"], int) or doc["size"] < 0:
        result.rejected.append((n, f"line {n}: size {doc['size']!r} is not a byte count"))
        return None
    if doc.get("platform") or doc.get("instrument"):
        # The names STAC items show, as ingest gives them (lowercase short names).
        from eo.identify import stac_names

        doc["platform"], doc["constellation"], doc["instrument"] = stac_names(
            str(doc.get("platform") or ""), str(doc.get("instrument") or ""))
    return Record(n, doc, sha)


def register_manifest(
    lines: Iterable[bytes | str], collection: Collection, *, batch_size: int = 50_000,
    trust_checksums: bool = False,
) -> LoadResult:
    """Register every record; state STORED, or VERIFIED when the caller vouches for them."""
    state = SwathState.VERIFIED if trust_checksums else SwathState.STORED
    result = LoadResult()
    started = time.perf_counter()
    followers = _followers()
    try:
        # The next batch is parsed while this one is COPYed: the COPY waits on the
        # server with the GIL released, and parsing is about a fifth of the time per row.
        for batch in _read_ahead(_parsed_batches(lines, batch_size, result)):
            ids = _load_batch(batch, collection, state, result, defer=bool(followers))
            for follower in followers if ids else ():
                follower.loaded(ids)
    finally:
        for follower in followers:
            follower.finish()
    result.rejected.sort()
    result.seconds = time.perf_counter() - started
    return result


def _followers() -> list:
    """The followers of signals.bulk_load_started; none inside a caller's transaction.

    A follower works on its own connection, which cannot see rows a surrounding
    transaction has not committed: there the triggers do all the work themselves.
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return []
    return [f for _, f in bulk_load_started.send(sender=Swath) if f is not None]


def _parsed_batches(
    lines: Iterable[bytes | str], batch_size: int, result: LoadResult
) -> Iterator[list[Record]]:
    """Yield batches of parsed records with their footprints as PostGIS text."""
    batch: list[Record] = []
    for n, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        record = parse_line(n, raw, result)
        if record is not None:
            batch.append(record)
        if len(batch) >= batch_size:
            yield _with_footprints(batch, result)
            batch = []
    if batch:
        yield _with_footprints(batch, result)


def _read_ahead(batches: Iterator[list[Record]]) -> Iterator[list[Record]]:
    """Yield ``batches``, producing the next one in a thread while the caller works."""
    ready: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()
    done = object()

    def offer(item: object) -> bool:
        """Hand ``item`` over; False once the consumer has gone."""
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for batch in batches:
                if not offer(batch):
                    return
            offer(done)
        except BaseException as e:  # handed to the consumer, which re-raises it
            offer(e)

    thread = threading.Thread(target=produce, name="register-parse", daemon=True)
    thread.start()
    try:
        while (item := ready.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()  # the consumer failed or stopped early: let the producer end
        thread.join(timeout=5)


def _load_batch(batch: list[Record], coll: Collection, state: str, result: LoadResult,
                defer: bool = False) -> list[int]:
    """Load one batch in one transaction; return the ids of its new rows (PostgreSQL)."""
    with transaction.atomic():
        fresh = _drop_known(batch, coll)
        result.skipped += len(batch) - len(fresh)
        if not fresh:
            return []
        if connection.vendor == "postgresql":
            if defer:
                with connection.cursor() as cur:
                    cur.execute("SET LOCAL swathstore.bulk_load = 'on'")
            ids = _copy_postgres(fresh, coll, state)
            result.loaded += len(ids)
            return ids
        result.loaded += _insert_orm(fresh, coll, state)
    return []


def _with_footprints(batch: list[Record], result: LoadResult) -> list[Record]:
    """Check every footprint here and hand PostGIS hex EWKB; reject the others by line.

    Parsed (WKT or GeoJSON), checked for validity and the lon/lat range and written as
    WKB by vectorised shapely calls (GEOS, as ST_IsValid), in the read-ahead thread
    while the batch before is COPYed: the server then reads binary geometry instead of
    parsing WKT, and no longer reads every new row back to check it, which was about a
    third of its time per row (docs/BENCHMARKS.md, Catalog registration).
    """
    kinds, texts, wanted = [], [], []
    kept: list[Record] = []
    for r in batch:
        fp = r.doc.get("footprint")
        if fp is None:
            kept.append(r)  # no footprint: an empty swath, searchable by time only
        elif isinstance(fp, str | dict):
            wanted.append(r)
            kinds.append(isinstance(fp, dict))
            texts.append(orjson.dumps(fp).decode() if isinstance(fp, dict) else fp)
        else:
            result.rejected.append((r.line, f"line {r.line}: footprint is not a readable geometry"))
    if not wanted:
        return kept
    geojson = np.array(kinds, dtype=bool)
    geoms = np.empty(len(texts), dtype=object)
    text = np.array(texts, dtype=object)
    geoms[geojson] = shapely.from_geojson(text[geojson], on_invalid="ignore")
    geoms[~geojson] = shapely.from_wkt(text[~geojson], on_invalid="ignore")
    areal = np.array([_footprint_error(g) is None for g in geoms], dtype=bool)
    empty = areal & shapely.is_empty(geoms)  # 'POLYGON EMPTY': no footprint, as null
    multi = geoms.copy()
    polygon = shapely.get_type_id(geoms) == 3
    multi[polygon] = shapely.multipolygons(geoms[polygon][:, None])
    xmin, ymin, xmax, ymax = shapely.bounds(multi).T
    with np.errstate(invalid="ignore"):  # an unreadable geometry's bounds are NaN
        inside = (xmin >= -180) & (xmax <= 180) & (ymin >= -90) & (ymax <= 90)
    ok = areal & ~empty & inside & shapely.is_valid(multi)
    ewkb = shapely.to_wkb(shapely.set_srid(multi[ok], 4326), hex=True, include_srid=True,
                          output_dimension=2)  # a footprint is lon/lat: a Z is dropped
    good = iter(ewkb)
    for r, g, is_areal, is_empty, is_ok in zip(wanted, geoms, areal, empty, ok, strict=True):
        if is_ok or is_empty:
            r.footprint = None if is_empty else next(good)
            kept.append(r)
            continue
        reason = (_footprint_error(g) if not is_areal
                  else "footprint is not valid or leaves lon/lat range")
        if g is None and isinstance(r.doc["footprint"], str):
            reason = "footprint is not valid WKT"
        result.rejected.append((r.line, f"line {r.line}: {reason}"))
    kept.sort(key=lambda r: r.line)
    return kept


def _footprint_error(geom: shapely.Geometry | None) -> str | None:
    """Why ``geom`` cannot be a swath's footprint; None when it is a (Multi)Polygon."""
    if geom is None:
        return "footprint is not a readable geometry"
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return None
    return f"footprint is a {geom.geom_type}, not a (Multi)Polygon"


def _drop_known(batch: list[Record], coll: Collection) -> list[Record]:
    """Drop records whose bytes or granule are already catalogued (and repeats in the batch)."""
    names = [str(r.doc["granule_id"]) for r in batch]
    shas = [r.sha256 for r in batch]
    known_sha, known_name = (
        _known_postgres(shas, names, coll) if connection.vendor == "postgresql"
        else _known_orm(shas, names, coll)
    )
    fresh, seen = [], set()
    for r, name in zip(batch, names, strict=True):
        if r.sha256 in known_sha or name in known_name or r.sha256 in seen or name in seen:
            continue
        seen.update((r.sha256, name))
        fresh.append(r)
    return fresh


def _known_postgres(shas: list[str], names: list[str], coll: Collection) -> tuple[set, set]:
    # One array parameter each: 50,000 ORM placeholders cost more than the query itself.
    with connection.cursor() as cur:
        cur.execute("SELECT sha256 FROM catalog_swath WHERE sha256 = ANY(%s) "
                    "AND state <> 'DELETED'", [shas])
        known_sha = {row[0] for row in cur.fetchall()}
        cur.execute("SELECT granule_id FROM catalog_swath WHERE collection_id = %s "
                    "AND granule_id = ANY(%s)", [coll.pk, names])
        return known_sha, {row[0] for row in cur.fetchall()}


def _known_orm(shas: list[str], names: list[str], coll: Collection) -> tuple[set, set]:
    known_sha = set(Swath.objects.filter(sha256__in=shas).exclude(state="DELETED")
                    .values_list("sha256", flat=True))
    known_name = set(Swath.objects.filter(collection=coll, granule_id__in=names)
                     .values_list("granule_id", flat=True))
    return known_sha, known_name


_SWATH_COLUMNS = (
    "id", "uuid", "collection_id", "granule_id", "version", "filename", "source_path",
    "format", "platform", "constellation", "instrument", "orbit", "orbit_direction",
    "start_time", "end_time", "footprint", "is_empty", "size", "sha256", "state", "lease_owner",
    "attempts", "failure_reason", "attrs", "created_at", "updated_at", "verified_at",
)
_OBJECT_COLUMNS = (
    "swath_id", "store", "key", "codec", "size", "sha256", "etag", "upload_id", "state",
    "created_at", "verified_at",
)


def _copy_postgres(rows: list[Record], coll: Collection, state: str) -> list[int]:
    """COPY the rows (footprints already checked, as EWKB); return their new ids."""
    now = timezone.now().isoformat()
    verified = now if state == SwathState.VERIFIED else None
    copy_state = StoredObject.State.VERIFIED if verified else StoredObject.State.STORED
    with connection.cursor() as cur:
        cur.execute(
            "SELECT nextval(pg_get_serial_sequence('catalog_swath', 'id')) "
            "FROM generate_series(1, %s)", [len(rows)]
        )
        ids = [r[0] for r in cur.fetchall()]
        swaths, objects = _copy_text(ids, rows, coll, state, now, verified, copy_state)
        raw = cur.cursor  # the psycopg2 cursor under Django's wrapper
        raw.copy_from(swaths, "catalog_swath", columns=_SWATH_COLUMNS, null="\\N")
        raw.copy_from(objects, "catalog_storedobject", columns=_OBJECT_COLUMNS, null="\\N")
    return ids


def _copy_text(
    ids: list[int], rows: list[Record], coll: Collection, state: str, now: str,
    verified: str | None, copy_state: str,
) -> tuple[io.StringIO, io.StringIO]:
    """Return the COPY text of the swath rows and of their StoredObject rows.

    Built column by column: each text column is escaped by one translate() over the whole
    column (values joined by NUL, which PostgreSQL text cannot hold anyway, then split),
    instead of one call per field per row, which was most of the client's time per row.
    """
    docs = [r.doc for r in rows]
    n = len(rows)

    def column(name: str, null: bool = False, default: str | None = None) -> list[str]:
        values = [d.get(name) for d in docs]
        if default is not None:
            values = [v or default for v in values]
        return _escape_column(values, null)

    names = column("granule_id")
    pks = [str(pk) for pk in ids]
    shas = [r.sha256 for r in rows]
    sizes = [str(d["size"]) for d in docs]
    uuids = _uuid4s(n)
    fps = [r.footprint or "\\N" for r in rows]
    empty = ["t" if r.footprint is None else "f" for r in rows]
    fixed_tail = "\t".join((state, "", "0", "", "{}", now, now, verified or "\\N"))
    coll_pk = str(coll.pk)
    swath_lines = [
        "\t".join(fields) for fields in zip(
            pks, uuids, [coll_pk] * n, names, ["1"] * n, names, [""] * n,
            column("format"), column("platform"), column("constellation"), column("instrument"),
            column("orbit", null=True), column("orbit_direction"),
            column("start_time", null=True), column("end_time", null=True),
            fps, empty, sizes, shas, [fixed_tail] * n, strict=True,
        )
    ]
    object_tail = "\t".join(("", "", copy_state, now, verified or "\\N"))
    object_lines = [
        "\t".join(fields) for fields in zip(
            pks, column("store", default="primary"), column("key"),
            column("codec", default="none"), sizes, shas, [object_tail] * n, strict=True,
        )
    ]
    swaths = io.StringIO("\n".join(swath_lines) + "\n" if n else "")
    objects = io.StringIO("\n".join(object_lines) + "\n" if n else "")
    return swaths, objects


def _escape_column(values: list, null: bool) -> list[str]:
    """Return _tsv() of every value, with one translate() for the whole column."""
    text = ["" if v is None else str(v) for v in values]
    joined = "\0".join(text)
    if joined.count("\0") != max(len(text) - 1, 0):
        return [_tsv(v, null) for v in values]  # a NUL of its own: PostgreSQL will refuse it
    escaped = joined.translate(_COPY_ESCAPES).split("\0") if text else []
    if null:
        escaped = ["\\N" if v is None else e for v, e in zip(values, escaped, strict=True)]
    return escaped


def _uuid4s(n: int) -> list[str]:
    """Return ``n`` random (version 4) UUIDs as text, from one urandom call."""
    h = os.urandom(16 * n).hex()
    variant = "89ab89ab89ab89ab"
    return [
        f"{h[i:i + 12]}4{h[i + 13:i + 16]}{variant[int(h[i + 16], 16)]}{h[i + 17:i + 32]}"
        for i in range(0, 32 * n, 32)
    ]


# COPY text format escapes: backslash, tab, newline, carriage return.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _tsv(value: object, null: bool = False) -> str:
    if value is None:
        return "\\N" if null else ""
    return str(value).translate(_COPY_ESCAPES)


def _insert_orm(rows: list[Record], coll: Collection, state: str) -> int:
    now = timezone.now()
    verified = state == SwathState.VERIFIED
    swaths = []
    for r in rows:
        d = r.doc
        fp = GEOSGeometry(r.footprint) if r.footprint else None  # EWKB: SRID 4326 in it
        swaths.append(Swath(
            collection=coll, granule_id=d["granule_id"], filename=d["granule_id"],
            format=d.get("format") or "", platform=d.get("platform") or "",
            constellation=d.get("constellation") or "",
            instrument=d.get("instrument") or "", orbit=d.get("orbit"),
            orbit_direction=d.get("orbit_direction") or "",
            start_time=_dt(d.get("start_time")), end_time=_dt(d.get("end_time")),
            footprint=fp, is_empty=fp is None, size=d["size"], sha256=r.sha256, state=state,
            verified_at=now if verified else None,
        ))
    created = Swath.objects.bulk_create(swaths, batch_size=2000)
    StoredObject.objects.bulk_create(
        [
            StoredObject(
                swath=s, store=r.doc.get("store") or "primary", key=r.doc["key"],
                codec=r.doc.get("codec") or "none", size=r.doc["size"], sha256=r.sha256,
                state=StoredObject.State.VERIFIED if verified else StoredObject.State.STORED,
            )
            for s, r in zip(created, rows, strict=True)
        ],
        batch_size=2000,
    )
    return len(created)


def _dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
