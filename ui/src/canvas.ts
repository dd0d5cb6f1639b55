// Flows drawn as graphs: the trigger, every step, its branches and waits,
// laid out by dagre; live counts of runs per step. Score models drawn as
// their rules, bands and thresholds. Both draw from a document's JSON, so
// a draft that does not validate still draws as far as it can.

import dagre from "@dagrejs/dagre";
import type { Band, StepStats } from "./api";
import { h, s } from "./dom";

interface NodeInfo {
  id: string;
  kind: "trigger" | "wait" | "condition" | "action" | "exit" | "end";
  title: string;
  detail: string;
  stepIndex?: number;
}

interface EdgeInfo {
  from: string;
  to: string;
  label: string;
}

const W = 230;
const H = 70;

function str(v: unknown): string {
  if (v === undefined || v === null) return "";
  if (typeof v === "string") return v;
  return JSON.stringify(v);
}

function condText(c: any): string {
  if (!c || typeof c !== "object") return "?";
  if (Array.isArray(c.all)) return c.all.map(condText).join(" and ");
  if (Array.isArray(c.any)) return "(" + c.any.map(condText).join(" or ") + ")";
  if (c.not) return "not " + condText(c.not);
  if (c.field) return `${c.field} ${c.op ?? ""} ${c.value === undefined ? "" : str(c.value)}`.trim();
  if (c.tag) return `tag ${typeof c.tag === "string" ? c.tag : str(c.tag)}`;
  if (c.segment) return `in segment ${c.segment}`;
  if (c.score) return `score ${c.score.model} ${c.score.op} ${c.score.value}`;
  if (c.band) return `band ${c.band.model} in ${(c.band.in ?? []).join(", ")}`;
  if (c.events) return `events ${str(c.events)}`;
  return str(c);
}

export function triggerText(t: any): string {
  if (!t || typeof t !== "object") return "no trigger";
  const bits = [t.type ?? "?"];
  for (const k of ["segment", "event", "url", "form", "field", "tag", "model"]) if (t[k]) bits.push(`${k} ${str(t[k])}`);
  if (t.to) bits.push(`to ${str(t.to)}`);
  if (t.score !== undefined) bits.push(`score ${t.score}${t.direction ? " " + t.direction : ""}`);
  if (t.offset) bits.push(`offset ${t.offset}`);
  if (Array.isArray(t.filters)) for (const f of t.filters) bits.push(`where ${f.property ?? "?"} ${f.op ?? ""} ${f.value === undefined ? "" : str(f.value)}`.trim());
  return bits.join(" · ");
}

function stepDetail(st: any): string {
  switch (st.type) {
    case "lead_score":
      return `${st.op ?? "add"} ${st.points ?? "?"} to ${st.model ?? "?"}${st.cap ? ` (cap ${st.cap.points}/${st.cap.period})` : ""}`;
    case "add_tag":
      return `add tag ${st.tag ?? "?"}`;
    case "remove_tag":
      return `remove tag ${st.tag ?? "?"}`;
    case "disqualify":
      return `disqualify: ${st.reason ?? ""}`;
    case "update_field":
      return `set ${st.field ?? "?"} = ${str(st.value)}`;
    case "set_stage":
      return `stage → ${st.stage ?? "?"}`;
    case "create_crm_task":
      return `CRM task${st.assignee ? " for " + st.assignee : ""}${st.due_in ? ", due in " + st.due_in : ""}: ${st.title ?? ""}`;
    case "webhook":
      return `POST ${st.url ?? "?"}`;
    case "condition":
      return `if ${condText(st.if)}`;
    case "wait":
      return `wait ${st.duration ?? "?"}`;
    case "wait_until":
      return st.time_of_day ? `wait until ${st.time_of_day} (contact's zone)` : `wait until ${st.field ?? "?"}${st.offset ? " " + st.offset : ""}`;
    case "wait_for_event":
      return `wait for ${st.event ?? "?"}, at most ${st.timeout ?? "?"}`;
    case "exit":
      return "exit the flow";
  }
  return st.type ?? "?";
}

