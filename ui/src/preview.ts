// Preview before publish: the editor's draft replayed over the stored
// history (POST /v1/definitions/preview) beside the published version —
// what it would have done to scores, bands, thresholds and CRM tasks.

import { api, type APIError } from "./api";
import { empty, h, table } from "./dom";

interface Tasks {
  total: number;
  per_day: Record<string, number>;
}
interface ModelFigures {
  contacts: number;
  mean: number;
  bands: Record<string, number>;
  thresholds: Record<string, { crossings: number; per_day: Record<string, number> }>;
  tasks: Tasks;
  top_rules: { rule: string; kind: string; points: number; hits: number }[];
}
interface Pair<T> {
  published: T;
  draft: T;
}
interface Report {
  contacts: number;
  events: number;
  seconds: number;
  sampled: boolean;
  tasks: Pair<Tasks>;
  models: {
    id: string;
    published_version: number;
    figures: Pair<ModelFigures>;
    histogram: { from: number; to: number; published: number; draft: number }[];
    band_changes: { contacts: number; by_change: Record<string, number>; examples: { contact_id: string; from: string; to: string; published_score: number; draft_score: number }[] };
  }[];
  flows: { id: string; published_version: number; figures: Pair<{ entries: number; completed: number; exited: number; tasks: Tasks }> }[];
  segments: { id: string; published_version: number; figures: Pair<{ members: number; entered: number; exited: number }> }[];
}

// previewPanel returns the controls and the result area; draft() gives the
// editor's text when the button is pressed.
export function previewPanel(draft: () => string): HTMLElement {
  const since = h("select", { id: "preview-since", "aria-label": "Window" }, ["30d", "90d", "180d", "365d"].map((d) => h("option", { value: d }, `last ${d.replace("d", " days")}`)));
  since.value = "90d";
  const run = h("button", { type: "button", id: "preview" }, "Preview");
  const out = h("div", { id: "preview-result", "aria-live": "polite" });
  run.addEventListener("click", async () => {
    let documents: unknown;
    try {
      documents = JSON.parse(draft());
    } catch {
      out.replaceChildren(h("p", { class: "error", role: "alert" }, "The draft is not JSON yet."));
      return;
    }
    run.disabled = true;
    out.replaceChildren(h("p", { role: "status" }, "Replaying the stored history…"));
    try {
      const r = await api<Report>("POST", "/v1/definitions/preview", { documents, since: since.value });
      out.replaceChildren(...render(r));
    } catch (err) {
      const e = err as APIError;
      const list = h("ul", { class: "draft-errors" }, e.details.map((d) => h("li", {}, h("span", { class: "mono" }, d.path || "(document)"), ": ", d.message)));
      out.replaceChildren(h("p", { class: "error", role: "alert" }, "No preview: " + e.message), ...(e.details.length ? [list] : []));
    } finally {
      run.disabled = false;
    }
  });
  return h(
    "div",
    { class: "preview" },
    h("p", { class: "sub" }, "What would this draft have done? The stored events of the window are replayed through it and through the published version; nothing is written and nothing is sent."),
    h("div", { class: "actions" }, since, run),
    out,
  );
}

function render(r: Report): HTMLElement[] {
  const out: HTMLElement[] = [
    h("p", { id: "preview-summary", class: "sub" }, `${r.contacts} contacts and ${r.events} events replayed in ${r.seconds} s${r.sampled ? " (a sample)" : ""}. CRM tasks in the window: ${r.tasks.published.total} published, ${r.tasks.draft.total} with the draft.`),
  ];
  if (r.contacts === 0) out.push(empty("No contact had events in this window."));
  const row = (name: string, p: number | string, d: number | string) => [name, String(p), String(d), delta(p, d)];
  for (const m of r.models) {
    const p = m.figures.published;
    const d = m.figures.draft;
    const bands = [...new Set([...Object.keys(p.bands), ...Object.keys(d.bands)])].sort();
    const ths = [...new Set([...Object.keys(p.thresholds), ...Object.keys(d.thresholds)])].sort();
    const rows = [
      row("Contacts with a score", p.contacts, d.contacts),
      row("Mean score", p.mean, d.mean),
      ...bands.map((b) => row(`Band ${b || "(none)"}`, p.bands[b] ?? 0, d.bands[b] ?? 0)),
      ...ths.map((t) => row(`Threshold ${t} crossings`, p.thresholds[t]?.crossings ?? 0, d.thresholds[t]?.crossings ?? 0)),
      row("CRM tasks from thresholds", p.tasks.total, d.tasks.total),
    ];
    const changes = Object.entries(m.band_changes.by_change).map(([c, n]) => `${c}: ${n}`).join(", ");
    out.push(
      h(
        "div",
        { class: "preview-model", "data-model": m.id },
        h("h3", {}, `Score model ${m.id}`, m.published_version ? ` (replaces v${m.published_version})` : " (new)"),
        table(`Score model ${m.id}: published and draft`, ["", "Published", "Draft", "Change"], rows),
        h("p", { class: "band-changes" }, m.band_changes.contacts ? `${m.band_changes.contacts} contacts would change band (${changes}).` : "No contact would change band."),
        m.band_changes.examples.length
          ? table("Examples of band changes", ["Contact", "Published", "Draft"], m.band_changes.examples.slice(0, 10).map((e) => [
              h("a", { href: "#/contacts/" + encodeURIComponent(e.contact_id) }, e.contact_id),
              `${e.from || "(none)"} · ${e.published_score}`,
              `${e.to || "(none)"} · ${e.draft_score}`,
            ]))
          : null,
        d.top_rules.length ? h("p", { class: "sub" }, "Most points with the draft: ", d.top_rules.slice(0, 5).map((t) => `${t.rule} ${t.points > 0 ? "+" : ""}${t.points} (${t.hits} hits)`).join(", ")) : null,
      ),
    );
  }
  for (const f of r.flows) {
    const p = f.figures.published;
    const d = f.figures.draft;
    out.push(
      h(
        "div",
        { class: "preview-flow", "data-flow": f.id },
        h("h3", {}, `Flow ${f.id}`, f.published_version ? ` (replaces v${f.published_version})` : " (new)"),
        table(`Flow ${f.id}: published and draft`, ["", "Published", "Draft", "Change"], [
          row("Entries", p.entries, d.entries),
          row("Completed", p.completed, d.completed),
          row("Exited", p.exited, d.exited),
          row("CRM tasks", p.tasks.total, d.tasks.total),
        ]),
      ),
    );
  }
  for (const s of r.segments) {
    const p = s.figures.published;
    const d = s.figures.draft;
    out.push(
      h(
        "div",
        { class: "preview-segment", "data-segment": s.id },
        h("h3", {}, `Segment ${s.id}`, s.published_version ? ` (replaces v${s.published_version})` : " (new)"),
        table(`Segment ${s.id}: published and draft`, ["", "Published", "Draft", "Change"], [
          row("Members at the end", p.members, d.members),
          row("Entered", p.entered, d.entered),
          row("Exited", p.exited, d.exited),
        ]),
      ),
    );
  }
  return out;
}

function delta(p: number | string, d: number | string): string {
  if (typeof p !== "number" || typeof d !== "number") return "";
  const x = Math.round((d - p) * 100) / 100;
  return x === 0 ? "—" : (x > 0 ? "+" : "") + x;
}
