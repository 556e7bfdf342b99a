// The Leaflet map: offline base map, optional tiles, the search area and the footprints.
//
// Footprints arrive as MultiPolygons already split at +-180 (the catalog stores them so),
// and each piece is drawn where it lies: a swath that crosses the antimeridian shows as
// two pieces at the two edges of the map, never as a band around the world. The map
// shows one world (no wrapped copies), so a piece is never drawn twice.
// The Arctic and Antarctic views (polar.js) swap the map's CRS; everything drawn is
// redrawn for the new view, and the search itself is left as it is.

import * as polar from "./polar.js";

const L = window.L;
const MERCATOR_BOUNDS = [[-89.9, -180], [89.9, 180]];

const STYLE = {
  footprint: { color: "#1d5fa8", weight: 1, opacity: 0.8, fill: true, fillColor: "#3b82c4", fillOpacity: 0.08 },
  // Hundreds of translucent fills cost more to paint than everything else: outlines only.
  many: { color: "#1d5fa8", weight: 1, opacity: 0.8, fill: false },
  hover: { color: "#e07000", weight: 3, opacity: 1, fill: true, fillColor: "#f59e0b", fillOpacity: 0.25 },
  selected: { color: "#c2185b", weight: 3, opacity: 1, fill: true, fillColor: "#e91e63", fillOpacity: 0.3 },
  area: { color: "#111", weight: 2, dashArray: "6 4", fill: false, interactive: false },
};

const FILL_LIMIT = 150; // more footprints than this are drawn as outlines

// Into -180..180, leaving +-180 themselves alone (a box drawn to the map's east edge ends at 180).
const wrapLon = (lon) => (Math.abs(lon) <= 180 ? lon : ((((lon + 180) % 360) + 360) % 360) - 180);
const hundredth = (v) => Math.round(v * 100) / 100; // drawn by hand: ~1 km is plenty

export class MapView {
  constructor(element, { tileUrl, staticRoot, onArea, onView, onHover, onSelect }) {
    this.onArea = onArea;
    this.onView = onView;
    this.onHover = onHover;
    this.onSelect = onSelect;
    this.layers = new Map(); // uuid -> L.Polygon
    this.hovered = null;
    this.selected = null;
    this.rest = STYLE.footprint;
    this.map = L.map(element, {
      center: [0, 0],
      zoom: 2,
      minZoom: 1,
      maxZoom: 12,
      worldCopyJump: false,
      maxBounds: MERCATOR_BOUNDS,
      maxBoundsViscosity: 1.0,
      keyboard: true,
      zoomControl: true,
    });
    this.map.attributionControl.setPrefix(false);
    this.map.createPane("basemap").style.zIndex = 250;
    this.baseRenderer = L.canvas({ pane: "basemap", padding: 0.2 });
    this.footprintRenderer = L.canvas({ padding: 0.3, tolerance: 3 });
    this.footprints = L.featureGroup().addTo(this.map);
    this.area = L.featureGroup().addTo(this.map);
    this.outlines = L.layerGroup().addTo(this.map);
    this.staticRoot = staticRoot;
    this.projection = "mercator";
    this.features = [];
    this.world = null; // the base map's GeoJSON, once loaded
    this.baseLayers = {}; // projection -> its base map layer
    this.tiles = null;
    if (tileUrl) {
      this.tiles = L.tileLayer(tileUrl, { maxZoom: 18, noWrap: true }).addTo(this.map);
      L.control.layers(null, { "Tiles": this.tiles, "Coastlines and borders": this.outlines },
        { collapsed: false }).addTo(this.map);
    }
    this.showSwitch = polar.addSwitcher(this.map, this.projection, (name) => this.setProjection(name));
    this.map.getContainer().dataset.projection = this.projection;
    this.addDrawControl();
    this.map.on("moveend", () => this.onView(this.view()));
    // The details panel opening or closing resizes the map without a window resize.
    new ResizeObserver(() => this.resized()).observe(element);
  }

  resized() {
    // Keep the top-left corner where it is when the container changes size.
    this.map.invalidateSize({ pan: false });
  }

  async loadBaseMap() {
    // Called once the first search has drawn: 1.3 MB of outlines must not delay it.
    if (this.baseMapLoading) return;
    this.baseMapLoading = true;
    const get = async (name) => (await fetch(`${this.staticRoot}vendor/world/${name}`)).json();
    try {
      const [land, borders] = await Promise.all([get("land-50m.geojson"), get("borders-50m.geojson")]);
      this.world = { land, borders };
      this.showBaseMap();
      this.map.attributionControl.addAttribution("Natural Earth (world-atlas)");
      this.map.getContainer().dataset.basemap = "ready";
    } catch (e) {
      this.map.getContainer().dataset.basemap = "failed";
    }
  }

