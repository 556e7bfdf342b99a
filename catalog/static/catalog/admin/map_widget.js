/* global ol, MapWidget */
// Starts Django's MapWidget for each geometry field of an admin page (catalog/widgets.py):
// options come from a JSON data block, not an inline script (the CSP allows none), and
// the base layer is the map page's offline Natural Earth land, not a tile server.
"use strict";

function startMapWidgets() {
  for (const wrapper of document.querySelectorAll("[data-map-options]")) {
    const options = JSON.parse(document.getElementById(wrapper.dataset.mapOptions).textContent);
    options.base_layer = new ol.layer.Vector({
      source: new ol.source.Vector({ url: options.world, format: new ol.format.GeoJSON() }),
      style: new ol.style.Style({
        fill: new ol.style.Fill({ color: "#f3efe4" }),
        stroke: new ol.style.Stroke({ color: "#a59d8a", width: 0.6 }),
      }),
    });
    window[options.module] = new MapWidget(options);
  }
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", startMapWidgets);
} else {
  startMapWidgets();
}
