// Segments (members now, entered and exited today, members per day) and
// accounts (by their rolled-up score, with their contacts).

import { api, q, type BandedScore, type Definition } from "./api";
import { bandBadge, changed, empty, fmtScore, fmtTime, h, keepFocus, s, section, table } from "./dom";

interface SegmentSummary {
  id: string;
  name: string;
  status: string;
  members: number;
  entered_today: number;
  exited_today: number;
}

interface SegmentDay {
  day: string;
  entered: number;
  exited: number;
  members: number;
}

const POLL_MS = 5000;

function poller(load: () => Promise<void>) {
  let stopped = false;
  let timer = 0;
  const tick = async () => {
    window.clearTimeout(timer);
    await load();
    if (!stopped) timer = window.setTimeout(tick, POLL_MS);
  };
  tick();
  return {
    stopped: () => stopped,
    stop: () => {
      stopped = true;
      window.clearTimeout(timer);
    },
  };
}

export function segmentsPage(main: HTMLElement) {
  const body = h("div", { id: "segments" });
  const status = h("p", { class: "status", role: "status", "aria-live": "polite" });
  main.replaceChildren(h("div", {}, h("h1", {}, "Segments"), status, body));
  const p = poller(async () => {
    try {
      const r = await api<{ segments: SegmentSummary[] }>("GET", "/v1/segments");
      const hist = await Promise.all(r.segments.map((x) => api<{ days: SegmentDay[] }>("GET", `/v1/segments/${encodeURIComponent(x.id)}/history?days=30`).catch(() => ({ days: [] as SegmentDay[] }))));
      if (p.stopped() || !changed(body, [r, hist])) return;
      keepFocus(body, () => body.replaceChildren(
        r.segments.length
          ? table(
              "Segments with their members",
              ["Segment", "Members", "Entered today", "Exited today", "Last 30 days"],
              r.segments.map((x, i) => [
                h("a", { href: "#/segments/" + encodeURIComponent(x.id) }, x.name, h("div", { class: "sub mono" }, x.id + (x.status !== "published" ? ` (${x.status})` : ""))),
                h("span", { class: "num score", "data-members": String(x.members) }, String(x.members)),
                h("span", { "data-entered": String(x.entered_today) }, "+" + x.entered_today),
                h("span", { "data-exited": String(x.exited_today) }, "−" + x.exited_today),
                sparkline(hist[i].days, `${x.name}: members over the last 30 days`),
              ]),
            )
          : empty("No segments published."),
      ));
      status.textContent = `Updated ${new Date().toLocaleTimeString()} (days are UTC).`;
    } catch (err) {
      if (!p.stopped()) status.textContent = "Could not load: " + (err as Error).message;
    }
  });
  return p.stop;
}

export function segmentPage(main: HTMLElement, id: string) {
  const shown = {};
  const p = poller(async () => {
    try {
      const r = await api<{ id: string; name: string; members: number; days: SegmentDay[] }>("GET", `/v1/segments/${encodeURIComponent(id)}/history?days=30`);
      if (p.stopped()) return;
      if (!changed(shown, r)) return;
      const today = r.days[r.days.length - 1];
      main.replaceChildren(
        h(
          "div",
          {},
          h("p", {}, h("a", { href: "#/segments" }, "← Segments")),
          h("h1", {}, r.name),
          h("p", { class: "bigscore" }, h("span", { class: "score-value", id: "seg-members" }, String(r.members)), " members now · ", `+${today?.entered ?? 0} entered, −${today?.exited ?? 0} exited today · `, h("a", { href: "#/flows/" + encodeURIComponent(id) }, "the rule")),
          section("Members over the last 30 days", memberChart(r.days)),
          section("Per day", table("Entries, exits and members per day, newest first", ["Day (UTC)", "Entered", "Exited", "Members at the end"], [...r.days].reverse().map((d) => [d.day, "+" + d.entered, "−" + d.exited, String(d.members)]))),
        ),
      );
    } catch (err) {
      if (!p.stopped()) main.replaceChildren(h("h1", {}, id), h("p", { class: "error", role: "alert" }, (err as Error).message));
    }
  });
  return p.stop;
}

