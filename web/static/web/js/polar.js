// The polar views of the map: Arctic (EPSG:3413) and Antarctic (EPSG:3031) polar
// stereographic, through proj4 and Proj4Leaflet (vendored by web/build.sh).
//
// Web Mercator stretches everything beyond 60 degrees and stops at 85; half the archive's
// swaths reach further. In a polar view:
// - lon/lat shapes (base map, footprints, the search area) are clipped to their hemisphere
//   beyond HEMISPHERE_EDGE (a stereographic projection sends the other pole to infinity)
//   and densified, because Leaflet joins projected vertices with straight lines, and a
//   long edge that is straight in lon/lat (as the catalog reads it) is a curve here;
// - a drawn rectangle is a rectangle on the screen, not a lon/lat box: it becomes a
//   polygon, as does a drawn polygon; an area that encloses the pole becomes an unwrapped
//   ring closed along the pole (longitudes may run past +-180, up to +-360), which the API
//   reads as the area it is and cuts at the antimeridian (eo.geometry.parse_geometry).
// Pure lon/lat helpers are exported for the tests and for mapview.js.

const L = window.L;

export const HEMISPHERE_EDGE = 30; // degrees from the equator that a polar view keeps
const MAX_STEP = 1; // degrees: the longest lon/lat edge drawn without densifying
const EDGE_SAMPLES = 16; // points per edge of a drawn area, in projected space...
const AREA_POINTS = 96; // ...and in all: the page searches by GET, whose URL must stay short
// Metres per pixel at zoom 0..12: zoom 3 shows the pole out to about 60 degrees.
const RESOLUTIONS = Array.from({ length: 13 }, (_, z) => 65536 / 2 ** z);

export const PROJECTIONS = {
  arctic: {
    label: "Arctic",
    title: "Arctic polar stereographic (EPSG:3413)",
    code: "EPSG:3413",
    def: "+proj=stere +lat_0=90 +lat_ts=70 +lon_0=-45 +k=1 +x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs",
    pole: 90,
  },
  antarctic: {
    label: "Antarctic",
    title: "Antarctic polar stereographic (EPSG:3031)",
    code: "EPSG:3031",
    def: "+proj=stere +lat_0=-90 +lat_ts=-71 +lon_0=0 +k=1 +x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs",
    pole: -90,
  },
};
export const DEFAULT_ZOOM = 3;

const crsCache = {};

export function crs(name) {
  // The Leaflet CRS of a polar view (one object per view, so Leaflet can compare them).
  if (!crsCache[name]) {
    const p = PROJECTIONS[name];
    crsCache[name] = new L.Proj.CRS(p.code, p.def, { resolutions: RESOLUTIONS });
    crsCache[name].polar = name;
  }
  return crsCache[name];
}

export const isPolar = (map) => Boolean(map && map.options.crs.polar);

// --- lon/lat rings ([[lon, lat], ...], open or closed) -----------------------------------

function clipRing(ring, inside, cut) {
  // Sutherland-Hodgman against one half-plane; cut(a, b) is where edge a-b leaves it.
  const out = [];
  for (let i = 0; i < ring.length; i++) {
    const a = ring[i];
    const b = ring[(i + 1) % ring.length];
    if (inside(a)) out.push(a);
    if (inside(a) !== inside(b)) out.push(cut(a, b));
  }
  return out;
}

const openRing = (ring) => {
  const n = ring.length;
  return n > 1 && ring[0][0] === ring[n - 1][0] && ring[0][1] === ring[n - 1][1] ? ring.slice(0, -1) : ring;
};

export function clipToHemisphere(ring, pole) {
  // The part of a ring on the polar side of HEMISPHERE_EDGE (open ring; [] if none).
  const edge = Math.sign(pole) * HEMISPHERE_EDGE;
  const inside = pole > 0 ? (p) => p[1] >= edge : (p) => p[1] <= edge;
  const cut = (a, b) => [a[0] + ((edge - a[1]) / (b[1] - a[1])) * (b[0] - a[0]), edge];
  const out = clipRing(openRing(ring), inside, cut);
  return out.length >= 3 ? out : [];
}

