// "Cut all N results": one subset request for the whole search (POST /api/v1/subsets/ with
// a search body). Its estimate (POST .../estimate) is asked first and shown as the
// confirmation: bytes read and written and the time in all, or the size-limit refusal
// the request itself would get.

import { config, postJSON } from "./api.js";
import { humanSize } from "./details.js";
import { datetimeParam, subsetArea } from "./state.js";

const $ = (id) => document.getElementById(id);

export function searchBody(state) {
  // The subset request for every VERIFIED swath of the search (the map's area, days and
  // collection), cut to its area; null without an area. The orbit filter has no part in a
  // subset request: with one, the request would cut more than the map lists.
  const area = subsetArea(state);
  if (!area || state.orbit) return null;
  const search = area.bbox ? { bbox: area.bbox } : { intersects: area.geometry };
  const dt = datetimeParam(state.start, state.end);
  if (dt) search.datetime = dt;
  if (state.collection) search.collections = [state.collection];
  return { ...area, search };
}

const subsets = (n) => `${n} subset${n === 1 ? "" : "s"}`;

function seconds(s) {
  if (s < 1) return "under a second";
  return s < 120 ? `${Math.ceil(s)} s` : `${(s / 60).toFixed(1)} min`;
}

export class CutAll {
  constructor({ getState, onCut }) {
    this.getState = getState;
    this.onCut = onCut; // after a request is made: refresh "Your subsets"
    this.section = $("cut-all");
    this.body = null; // the subset request of the search shown
    this.generation = 0; // bumps when the search changes: stale answers are dropped
    $("cut-all-button").addEventListener("click", () => this.estimate());
    $("cut-all-confirm").addEventListener("click", () => this.cut());
    $("cut-all-cancel").addEventListener("click", () => this.reset());
  }

  update(matched, about = "") {
    // After every search: offered to a signed-in user for a search with an area and results.
    this.generation += 1;
    this.reset();
    const state = this.getState();
    const body = config.user && matched ? searchBody(state) : null;
    const orbit = config.user && matched && subsetArea(state) && state.orbit;
    this.section.hidden = !body && !orbit;
    this.body = body;
    $("cut-all-button").textContent = `Cut all ${about}${matched} result${matched === 1 ? "" : "s"}`;
    $("cut-all-button").disabled = !body;
    if (orbit) $("cut-all-status").textContent = "A subset request cannot filter by orbit: clear the orbit to cut all results.";
  }

  reset() {
    $("cut-all-button").disabled = false;
    $("cut-all-ask").hidden = true;
    $("cut-all-estimate").textContent = "";
    $("cut-all-status").textContent = "";
    $("cut-all-status").classList.remove("error");
  }

  async estimate() {
    const gen = this.generation;
    const out = $("cut-all-status");
    this.reset();
    $("cut-all-button").disabled = true;
    out.textContent = "Estimating every cut…";
    try {
      const e = await postJSON(`${config.subsets}estimate`, this.body);
      if (gen !== this.generation) return;
      out.textContent = "";
      $("cut-all-estimate").textContent = `${subsets(e.count)}: about ${humanSize(e.bytes_read)} to read from the archive, `
        + `${humanSize(e.bytes_written)} of files, ${seconds(e.seconds)} of cutting in all.`;
      if (e.refused) {
        out.textContent = `This request would be refused: ${e.refused.error}`;
        out.classList.add("error");
        $("cut-all-button").disabled = false;
        return;
      }
      $("cut-all-confirm").textContent = `Cut ${e.count === 1 ? "this subset" : `these ${e.count} subsets`}`;
      $("cut-all-ask").hidden = false;
      $("cut-all-confirm").focus();
    } catch (err) {
      if (gen !== this.generation) return;
      out.textContent = `No estimate: ${err.message}`;
      out.classList.add("error");
      $("cut-all-button").disabled = false;
    }
  }

  async cut() {
    const gen = this.generation;
    const out = $("cut-all-status");
    $("cut-all-ask").hidden = true;
    out.textContent = "Asking for the subsets…";
    try {
      const made = await postJSON(config.subsets, this.body);
      if (gen !== this.generation) return;
      out.textContent = `${subsets(made.count)} asked for: they are listed under "Your subsets".`;
    } catch (err) {
      if (gen !== this.generation) return;
      out.textContent = `The subsets were not made: ${err.message}`;
      out.classList.add("error");
    } finally {
      if (gen === this.generation) $("cut-all-button").disabled = false;
    }
    this.onCut();
  }
}
