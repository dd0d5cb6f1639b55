// A contact's page: who they are, each score with its band, a chart of the
// score over time and the ledger entries that sum to it, and what happened
// to them (events, segments, flow runs, CRM tasks).

import { api, q, type Band, type Contact, type Definition, type LedgerEntry, type Task, type Timeline } from "./api";
import { bandBadge, changed, empty, fmtPoints, fmtScore, fmtTime, h, keepFocus, s, section, table } from "./dom";

const POLL_MS = 5000;

export function contactPage(main: HTMLElement, id: string) {
  let stopped = false;
  let timer = 0;
  const shown = {}; // what this page last rendered
  main.replaceChildren(h("p", { role: "status" }, "Loading…"));

  async function load() {
    try {
      const enc = encodeURIComponent(id);
      const [c, hist, tl, tasks, defs] = await Promise.all([
        api<Contact>("GET", `/v1/contacts/${enc}`),
        api<{ entries: LedgerEntry[]; totals: Record<string, number> }>("GET", `/v1/contacts/${enc}/score-history`),
        api<Timeline>("GET", `/v1/contacts/${enc}/timeline`),
        api<{ tasks: Task[] }>("GET", "/v1/tasks" + q({ contact_id: id })),
        api<{ definitions: Definition[] }>("GET", "/v1/definitions" + q({ kind: "score_model" })),
      ]);
      if (stopped) return;
      const bands: Record<string, Band[]> = {};
      for (const d of defs.definitions) bands[d.id] = d.body?.bands ?? [];
      if (changed(shown, [c, hist, tl, tasks, bands])) {
        const scrollY = window.scrollY;
        const open = [...main.querySelectorAll("details")].map((d) => d.open);
        keepFocus(main, () => render(c, hist.entries, tl, tasks.tasks, bands));
        main.querySelectorAll("details").forEach((d, i) => (d.open = open[i] ?? false));
        window.scrollTo(0, scrollY);
      }
    } catch (err) {
      if (stopped) return;
      main.replaceChildren(h("h1", {}, id), h("p", { class: "error", role: "alert" }, (err as Error).message));
    }
    if (!stopped) timer = window.setTimeout(load, POLL_MS);
  }

  function render(c: Contact, entries: LedgerEntry[], tl: Timeline, tasks: Task[], bands: Record<string, Band[]>) {
    const models = Object.keys(c.scores).sort();
    const fields = Object.entries(c.fields).sort(([a], [b]) => a.localeCompare(b));
    main.replaceChildren(
      h("p", {}, h("a", { href: "#/leads" }, "← Leads")),
      h("h1", {}, c.email || c.contact_id),
      h(
        "section",
        { class: "card", "aria-labelledby": "s-profile" },
        h("h2", { id: "s-profile" }, "Profile"),
        h(
          "dl",
          { class: "facts" },
          h("dt", {}, "Contact id"), h("dd", {}, c.contact_id),
          h("dt", {}, "Email"), h("dd", {}, c.email || "—"),
          h("dt", {}, "Stage"), h("dd", { id: "stage" }, c.stage || "—"),
          h("dt", {}, "Disqualified"), h("dd", { id: "disqualified" }, c.disqualified ? `yes — ${c.disqualified_reason || "no reason given"}` : "no"),
          h("dt", {}, "Account"), h("dd", {}, c.account_id ?? "—"),
          h("dt", {}, "Tags"), h("dd", { id: "tags" }, c.tags.length ? c.tags.map((t) => h("span", { class: "tag" }, t)) : "—"),
          h("dt", {}, "Created"), h("dd", {}, fmtTime(c.created_at)),
        ),
        fields.length ? table("Fields", ["Field", "Value"], fields.map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)])) : empty("No fields."),
      ),
      ...models.map((m) => scoreSection(m, c.scores[m], entries.filter((e) => e.model === m), bands[m] ?? [])),
      section(
        "Segments",
        tl.segments.length ? table("Segments the contact is in", ["Segment", "Entered"], tl.segments.map((x) => [x.segment_id, fmtTime(x.entered_at)])) : empty("In no segment."),
        tl.segment_history.length
          ? h("details", {}, h("summary", {}, "Entries and exits"), table("Segment history", ["When", "Segment", "Change", "Event"], tl.segment_history.map((x) => [fmtTime(x.at), x.segment_id, x.change, x.event_id || "—"])))
          : null,
      ),
      section(
        "Flow runs",
        tl.flow_runs.length
          ? table(
              "Flow runs, newest first",
              ["Flow", "Status", "Step", "Waiting for", "Started", "Finished"],
              tl.flow_runs.map((r) => [
                h("a", { href: "#/flows/" + encodeURIComponent(r.flow_id) }, `${r.flow_id} v${r.flow_version}`),
                r.status + (r.error ? ` (${r.error})` : ""),
                r.step_id || "—",
                waitText(r),
                fmtTime(r.started_at),
                fmtTime(r.finished_at),
              ]),
            )
          : empty("No flow runs."),
      ),
      section(
        "CRM tasks",
        tasks.length
          ? table("CRM tasks, newest first", ["Created", "Title", "Assignee", "Due", "Reason", "Delivery"], tasks.map((t) => [fmtTime(t.created_at), t.title, t.assignee || "—", fmtTime(t.due_at), t.reason, t.delivery_status]))
          : empty("No CRM tasks."),
      ),
      section(
        "Timeline",
        tl.events.length
          ? table(
              "Events, newest first",
              ["When", "Event", "Properties", "Applied"],
              tl.events.map((e) => [fmtTime(e.occurred_at), h("span", { class: "mono" }, e.type), h("span", { class: "mono small" }, compact(e.properties)), e.quarantined ? "quarantined" : e.applied_at ? fmtTime(e.applied_at) : "pending"]),
            )
          : empty("No events."),
      ),
    );
  }

  load();
  return () => {
    stopped = true;
    window.clearTimeout(timer);
  };
}

