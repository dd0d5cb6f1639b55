// Flows, segments and score models: the list of definitions, and one
// definition's page (a flow drawn as a canvas with live run counts, a score
// model drawn as its bands, thresholds and rules).

import { api, type Definition, type DefinitionVersion, type StepStats } from "./api";
import { drawFlow, drawScoreModel, stepsTable, triggerText } from "./canvas";
import { empty, fmtTime, h, section, table } from "./dom";

export function flowsPage(main: HTMLElement) {
  let stopped = false;
  main.replaceChildren(h("h1", {}, "Definitions"), h("p", { role: "status" }, "Loading…"));
  api<{ definitions: Definition[] }>("GET", "/v1/definitions").then((r) => {
    if (stopped) return;
    const kinds: [string, string][] = [["flow", "Flows"], ["score_model", "Score models"], ["segment", "Segments"]];
    main.replaceChildren(
      h("h1", {}, "Definitions"),
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
  const canvas = h("div", { id: "canvas" });
  const steps = h("div", { id: "steps" });
  const status = h("p", { class: "status", role: "status", "aria-live": "polite" });

  async function loadStats() {
    window.clearTimeout(timer);
    if (!def || def.kind !== "flow") return;
    try {
      const st = await api<{ steps: StepStats[] }>("GET", `/v1/definitions/${encodeURIComponent(id)}/stats`);
      if (stopped) return;
      canvas.replaceChildren(drawFlow(def.body, st.steps));
      steps.replaceChildren(stepsTable(def.body, st.steps));
      status.textContent = `Runs counted ${new Date().toLocaleTimeString()}; refreshes every ${POLL_MS / 1000} s.`;
    } catch (err) {
      if (!stopped) status.textContent = "Could not count the runs: " + (err as Error).message;
    }
    if (!stopped) timer = window.setTimeout(loadStats, POLL_MS);
  }

  api<Definition & { versions: DefinitionVersion[] }>("GET", "/v1/definitions/" + encodeURIComponent(id)).then((d) => {
    if (stopped) return;
    def = d;
    const body = d.body ?? {};
    main.replaceChildren(h("div", {},
      h("p", {}, h("a", { href: "#/flows" }, "← Definitions")),
      h("h1", {}, body.name ?? id),
      h("p", { class: "meta" }, h("span", { class: "mono" }, id), ` · ${kindName(d.kind)} · version ${d.current_version} · `, h("span", { id: "def-status", class: "pill " + d.status }, d.status)),
      body.description ? h("p", { class: "desc" }, body.description) : null,
      d.kind === "flow"
        ? [section("Canvas", status, canvas), section("Steps", steps)]
        : d.kind === "score_model"
          ? section("Score model", drawScoreModel(body))
          : section("Rule", h("pre", { class: "json" }, JSON.stringify(body.rule ?? body, null, 2))),
      section("Document", h("details", {}, h("summary", {}, `The JSON of version ${d.current_version}`), h("pre", { class: "json" }, JSON.stringify(body, null, 2)))),
    ));
    if (d.kind === "flow") {
      canvas.replaceChildren(drawFlow(body, []));
      steps.replaceChildren(stepsTable(body, []));
      loadStats();
    }
  }).catch((err) => {
    if (!stopped) main.replaceChildren(h("h1", {}, id), h("p", { class: "error", role: "alert" }, err.message));
  });
  return () => {
    stopped = true;
    window.clearTimeout(timer);
  };
}

const POLL_MS = 3000;

function kindName(k: string): string {
  return k === "score_model" ? "score model" : k;
}
