// The JSON editor of a definition draft (CodeMirror 6): completion from
// leadflow's JSON Schema, and the validator's errors (POST /v1/validate,
// the same as publishing answers) shown at their line as you type.

import { EditorView, basicSetup } from "codemirror";
import { json } from "@codemirror/lang-json";
import { linter, lintGutter, type Diagnostic } from "@codemirror/lint";
import { autocompletion, type Completion, type CompletionContext, type CompletionResult } from "@codemirror/autocomplete";
import { syntaxTree } from "@codemirror/language";
import type { EditorState } from "@codemirror/state";
import type { SyntaxNode } from "@lezer/common";
import { api } from "./api";

export interface DraftError {
  path: string;
  message: string;
  line: number; // 1-based, 0 when unknown
}

export interface DraftEditor {
  view: EditorView;
  text(): string;
  setText(t: string): void;
}

// --- JSON paths over the syntax tree --------------------------------------

type Seg = string | number;

// parsePath reads the validator's paths: "steps[2].on_timeout",
// "[1].trigger.type", "" (the whole document).
export function parsePath(p: string): Seg[] {
  const out: Seg[] = [];
  const re = /\[(\d+)\]|\.?([^.[\]]+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(p))) out.push(m[1] !== undefined ? Number(m[1]) : m[2]);
  return out;
}

const PUNCT = new Set(["{", "}", "[", "]", ",", ":", "⚠"]);

function values(node: SyntaxNode): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  for (let c = node.firstChild; c; c = c.nextSibling) if (!PUNCT.has(c.name)) out.push(c);
  return out;
}

function propName(state: EditorState, prop: SyntaxNode): string {
  const n = prop.getChild("PropertyName");
  if (!n) return "";
  const raw = state.sliceDoc(n.from, n.to);
  try {
    return JSON.parse(raw);
  } catch {
    return raw.replace(/^"|"$/g, "");
  }
}

function propValue(prop: SyntaxNode): SyntaxNode | null {
  const vs = values(prop).filter((c) => c.name !== "PropertyName");
  return vs.length ? vs[vs.length - 1] : null;
}

function topValue(state: EditorState): SyntaxNode | null {
  const top = syntaxTree(state).topNode;
  return values(top)[0] ?? null;
}

// locate finds the text range of a validator path: the property (name and
// value) it names, or the deepest part of it that exists.
export function locate(state: EditorState, path: string): { from: number; to: number } {
  const top = topValue(state);
  if (!top) return { from: 0, to: Math.min(1, state.doc.length) };
  let node: SyntaxNode = top;
  let range = { from: node.from, to: Math.min(node.to, state.doc.lineAt(node.from).to) };
  for (const seg of parsePath(path)) {
    if (typeof seg === "number") {
      if (node.name !== "Array") break;
      const v: SyntaxNode | undefined = values(node)[seg];
      if (!v) break;
      node = v;
      range = { from: v.from, to: Math.min(v.to, state.doc.lineAt(v.from).to) };
    } else {
      if (node.name !== "Object") break;
      const prop: SyntaxNode | undefined = node.getChildren("Property").find((p) => propName(state, p) === seg);
      if (!prop) break;
      const v: SyntaxNode | null = propValue(prop);
      const name = prop.getChild("PropertyName")!;
      range = { from: name.from, to: Math.min(v ? v.to : name.to, state.doc.lineAt(name.from).to) };
      if (!v) break;
      node = v;
    }
  }
  if (range.to <= range.from) range.to = Math.min(range.from + 1, state.doc.length);
  return range;
}

// pathOf is the JSON path of a node of the tree.
function pathOf(state: EditorState, node: SyntaxNode): Seg[] {
  const segs: Seg[] = [];
  for (let child = node, n = node.parent; n; child = n, n = n.parent) {
    if (n.name === "Property") segs.unshift(propName(state, n));
    else if (n.name === "Array") {
      const idx = values(n).findIndex((v) => v.from === child.from && v.to === child.to);
      if (idx >= 0) segs.unshift(idx);
    }
  }
  return segs;
}

// pathAt is the JSON path of the value at pos, or of the object whose
// property name is at pos (keyPos).
function pathAt(state: EditorState, pos: number): { segs: Seg[]; obj: SyntaxNode | null; keyPos: boolean } {
  let n: SyntaxNode | null = syntaxTree(state).resolveInner(pos, -1);
  for (; n; n = n.parent) {
    if (n.name === "Property") {
      const name = n.getChild("PropertyName");
      const obj = n.parent;
      if (!obj) break;
      if (!name || pos <= name.to) return { segs: pathOf(state, obj), obj, keyPos: true };
      return { segs: [...pathOf(state, obj), propName(state, n)], obj, keyPos: false };
    }
    if (n.name === "Object") return { segs: pathOf(state, n), obj: n, keyPos: true };
    if (n.name === "Array") return { segs: [...pathOf(state, n), values(n).filter((v) => v.to < pos).length], obj: null, keyPos: false };
  }
  return { segs: [], obj: null, keyPos: false };
}

