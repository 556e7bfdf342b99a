// A grid of swath counts over the map: one /stac/aggregate request a search (and zoom
// step), counting each matching swath in the geohash cell of its footprint's centroid.

import { aggregateUrl, getJSON } from "./api.js";
import { searchParams } from "./state.js";

const BASE32 = "0123456789bcdefghjkmnpqrstuvwxyz";
const STYLE = { color: "#b35806", weight: 1, fillColor: "#f1a340" };

export function geohashBounds(hash) {
  // [[south, west], [north, east]] of a geohash cell: bits alternate lon, lat.
  const lon = [-180, 180];
  const lat = [-90, 90];
  let even = true;
  for (const c of hash) {
    const bits = BASE32.indexOf(c);
    for (let i = 4; i >= 0; i--) {
      const range = even ? lon : lat;
      const mid = (range[0] + range[1]) / 2;
      if ((bits >> i) & 1) range[0] = mid;
      else range[1] = mid;
      even = !even;
    }
  }
  return [[lat[0], lon[0]], [lat[1], lon[1]]];
}

// Cells of roughly a tenth of the view: 1,250 km at the world view, 156 km zoomed in.
export const precisionFor = (zoom) => (zoom <= 2 ? 2 : zoom <= 5 ? 3 : 4);

export class CountGrid {
  constructor(map) {
    this.map = map;
    this.layer = L.featureGroup();
    this.abort = null;
    this.cells = [];
  }

  async show(state, status) {
    this.abort?.abort();
    this.abort = new AbortController();
    // Counts of swaths whatever their valid share: /stac/aggregate does not take it.
    const params = searchParams({ ...state, validmin: "" }, { fields: "" });
    params.delete("limit");
    params.set("aggregations", "centroid_geohash_grid_frequency");
    const precision = precisionFor(this.map.getZoom());
    params.set("centroid_geohash_grid_frequency_precision", String(precision));
    status.dataset.state = "loading";
    try {
      const body = await getJSON(aggregateUrl(params), { signal: this.abort.signal });
      const buckets = body.aggregations[0].buckets;
      const max = Math.max(1, ...buckets.map((b) => b.frequency));
      this.layer.clearLayers();
      this.cells = buckets.map((b) => ({ key: b.key, count: b.frequency }));
      for (const b of buckets) {
        const style = { ...STYLE, fillOpacity: 0.15 + (0.6 * b.frequency) / max, interactive: true };
        L.rectangle(geohashBounds(b.key), style)
          .bindTooltip(`${b.frequency} swath${b.frequency === 1 ? "" : "s"}`)
          .addTo(this.layer);
      }
      this.layer.addTo(this.map);
      this.precision = precision;
      status.dataset.state = "done";
    } catch (e) {
      if (e.name === "AbortError") return;
      status.dataset.state = "error";
      status.title = `The count grid could not be loaded: ${e.message}`;
    }
  }

  hide() {
    this.abort?.abort();
    this.layer.clearLayers();
    this.layer.remove();
    this.cells = [];
  }
}