function sparkline(days: SegmentDay[], label: string): Element {
  if (!days.length) return h("span", {}, "—");
  const W = 160, H = 32;
  const max = Math.max(1, ...days.map((d) => d.members));
  const pts = days.map((d, i) => `${((i / Math.max(1, days.length - 1)) * (W - 4) + 2).toFixed(1)},${(H - 3 - (d.members / max) * (H - 6)).toFixed(1)}`).join(" ");
  return s("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: "spark", role: "img", "aria-label": `${label}: from ${days[0].members} to ${days[days.length - 1].members}` }, s("polyline", { points: pts }));
}

function memberChart(days: SegmentDay[]): Element {
  const W = 720, H = 200, L = 36, B = 22;
  const max = Math.max(1, ...days.map((d) => d.members), ...days.map((d) => d.entered));
  const bw = (W - L - 6) / days.length;
  const y = (v: number) => 8 + (1 - v / max) * (H - B - 8);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": `Members per day, from ${days[0]?.members ?? 0} to ${days[days.length - 1]?.members ?? 0}; bars are entries (up) and exits` },
    s("line", { x1: L, y1: H - B, x2: W, y2: H - B, class: "axis" }),
    s("text", { x: L - 4, y: y(max) + 4, "text-anchor": "end", class: "lbl" }, String(max)),
    s("text", { x: L - 4, y: H - B + 4, "text-anchor": "end", class: "lbl" }, "0"),
    s("text", { x: L, y: H - 4, class: "lbl" }, days[0]?.day ?? ""),
    s("text", { x: W - 4, y: H - 4, "text-anchor": "end", class: "lbl" }, "today"));
  days.forEach((d, i) => {
    const x = L + i * bw;
    if (d.entered) svg.append(s("rect", { x: x + 1, y: y(d.entered), width: Math.max(1, bw / 2 - 1), height: H - B - y(d.entered), class: "entered" }, s("title", {}, `${d.day}: +${d.entered}`)));
    if (d.exited) svg.append(s("rect", { x: x + bw / 2, y: y(d.exited), width: Math.max(1, bw / 2 - 1), height: H - B - y(d.exited), class: "exited" }, s("title", {}, `${d.day}: −${d.exited}`)));
  });
  svg.append(s("polyline", { points: days.map((d, i) => `${(L + i * bw + bw / 2).toFixed(1)},${y(d.members).toFixed(1)}`).join(" "), class: "line" }));
  return h("figure", { class: "chartwrap" }, svg, h("figcaption", { class: "sub" }, "Line: members at the end of each day. Bars: entered (green) and exited (red) that day."));
}

interface AccountSummary {
  account_id: string;
  name: string;
  contacts: number;
  score: number;
  band: string;
  color: string;
}

interface Account {
  account_id: string;
  name: string;
  fields: Record<string, unknown>;
  scores: Record<string, BandedScore>;
  contacts: { contact_id: string; email: string; stage: string; disqualified: boolean; scores: Record<string, BandedScore> }[];
  contacts_total: number;
  created_at: string;
}

let accountModel = "main";