function compact(p: Record<string, unknown>): string {
  const s = JSON.stringify(p ?? {});
  return s === "{}" ? "—" : s.length > 120 ? s.slice(0, 117) + "…" : s;
}

function waitText(r: Timeline["flow_runs"][number]): string {
  if (r.status !== "waiting") return "—";
  const parts: string[] = [];
  if (r.wait_event) parts.push(`event ${r.wait_event}`);
  else if (r.wait_kind) parts.push(r.wait_kind.replace(/_/g, " "));
  if (r.wait_until) parts.push((r.wait_event ? "until " : "") + fmtTime(r.wait_until));
  return parts.join(", ") || "—";
}

function scoreSection(model: string, sc: Contact["scores"][string], entries: LedgerEntry[], bands: Band[]): HTMLElement {
  const sum = entries.reduce((a, e) => a + e.points, 0);
  const id = "m-" + model;
  const rows = entries.map((e) =>
    h(
      "tr",
      { "data-points": String(e.points), ...(e.pending ? { class: "pending", "data-pending": "true" } : {}) },
      h("td", {}, fmtTime(e.at)),
      h("td", { class: "num " + (e.points < 0 ? "neg" : "pos") }, fmtPoints(e.points)),
      h("td", {}, e.kind),
      h("td", {}, e.reason, e.expires_at ? h("div", { class: "sub" }, (e.expired ? "expired " : "expires ") + fmtTime(e.expires_at)) : null),
      h("td", {}, e.rule_id ? `${e.rule_id}${e.model_version ? ` (model v${e.model_version})` : ""}` : "—"),
      h("td", {}, e.flow_id ? `${e.flow_id} v${e.flow_version}` : "—"),
      h("td", {}, e.step_id || "—"),
      h("td", { class: "mono small" }, e.event_id || "—"),
    ),
  );
  return h(
    "section",
    { class: "card score-card", "aria-labelledby": id, "data-model": model },
    h("h2", { id }, `Score: ${model}`),
    h(
      "p",
      { class: "bigscore" },
      h("span", { class: "score-value", id: "score-" + model }, fmtScore(sc.score)),
      " points · ",
      bandBadge(sc.band, sc.color),
      h("span", { class: "sub" }, ` profile ${fmtScore(sc.profile)}, engagement ${fmtScore(sc.engagement)}`),
    ),
    chart(model, entries, bands),
    h("h3", {}, "Why: every entry of the ledger"),
    h(
      "div",
      { class: "tablewrap" },
      h(
        "table",
        { class: "ledger", id: "ledger-" + model },
        h("caption", { class: "sr" }, `Ledger of ${model}, oldest first, summing to the score`),
        h("thead", {}, h("tr", {}, ["When", "Points", "Kind", "Reason", "Rule", "Flow", "Step", "Event"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, rows),
        h(
          "tfoot",
          {},
          h(
            "tr",
            {},
            h("th", { scope: "row" }, "Sum"),
            h("td", { class: "num", id: "sum-" + model }, fmtScore(sum)),
            h("td", { colspan: "6" }, Math.abs(sum - sc.score) < 0.005 ? `= the score, ${fmtScore(sc.score)}` : `the score is ${fmtScore(sc.score)}`),
          ),
        ),
      ),
    ),
  );
}

// chart draws the score over time: the running sum of the ledger (decay
// and expiry are entries too), a step line up to now, band floors dashed.
function chart(model: string, entries: LedgerEntry[], bands: Band[]): Element {
  if (!entries.length) return empty("No score history yet.");
  const pts: [number, number][] = [];
  let run = 0;
  for (const e of entries) {
    run += e.points;
    pts.push([new Date(e.at).getTime(), run]);
  }
  pts.sort((a, b) => a[0] - b[0]);
  const now = Date.now();
  const t0 = pts[0][0];
  const t1 = Math.max(now, pts[pts.length - 1][0] + 1);
  const ys = pts.map((p) => p[1]).concat(0);
  const visibleBands = bands.filter((b) => b.min > Math.min(...ys) - 10 && b.min < Math.max(...ys) + 10);
  let y0 = Math.min(...ys, ...visibleBands.map((b) => b.min));
  let y1 = Math.max(...ys, ...visibleBands.map((b) => b.min));
  if (y1 === y0) y1 = y0 + 1;
  const pad = (y1 - y0) * 0.1;
  y0 -= pad;
  y1 += pad;
  const W = 640, H = 160, L = 40, B = 20;
  const x = (t: number) => L + ((t - t0) / (t1 - t0)) * (W - L - 8);
  const y = (v: number) => 6 + (1 - (v - y0) / (y1 - y0)) * (H - B - 6);
  let d = `M${x(pts[0][0]).toFixed(1)},${y(0).toFixed(1)}`;
  let prev = 0;
  for (const [t, v] of pts) {
    d += ` L${x(t).toFixed(1)},${y(prev).toFixed(1)} L${x(t).toFixed(1)},${y(v).toFixed(1)}`;
    prev = v;
  }
  d += ` L${x(t1).toFixed(1)},${y(prev).toFixed(1)}`;
  const svg = s(
    "svg",
    { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": `${model} score over time, from ${fmtScore(0)} to ${fmtScore(prev)}` },
    s("line", { x1: L, y1: H - B, x2: W, y2: H - B, class: "axis" }),
    s("line", { x1: L, y1: 0, x2: L, y2: H - B, class: "axis" }),
    ...visibleBands.map((b) => [
      s("line", { x1: L, y1: y(b.min), x2: W, y2: y(b.min), class: "bandline", stroke: b.color }),
      s("text", { x: W - 4, y: y(b.min) - 3, "text-anchor": "end", class: "lbl" }, `${b.name} ${b.min}`),
    ]),
    s("text", { x: L - 4, y: y(y1 - pad) + 4, "text-anchor": "end", class: "lbl" }, fmtScore(y1 - pad)),
    s("text", { x: L - 4, y: y(y0 + pad) + 4, "text-anchor": "end", class: "lbl" }, fmtScore(y0 + pad)),
    s("text", { x: L, y: H - 4, class: "lbl" }, new Date(t0).toLocaleDateString()),
    s("text", { x: W - 4, y: H - 4, "text-anchor": "end", class: "lbl" }, "now"),
    s("path", { d, class: "line" }),
    ...pts.map(([t, v]) => s("circle", { cx: x(t), cy: y(v), r: 2.5, class: "pt" }, s("title", {}, `${fmtScore(v)} at ${new Date(t).toLocaleString()}`))),
  );
  return h("figure", { class: "chartwrap" }, svg, h("figcaption", { class: "sub" }, "Score over time (the running sum of the ledger below, decay included)"));
}
