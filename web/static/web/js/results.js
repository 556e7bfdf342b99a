// The results list: one button per swath, kept in step with the map.

export function formatTime(iso) {
  return iso ? `${iso.slice(0, 10)} ${iso.slice(11, 19)}` : "?";
}

export function timeRange(start, end) {
  if (!start) return "time unknown";
  if (end && end.slice(0, 10) === start.slice(0, 10)) {
    return `${formatTime(start)}–${end.slice(11, 19)} UTC`;
  }
  return `${formatTime(start)} – ${formatTime(end)} UTC`;
}

export class ResultList {
  constructor(list, { onHover, onSelect }) {
    this.list = list;
    this.items = new Map(); // uuid -> <li>
    this.onHover = onHover;
    this.onSelect = onSelect;
    const button = (e) => e.target.closest("button[data-id]");
    list.addEventListener("mouseover", (e) => {
      const b = button(e);
      if (b && !b.contains(e.relatedTarget)) onHover(b.dataset.id, true);
    });
    list.addEventListener("mouseout", (e) => {
      const b = button(e);
      if (b && !b.contains(e.relatedTarget)) onHover(b.dataset.id, false);
    });
    list.addEventListener("focusin", (e) => button(e) && onHover(button(e).dataset.id, true));
    list.addEventListener("focusout", (e) => button(e) && onHover(button(e).dataset.id, false));
    list.addEventListener("click", (e) => button(e) && onSelect(button(e).dataset.id, { from: "list" }));
    list.addEventListener("keydown", (e) => this.keydown(e));
  }

  keydown(e) {
    const buttons = [...this.list.querySelectorAll("button[data-id]")];
    const i = buttons.indexOf(document.activeElement);
    if (i < 0) return;
    const to = { ArrowDown: i + 1, ArrowUp: i - 1, Home: 0, End: buttons.length - 1 }[e.key];
    if (to === undefined) return;
    e.preventDefault();
    buttons[Math.max(0, Math.min(buttons.length - 1, to))].focus();
  }

  render(features, offset) {
    this.items.clear();
    const fragment = document.createDocumentFragment();
    features.forEach((f, k) => {
      const p = f.properties;
      const li = document.createElement("li");
      li.value = offset + k + 1;
      const b = document.createElement("button");
      b.type = "button";
      b.dataset.id = f.id;
      const title = document.createElement("span");
      title.className = "title";
      title.textContent = p.granule_id;
      const when = document.createElement("span");
      when.className = "when";
      when.textContent = timeRange(p.start_time, p.end_time);
      const what = document.createElement("span");
      what.className = "what";
      const orbit = p.orbit != null ? `orbit ${p.orbit}${p.orbit_direction ? ` ${p.orbit_direction.toLowerCase()}` : ""}` : "";
      // The share of valid pixels over the searched area, when the search asked for a minimum.
      const valid = p.valid_fraction != null ? `${Math.round(p.valid_fraction * 100)} % valid` : "";
      what.textContent = [p.platform, orbit, p.collection, valid, f.geometry ? "" : "no footprint"]
        .filter(Boolean).join(" · ");
      b.append(title, when, what);
      li.append(b);
      fragment.append(li);
      this.items.set(f.id, li);
    });
    this.list.replaceChildren(fragment);
  }

  highlight(id, on) {
    this.items.get(id)?.classList.toggle("hover", on);
  }

  select(id, { scroll = false } = {}) {
    for (const li of this.list.querySelectorAll("li.selected")) {
      li.classList.remove("selected");
      li.querySelector("button").removeAttribute("aria-current");
    }
    const li = this.items.get(id);
    if (!li) return;
    li.classList.add("selected");
    li.querySelector("button").setAttribute("aria-current", "true");
    if (scroll) li.scrollIntoView({ block: "nearest" });
  }
}
