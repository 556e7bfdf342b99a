// The search state, its permalink (the URL fragment) and the API parameters it becomes.
// Pure functions: no DOM, no Leaflet.

export const PAGE_SIZE = 500;
export const PROJECTIONS = ["arctic", "antarctic"]; // the map's polar views (polar.js)
// The map and the list need the footprint and a few properties; the details panel asks
// the REST API for the rest. (STAC search builds footprints as GeoJSON in the database:
// 500 items in ~0.5 s, where the REST list takes several seconds.)
export const LIST_FIELDS = [
  "-assets", "-links", "-stac_extensions", "-bbox", "-properties.created",
  "-properties.updated", "-properties.swathstore:version",
].join(",");

export function emptyState() {
  return {
    bbox: null, // [W, S, E, N]; W > E crosses the antimeridian
    poly: null, // [[lon, lat], ...] open ring; lon within +-360 (a ring drawn round a pole
    //            is unwrapped and closed along it: polar.js)
    start: "", // YYYY-MM-DD (UTC day)
    end: "",
    collection: "",
    orbit: "",
    validmin: "", // minimum valid-pixel percentage over the area (0..100), or ""
    view: null, // {lat, lon, zoom, proj?}; proj "arctic" or "antarctic" (no proj: Web Mercator)
    swath: "", // selected uuid
  };
}

const num = (v, digits) => Number(v.toFixed(digits)).toString();

export function parseBbox(text) {
  // Return [W, S, E, N] from "W,S,E,N", or throw an Error that says what is wrong.
  const parts = String(text).split(",").map((p) => p.trim());
  if (parts.length !== 4 || parts.some((p) => p === "" || !Number.isFinite(Number(p)))) {
    throw new Error("The box must be four numbers W,S,E,N, e.g. 10,-45,40,-30.");
  }
  const [w, s, e, n] = parts.map(Number);
  if (Math.abs(w) > 180 || Math.abs(e) > 180) throw new Error("Longitudes must be within -180..180.");
  if (Math.abs(s) > 90 || Math.abs(n) > 90) throw new Error("Latitudes must be within -90..90.");
  if (s >= n) throw new Error("South must be less than north (the order is W,S,E,N).");
  if (w === e) throw new Error("West and east must differ.");
  return [w, s, e, n];
}

export function formatBbox(bbox) {
  return bbox.map((v) => num(v, 4)).join(",");
}