function kindOf(type: string): NodeInfo["kind"] {
  if (type === "wait" || type === "wait_until" || type === "wait_for_event") return "wait";
  if (type === "condition") return "condition";
  if (type === "exit") return "exit";
  return "action";
}

// flowGraph turns a flow document into nodes and edges, as the engine
// follows them (flows.Flow.NextOf and successors).
export function flowGraph(flow: any): { nodes: NodeInfo[]; edges: EdgeInfo[] } {
  const steps: any[] = Array.isArray(flow?.steps) ? flow.steps.filter((x: any) => x && typeof x === "object") : [];
  const nodes: NodeInfo[] = [{ id: "trigger", kind: "trigger", title: "Trigger", detail: triggerText(flow?.trigger) }];
  const edges: EdgeInfo[] = [];
  const ids = new Set<string>();
  steps.forEach((st, i) => {
    const id = String(st.id ?? `#${i}`);
    ids.add(id);
    nodes.push({ id: "s:" + id, kind: kindOf(st.type), title: `${id} · ${st.type ?? "?"}`, detail: stepDetail(st), stepIndex: i });
  });
  let usesEnd = false;
  const target = (ref: string) => {
    if (ref === "end" || !ref) {
      usesEnd = true;
      return "end";
    }
    if (!ids.has(ref)) {
      nodes.push({ id: "s:" + ref, kind: "end", title: `${ref}?`, detail: "no such step" });
      ids.add(ref);
    }
    return "s:" + ref;
  };
  if (steps.length) edges.push({ from: "trigger", to: "s:" + String(steps[0].id ?? "#0"), label: flow?.entry ? `entry ${typeof flow.entry === "string" ? flow.entry : str(flow.entry)}` : "" });
  steps.forEach((st, i) => {
    const from = "s:" + String(st.id ?? `#${i}`);
    const follow = () => (st.next ? st.next : i + 1 < steps.length ? String(steps[i + 1].id ?? `#${i + 1}`) : "end");
    switch (st.type) {
      case "condition":
        edges.push({ from, to: target(st.then), label: "yes" });
        edges.push({ from, to: target(st.else), label: "no" });
        break;
      case "wait_for_event":
        edges.push({ from, to: target(st.on_event), label: `on ${st.event ?? "event"}` });
        edges.push({ from, to: target(st.on_timeout), label: `timeout ${st.timeout ?? ""}`.trim() });
        break;
      case "exit":
        edges.push({ from, to: target("end"), label: "" });
        break;
      default:
        edges.push({ from, to: target(follow()), label: st.type === "wait" ? `after ${st.duration ?? "?"}` : "" });
    }
  });
  if (usesEnd || !steps.length) nodes.push({ id: "end", kind: "end", title: "End", detail: "" });
  return { nodes, edges };
}

