// Convert world-atlas TopoJSON into the two GeoJSON layers of the offline base map.
// Usage: node tools/world.cjs OUTDIR   (run by web/build.sh; reads node_modules/world-atlas)
//
// world-atlas stitches polygons across the antimeridian (Chukotka, Fiji, Antarctica), which
// a planar map would draw as bands around the world: rings are cut at +-180 here, as the
// archive's footprints are, and rings around a pole are closed along it.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const topojson = require("topojson-client");

const atlas = path.join(__dirname, "..", "node_modules", "world-atlas");

// 3 decimals (about 100 m) is finer than the 1:50m source; it keeps the files small.
const round = (v) => Math.round(v * 1000) / 1000;

function unwrap(ring) {
  const out = [[ring[0][0], ring[0][1]]];
  for (let i = 1; i < ring.length; i++) {
    const prev = out[out.length - 1][0];
    const x = ring[i][0];
    out.push([x + 360 * Math.round((prev - x) / 360), ring[i][1]]);
  }
  return out;
}

// Sutherland-Hodgman against the half-plane keep(x); cuts land on x = edge.
function clip(ring, edge, keep) {
  const out = [];
  for (let i = 0; i < ring.length; i++) {
    const a = ring[i];
    const b = ring[(i + 1) % ring.length];
    const ina = keep(a[0]);
    const inb = keep(b[0]);
    if (ina) out.push(a);
    if (ina !== inb) {
      const t = (edge - a[0]) / (b[0] - a[0]);
      out.push([edge, a[1] + t * (b[1] - a[1])]);
    }
  }
  return out;
}

function splitRing(ring) {
  const pts = unwrap(ring.slice(0, -1));
  const last = unwrap(ring)[ring.length - 1][0];  // the closing vertex, unwrapped
  if (Math.abs(last - pts[0][0]) > 180) {
    // The ring winds round a pole: close it along the pole.
    const pole = pts.reduce((s, p) => s + p[1], 0) / pts.length > 0 ? 90 : -90;
    pts.push([last, pole], [pts[0][0], pole]);
  }
  const xs = pts.map((p) => p[0]);
  const lo = Math.floor((Math.min(...xs) + 180) / 360);
  const hi = Math.floor((Math.max(...xs) + 180) / 360 - 1e-12);
  const pieces = [];
  for (let k = lo; k <= hi; k++) {
    const west = -180 + 360 * k;
    const east = west + 360;
    let part = clip(pts, west, (x) => x >= west);
    part = part.length ? clip(part, east, (x) => x <= east) : part;
    if (part.length >= 3) {
      const home = part.map((p) => [round(p[0] - 360 * k), round(p[1])]);
      home.push(home[0]);
      pieces.push(home);
    }
  }
  return pieces;
}

function splitPolygons(geometry) {
  const polys = geometry.type === "MultiPolygon" ? geometry.coordinates : [geometry.coordinates];
  const out = [];
  for (const poly of polys) {
    // Holes are few and small in land-50m (lakes are not in it): shells only.
    for (const piece of splitRing(poly[0])) out.push([piece]);
  }
  return { type: "MultiPolygon", coordinates: out };
}

function splitLines(geometry) {
  const lines = geometry.type === "MultiLineString" ? geometry.coordinates : [geometry.coordinates];
  const out = [];
  for (const line of lines) {
    let cur = [];
    for (const p of line) {
      if (cur.length && Math.abs(p[0] - cur[cur.length - 1][0]) > 180) {
        if (cur.length > 1) out.push(cur);
        cur = [];
      }
      cur.push([round(p[0]), round(p[1])]);
    }
    if (cur.length > 1) out.push(cur);
  }
  return { type: "MultiLineString", coordinates: out };
}

function main() {
  const outdir = process.argv[2];
  if (!outdir) {
    console.error("usage: node tools/world.cjs OUTDIR");
    process.exit(2);
  }
  const read = (name) => JSON.parse(fs.readFileSync(path.join(atlas, name), "utf8"));
  const land = read("land-50m.json");
  const countries = read("countries-50m.json");
  const landGeom = topojson.merge(land, land.objects.land.geometries);
  // Only borders between two countries: coastlines come from the land layer.
  const borders = topojson.mesh(countries, countries.objects.countries, (a, b) => a !== b);
  fs.mkdirSync(outdir, { recursive: true });
  const write = (name, geometry) => fs.writeFileSync(
    path.join(outdir, name), JSON.stringify({ type: "Feature", properties: {}, geometry }));
  write("land-50m.geojson", splitPolygons(landGeom));
  write("borders-50m.geojson", splitLines(borders));
}

main();
