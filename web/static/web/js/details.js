// The swath details panel: metadata, quicklook, download, and "cut this area" (a subset job).

import { config, downloadUrl, getJSON, postJSON, stacItemUrl, swathUrl } from "./api.js";
import { formatTime } from "./results.js";
import { subsetArea } from "./state.js";

const POLL_MS = [500, 1000, 1000, 2000, 3000]; // then every 3 s
const $ = (id) => document.getElementById(id);

export function humanSize(bytes) {
  if (bytes == null) return "unknown";
  const units = ["bytes", "kB", "MB", "GB", "TB"];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i += 1;
  }
  return i === 0 ? `${bytes} bytes` : `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

function duration(start, end) {
  if (!start || !end) return "";
  const s = (Date.parse(end) - Date.parse(start)) / 1000;
  return s < 120 ? `${s.toFixed(0)} s` : `${(s / 60).toFixed(1)} min`;
}

function copiesText(copies) {
  if (!Array.isArray(copies)) return null;
  if (!copies.length) return "none";
  return copies.map((c) => [c.store, c.codec, c.stored_size != null ? humanSize(c.stored_size) : "",
    c.verified_at ? `verified ${formatTime(c.verified_at)}` : c.state || ""]
    .filter(Boolean).join(", ")).join("; ");
}

export class Details {
  constructor({ getState, onClose }) {
    this.getState = getState;
    this.panel = $("details");
    this.current = null; // uuid shown
    this.generation = 0; // bumps on every show/hide: stale answers and polls stop
    $("close-details").addEventListener("click", () => onClose());
    this.panel.addEventListener("keydown", (e) => e.key === "Escape" && onClose());
    $("subset-button").addEventListener("click", () => this.cutSubset());
    $("subset-retry").addEventListener("click", () => this.retrySubset());
    this.failed = null; // the followed product, once it FAILED: what "Retry" sends again
  }

  hide() {
    this.generation += 1;
    this.current = null;
    this.panel.hidden = true;
  }

  async show(uuid, { focus = false } = {}) {
    const gen = ++this.generation;
    this.current = uuid;
    this.panel.hidden = false;
    this.panel.setAttribute("aria-busy", "true");
    $("details-title").textContent = "Swath";
    $("details-meta").replaceChildren();
    $("quicklook").hidden = true;
    $("details-status").textContent = "Loading the swath…";
    $("details-status").classList.remove("error");
    this.resetSubset();
    if (focus) this.panel.focus();
    let feature;
    try {
      feature = await getJSON(swathUrl(uuid));
    } catch (e) {
      if (gen !== this.generation) return;
      $("details-status").textContent = `Could not load the swath: ${e.message}`;
      $("details-status").classList.add("error");
      this.panel.removeAttribute("aria-busy");
      return;
    }
    if (gen !== this.generation) return;
    this.feature = feature;
    this.render(feature);
    this.panel.removeAttribute("aria-busy");
    $("details-status").textContent = "";
    this.loadQuicklook(feature, gen);
  }

  render(f) {
    const p = f.properties;
    $("details-title").textContent = p.granule_id;
    const rows = [
      ["Collection", p.collection],
      ["Platform", [p.platform, p.instrument].filter(Boolean).join(" / ") || "unknown"],
      ["Orbit", orbitText(p)],
      ["Level", p.processing_level || "unknown"],
      ["Start", `${formatTime(p.start_time)} UTC`],
      ["End", `${formatTime(p.end_time)} UTC`],
      ["Duration", duration(p.start_time, p.end_time)],
      ["Size", p.size != null ? `${humanSize(p.size)} (${p.size.toLocaleString("en")} bytes)` : "unknown"],
      ["SHA-256", p.sha256 || "not yet known"],
      ["State", p.state],
      ["Verified", p.verified_at ? `${formatTime(p.verified_at)} UTC` : "not yet"],
      ["Stored copies", copiesText(p.copies) ?? "not listed by the API"],
      ["File", `${p.filename}${p.format ? ` (${p.format})` : ""}`],
      ["Id", f.id],
    ];
    const dl = $("details-meta");
    for (const [name, value] of rows) {
      const dt = document.createElement("dt");
      dt.textContent = name;
      const dd = document.createElement("dd");
      dd.textContent = value;
      if (name === "SHA-256" || name === "Id") dd.className = "mono";
      dl.append(dt, dd);
    }
    const link = $("download");
    const verified = p.state === "VERIFIED";
    link.href = verified ? downloadUrl(f.id) : "#";
    link.textContent = verified ? `Download the swath (${humanSize(p.size)})` : `Not downloadable (${p.state})`;
    link.setAttribute("aria-disabled", String(!verified));
    this.updateSubset();
  }

  async loadQuicklook(f, gen) {
    // The quicklook is a STAC asset made at ingest (key "quicklook", role "overview"); other
    // catalogues' items may offer a "thumbnail" instead.
    let item;
    try {
      item = await getJSON(stacItemUrl(f.properties.collection, f.id));
    } catch {
      return;
    }
    if (gen !== this.generation) return;
    const assets = item.assets || {};
    const asset = assets.quicklook || assets.thumbnail
      || Object.values(assets).find((a) => (a.roles || []).includes("thumbnail"));
    if (!asset) return;
    const img = $("quicklook-img");
    // An object gone from the store answers 410: no broken-image icon in the panel.
    img.onerror = () => { if (gen === this.generation) $("quicklook").hidden = true; };
    img.src = asset.href;
    img.alt = `Quicklook of ${f.properties.granule_id}${asset.title ? `: ${asset.title}` : ""}`;
    $("quicklook-caption").textContent = asset.title || "Quicklook";
    $("quicklook").hidden = false;
  }

  resetSubset() {
    $("subset-status").textContent = "";
    $("subset-status").classList.remove("error");
    $("subset-download").hidden = true;
    $("subset-retry").hidden = true;
    this.failed = null;
  }

  updateSubset() {
    // Called when the panel opens and whenever the search area changes.
    const hint = $("subset-hint");
    const button = $("subset-button");
    const area = subsetArea(this.getState());
    hint.replaceChildren();
    if (!config.user) {
      const a = document.createElement("a");
      a.href = `${config.login}?next=${encodeURIComponent("/" + location.hash)}`;
      a.textContent = "Sign in";
      hint.append(a, " to ask for a subset of this swath.");
      button.hidden = true;
      return;
    }
    button.hidden = false;
    button.disabled = !area || this.feature?.properties.state !== "VERIFIED";
    if (!area) hint.textContent = "Draw or type an area first: the subset is cut to the search area.";
    else hint.textContent = `The variables of this swath inside ${area.bbox ? `the box ${area.bbox}` : "the drawn polygon"}, as NetCDF.`;
    this.estimate(button.disabled ? null : area);
  }

  async estimate(area) {
    // POST /api/v1/subsets/estimate: the size and time of the cut, before it is asked for.
    const out = $("subset-estimate");
    const key = area ? JSON.stringify([this.current, area]) : null;
    if (key === this.estimated) return;
    this.estimated = key;
    out.textContent = "";
    out.classList.remove("error");
    if (!key) return;
    out.textContent = "Estimating the cut…";
    try {
      const e = await postJSON(`${config.subsets}estimate`, { swath: this.current, ...area });
      if (key !== this.estimated) return;
      out.textContent = e.swaths[0]?.empty ? "No pixel of this swath is in the area: the subset would be empty."
        : `About ${humanSize(e.bytes_read)} to read from the archive, a ${humanSize(e.bytes_written)} file, ${e.seconds < 1 ? "under a second" : `${Math.ceil(e.seconds)} s`}.`;
    } catch (err) {
      if (key !== this.estimated) return;
      out.textContent = `No estimate: ${err.message}`;
      out.classList.add("error");
    }
  }

  async cutSubset() {
    const gen = this.generation;
    const area = subsetArea(this.getState());
    if (!area || !this.current) return;
    this.resetSubset();
    const status = $("subset-status");
    status.textContent = "Asking for the subset…";
    $("subset-button").disabled = true;
    try {
      const body = await postJSON(`${config.subsets}`, { swath: this.current, ...area });
      await this.follow(body.products[0], gen);
    } catch (e) {
      if (gen !== this.generation) return;
      status.textContent = `The subset failed: ${e.message}`;
      status.classList.add("error");
    } finally {
      if (gen === this.generation) $("subset-button").disabled = false;
    }
  }

  async retrySubset() {
    // POST .../retry: a new attempt on the same product, its failure kept in its history.
    const gen = this.generation;
    const product = this.failed;
    if (!product) return;
    this.resetSubset();
    const status = $("subset-status");
    status.textContent = `Asking for subset ${product.id} again…`;
    try {
      await this.follow(await postJSON(`${product.url}/retry`, {}), gen);
    } catch (e) {
      if (gen !== this.generation) return;
      status.textContent = `Subset ${product.id} cannot be retried: ${e.message}`;
      status.classList.add("error");
      // Still FAILED (its swath's object gone, say): it may be retried once that is mended.
      if (e.status === 410) {
        this.failed = product;
        $("subset-retry").hidden = false;
      }
    }
  }

  async follow(product, gen) {
    const status = $("subset-status");
    for (let k = 0; gen === this.generation; k++) {
      if (product.state === "DONE") {
        status.textContent = `Subset ${product.id} is ready: ${humanSize(product.result_size)}`
          + (product.run_seconds != null ? `, cut in ${product.run_seconds.toFixed(1)} s.` : ".");
        const link = $("subset-download");
        link.href = product.download;
        link.textContent = `Download subset ${product.id} (${humanSize(product.result_size)})`;
        link.hidden = false;
        return;
      }
      if (product.state === "EMPTY") {
        status.textContent = `Subset ${product.id}: the area holds no valid pixel of this swath, so there is nothing to download.`;
        return;
      }
      if (product.state === "FAILED") {
        status.textContent = `Subset ${product.id} failed (attempt ${product.attempts}): ${product.error || "no reason given"}`;
        status.classList.add("error");
        this.failed = product;
        $("subset-retry").hidden = false;
        return;
      }
      const read = product.bytes_read ? `, ${humanSize(product.bytes_read)} read` : "";
      status.textContent = `Subset ${product.id}: ${product.state.toLowerCase()}${read}…`;
      await new Promise((r) => setTimeout(r, POLL_MS[Math.min(k, POLL_MS.length - 1)]));
      if (gen !== this.generation) return;
      product = await getJSON(product.url);
    }
  }
}

// "1696 (ascending) · cycle 14 · pass 191": the numbers the mission uses, where it has them.
function orbitText(p) {
  const parts = [];
  if (p.orbit != null) parts.push(`${p.orbit}${p.orbit_direction ? ` (${p.orbit_direction.toLowerCase()})` : ""}`);
  if (p.relative_orbit != null) parts.push(`relative ${p.relative_orbit}`);
  if (p.orbit_cycle != null) parts.push(`cycle ${p.orbit_cycle}`);
  if (p.pass_number != null) parts.push(`pass ${p.pass_number}`);
  return parts.join(" · ") || "unknown";
}
