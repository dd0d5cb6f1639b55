// Flows, segments and score models: the list of definitions, and one
// definition's page (a flow drawn as a canvas with live run counts, a score
// model drawn as its bands, thresholds and rules).

import type { EditorView } from "codemirror";
import { changed } from "./dom";
import { api, type APIError, type Definition, type DefinitionVersion, type StepStats } from "./api";
import { diffLines, type DiffLine } from "./diff";
import { createEditor, type DraftError } from "./editor";
import { currentSession } from "./main";
import { drawFlow, drawScoreModel, stepsTable, triggerText } from "./canvas";
import { previewPanel } from "./preview";
import { empty, fmtTime, h, section, table } from "./dom";

export function flowsPage(main: HTMLElement) {
  let stopped = false;
  main.replaceChildren(h("h1", {}, "Definitions"), h("p", { role: "status" }, "Loading…"));
  api<{ definitions: Definition[] }>("GET", "/v1/definitions").then((r) => {
    if (stopped) return;
    const kinds: [string, string][] = [["flow", "Flows"], ["score_model", "Score models"], ["segment", "Segments"]];
    main.replaceChildren(
      h("h1", {}, "Definitions"),
      currentSession()?.role === "admin" ? h("p", {}, h("a", { href: "#/new", id: "new-definition", class: "button" }, "New definition")) : "",
      ...kinds.map(([kind, title]) => {
        const defs = r.definitions.filter((d) => d.kind === kind);
        return section(
          title,
          defs.length
            ? table(title, kind === "flow" ? ["Name", "Id", "Trigger", "Status", "Version", "Updated"] : ["Name", "Id", "Status", "Version", "Updated"], defs.map((d) => [
                h("a", { href: "#/flows/" + encodeURIComponent(d.id) }, d.body?.name ?? d.id),
                h("span", { class: "mono" }, d.id),
                kind === "flow" ? triggerText(d.body?.trigger) : null,
                d.status,
                "v" + d.current_version,
                fmtTime(d.updated_at),
              ].filter((c) => c !== null)))
            : empty("None published."),
        );
      }),
    );
  }).catch((err) => {
    if (!stopped) main.replaceChildren(h("h1", {}, "Definitions"), h("p", { class: "error", role: "alert" }, err.message));
  });
  return () => {
    stopped = true;
  };
}