function parsePoly(text) {
  const ring = text.split(";").map((pair) => pair.split(",").map(Number));
  const ok = ring.length >= 3 && ring.every((p) => p.length === 2 && p.every(Number.isFinite)
    && Math.abs(p[0]) <= 360 && Math.abs(p[1]) <= 90);
  return ok ? ring : null;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

export function fromHash(hash) {
  // Read a state from a URL fragment such as "#bbox=10,-45,40,-30&start=2024-01-01".
  const state = emptyState();
  const p = new URLSearchParams(String(hash || "").replace(/^#/, ""));
  if (p.get("bbox")) {
    try { state.bbox = parseBbox(p.get("bbox")); } catch { state.bbox = null; }
  } else if (p.get("poly")) {
    state.poly = parsePoly(p.get("poly"));
  }
  for (const key of ["start", "end"]) {
    if (DAY.test(p.get(key) || "")) state[key] = p.get(key);
  }
  state.collection = (p.get("collection") || "").slice(0, 100);
  state.orbit = (p.get("orbit") || "").slice(0, 40);
  try { state.validmin = parseValidMin(p.get("validmin")) === null ? "" : p.get("validmin").trim(); } catch { state.validmin = ""; }
  state.swath = /^[0-9a-f-]{36}$/i.test(p.get("swath") || "") ? p.get("swath") : "";
  const [zoom, lat, lon, proj, ...rest] = (p.get("map") || "").split("/");
  const view = [zoom, lat, lon].map(Number);
  if (lon && !rest.length && view.every(Number.isFinite) && [undefined, ...PROJECTIONS].includes(proj)) {
    state.view = { zoom: view[0], lat: view[1], lon: view[2] };
    if (proj) state.view.proj = proj;
  }
  return state;
}

export function toHash(state) {
  // The fragment for a state; empty parts are left out.
  const p = new URLSearchParams();
  if (state.view) {
    const { zoom, lat, lon, proj } = state.view;
    p.set("map", `${zoom}/${num(lat, 3)}/${num(lon, 3)}${proj ? `/${proj}` : ""}`);
  }
  if (state.bbox) p.set("bbox", formatBbox(state.bbox));
  else if (state.poly) p.set("poly", state.poly.map(([x, y]) => `${num(x, 4)},${num(y, 4)}`).join(";"));
  for (const key of ["start", "end", "collection", "orbit", "validmin", "swath"]) {
    if (state[key]) p.set(key, state[key]);
  }
  // URLSearchParams escapes "," and "/" which are safe in a fragment: keep it readable.
  return "#" + p.toString().replace(/%2C/g, ",").replace(/%2F/g, "/").replace(/%3B/g, ";");
}

export function polygonWkt(ring) {
  const closed = [...ring, ring[0]];
  return `POLYGON((${closed.map(([x, y]) => `${num(x, 6)} ${num(y, 6)}`).join(", ")}))`;
}

export function datetimeParam(start, end) {
  // RFC 3339 interval for whole UTC days; either end may be open.
  if (!start && !end) return "";
  const from = start ? `${start}T00:00:00Z` : "..";
  const to = end ? `${end}T23:59:59.999Z` : "..";
  return `${from}/${to}`;
}

export function parseOrbit(text) {
  // Return [lo, hi] (either may be null) from "N" or "A..B", null for "", or throw.
  const t = String(text || "").trim();
  if (!t) return null;
  const m = /^(\d{1,10})?\s*(?:(\.\.)\s*(\d{1,10})?)?$/.exec(t);
  if (!m || (!m[1] && !m[3])) throw new Error("The orbit must be a number or a range such as 12300..12400.");
  const lo = m[1] ? Number(m[1]) : null;
  const hi = m[2] ? (m[3] ? Number(m[3]) : null) : lo;
  if (lo !== null && hi !== null && lo > hi) throw new Error("The orbit range ends before it starts.");
  return [lo, hi];
}

export function orbitFilter(text) {
  // CQL2 text for an orbit number or range, or "".
  const range = parseOrbit(text);
  if (!range) return "";
  const [lo, hi] = range;
  if (lo !== null && lo === hi) return `"sat:absolute_orbit" = ${lo}`;
  const parts = [];
  if (lo !== null) parts.push(`"sat:absolute_orbit" >= ${lo}`);
  if (hi !== null) parts.push(`"sat:absolute_orbit" <= ${hi}`);
  return parts.join(" AND ");
}

export function parseValidMin(text) {
  // The minimum valid percentage (0..100) from text, null for "", or throw.
  const t = String(text ?? "").trim();
  if (!t) return null;
  const v = Number(t);
  if (!Number.isFinite(v) || v < 0 || v > 100) throw new Error("The minimum valid % must be a number from 0 to 100.");
  return v;
}

export function validFilter(text) {
  // CQL2 text keeping swaths with at least that share of valid pixels over the area
  // (the whole swath without one), or "". Swaths of unknown coverage never pass.
  const v = parseValidMin(text);
  return v === null ? "" : `"swathstore:valid_fraction" >= ${Number((v / 100).toFixed(4))}`;
}

export function searchParams(state, { limit = PAGE_SIZE, fields = LIST_FIELDS } = {}) {
  // Query parameters of GET /stac/search for a state (newest first, the API's default).
  const p = new URLSearchParams();
  if (state.bbox) p.set("bbox", formatBbox(state.bbox));
  else if (state.poly) {
    p.set("intersects", JSON.stringify({ type: "Polygon", coordinates: [[...state.poly, state.poly[0]]] }));
  }
  const dt = datetimeParam(state.start, state.end);
  if (dt) p.set("datetime", dt);
  if (state.collection) p.set("collections", state.collection);
  // The valid fraction may only be a term of the filter's top-level AND (the API says so).
  const filter = [orbitFilter(state.orbit), validFilter(state.validmin)].filter(Boolean).join(" AND ");
  if (filter) {
    p.set("filter", filter);
    p.set("filter-lang", "cql2-text");
  }
  p.set("limit", String(limit));
  if (fields) p.set("fields", fields);
  return p;
}

export function fromStacItem(item) {
  // A STAC item as the list and the map use it.
  const p = item.properties || {};
  return {
    id: item.id,
    geometry: item.geometry,
    properties: {
      granule_id: p.title || item.id,
      collection: item.collection,
      platform: p.platform || "",
      orbit: p["sat:absolute_orbit"] ?? null,
      orbit_direction: p["sat:orbit_state"] || "",
      start_time: p.start_datetime || p.datetime,
      end_time: p.end_datetime || p.datetime,
      valid_fraction: p["swathstore:valid_fraction"] ?? null, // with a minimum valid % only
    },
  };
}

export function searchKey(state) {
  // Identity of a search: the same key means the same results (view and selection aside).
  try {
    return searchParams(state).toString();
  } catch {
    return "";
  }
}

export function subsetArea(state) {
  // The body part of POST /api/v1/subsets/ for the drawn or typed area, or null.
  if (state.bbox) return { bbox: formatBbox(state.bbox) };
  if (state.poly) return { geometry: { type: "Polygon", coordinates: [[...state.poly, state.poly[0]]] } };
  return null;
}