export function accountsPage(main: HTMLElement) {
  const body = h("div", { id: "accounts" });
  const model = h("select", { id: "f-account-model" }, h("option", { value: accountModel }, accountModel));
  model.addEventListener("change", () => {
    accountModel = model.value;
    body.replaceChildren(h("p", { role: "status" }, "Loading…"));
  });
  main.replaceChildren(h("div", {}, h("h1", {}, "Accounts"), h("div", { class: "field narrow" }, h("label", { for: "f-account-model" }, "Score model"), model), body));
  // Only the models that roll up to accounts have account scores.
  api<{ definitions: Definition[] }>("GET", "/v1/definitions" + q({ kind: "score_model" })).then((r) => {
    const rollup = r.definitions.filter((d) => d.status !== "archived" && d.body?.account_rollup === "sum");
    model.replaceChildren(...rollup.map((d) => h("option", { value: d.id }, d.body?.name ? `${d.body.name} (${d.id})` : d.id)));
    if (rollup.length && !rollup.some((d) => d.id === accountModel)) {
      accountModel = rollup[0].id;
      body.replaceChildren(h("p", { role: "status" }, "Loading…"));
    }
    model.value = accountModel;
  }).catch(() => {});
  const p = poller(async () => {
    try {
      const r = await api<{ accounts: AccountSummary[] }>("GET", "/v1/accounts" + q({ model: accountModel, limit: "200" }));
      if (p.stopped() || !changed(body, [accountModel, r])) return;
      keepFocus(body, () => body.replaceChildren(
        r.accounts.length
          ? table(`Accounts by their ${accountModel} score (the sum of their contacts' not disqualified), highest first`, ["Account", "Score", "Band", "Contacts"], r.accounts.map((a) => [
              h("a", { href: "#/accounts/" + encodeURIComponent(a.account_id) }, a.name || a.account_id, h("div", { class: "sub mono" }, a.account_id)),
              h("span", { class: "num score", "data-score": String(a.score) }, fmtScore(a.score)),
              bandBadge(a.band, a.color),
              String(a.contacts),
            ]))
          : empty("No accounts yet: contacts join one with account_id (POST /v1/contacts, or a Segment group call)."),
      ));
    } catch (err) {
      if (!p.stopped()) body.replaceChildren(h("p", { class: "error", role: "alert" }, (err as Error).message));
    }
  });
  return p.stop;
}

export function accountPage(main: HTMLElement, id: string) {
  const shown = {};
  const p = poller(async () => {
    try {
      const a = await api<Account>("GET", "/v1/accounts/" + encodeURIComponent(id));
      if (p.stopped() || !changed(shown, a)) return;
      const models = Object.keys(a.scores).sort();
      const contactModels = [...new Set(a.contacts.flatMap((c) => Object.keys(c.scores)))].sort();
      main.replaceChildren(
        h(
          "div",
          {},
          h("p", {}, h("a", { href: "#/accounts" }, "← Accounts")),
          h("h1", {}, a.name || a.account_id),
          section(
            "Rolled-up scores",
            models.length
              ? h("dl", { class: "facts" }, models.map((m) => [h("dt", {}, m), h("dd", { "data-model": m }, h("strong", {}, fmtScore(a.scores[m].score)), " ", bandBadge(a.scores[m].band, a.scores[m].color), ` (the sum of its contacts not disqualified)`)]))
              : empty("No account scores: no published score model has \"account_rollup\": \"sum\"."),
            Object.keys(a.fields ?? {}).length ? table("Account fields", ["Field", "Value"], Object.entries(a.fields).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)])) : null,
            h("p", { class: "sub" }, "Since " + fmtTime(a.created_at)),
          ),
          section(
            "Contacts",
            table("Contacts of the account", ["Contact", "Stage", ...contactModels], a.contacts.map((c) => [
              h("a", { href: "#/contacts/" + encodeURIComponent(c.contact_id) }, c.email || c.contact_id),
              (c.stage || "—") + (c.disqualified ? " (disqualified)" : ""),
              ...contactModels.map((m) => (c.scores[m] === undefined ? "—" : h("span", {}, fmtScore(c.scores[m].score), " ", bandBadge(c.scores[m].band, c.scores[m].color)))),
            ])),
            a.contacts_total > a.contacts.length ? h("p", { class: "sub" }, `Showing ${a.contacts.length} of ${a.contacts_total}.`) : null,
          ),
        ),
      );
    } catch (err) {
      if (!p.stopped()) main.replaceChildren(h("h1", {}, id), h("p", { class: "error", role: "alert" }, (err as Error).message));
    }
  });
  return p.stop;
}