export function flowPage(main: HTMLElement, id: string) {
  let stopped = false;
  let timer = 0;
  let def: (Definition & { versions: DefinitionVersion[] }) | null = null;
  let stats: StepStats[] = [];
  let drawBody: any = null; // the draft when it parses, else the published body
  let fromDraft = false;
  const canvas = h("div", { id: "canvas" });
  const steps = h("div", { id: "steps" });
  const status = h("p", { class: "status", role: "status", "aria-live": "polite" });
  const canvasNote = h("p", { id: "canvas-source", class: "sub" });

  const drawn = {};
  function redraw() {
    if (!def || !changed(drawn, [def.current_version, fromDraft, drawBody, stats])) return;
    canvasNote.textContent = fromDraft ? "Drawn from the draft in the editor." : `Drawn from version ${def.current_version}.`;
    if (def.kind === "flow") {
      canvas.replaceChildren(drawFlow(drawBody, stats));
      steps.replaceChildren(stepsTable(drawBody, stats));
    } else if (def.kind === "score_model") {
      canvas.replaceChildren(drawScoreModel(drawBody));
    } else {
      canvas.replaceChildren(h("pre", { class: "json" }, JSON.stringify(drawBody?.rule ?? drawBody, null, 2)));
    }
  }

  async function loadStats() {
    window.clearTimeout(timer);
    if (!def || def.kind !== "flow") return;
    try {
      const st = await api<{ steps: StepStats[] }>("GET", `/v1/definitions/${encodeURIComponent(id)}/stats`);
      if (stopped) return;
      stats = st.steps;
      redraw();
      status.textContent = `Runs counted ${new Date().toLocaleTimeString()}; refreshes every ${POLL_MS / 1000} s.`;
    } catch (err) {
      if (!stopped) status.textContent = "Could not count the runs: " + (err as Error).message;
    }
    if (!stopped) timer = window.setTimeout(loadStats, POLL_MS);
  }

  async function load(keepDraft = false) {
    let d: Definition & { versions: DefinitionVersion[] };
    try {
      d = await api<Definition & { versions: DefinitionVersion[] }>("GET", "/v1/definitions/" + encodeURIComponent(id));
    } catch (err) {
      if (!stopped) main.replaceChildren(h("h1", {}, id), h("p", { class: "error", role: "alert" }, (err as Error).message));
      return;
    }
    if (stopped) return;
    def = d;
    const body = d.body ?? {};
    if (!keepDraft) {
      drawBody = body;
      fromDraft = false;
    }
    const admin = currentSession()?.role === "admin";
    const title = body.name ?? id;
    const visual = d.kind === "flow" ? [section("Canvas", status, canvasNote, canvas), section("Steps", steps)] : section(d.kind === "score_model" ? "Score model" : "Rule", canvasNote, canvas);
    main.replaceChildren(
      h(
        "div",
        {},
        h("p", {}, h("a", { href: "#/flows" }, "← Definitions")),
        h("h1", {}, title),
        h(
          "p",
          { class: "meta" },
          h("span", { class: "mono" }, id),
          ` · ${kindName(d.kind)} · version `,
          h("span", { id: "def-version" }, String(d.current_version)),
          " · ",
          h("span", { id: "def-status", class: "pill " + d.status }, d.status),
          admin ? statusButton(d) : null,
        ),
        body.description ? h("p", { class: "desc" }, body.description) : null,
        visual,
        admin ? editSection(d) : section("Document", h("pre", { class: "json" }, JSON.stringify(body, null, 2))),
        versionsSection(d),
      ),
    );
    redraw();
    if (d.kind === "flow") loadStats();
  }

  function statusButton(d: Definition): HTMLElement {
    const pause = d.status === "published";
    const btn = h("button", { type: "button", id: pause ? "pause" : "resume", class: "inline" }, pause ? "Pause" : "Resume");
    btn.addEventListener("click", async () => {
      btn.disabled = true;
      try {
        await api("POST", `/v1/definitions/${encodeURIComponent(id)}/${pause ? "pause" : "resume"}`);
        await load(true);
      } catch (err) {
        btn.disabled = false;
        alertMsg((err as Error).message);
      }
    });
    return btn;
  }

  let draftText: string | null = null;
  function editSection(d: Definition): HTMLElement {
    const wrap = h("div", { id: "editor", class: "editor" });
    const errors = h("ul", { id: "draft-errors", class: "draft-errors", "aria-live": "polite" });
    const verdict = h("p", { id: "draft-verdict", class: "status", role: "status" }, "Checking…");
    const result = h("p", { id: "publish-result", role: "status" });
    const publish = h("button", { type: "button", id: "publish", class: "primary" }, "Publish");
    const reset = h("button", { type: "button", id: "reset" }, "Discard the draft");
    const text = draftText ?? JSON.stringify(d.body, null, 2);
    const ed = createEditor(wrap, text, (errs, doc) => {
      draftText = doc;
      showErrors(verdict, errors, errs, ed.view);
      try {
        drawBody = JSON.parse(doc);
        fromDraft = doc !== JSON.stringify(d.body, null, 2);
      } catch {
        /* not JSON yet: keep the last drawing */
      }
      redraw();
    });
    publish.addEventListener("click", async () => {
      publish.disabled = true;
      result.textContent = "Publishing…";
      try {
        const r = await api<{ published: { id: string; version: number; changed: boolean }[] }>("POST", "/v1/definitions", ed.text());
        const mine = r.published.find((p) => p.id === id) ?? r.published[0];
        draftText = null;
        await load();
        document.getElementById("publish-result")!.textContent = mine.changed ? `Published version ${mine.version}.` : `Nothing changed: version ${mine.version} is the same.`;
      } catch (err) {
        const e = err as APIError;
        result.textContent = "Not published: " + e.message;
        result.className = "error";
      } finally {
        publish.disabled = false;
      }
    });
    reset.addEventListener("click", () => {
      draftText = null;
      ed.setText(JSON.stringify(d.body, null, 2));
    });
    return section(
      "Edit",
      h("p", { class: "sub" }, "Edit the JSON: completion from the schema (Ctrl-Space), problems checked as you type at their line. The drawing above follows the draft; publishing makes a new version, runs in flight keep theirs."),
      wrap,
      verdict,
      errors,
      h("div", { class: "actions" }, publish, reset),
      result,
      h("h3", {}, "Preview before publishing"),
      previewPanel(() => ed.text()),
    );
  }

  function versionsSection(d: Definition & { versions: DefinitionVersion[] }): HTMLElement {
    const vs = d.versions;
    const opt = (v: DefinitionVersion) => h("option", { value: String(v.version) }, `v${v.version} — ${fmtTime(v.published_at)}`);
    const from = h("select", { id: "diff-from" }, vs.map(opt));
    const to = h("select", { id: "diff-to" }, vs.map(opt));
    to.value = String(vs[0]?.version ?? "");
    from.value = String(vs[1]?.version ?? vs[0]?.version ?? "");
    const out = h("div", { id: "diff" });
    const show = () => {
      const a = vs.find((v) => String(v.version) === from.value);
      const b = vs.find((v) => String(v.version) === to.value);
      if (!a || !b) return;
      const lines = diffLines(JSON.stringify(a.body, null, 2), JSON.stringify(b.body, null, 2));
      const changed = lines.filter((l) => l.op !== " ").length;
      out.replaceChildren(
        h("p", { class: "sub" }, changed ? `${changed} changed line${changed > 1 ? "s" : ""} from v${a.version} to v${b.version}` : `v${a.version} and v${b.version} are the same`),
        h(
          "pre",
          { class: "diff" },
          withContext(lines, 3).map((l) =>
            l === null ? h("span", { class: "gap" }, "  …\n") : h("span", { class: l.op === "+" ? "add" : l.op === "-" ? "del" : "same", "data-op": l.op }, `${l.op} ${l.text}\n`),
          ),
        ),
      );
    };
    from.addEventListener("change", show);
    to.addEventListener("change", show);
    show();
    return section(
      "Versions",
      table("Published versions, newest first", ["Version", "Published", "Hash"], vs.map((v) => [`v${v.version}`, fmtTime(v.published_at), h("span", { class: "mono small" }, v.hash.slice(0, 16))])),
      h("div", { class: "diffpick" }, h("label", { for: "diff-from" }, "Compare"), from, h("label", { for: "diff-to" }, "with"), to),
      out,
    );
  }

  load();
  return () => {
    stopped = true;
    window.clearTimeout(timer);
  };
}

