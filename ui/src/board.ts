// The leads board: the hot list of one score model, filtered, sorted by
// score, refreshed every few seconds.

import { api, q, type Definition, type Leads } from "./api";
import { bandBadge, changed, empty, fmtScore, fmtTime, h, keepFocus } from "./dom";

const POLL_MS = 3000;
const PAGE = 50;

// Filters survive navigation to a contact and back.
const state: Record<string, string> = { model: "main", band: "", segment: "", owner: "", stage: "", disqualified: "false", q: "" };

export function boardPage(main: HTMLElement) {
  let stopped = false;
  let timer = 0;
  let shown = PAGE;
  let nextCursor: string | undefined;

  const field = (id: string, label: string, control: HTMLInputElement | HTMLSelectElement) => {
    control.id = "f-" + id;
    control.name = id;
    control.value = state[id];
    let debounce = 0;
    const onChange = () => {
      state[id] = control.value;
      shown = PAGE;
      window.clearTimeout(debounce);
      debounce = window.setTimeout(load, control instanceof HTMLSelectElement ? 0 : 250);
    };
    control.addEventListener(control instanceof HTMLSelectElement ? "change" : "input", onChange);
    return h("div", { class: "field" }, h("label", { for: control.id }, label), control);
  };
  const opt = (value: string, text: string) => h("option", { value }, text);
  const model = h("select", {}, opt(state.model, state.model));
  const band = h("select", {}, opt("", "any band"));
  const segment = h("select", {}, opt("", "any segment"));
  const disq = h("select", {}, opt("false", "not disqualified"), opt("true", "disqualified"), opt("", "all"));
  const search = h("input", { type: "search", placeholder: "email or contact id", autocomplete: "off" });
  const owner = h("input", { type: "text", autocomplete: "off" });
  const stage = h("input", { type: "text", autocomplete: "off" });

  const status = h("p", { class: "status", role: "status", "aria-live": "polite" });
  const body = h("div", { id: "board" });
  const more = h("button", { type: "button", id: "more", hidden: true }, "Show more");
  more.addEventListener("click", async () => {
    if (!nextCursor) return;
    shown += PAGE;
    await load();
  });

  main.replaceChildren(
    h("h1", {}, "Leads"),
    h(
      "form",
      { class: "filters card", role: "search", "aria-label": "Filter leads", onsubmit: (e: Event) => e.preventDefault() },
      field("model", "Score model", model),
      field("band", "Band", band),
      field("segment", "Segment", segment),
      field("owner", "Owner", owner),
      field("stage", "Stage", stage),
      field("disqualified", "Disqualified", disq),
      field("q", "Search", search),
    ),
    status,
    body,
    more,
  );

  // Models and segments for the selects.
  api<{ definitions: Definition[] }>("GET", "/v1/definitions").then((r) => {
    const models = r.definitions.filter((d) => d.kind === "score_model");
    model.replaceChildren(...models.map((d) => opt(d.id, d.body?.name ? `${d.body.name} (${d.id})` : d.id)));
    if (!models.some((d) => d.id === state.model) && models.length) state.model = models[0].id;
    model.value = state.model;
    segment.replaceChildren(opt("", "any segment"), ...r.definitions.filter((d) => d.kind === "segment").map((d) => opt(d.id, d.body?.name ?? d.id)));
    segment.value = state.segment;
  }).catch(() => {});

  async function load() {
    window.clearTimeout(timer);
    try {
      // One request for everything shown: the refresh keeps the rows the
      // user paged to, with fresh scores.
      const r = await api<Leads>("GET", "/v1/leads" + q({ ...state, limit: String(shown) }));
      if (stopped) return;
      const cur = band.value;
      band.replaceChildren(opt("", "any band"), ...r.bands.map((b) => opt(b.name, b.name)));
      band.value = r.bands.some((b) => b.name === cur) ? cur : "";
      nextCursor = r.next_cursor;
      more.hidden = !nextCursor;
      if (changed(body, r)) keepFocus(body, () => render(r));
      status.textContent = `${r.leads.length}${nextCursor ? "+" : ""} leads · updated ${new Date().toLocaleTimeString()}`;
    } catch (err) {
      if (stopped) return;
      status.textContent = "Could not load the leads: " + (err as Error).message;
    }
    if (!stopped) timer = window.setTimeout(load, POLL_MS);
  }

  function render(r: Leads) {
    if (!r.leads.length) {
      body.replaceChildren(empty("No leads match these filters."));
      return;
    }
    const rows = r.leads.map((l) => {
      const tr = h(
        "tr",
        { "data-contact": l.contact_id, "data-band": l.band, "data-key": l.contact_id },
        h("td", { class: "num score" }, fmtScore(l.score)),
        h("td", {}, bandBadge(l.band, l.band_color)),
        h("td", {}, h("a", { href: "#/contacts/" + encodeURIComponent(l.contact_id) }, l.email || l.contact_id), l.email ? h("div", { class: "sub" }, l.contact_id) : null),
        h("td", {}, l.owner || "—"),
        h("td", {}, l.stage || "—", l.disqualified ? h("div", { class: "sub dq" }, "disqualified") : null),
        h("td", {}, fmtTime(l.last_activity)),
      );
      if (l.band_color) tr.style.borderLeftColor = l.band_color;
      return tr;
    });
    body.replaceChildren(
      h(
        "div",
        { class: "tablewrap" },
        h(
          "table",
          { class: "leads" },
          h("caption", { class: "sr" }, `Leads in score model ${r.model}, highest score first`),
          h("thead", {}, h("tr", {}, ["Score", "Band", "Contact", "Owner", "Stage", "Last activity"].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, rows),
        ),
      ),
    );
  }

  const onVisible = () => {
    if (!document.hidden) load();
  };
  document.addEventListener("visibilitychange", onVisible);
  load();
  return () => {
    stopped = true;
    window.clearTimeout(timer);
    document.removeEventListener("visibilitychange", onVisible);
  };
}