export function densify(ring, joined = false) {
  // Extra vertices so that no edge spans more than MAX_STEP degrees (open ring). Edges
  // along a pole's latitude are one point in a polar view: they are left alone, as are
  // edges from -180 to 180 in a ring `joined` there (offPole).
  const pts = openRing(ring);
  const out = [];
  for (let i = 0; i < pts.length; i++) {
    const a = pts[i];
    const b = pts[(i + 1) % pts.length];
    out.push(a);
    if (Math.abs(a[1]) === 90 && a[1] === b[1]) continue;
    if (joined && Math.abs(b[0] - a[0]) >= 359.9) continue;
    const n = Math.ceil(Math.max(Math.abs(b[0] - a[0]), Math.abs(b[1] - a[1])) / MAX_STEP);
    for (let k = 1; k < n; k++) out.push([a[0] + ((b[0] - a[0]) * k) / n, a[1] + ((b[1] - a[1]) * k) / n]);
  }
  return out;
}

export function toWindows(ring) {
  // A ring whose longitudes may run past +-180 (unwrapped) as pieces within -180..180.
  const pts = openRing(ring);
  const xs = pts.map((p) => p[0]);
  const lo = Math.floor((Math.min(...xs) + 180) / 360);
  const hi = Math.floor((Math.max(...xs) + 180) / 360 - 1e-12);
  if (lo === hi) return [pts.map(([x, y]) => [x - 360 * lo, y])];
  const pieces = [];
  for (let k = lo; k <= hi; k++) {
    const west = -180 + 360 * k;
    const east = west + 360;
    const at = (x) => (a, b) => [x, a[1] + ((x - a[0]) / (b[0] - a[0])) * (b[1] - a[1])];
    let part = clipRing(pts, (p) => p[0] >= west, at(west));
    part = part.length ? clipRing(part, (p) => p[0] <= east, at(east)) : part;
    if (part.length >= 3) pieces.push(part.map(([x, y]) => [x - 360 * k, y]));
  }
  return pieces;
}

export function bboxRing([w, s, e, n]) {
  // A W,S,E,N box as a lon/lat ring (W > E crosses the antimeridian: E is unwrapped).
  const east = w <= e ? e : e + 360;
  return densify([[w, s], [east, s], [east, n], [w, n]]); // no 360-degree edge is left
}

function aroundPole(ring) {
  const xs = ring.map((p) => p[0]);
  return Math.max(...xs) - Math.min(...xs) >= 359.9;
}

// A ring round a pole is closed along it in lon/lat (vertices at lat +-90); in a polar
// view the ring alone goes round the pole, and the closure would draw lines to the pole.
// (The edge that then joins -180 to 180 is one meridian, not a turn round the world.)
const offPole = (ring) => ring.filter((p) => Math.abs(p[1]) !== 90);

const toLatLngs = (ring) => ring.map(([x, y]) => [y, x]);

export function polarLatLngs(rings, pole) {
  // Leaflet rings of a polygon (outer ring first) as drawn in a polar view, or null
  // when nothing of it lies in the view's hemisphere.
  const out = [];
  for (const ring of rings) {
    const kept = clipToHemisphere(aroundPole(ring) ? densify(offPole(ring), true) : densify(ring), pole);
    if (kept.length) out.push(toLatLngs(kept));
    else if (!out.length) return null; // no outer ring: the holes do not matter
  }
  return out;
}

export function footprintLatLngs(geometry, name) {
  // A footprint (Polygon or MultiPolygon, already cut at +-180) as Leaflet rings per piece.
  const polys = geometry.type === "MultiPolygon" ? geometry.coordinates : [geometry.coordinates];
  return polys.map((rings) => polarLatLngs(rings, PROJECTIONS[name].pole)).filter(Boolean);
}

// --- areas drawn on a polar view ---------------------------------------------------------