// withContext keeps the changed lines and n lines around each; null marks
// the lines left out.
function withContext(lines: DiffLine[], n: number): (DiffLine | null)[] {
  if (!lines.some((l) => l.op !== " ")) return lines;
  const keep = lines.map(() => false);
  lines.forEach((l, i) => {
    if (l.op !== " ") for (let j = Math.max(0, i - n); j <= Math.min(lines.length - 1, i + n); j++) keep[j] = true;
  });
  const out: (DiffLine | null)[] = [];
  lines.forEach((l, i) => {
    if (keep[i]) out.push(l);
    else if (out[out.length - 1] !== null) out.push(null);
  });
  return out;
}

function jumpTo(view: EditorView, line: number) {
  if (!line) return;
  const l = view.state.doc.line(Math.min(line, view.state.doc.lines));
  view.dispatch({ selection: { anchor: l.from }, scrollIntoView: true });
  view.focus();
}

function alertMsg(text: string) {
  const p = document.getElementById("publish-result");
  if (p) {
    p.textContent = text;
    p.className = "error";
  }
}

const POLL_MS = 3000;

const templates: Record<string, object> = {
  flow: {
    kind: "flow", id: "my-flow", name: "My flow",
    trigger: { type: "event", event: "demo_requested" }, entry: "once",
    steps: [
      { id: "tag", type: "add_tag", tag: "demo" },
      { id: "wait-open", type: "wait_for_event", event: "email_opened", timeout: "3d", on_event: "score", on_timeout: "task" },
      { id: "score", type: "lead_score", model: "main", op: "add", points: 5, next: "end" },
      { id: "task", type: "create_crm_task", title: "Call {{email}}", assignee: "{{fields.owner}}", due_in: "1d" },
    ],
  },
  segment: { kind: "segment", id: "my-segment", name: "My segment", rule: { tag: "demo" } },
  score_model: {
    kind: "score_model", id: "my-model", name: "My score model",
    bands: [{ name: "cold", min: 0, color: "blue" }, { name: "warm", min: 20, color: "orange" }, { name: "hot", min: 50, color: "red" }],
    engagement: [{ id: "visit", on: { type: "page_visited" }, points: 1 }],
  },
};