// drawFlow renders the flow as an SVG graph with the runs counted per
// step; stats may be empty (a draft).
export function drawFlow(flow: any, stats: StepStats[]): Element {
  const { nodes, edges } = flowGraph(flow);
  const byStep = new Map(stats.map((x) => [x.step_id, x]));
  const g = new dagre.graphlib.Graph({ multigraph: true });
  g.setGraph({ rankdir: "TB", nodesep: 40, ranksep: 50, edgesep: 20, marginx: 10, marginy: 10 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of nodes) g.setNode(n.id, { width: W, height: n.kind === "end" ? 44 : H });
  edges.forEach((e, i) => g.setEdge(e.from, e.to, { label: e.label, width: e.label ? e.label.length * 6.5 + 8 : 0, height: e.label ? 16 : 0, labelpos: "c" }, "e" + i));
  dagre.layout(g);
  const gw = Math.ceil((g.graph().width ?? 400) + 20);
  const gh = Math.ceil((g.graph().height ?? 200) + 20);

  const total = stats.reduce((a, x) => a + x.completed + x.exited, 0);
  const svg = s(
    "svg",
    { class: "canvas", viewBox: `0 0 ${gw} ${gh}`, width: gw, height: gh, role: "img", "aria-label": `Flow ${flow?.id ?? ""} drawn as a graph of ${nodes.length} nodes` },
    s("defs", {}, s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" }, s("path", { d: "M0,0 L10,5 L0,10 z", class: "arrowhead" }))),
  );
  g.edges().forEach((ek) => {
    const e = g.edge(ek) as any;
    const pts: { x: number; y: number }[] = e.points ?? [];
    if (!pts.length) return;
    const d = pts.map((p, i) => `${i ? "L" : "M"}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(" ");
    svg.append(s("path", { d, class: "edge", "marker-end": "url(#arrow)" }));
    if (e.label) svg.append(s("text", { x: e.x, y: e.y + 4, "text-anchor": "middle", class: "edgelabel" }, e.label));
  });
  for (const n of nodes) {
    const p = g.node(n.id) as any;
    const x = p.x - p.width / 2;
    const y = p.y - p.height / 2;
    const stepID = n.id.startsWith("s:") ? n.id.slice(2) : "";
    const st = stepID ? byStep.get(stepID) : undefined;
    const waiting = st ? st.waiting + st.running : 0;
    const ended = st ? st.completed + st.exited + st.failed : 0;
    const grp = s("g", { class: `node ${n.kind}`, "data-node": n.id, ...(stepID ? { "data-step": stepID } : {}) });
    grp.append(s("rect", { x, y, width: p.width, height: p.height, rx: n.kind === "condition" ? 14 : 6 }));
    grp.append(s("text", { x: x + 10, y: y + 18, class: "ntitle" }, clip(n.title, 32)));
    if (n.detail) grp.append(s("text", { x: x + 10, y: y + 36, class: "ndetail" }, clip(n.detail, 38), s("title", {}, n.detail)));
    if (stepID && n.kind !== "end") {
      grp.append(s("text", { x: x + 10, y: y + 58, class: "ncount" + (waiting ? " live" : ""), "data-waiting": waiting, "data-ended": ended }, `${waiting} waiting · ${ended} ended here`));
    }
    if (n.id === "end") grp.append(s("text", { x: x + p.width - 10, y: y + 27, "text-anchor": "end", class: "ncount", "data-completed": total }, `${total} finished`));
    if (n.id === "trigger") grp.setAttribute("data-trigger", "");
    svg.append(grp);
  }
  return h("div", { class: "canvaswrap", tabindex: "0", "aria-label": "Flow canvas (scrolls)" }, svg);
}

function clip(t: string, n: number): string {
  return t.length > n ? t.slice(0, n - 1) + "…" : t;
}

// stepsTable lists the same graph as text: steps, where they lead, counts.
export function stepsTable(flow: any, stats: StepStats[]): HTMLElement {
  const { edges, nodes } = flowGraph(flow);
  const byStep = new Map(stats.map((x) => [x.step_id, x]));
  const rows = nodes
    .filter((n) => n.stepIndex !== undefined)
    .map((n) => {
      const id = n.id.slice(2);
      const st = byStep.get(id);
      const out = edges.filter((e) => e.from === n.id).map((e) => `${e.label ? e.label + " → " : "→ "}${e.to === "end" ? "end" : e.to.slice(2)}`);
      return h(
        "tr",
        { "data-step": id },
        h("td", { class: "mono" }, id),
        h("td", {}, n.detail),
        h("td", {}, out.join("; ")),
        h("td", { class: "num" }, String(st ? st.waiting + st.running : 0)),
        h("td", { class: "num" }, String(st ? st.completed + st.exited : 0)),
        h("td", { class: "num" }, String(st ? st.failed : 0)),
      );
    });
  return h(
    "div",
    { class: "tablewrap" },
    h(
      "table",
      { class: "steps" },
      h("caption", { class: "sr" }, "Steps of the flow, where each leads, and its runs"),
      h("thead", {}, h("tr", {}, ["Step", "Does", "Leads to", "Waiting now", "Ended here", "Failed"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, rows),
    ),
  );
}

// drawScoreModel shows a score model: its bands on a scale with their
// floors, thresholds with re-arm marks, and its rules with their points.
export function drawScoreModel(m: any): Element {
  const bands: Band[] = Array.isArray(m?.bands) ? [...m.bands].sort((a: Band, b: Band) => a.min - b.min) : [];
  const thresholds: any[] = Array.isArray(m?.thresholds) ? m.thresholds : [];
  const marks = [...bands.map((b) => b.min), ...thresholds.flatMap((t) => [t.score, t.rearm_below].filter((x) => typeof x === "number"))];
  const lo = Math.max(Math.min(...marks, 0), -20);
  const hi = Math.max(...marks, 10) * 1.25;
  const Wd = 700, L = 10, R = 10;
  const x = (v: number) => L + ((Math.max(v, lo) - lo) / (hi - lo)) * (Wd - L - R);
  const svg = s("svg", { class: "scale", viewBox: `0 0 ${Wd} 92`, role: "img", "aria-label": "Bands and thresholds on the score scale" });
  bands.forEach((b, i) => {
    const x0 = x(b.min);
    const x1 = i + 1 < bands.length ? x(bands[i + 1].min) : Wd - R;
    const r = s("rect", { x: x0, y: 10, width: Math.max(1, x1 - x0), height: 26, class: "bandrect", "data-band": b.name });
    (r as SVGElement).style.fill = b.color;
    svg.append(r, s("text", { x: x0 + 6, y: 28, class: "bandname" }, `${b.name} ≥ ${b.min}`));
  });
  for (const t of thresholds) {
    if (typeof t.score !== "number") continue;
    svg.append(s("line", { x1: x(t.score), y1: 4, x2: x(t.score), y2: 50, class: "thr" }), s("text", { x: x(t.score), y: 64, "text-anchor": "middle", class: "lbl" }, `${t.id} at ${t.score}`));
    if (typeof t.rearm_below === "number") svg.append(s("line", { x1: x(t.rearm_below), y1: 36, x2: x(t.rearm_below), y2: 50, class: "rearm" }), s("text", { x: x(t.rearm_below), y: 80, "text-anchor": "middle", class: "lbl" }, `re-arms below ${t.rearm_below}`));
  }
  const ruleRows = (list: any[], kind: string) =>
    (Array.isArray(list) ? list : []).map((r) =>
      h(
        "tr",
        {},
        h("td", {}, kind),
        h("td", { class: "mono" }, r.id ?? "?"),
        h("td", {}, r.when ? condText(r.when) : r.on ? triggerText(r.on) : ""),
        h("td", { class: "num " + ((r.points ?? 0) < 0 ? "neg" : "pos") }, (r.points > 0 ? "+" : "") + String(r.points ?? "?")),
        h("td", {}, [r.reason, r.cap ? `cap ${r.cap.points}/${r.cap.period}` : "", r.frequency ? `after ${str(r.frequency)}` : ""].filter(Boolean).join("; ")),
      ),
    );
  return h(
    "div",
    { class: "model" },
    h("h3", {}, "Bands and thresholds"),
    svg,
    thresholds.length
      ? h("ul", {}, thresholds.map((t) => h("li", {}, `${t.id}: at ${t.score}${t.rearm_below !== undefined ? `, re-armed below ${t.rearm_below}` : ""} → ${(t.actions ?? []).map((a: any) => stepDetail(a)).join("; ")}`)))
      : null,
    m?.decay ? h("p", {}, "Decay: " + str(m.decay)) : null,
    h("h3", {}, "Rules"),
    h(
      "div",
      { class: "tablewrap" },
      h(
        "table",
        { class: "rules" },
        h("caption", { class: "sr" }, "Rules of the score model"),
        h("thead", {}, h("tr", {}, ["Kind", "Rule", "When", "Points", "Notes"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, ruleRows(m?.profile, "profile"), ruleRows(m?.engagement, "engagement")),
      ),
    ),
  );
}