function objectFields(state: EditorState, obj: SyntaxNode | null): Record<string, string> {
  const out: Record<string, string> = {};
  if (!obj) return out;
  for (const p of obj.getChildren("Property")) {
    const v = propValue(p);
    let val = v ? state.sliceDoc(v.from, v.to) : "";
    try {
      const parsed = JSON.parse(val);
      val = typeof parsed === "string" ? parsed : val;
    } catch {
      /* keep raw */
    }
    out[propName(state, p)] = val;
  }
  return out;
}

// --- the JSON Schema -------------------------------------------------------

type Schema = Record<string, any> | boolean;

class SchemaIndex {
  constructor(private root: any) {}

  deref(s: Schema): Schema {
    let cur = s;
    for (let i = 0; i < 20 && typeof cur === "object" && cur.$ref; i++) {
      const name = String(cur.$ref).replace(/^#\/\$defs\//, "");
      cur = this.root.$defs?.[name] ?? true;
    }
    return cur;
  }

  // expand returns the schema and every branch of its combinators,
  // keeping those whose const fields agree with fields (e.g. kind, type).
  expand(s: Schema, fields: Record<string, string>): Record<string, any>[] {
    const out: Record<string, any>[] = [];
    const walk = (x: Schema, depth: number) => {
      x = this.deref(x);
      if (typeof x !== "object" || depth > 12) return;
      if (!this.agrees(x, fields)) return;
      out.push(x);
      for (const k of ["oneOf", "anyOf", "allOf"]) if (Array.isArray(x[k])) for (const b of x[k]) walk(b, depth + 1);
      if (x.if && x.then && this.ifHolds(x.if, fields)) walk(x.then, depth + 1);
    };
    walk(s, 0);
    return out;
  }

  private agrees(x: Record<string, any>, fields: Record<string, string>): boolean {
    for (const [k, v] of Object.entries(x.properties ?? {})) {
      const c = typeof v === "object" ? (v as any).const : undefined;
      if (c !== undefined && fields[k] !== undefined && fields[k] !== String(c)) return false;
    }
    return true;
  }

  private ifHolds(cond: any, fields: Record<string, string>): boolean {
    for (const [k, v] of Object.entries(cond.properties ?? {})) {
      const c = (v as any)?.const;
      if (c !== undefined && fields[k] !== String(c)) return false;
    }
    return true;
  }

  // at walks the path from the root schema; fieldsAt gives the fields of
  // the object at each depth (for the kind/type branches).
  at(segs: Seg[], fieldsAt: (depth: number) => Record<string, string>): Record<string, any>[] {
    let cur: Record<string, any>[] = this.expand(this.root, fieldsAt(0));
    segs.forEach((seg, i) => {
      const next: Schema[] = [];
      for (const s of cur) {
        if (typeof seg === "number") {
          if (s.items !== undefined) next.push(s.items);
        } else if (s.properties && s.properties[seg] !== undefined && s.properties[seg] !== false) {
          next.push(s.properties[seg]);
        }
      }
      cur = next.flatMap((n) => this.expand(n, fieldsAt(i + 1)));
    });
    return cur;
  }
}

function completionSource(getSchema: () => SchemaIndex | null) {
  return (ctx: CompletionContext): CompletionResult | null => {
    const schema = getSchema();
    if (!schema) return null;
    const word = ctx.matchBefore(/"?[\w$-]*"?/);
    const from = word ? word.from : ctx.pos;
    if (!ctx.explicit && (!word || word.from === word.to)) {
      const before = ctx.state.sliceDoc(Math.max(0, ctx.pos - 2), ctx.pos);
      if (!/[{,:\s]/.test(before)) return null;
    }
    const { segs, obj, keyPos } = pathAt(ctx.state, ctx.pos);
    // The fields of the object at each depth of the path, for the
    // kind/type branches of the schema.
    const fieldsAt = (depth: number) => {
      let n = topValue(ctx.state);
      for (const seg of segs.slice(0, depth)) {
        if (!n) break;
        if (typeof seg === "number") n = n.name === "Array" ? values(n)[seg] ?? null : null;
        else {
          const p: SyntaxNode | undefined = n.name === "Object" ? n.getChildren("Property").find((x) => propName(ctx.state, x) === seg) : undefined;
          n = p ? propValue(p) : null;
        }
      }
      return n && n.name === "Object" ? objectFields(ctx.state, n) : keyPos && depth === segs.length ? objectFields(ctx.state, obj) : {};
    };
    const candidates = schema.at(segs, fieldsAt);
    const options: Completion[] = [];
    const seen = new Set<string>();
    if (keyPos) {
      const present = objectFields(ctx.state, obj);
      const forbidden = new Set<string>();
      for (const s of candidates) for (const [k, v] of Object.entries(s.properties ?? {})) if (v === false) forbidden.add(k);
      for (const s of candidates) {
        for (const [k, v] of Object.entries(s.properties ?? {})) {
          if (v === false || forbidden.has(k) || k === "$schema" || seen.has(k) || (k in present && !word?.text.includes(k))) continue;
          seen.add(k);
          const d = schema.deref(v as Schema) as any;
          options.push({ label: `"${k}"`, apply: `"${k}": `, type: "property", detail: typeof d === "object" ? d.type ?? "" : "", info: typeof d === "object" ? d.description : undefined });
        }
      }
    } else {
      for (const s of candidates) {
        const vals: unknown[] = [...(Array.isArray(s.enum) ? s.enum : []), ...(s.const !== undefined ? [s.const] : [])];
        if (s.type === "boolean") vals.push(true, false);
        for (const v of vals) {
          const text = JSON.stringify(v);
          if (seen.has(text)) continue;
          seen.add(text);
          options.push({ label: text, type: "constant", info: s.description });
        }
      }
    }
    if (!options.length) return null;
    return { from, options, validFor: /^"?[\w$-]*"?$/ };
  };
}

// --- the editor --------------------------------------------------------------

let schemaPromise: Promise<SchemaIndex | null> | null = null;

function loadSchema(): Promise<SchemaIndex | null> {
  schemaPromise ??= api<any>("GET", "/v1/schema").then((s) => new SchemaIndex(s)).catch(() => null);
  return schemaPromise;
}

// createEditor makes the editor in parent. onChecked gets the validator's
// verdict for each version of the text (after a short pause in typing).
export function createEditor(parent: HTMLElement, text: string, onChecked: (errors: DraftError[], text: string) => void): DraftEditor {
  let schema: SchemaIndex | null = null;
  loadSchema().then((s) => (schema = s));
  const validate = linter(
    async (view): Promise<Diagnostic[]> => {
      const doc = view.state.doc.toString();
      let res: { valid: boolean; errors: { path: string; message: string }[] };
      try {
        res = await api("POST", "/v1/validate", doc);
      } catch (err) {
        onChecked([{ path: "", message: "could not validate: " + (err as Error).message, line: 0 }], doc);
        return [];
      }
      if (view.state.doc.toString() !== doc) return [];
      const errors: DraftError[] = [];
      const diags: Diagnostic[] = res.errors.map((e) => {
        const r = locate(view.state, e.path);
        errors.push({ ...e, line: view.state.doc.lineAt(r.from).number });
        return { from: r.from, to: r.to, severity: "error", message: (e.path ? e.path + ": " : "") + e.message, source: "leadflow" };
      });
      onChecked(errors, doc);
      return diags;
    },
    { delay: 350 },
  );
  // The editor lives in a shadow root: CodeMirror then styles it with a
  // constructed stylesheet (adoptedStyleSheets) instead of a <style>
  // element, which the console's Content-Security-Policy refuses.
  const shadow = parent.shadowRoot ?? parent.attachShadow({ mode: "open" });
  const host = document.createElement("div");
  shadow.replaceChildren(host);
  const view = new EditorView({
    doc: text,
    parent: host,
    root: shadow,
    extensions: [
      EditorView.theme({
        "&": { maxHeight: "60vh", fontSize: "13px", backgroundColor: "#fff" },
        ".cm-scroller": { overflow: "auto", fontFamily: "ui-monospace, SFMono-Regular, Menlo, monospace" },
        "&.cm-focused": { outline: "3px solid #f0a000" },
      }),
      basicSetup,
      json(),
      lintGutter(),
      validate,
      autocompletion({ override: [completionSource(() => schema)], activateOnTyping: true }),
      EditorView.contentAttributes.of({ "aria-label": "Definition JSON", "aria-describedby": "draft-errors" }),
      EditorView.lineWrapping,
    ],
  });
  (parent as any).editorView = view; // for the browser tests
  return {
    view,
    text: () => view.state.doc.toString(),
    setText: (t: string) => view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: t } }),
  };
}