  showBaseMap() {
    // The base map of the current view, made the first time that view shows it.
    if (!this.world) return;
    const name = this.projection;
    if (!this.baseLayers[name]) {
      this.baseLayers[name] = name === "mercator" ? L.layerGroup([
        L.geoJSON(this.world.land, {
          renderer: this.baseRenderer, interactive: false,
          style: { color: "#a59d8a", weight: 0.6, fillColor: "#f3efe4", fillOpacity: 1 },
        }),
        L.geoJSON(this.world.borders, {
          renderer: this.baseRenderer, interactive: false,
          style: { color: "#b8ae98", weight: 0.6 },
        }),
      ]) : polar.baseLayers(this.world, name, this.baseRenderer);
    }
    this.outlines.clearLayers();
    this.outlines.addLayer(this.baseLayers[name]);
  }

  setProjection(name, view = null) {
    // Switch between Web Mercator and the polar views, keeping the search, its area, the
    // footprints and the selection. The view goes to `view`, or to the pole (or back to
    // the world) when none is given.
    if (name !== "mercator" && !polar.PROJECTIONS[name]) name = "mercator";
    if (name === this.projection) {
      if (view) this.map.setView([view.lat, view.lon], view.zoom, { animate: false });
      return;
    }
    const center = this.map.getCenter();
    this.projection = name;
    this.map.getContainer().dataset.projection = name;
    this.showSwitch(name);
    const toMercator = name === "mercator";
    // Leaflet has no CRS switch of its own: set it, then reset the view. What is drawn is
    // taken off first (the other pole is at infinity in a polar view) and redrawn after.
    this.footprints.clearLayers();
    this.area.clearLayers();
    this.outlines.clearLayers();
    this.map.setMaxBounds(null);
    this.map.options.crs = toMercator ? L.CRS.EPSG3857 : polar.crs(name);
    if (this.tiles) { // Web Mercator tiles: not on a polar map
      if (toMercator) this.map.addLayer(this.tiles);
      else this.map.removeLayer(this.tiles);
    }
    const target = view || (toMercator
      ? { lat: Math.max(-60, Math.min(60, center.lat)), lon: center.lng, zoom: 2 }
      : { lat: polar.PROJECTIONS[name].pole, lon: 0, zoom: polar.DEFAULT_ZOOM });
    this.map.setView([target.lat, target.lon], target.zoom, { reset: true });
    if (toMercator) this.map.setMaxBounds(MERCATOR_BOUNDS);
    this.showBaseMap();
    this.showArea(this.areaState || {});
    this.showFootprints(this.features);
  }

  addDrawControl() {
    this.map.addControl(new L.Control.Draw({
      position: "topleft",
      draw: {
        rectangle: { showArea: false, shapeOptions: STYLE.area },
        polygon: { allowIntersection: false, showArea: false, shapeOptions: STYLE.area },
        polyline: false, circle: false, marker: false, circlemarker: false,
      },
      edit: false,
    }));
    // While drawing (and for the click that ends a rectangle) footprints are not picked.
    this.drawing = false;
    this.map.on(L.Draw.Event.DRAWSTART, () => { this.drawing = true; });
    this.map.on(L.Draw.Event.DRAWSTOP, () => setTimeout(() => { this.drawing = false; }, 300));
    this.map.on(L.Draw.Event.CREATED, (e) => {
      if (polar.isPolar(this.map)) {
        this.onArea(polar.drawnArea(this.map, e.layer)); // a polygon: see polar.js
      } else if (e.layerType === "rectangle") {
        const b = e.layer.getBounds();
        const wide = b.getEast() - b.getWest() >= 360;
        const bbox = [wide ? -180 : wrapLon(b.getWest()), b.getSouth(), wide ? 180 : wrapLon(b.getEast()), b.getNorth()];
        this.onArea({ bbox: bbox.map(hundredth) });
      } else {
        const ring = e.layer.getLatLngs()[0].map((p) => [hundredth(wrapLon(p.lng)), hundredth(p.lat)]);
        this.onArea({ poly: ring });
      }
    });
  }

  view() {
    const c = this.map.getCenter();
    const view = { zoom: this.map.getZoom(), lat: c.lat, lon: c.lng };
    if (this.projection !== "mercator") view.proj = this.projection;
    return view;
  }

  setView(view) {
    this.setProjection(view.proj || "mercator", view);
  }