function densifyProjected(map, latlngs) {
  // A drawn ring's edges are straight on the screen: sample them there, return lon/lat.
  const c = map.options.crs;
  const pts = latlngs.map((ll) => c.project(ll));
  const per = Math.max(1, Math.min(EDGE_SAMPLES, Math.floor(AREA_POINTS / pts.length)));
  const out = [];
  for (let i = 0; i < pts.length; i++) {
    const a = pts[i];
    const b = pts[(i + 1) % pts.length];
    for (let k = 0; k < per; k++) {
      const t = k / per;
      const ll = c.unproject(L.point(a.x + (b.x - a.x) * t, a.y + (b.y - a.y) * t));
      out.push([ll.lng, ll.lat]);
    }
  }
  return out;
}

const hundredth = (v) => Math.round(v * 100) / 100;

const wrapStep = (d) => ((((d % 360) + 540) % 360) - 180); // a lon difference, -180..180

function unwrap(ring) {
  const out = [[ring[0][0], ring[0][1]]];
  for (let i = 1; i < ring.length; i++) {
    out.push([out[i - 1][0] + wrapStep(ring[i][0] - ring[i - 1][0]), ring[i][1]]);
  }
  return out;
}

function startAtAntimeridian(ring) {
  // The same ring (round a pole), starting where it crosses +-180, that point given on
  // both sides: unwrapped, it then runs from -180 to 180 (or back), and its closure
  // along the pole lies on the map's edges.
  const n = ring.length;
  for (let i = 0; i < n; i++) {
    const a = ring[i];
    const b = ring[(i + 1) % n];
    const bx = a[0] + wrapStep(b[0] - a[0]);
    const edge = bx > 180 ? 180 : bx < -180 ? -180 : null;
    if (edge === null) continue;
    const lat = a[1] + ((edge - a[0]) / (bx - a[0])) * (b[1] - a[1]);
    const rest = [...ring.slice(i + 1), ...ring.slice(0, i + 1)];
    return [[-edge, lat], ...rest, [edge, lat]];
  }
  return ring;
}

export function areaRing(ring, pole) {
  // A lon/lat ring traced on the sphere (consecutive points close together) as the ring
  // the API reads as that same area: longitudes unwrapped; a ring that goes round the
  // pole is closed along it (lat +-90); the whole ring shifted to lie near 0.
  let out = unwrap(ring);
  const closing = (pts) => pts[pts.length - 1][0] + wrapStep(pts[0][0] - pts[pts.length - 1][0]);
  if (Math.abs(closing(out) - out[0][0]) > 180) {
    out = unwrap(startAtAntimeridian(ring));
    out.push([closing(out), pole], [out[0][0], pole]);
  }
  const xs = out.map((p) => p[0]);
  const mid = (Math.min(...xs) + Math.max(...xs)) / 2; // a tie (mid on 180) keeps the start
  const shift = 360 * Math.round(mid / 360 - 1e-9 * Math.sign(mid));
  const rounded = out.map(([x, y]) => [hundredth(x - shift), hundredth(y)]);
  return rounded.filter((p, i) => i === 0 || p[0] !== rounded[i - 1][0] || p[1] !== rounded[i - 1][1]);
}

export function drawnArea(map, layer) {
  // The search area ({poly}) of a rectangle or polygon drawn on a polar view.
  const name = map.options.crs.polar;
  const latlngs = layer.getLatLngs()[0];
  const ring = layer.sampled ? latlngs.map((ll) => [ll.lng, ll.lat]) : densifyProjected(map, latlngs);
  return { poly: areaRing(ring, PROJECTIONS[name].pole) };
}

export function fit(map, latlngs, { padding = 20, maxZoom = 6 } = {}) {
  // fitBounds for a polar view: Leaflet's uses two corners of a lon/lat box, which on a
  // polar map are not the corners of anything.
  if (!latlngs.length) return;
  const c = map.options.crs;
  const b = L.bounds(latlngs.map((ll) => c.project(L.latLng(ll))));
  const size = map.getSize().subtract([2 * padding, 2 * padding]);
  let zoom = Math.min(maxZoom, map.getMaxZoom());
  while (zoom > map.getMinZoom()
         && ((b.max.x - b.min.x) * c.scale(zoom) > size.x || (b.max.y - b.min.y) * c.scale(zoom) > size.y)) {
    zoom -= 1;
  }
  map.setView(c.unproject(b.getCenter()), zoom, { animate: false });
}

