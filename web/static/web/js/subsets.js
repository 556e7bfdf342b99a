// The signed-in user's subsets, newest first: those cut from this page and those a
// standing order (POST /api/v1/regions/) made, with their state and download link.

import { config, getJSON } from "./api.js";
import { humanSize } from "./details.js";

const STATE_TEXT = { QUEUED: "queued", RUNNING: "being cut", DONE: "ready", EMPTY: "no data in the area", FAILED: "failed" };

export class SubsetList {
  constructor(section) {
    this.section = section;
    this.list = section.querySelector("ol");
    this.status = section.querySelector(".status");
    section.querySelector("button").addEventListener("click", () => this.load());
  }

  async load() {
    if (!config.user) return; // products are private: nothing to list before signing in
    this.section.hidden = false;
    this.status.textContent = "Loading your subsets…";
    try {
      const body = await getJSON(config.subsets);
      this.render(body.products);
      this.status.textContent = body.count ? "" : "No subsets yet: cut an area, or place a standing order.";
    } catch (e) {
      this.status.textContent = `Your subsets cannot be listed: ${e.message}`;
    }
  }

  render(products) {
    this.list.replaceChildren(...products.map((p) => {
      const li = document.createElement("li");
      li.dataset.id = p.id;
      const title = document.createElement("span");
      title.className = "title";
      title.textContent = `Subset ${p.id}` + (p.region ? ` · order ${p.region}` : "");
      const what = document.createElement("span");
      what.className = "what";
      what.textContent = `${STATE_TEXT[p.state] || p.state}`
        + (p.result_size != null ? ` · ${humanSize(p.result_size)}` : "")
        + (p.state === "FAILED" && p.error ? `: ${p.error}` : "");
      li.append(title, what);
      if (p.download) {
        const a = document.createElement("a");
        a.href = p.download;
        a.textContent = "Download";
        a.setAttribute("download", "");
        li.append(a);
      }
      return li;
    }));
  }
}
