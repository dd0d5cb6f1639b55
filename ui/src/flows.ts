// Flows, segments and score models: the list of definitions.

import { api, type Definition } from "./api";
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
            ? table(title, ["Name", "Id", "Status", "Version", "Updated"], defs.map((d) => [
                h("a", { href: "#/flows/" + encodeURIComponent(d.id) }, d.body?.name ?? d.id),
                h("span", { class: "mono" }, d.id),
                d.status,
                "v" + d.current_version,
                fmtTime(d.updated_at),
              ]))
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
  api<{ body: any; status: string; current_version: number; kind: string }>("GET", "/v1/definitions/" + encodeURIComponent(id)).then((d) => {
    if (stopped) return;
    main.replaceChildren(
      h("p", {}, h("a", { href: "#/flows" }, "← Definitions")),
      h("h1", {}, d.body?.name ?? id),
      h("p", {}, `${d.kind} ${id}, v${d.current_version}, ${d.status}`),
      section("Document", h("pre", { class: "json" }, JSON.stringify(d.body, null, 2))),
    );
  }).catch((err) => {
    if (!stopped) main.replaceChildren(h("h1", {}, id), h("p", { class: "error", role: "alert" }, err.message));
  });
  return () => {
    stopped = true;
  };
}