// Leaflet.draw's rectangle is a lon/lat box (two corners of a LatLngBounds): on a polar
// map it would neither look like what the pointer drags nor keep the screen corners. On a
// polar map it is drawn, and handed over, as the screen rectangle (a densified polygon).
function patchRectangle() {
  const proto = L.Draw.Rectangle.prototype;
  const drawShape = proto._drawShape;
  const fireCreated = proto._fireCreatedEvent;
  L.Draw.Rectangle.include({
    _drawShape(latlng) {
      if (!isPolar(this._map)) return drawShape.call(this, latlng);
      const c = this._map.options.crs;
      const a = c.project(this._startLatLng);
      const b = c.project(latlng);
      const corners = [[a.x, a.y], [b.x, a.y], [b.x, b.y], [a.x, b.y]]
        .map(([x, y]) => c.unproject(L.point(x, y)));
      const ring = densifyProjected(this._map, corners).map(([x, y]) => [y, x]);
      if (!this._shape) {
        this._shape = L.polygon(ring, this.options.shapeOptions);
        this._map.addLayer(this._shape);
      } else {
        this._shape.setLatLngs(ring);
      }
      return undefined;
    },
    _fireCreatedEvent() {
      if (!isPolar(this._map)) return fireCreated.call(this);
      const polygon = L.polygon(this._shape.getLatLngs(), this.options.shapeOptions);
      polygon.sampled = true; // its edges are sampled already (drawnArea)
      return L.Draw.SimpleShape.prototype._fireCreatedEvent.call(this, polygon);
    },
  });
}
patchRectangle();

// --- the view switcher --------------------------------------------------------------------

export function addSwitcher(map, current, onPick) {
  // Radio buttons on the map: Web Mercator, Arctic, Antarctic.
  const Switcher = L.Control.extend({
    onAdd() {
      const box = L.DomUtil.create("fieldset", "leaflet-bar projection-switch");
      box.id = "projection-switch";
      const legend = L.DomUtil.create("legend", "", box);
      legend.textContent = "View";
      const choices = [["mercator", "World", "Web Mercator (EPSG:3857)"],
        ...Object.entries(PROJECTIONS).map(([k, p]) => [k, p.label, p.title])];
      for (const [value, label, title] of choices) {
        const row = L.DomUtil.create("label", "", box);
        row.title = title;
        const input = L.DomUtil.create("input", "", row);
        input.type = "radio";
        input.name = "projection";
        input.value = value;
        input.id = `projection-${value}`;
        input.checked = value === current;
        input.addEventListener("change", () => input.checked && onPick(value));
        row.append(` ${label}`);
      }
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      return box;
    },
  });
  const control = new Switcher({ position: "topright" });
  control.addTo(map);
  return (value) => { // keeps the buttons true when the view changes from the URL
    const input = control.getContainer().querySelector(`input[value="${value}"]`);
    if (input) input.checked = true;
  };
}

export function baseLayers(world, name, renderer) {
  // The offline base map (lon/lat GeoJSON, cut at +-180) clipped and densified for a view.
  const pole = PROJECTIONS[name].pole;
  const polys = [];
  for (const rings of world.land.geometry.coordinates) {
    const ll = polarLatLngs(rings, pole);
    if (ll) polys.push(ll);
  }
  const lines = [];
  const edge = Math.sign(pole) * HEMISPHERE_EDGE;
  const inside = (p) => (pole > 0 ? p[1] >= edge : p[1] <= edge);
  for (const line of world.borders.geometry.coordinates) {
    let cur = [];
    for (const p of line) { // borders are short: a line simply stops at the edge
      if (inside(p)) cur.push([p[1], p[0]]);
      else if (cur.length) { if (cur.length > 1) lines.push(cur); cur = []; }
    }
    if (cur.length > 1) lines.push(cur);
  }
  return L.layerGroup([
    L.polygon(polys, {
      renderer, interactive: false, color: "#a59d8a", weight: 0.6, fillColor: "#f3efe4", fillOpacity: 1,
    }),
    L.polyline(lines, { renderer, interactive: false, color: "#b8ae98", weight: 0.6 }),
  ]);
}
