// The map page: wires the search form, the map, the results, the histogram and the details.
// Everything comes from the REST API; the URL fragment holds the whole search (a permalink).

import { config, getJSON, searchUrl } from "./api.js";
import { CutAll } from "./cutall.js";
import { Details } from "./details.js";
import { CountGrid, precisionFor } from "./countgrid.js";
import { computeHistogram, renderHistogram } from "./histogram.js";
import { MapView } from "./mapview.js";
import { ResultList } from "./results.js";
import * as S from "./state.js";
import { SubsetList } from "./subsets.js";

const $ = (id) => document.getElementById(id);
const timings = []; // one entry per page drawn: {count, fetchMs, layersMs, listMs, paintMs, totalMs}

let state = S.fromHash(location.hash);
let page = { urls: [], index: 0 }; // urls[i]: page i of the current search (STAC next links)
let searchAbort = null;
let histogramAbort = null;
let histogramKey = null;
let restoring = false;
let firstSearchEnded;
const firstSearch = new Promise((resolve) => { firstSearchEnded = resolve; });

const nextPaint = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));

function setUrl(mode) {
  const hash = S.toHash(state);
  if (mode === "none" || hash === location.hash) return;
  history[mode === "push" ? "pushState" : "replaceState"](null, "", hash);
  const login = $("login-link");
  if (login) login.href = `${config.login}?next=${encodeURIComponent("/" + hash)}`;
}

function setStatus(text) {
  $("status").textContent = text;
}

function showError(message) {
  $("error").hidden = !message;
  $("error").textContent = message || "";
}

function stateToForm() {
  $("bbox").value = state.bbox ? S.formatBbox(state.bbox) : "";
  $("area-summary").textContent = state.poly ? `Area: a polygon of ${state.poly.length} vertices.` : "";
  $("start").value = state.start;
  $("end").value = state.end;
  ensureCollectionOption(state.collection);
  $("collection").value = state.collection;
  $("orbit").value = state.orbit;
  $("validmin").value = state.validmin;
}

function formToState() {
  // Read the form into the state; throws an Error with a readable message on a bad box.
  const text = $("bbox").value.trim();
  if (text) {
    state.bbox = S.parseBbox(text);
    state.poly = null;
  } else if (state.bbox) {
    state.bbox = null;
  }
  state.start = $("start").value;
  state.end = $("end").value;
  if (state.start && state.end && state.start > state.end) {
    throw new Error("The start date is after the end date.");
  }
  state.collection = $("collection").value;
  state.orbit = $("orbit").value.trim();
  S.parseOrbit(state.orbit); // throws with a readable message
  state.validmin = $("validmin").value.trim();
  S.parseValidMin(state.validmin); // throws with a readable message
}

function ensureCollectionOption(slug) {
  const select = $("collection");
  if (slug && ![...select.options].some((o) => o.value === slug)) {
    select.append(new Option(slug, slug));
  }
}

async function loadCollections() {
  try {
    const body = await getJSON(`${config.api}collections/`);
    const rows = Array.isArray(body) ? body : body.results || [];
    for (const c of rows) {
      const existing = [...$("collection").options].find((o) => o.value === c.slug);
      if (existing) existing.textContent = c.title || c.slug;
      else $("collection").append(new Option(c.title || c.slug, c.slug));
    }
    $("collection").value = state.collection;
  } catch (e) {
    showError(`Could not load the collections: ${e.message}`);
  }
}

function setResultsState(value) {
  $("results").dataset.state = value;
  $("results").setAttribute("aria-busy", String(value === "loading"));
}