// newDefinitionPage writes a new definition from a template and publishes it.
export function newDefinitionPage(main: HTMLElement) {
  const kind = h("select", { id: "new-kind" }, h("option", { value: "flow" }, "flow"), h("option", { value: "segment" }, "segment"), h("option", { value: "score_model" }, "score model"));
  const wrap = h("div", { id: "editor", class: "editor" });
  const verdict = h("p", { id: "draft-verdict", class: "status", role: "status" }, "Checking…");
  const errors = h("ul", { id: "draft-errors", class: "draft-errors", "aria-live": "polite" });
  const result = h("p", { id: "publish-result", role: "status" });
  const publish = h("button", { type: "button", id: "publish", class: "primary" }, "Publish");
  const preview = h("div", { id: "canvas" });
  const ed = createEditor(wrap, JSON.stringify(templates.flow, null, 2), (errs, doc) => {
    showErrors(verdict, errors, errs, ed.view);
    try {
      const body = JSON.parse(doc);
      preview.replaceChildren(body?.kind === "flow" ? drawFlow(body, []) : body?.kind === "score_model" ? drawScoreModel(body) : h("p", { class: "sub" }, "Segments are drawn as their rule once published."));
    } catch {
      /* not JSON yet */
    }
  });
  kind.addEventListener("change", () => ed.setText(JSON.stringify(templates[kind.value], null, 2)));
  publish.addEventListener("click", async () => {
    publish.disabled = true;
    try {
      const r = await api<{ published: { id: string; version: number }[] }>("POST", "/v1/definitions", ed.text());
      location.hash = "#/flows/" + encodeURIComponent(r.published[0].id);
    } catch (err) {
      result.textContent = "Not published: " + (err as Error).message;
      result.className = "error";
      publish.disabled = false;
    }
  });
  main.replaceChildren(
    h(
      "div",
      {},
      h("p", {}, h("a", { href: "#/flows" }, "← Definitions")),
      h("h1", {}, "New definition"),
      h("div", { class: "field narrow" }, h("label", { for: "new-kind" }, "Start from a template"), kind),
      section("Edit", h("p", { class: "sub" }, "Completion from the schema (Ctrl-Space); problems are checked as you type. Give it your own id."), wrap, verdict, errors, h("div", { class: "actions" }, publish), result),
      section("Drawing", preview),
    ),
  );
}

function showErrors(verdict: HTMLElement, list: HTMLElement, errs: DraftError[], view: EditorView) {
  verdict.textContent = errs.length ? `${errs.length} problem${errs.length > 1 ? "s" : ""}: publishing would be refused.` : "Valid: ready to publish.";
  verdict.className = "status " + (errs.length ? "bad" : "good");
  list.replaceChildren(
    ...errs.map((e) =>
      h(
        "li",
        { "data-path": e.path, "data-line": String(e.line) },
        h("button", { type: "button", class: "link", onclick: () => jumpTo(view, e.line) }, e.line ? `line ${e.line}` : "document"),
        " ",
        h("code", {}, e.path || "(document)"),
        ": ",
        e.message,
      ),
    ),
  );
}

function kindName(k: string): string {
  return k === "score_model" ? "score model" : k;
}
