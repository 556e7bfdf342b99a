// How many swaths fall in each period of the search's time range.
//
// Bars of a day, a month or a year come from one /stac/aggregate request
// (datetime_frequency): the swaths that start in each period, counted exactly. Other
// periods, which the aggregation does not have, are one STAC search each with limit=1
// whose numberMatched is the count of swaths overlapping that period (so a swath
// spanning a boundary counts in both bars): at most MAX_BINS + 1 requests,
// CONCURRENCY at a time.

import { aggregateUrl, getJSON, searchUrl } from "./api.js";
import { searchParams } from "./state.js";

const MAX_BINS = 24;
const CONCURRENCY = 4;
const HOUR = 3600e3;
const DAY = 24 * HOUR;

const UNITS = [
  { name: "5 minutes", fixed: HOUR / 12 },
  { name: "15 minutes", fixed: HOUR / 4 },
  { name: "hour", fixed: HOUR },
  { name: "3 hours", fixed: 3 * HOUR },
  { name: "6 hours", fixed: 6 * HOUR },
  { name: "day", fixed: DAY },
  { name: "week", fixed: 7 * DAY },
  { name: "month", months: 1 },
  { name: "quarter", months: 3 },
  { name: "year", months: 12 },
  { name: "5 years", months: 60 },
  { name: "decade", months: 120 },
];

function floorTo(ms, unit) {
  const d = new Date(ms);
  if (unit.fixed >= DAY) return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
  if (unit.fixed) return Math.floor(ms / unit.fixed) * unit.fixed;
  const months = d.getUTCFullYear() * 12 + d.getUTCMonth();
  const start = months - (months % unit.months);
  return Date.UTC(Math.floor(start / 12), start % 12, 1);
}

function step(ms, unit) {
  if (unit.fixed) return ms + unit.fixed;
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + unit.months, 1);
}

export function makeBins(fromMs, toMs) {
  // Periods covering [fromMs, toMs] in the smallest unit that needs at most MAX_BINS bars.
  for (const unit of UNITS) {
    const edges = [];
    let t = floorTo(fromMs, unit);
    while (t <= toMs && edges.length <= MAX_BINS) {
      const next = step(t, unit);
      edges.push({ start: Math.max(t, fromMs), end: Math.min(next, toMs + 1) });
      t = next;
    }
    if (edges.length <= MAX_BINS) return { unit, bins: edges };
  }
  return null;
}

const iso = (ms) => new Date(ms).toISOString().replace(".000Z", "Z");
const day = (ms) => new Date(ms).toISOString().slice(0, 10);

export function binLabel(bin, unit) {
  const s = new Date(bin.start).toISOString();
  if (unit.fixed && unit.fixed < DAY) return `${s.slice(0, 10)} ${s.slice(11, 16)} UTC`;
  if (unit.name === "day") return s.slice(0, 10);
  if (unit.name === "month") return s.slice(0, 7);
  if (unit.name === "year") return s.slice(0, 4);
  return `${day(bin.start)} to ${day(bin.end - 1)}`;
}

async function extent(state, features, signal) {
  // The time range to chart: the search's own dates, else the matches' first and last starts.
  const from = state.start ? Date.parse(`${state.start}T00:00:00Z`) : null;
  const to = state.end ? Date.parse(`${state.end}T23:59:59.999Z`) : null;
  if (from !== null && to !== null) return [from, to];
  const newest = features[0]?.properties.start_time;
  const params = searchParams(state, { limit: 1, fields: "id,properties.datetime" });
  params.set("sortby", "datetime");
  const oldest = (await getJSON(searchUrl(params), { signal })).features[0]?.properties.datetime;
  if (!newest || !oldest) return null;
  return [from ?? Date.parse(oldest), to ?? Date.parse(newest)];
}

export async function computeHistogram(state, features, signal) {
  // Return {unit, bins: [{start, end, count, estimated}]} or null when there is nothing to chart.
  if (!features.length) return null;
  const range = await extent(state, features, signal);
  if (!range || range[1] < range[0]) return null;
  const made = makeBins(range[0], range[1]);
  if (!made) return null;
  if (AGGREGATED.has(made.unit.name)) return aggregated(state, range, made, signal);
  const base = searchParams({ ...state, start: "", end: "", validmin: "" }, { limit: 1, fields: "id" });
  let next = 0;
  const worker = async () => {
    while (next < made.bins.length) {
      const bin = made.bins[next++];
      const params = new URLSearchParams(base);
      params.set("datetime", `${iso(bin.start)}/${iso(bin.end - 1)}`);
      const body = await getJSON(searchUrl(params), { signal });
      bin.count = body.numberMatched ?? body.numberReturned;
      bin.estimated = Boolean(body.numberMatchedEstimated);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return made;
}

const AGGREGATED = new Set(["day", "month", "year"]);

async function aggregated(state, range, made, signal) {
  // One request for every bar: the search's filters over the charted range.
  // The bars count the swaths over the area whatever their valid share: /stac/aggregate
  // does not take the valid fraction (only search pages compute it).
  const params = searchParams({ ...state, start: "", end: "", validmin: "" }, { fields: "" });
  params.delete("limit");
  params.set("datetime", `${iso(range[0])}/${iso(range[1])}`);
  params.set("aggregations", "datetime_frequency");
  params.set("datetime_frequency_interval", made.unit.name);
  const body = await getJSON(aggregateUrl(params), { signal });
  const counts = new Map(body.aggregations[0].buckets.map((b) => [Date.parse(b.key), b.frequency]));
  for (const bin of made.bins) {
    bin.count = counts.get(floorTo(bin.start, made.unit)) ?? 0;
    bin.estimated = false;
  }
  made.byStart = true;
  return made;
}

export function renderHistogram(section, caption, bars, made, onPick) {
  if (!made) {
    section.hidden = true;
    return;
  }
  const { unit, bins } = made;
  const max = Math.max(1, ...bins.map((b) => b.count));
  const pickable = !unit.fixed || unit.fixed >= DAY;
  const fragment = document.createDocumentFragment();
  for (const bin of bins) {
    const label = `${binLabel(bin, unit)}: ${bin.estimated ? "about " : ""}${bin.count} swath${bin.count === 1 ? "" : "s"}`;
    // Whole days, months or years can be searched with a click; shorter periods cannot
    // (the form holds days), so their bars are pictures, not buttons.
    const b = document.createElement(pickable ? "button" : "span");
    b.className = "bar";
    b.title = label;
    b.style.setProperty("--h", `${Math.round((100 * bin.count) / max)}%`);
    if (pickable) {
      b.type = "button";
      b.setAttribute("aria-label", `${label}; search this period`);
      b.disabled = bin.count === 0;
      b.addEventListener("click", () => onPick(day(bin.start), day(bin.end - 1)));
    } else {
      b.setAttribute("role", "img");
      b.setAttribute("aria-label", label);
    }
    fragment.append(b);
  }
  bars.replaceChildren(fragment);
  const first = binLabel(bins[0], unit);
  const last = binLabel(bins[bins.length - 1], unit);
  const per = made.byStart ? `Swaths starting each ${unit.name}` : `Swaths per ${unit.name}`;
  caption.textContent = `${per}, ${first} to ${last} (tallest bar: ${max}).`
    + (pickable ? " Select a bar to search that period." : "");
  section.hidden = false;
}