async function runSearch({ pageIndex = 0, url = "push" } = {}) {
  searchAbort?.abort();
  searchAbort = new AbortController();
  const signal = searchAbort.signal;
  setUrl(url);
  setResultsState("loading");
  showError(null);
  setStatus(pageIndex ? `Loading page ${pageIndex + 1}…` : "Searching…");
  const t0 = performance.now();
  let body;
  try {
    if (pageIndex === 0) {
      page = { urls: [searchUrl(S.searchParams(state))], index: 0 };
      cutAll.update(0); // offered again, for the new search, once it has answered
    }
    body = await getJSON(page.urls[pageIndex], { signal });
  } catch (e) {
    if (e.name === "AbortError") return;
    // Nothing stale stays on screen: the list and the map would not match the form.
    mapView.showFootprints([]);
    results.render([], 0);
    $("result-count").textContent = "";
    $("page-label").textContent = "";
    $("prev-page").disabled = true;
    $("next-page").disabled = true;
    cutAll.update(0);
    setResultsState("error");
    setStatus("");
    showError(`The search failed: ${e.message}`);
    window.swathstore.completed += 1;
    firstSearchEnded();
    return;
  }
  const t1 = performance.now();
  const features = body.features.map(S.fromStacItem);
  mapView.showFootprints(features);
  const t2 = performance.now();
  results.render(features, pageIndex * S.PAGE_SIZE);
  const t3 = performance.now();
  page.index = pageIndex;
  page.urls[pageIndex + 1] = (body.links || []).find((l) => l.rel === "next")?.href || null;
  await nextPaint();
  const t4 = performance.now();
  timings.push({
    count: features.length, fetchMs: t1 - t0, layersMs: t2 - t1, listMs: t3 - t2,
    paintMs: t4 - t3, totalMs: t4 - t0,
  });
  if (signal.aborted) return;
  showPageStatus(body, pageIndex);
  if (state.swath) {
    mapView.select(state.swath);
    results.select(state.swath, { scroll: true });
  }
  setResultsState(features.length ? "done" : "empty");
  window.swathstore.completed += 1;
  firstSearchEnded();
  if (pageIndex === 0) updateHistogram(features);
  if (pageIndex === 0 && $("count-grid").checked) grid.show(state, $("count-grid"));
}

function showPageStatus(body, pageIndex) {
  const n = body.features.length;
  const matched = body.numberMatched;
  const about = body.numberMatchedEstimated ? "about " : "";
  const first = pageIndex * S.PAGE_SIZE + 1;
  if (!n && pageIndex === 0) {
    $("result-count").textContent = "(none)";
    setStatus("No swaths match this search. Try a larger area, a longer time range or fewer filters.");
  } else {
    $("result-count").textContent = matched != null ? `(${about}${matched})` : "";
    const total = matched != null ? ` of ${about}${matched}` : "";
    setStatus(`Showing swaths ${first}–${first + n - 1}${total}, newest first.`);
  }
  $("prev-page").disabled = pageIndex === 0;
  $("next-page").disabled = !page.urls[pageIndex + 1];
  const pages = matched != null ? ` of ${Math.max(1, Math.ceil(matched / S.PAGE_SIZE))}` : "";
  $("page-label").textContent = `Page ${pageIndex + 1}${pages}`;
  if (pageIndex === 0) cutAll.update(matched ?? n, about);
}

async function updateHistogram(features) {
  const key = S.searchKey(state);
  if (key === histogramKey) return;
  histogramKey = key;
  histogramAbort?.abort();
  histogramAbort = new AbortController();
  const signal = histogramAbort.signal;
  $("histogram").dataset.state = "loading";
  try {
    const made = await computeHistogram(state, features, signal);
    renderHistogram($("histogram"), $("histogram-caption"), $("histogram-bars"), made, pickPeriod);
    $("histogram").dataset.state = "done";
  } catch (e) {
    if (e.name === "AbortError") return;
    histogramKey = null;
    $("histogram").hidden = false;
    $("histogram-bars").replaceChildren();
    $("histogram-caption").textContent = `The counts over time could not be loaded: ${e.message}`;
    $("histogram").dataset.state = "error";
  }
}

function pickPeriod(start, end) {
  state.start = start;
  state.end = end;
  stateToForm();
  runSearch();
}