  showArea(state) {
    this.area.clearLayers();
    this.areaState = { bbox: state.bbox, poly: state.poly };
    if (this.projection !== "mercator") {
      const ring = state.bbox ? polar.bboxRing(state.bbox) : state.poly;
      const latlngs = ring && polar.polarLatLngs([ring], polar.PROJECTIONS[this.projection].pole);
      if (latlngs) L.polygon(latlngs, STYLE.area).addTo(this.area);
      return;
    }
    if (state.bbox) {
      const [w, s, e, n] = state.bbox;
      const boxes = w <= e ? [[w, e]] : [[w, 180], [-180, e]];
      for (const [west, east] of boxes) {
        L.rectangle([[s, west], [n, east]], STYLE.area).addTo(this.area);
      }
    } else if (state.poly) {
      // A ring drawn on a polar view may run past +-180: drawn here piece by piece.
      const pieces = polar.toWindows(state.poly).map((ring) => [ring.map(([x, y]) => [y, x])]);
      L.polygon(pieces, STYLE.area).addTo(this.area);
    }
  }

  fitArea() {
    if (this.projection !== "mercator") {
      const latlngs = [];
      this.area.eachLayer((layer) => latlngs.push(...layer.getLatLngs().flat(3)));
      polar.fit(this.map, latlngs);
      return;
    }
    const bounds = this.area.getBounds();
    if (bounds.isValid()) this.map.fitBounds(bounds, { padding: [20, 20], maxZoom: 6, animate: false });
  }

  showFootprints(features) {
    this.features = features;
    this.footprints.clearLayers();
    this.layers.clear();
    this.hovered = null;
    this.rest = features.length > FILL_LIMIT ? STYLE.many : STYLE.footprint;
    for (const f of features) {
      if (!f.geometry) continue; // an empty swath has no footprint: listed, not drawn
      const g = f.geometry;
      const polys = g.type === "MultiPolygon" ? g.coordinates : [g.coordinates];
      // One Leaflet polygon with one ring list per piece: each piece drawn where it lies.
      const latlngs = this.projection === "mercator"
        ? polys.map((rings) => rings.map((ring) => ring.map(([x, y]) => [y, x])))
        : polar.footprintLatLngs(g, this.projection);
      if (!latlngs.length) continue; // all in the other hemisphere: listed, not drawn
      const layer = L.polygon(latlngs, { ...this.rest, renderer: this.footprintRenderer });
      const id = f.id;
      layer.on("mouseover", () => this.drawing || this.onHover(id, true));
      layer.on("mouseout", () => this.onHover(id, false));
      layer.on("click", () => this.drawing || this.onSelect(id, { from: "map" }));
      layer.addTo(this.footprints);
      this.layers.set(id, layer);
    }
    if (this.selected && this.layers.has(this.selected)) this.select(this.selected);
  }

  restyle(id) {
    const layer = this.layers.get(id);
    if (!layer) return;
    if (id === this.selected) layer.setStyle(STYLE.selected);
    else if (id === this.hovered) layer.setStyle(STYLE.hover);
    else layer.setStyle(this.rest);
    if (id === this.selected || id === this.hovered) layer.bringToFront();
  }

  hover(id, on) {
    const previous = this.hovered;
    this.hovered = on ? id : (this.hovered === id ? null : this.hovered);
    if (previous && previous !== this.hovered) this.restyle(previous);
    this.restyle(id);
  }

  select(id) {
    const previous = this.selected;
    this.selected = id;
    if (previous && previous !== id) this.restyle(previous);
    if (id) this.restyle(id);
  }

  revealSelected() {
    // Pan (not zoom) so the selected footprint is in view, if it is not already.
    const layer = this.layers.get(this.selected);
    if (!layer) return;
    const bounds = layer.getBounds();
    if (!this.map.getBounds().contains(bounds.getCenter())) {
      this.map.panTo(bounds.getCenter(), { animate: false });
    }
  }

  pieces(id) {
    // Screen boxes (container pixels) of each drawn piece of a footprint: for tests and checks.
    const layer = this.layers.get(id);
    if (!layer) return [];
    return layer.getLatLngs().map((rings) => {
      const pts = rings[0].map((ll) => this.map.latLngToContainerPoint(ll));
      const xs = pts.map((p) => p.x);
      const ys = pts.map((p) => p.y);
      return { left: Math.min(...xs), right: Math.max(...xs), top: Math.min(...ys), bottom: Math.max(...ys) };
    });
  }

  toPixel(lat, lon) {
    // The container point of a position, for tests that click on the map.
    const p = this.map.latLngToContainerPoint([lat, lon]);
    return { x: p.x, y: p.y };
  }
}
