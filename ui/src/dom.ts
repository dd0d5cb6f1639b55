// A tiny element builder: no innerHTML anywhere (the CSP forbids inline
// script, and text is always set as text).

type Child = Node | string | number | null | undefined | false | Child[];
type Attrs = Record<string, string | number | boolean | ((e: any) => void) | undefined | null>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (typeof v === "function") el.addEventListener(k.replace(/^on/, ""), v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

const SVG = "http://www.w3.org/2000/svg";

export function s(tag: string, attrs: Record<string, string | number> = {}, ...children: Child[]): SVGElement {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  append(el, children);
  return el;
}

function append(el: Element, children: Child[]) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

export function fmtTime(t: string | null | undefined): string {
  if (!t) return "—";
  const d = new Date(t);
  return d.toLocaleString(undefined, { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

export function fmtPoints(n: number): string {
  const r = Math.round(n * 100) / 100;
  return (r > 0 ? "+" : "") + r.toString();
}

export function fmtScore(n: number): string {
  return (Math.round(n * 100) / 100).toString();
}

// bandBadge shows a band by its name and its colour together: colour is
// never the only signal.
export function bandBadge(name: string, color: string): HTMLElement {
  const dot = h("span", { class: "swatch", "aria-hidden": "true" });
  if (color) dot.style.backgroundColor = color;
  const b = h("span", { class: "band", "data-band": name }, dot, name || "no band");
  if (color) b.style.borderColor = color;
  return b;
}

export function section(title: string, ...children: Child[]): HTMLElement {
  const id = "s-" + title.toLowerCase().replace(/[^a-z0-9]+/g, "-");
  return h("section", { class: "card", "aria-labelledby": id }, h("h2", { id }, title), ...children);
}

export function table(caption: string, head: string[], rows: Child[][], cls = ""): HTMLElement {
  return h(
    "div",
    { class: "tablewrap" },
    h(
      "table",
      { class: cls },
      h("caption", { class: "sr" }, caption),
      h("thead", {}, h("tr", {}, head.map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c))))),
    ),
  );
}

export function empty(text: string): HTMLElement {
  return h("p", { class: "empty" }, text);
}

// keepFocus re-renders a region without losing the keyboard user's place:
// the focused element's [data-key] ancestor (or its id) is focused again
// in the new content when it is still there.
export function keepFocus(region: HTMLElement, render: () => void) {
  const active = document.activeElement as HTMLElement | null;
  let selector = "";
  if (active && region.contains(active)) {
    if (active.id) selector = "#" + CSS.escape(active.id);
    else {
      const keyed = active.closest("[data-key]") as HTMLElement | null;
      const tag = active.tagName.toLowerCase();
      if (keyed) selector = `[data-key="${CSS.escape(keyed.dataset.key!)}"] ${tag}`;
    }
  }
  render();
  if (selector) (region.querySelector(selector) as HTMLElement | null)?.focus({ preventScroll: true });
}

// changed reports whether v differs from what was last rendered under key.
const lastRendered = new WeakMap<object, string>();
export function changed(region: object, v: unknown): boolean {
  const s = JSON.stringify(v);
  if (lastRendered.get(region) === s) return false;
  lastRendered.set(region, s);
  return true;
}