function select(id, { from } = {}) {
  state.swath = id;
  mapView.select(id);
  results.select(id, { scroll: from === "map" });
  details.show(id, { focus: from === "keyboard" }); // opens the panel: the map narrows
  mapView.resized();
  if (from === "list") mapView.revealSelected();
  setUrl("replace");
}

function closeDetails() {
  const id = state.swath;
  state.swath = "";
  details.hide();
  mapView.select(null);
  results.select(null);
  setUrl("replace");
  results.items.get(id)?.querySelector("button").focus();
}

function hover(id, on) {
  mapView.hover(id, on);
  results.highlight(id, on);
}

function setArea(area) {
  state.bbox = area.bbox || null;
  state.poly = area.poly || null;
  stateToForm();
  mapView.showArea(state);
  details.updateSubset();
  runSearch();
}

function restore() {
  // Bring the page to the state in the URL (first load, back and forward).
  state = S.fromHash(location.hash);
  const view = state.view;
  restoring = true; // resizing and fitting the map below report views of their own
  stateToForm();
  // The details panel first: opening it narrows the map, which the view must not follow.
  if (state.swath) details.show(state.swath);
  else details.hide();
  details.updateSubset();
  mapView.resized();
  mapView.showArea(state);
  if (view) mapView.setView(view);
  else if (state.bbox || state.poly) mapView.fitArea();
  restoring = false;
  if (view || state.bbox || state.poly) state.view = mapView.view();
  runSearch({ url: "replace" });
}

const mapView = new MapView($("map"), {
  tileUrl: config.tileUrl,
  staticRoot: document.body.dataset.static,
  onArea: setArea,
  onView: (view) => {
    if (restoring) return;
    state.view = view;
    setUrl("replace");
  },
  onHover: hover,
  onSelect: select,
});
const grid = new CountGrid(mapView.map);
$("count-grid").addEventListener("change", (e) => {
  if (e.target.checked) grid.show(state, e.target);
  else grid.hide();
});
mapView.map.on("zoomend", () => {
  // Finer cells as the map zooms in: the counts again at the new zoom's precision.
  const zoom = mapView.map.getZoom();
  if ($("count-grid").checked && precisionFor(zoom) !== grid.precision) grid.show(state, $("count-grid"));
});
const results = new ResultList($("result-list"), { onHover: hover, onSelect: select });
const details = new Details({ getState: () => state, onClose: closeDetails });
const subsets = new SubsetList($("my-subsets"));
const cutAll = new CutAll({ getState: () => state, onCut: () => subsets.load() });

$("search-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const before = JSON.stringify([state.bbox, state.poly]);
  try {
    formToState();
  } catch (err) {
    showError(err.message);
    return;
  }
  mapView.showArea(state);
  if (JSON.stringify([state.bbox, state.poly]) !== before) mapView.fitArea(); // a typed box
  details.updateSubset();
  runSearch();
});
$("clear-area").addEventListener("click", () => setArea({}));
$("reset").addEventListener("click", () => {
  const view = state.view;
  state = { ...S.emptyState(), view };
  stateToForm();
  mapView.showArea(state);
  details.hide();
  details.updateSubset();
  runSearch();
});
$("prev-page").addEventListener("click", () => runSearch({ pageIndex: page.index - 1, url: "none" }));
$("next-page").addEventListener("click", () => runSearch({ pageIndex: page.index + 1, url: "none" }));
window.addEventListener("popstate", restore);

// For the browser tests and for anyone curious in the console.
// `completed` counts searches that ended (results, none, or an error).
window.swathstore = { map: mapView, grid, timings, state: () => state, completed: 0 };

restore();
// The base map and the collection list wait for the first search (1.5 s at most), so
// that the first footprints are not queued behind 1.3 MB of coastlines.
Promise.race([firstSearch, new Promise((r) => setTimeout(r, 1500))]).then(() => {
  mapView.loadBaseMap();
  loadCollections();
  subsets.load();
});
