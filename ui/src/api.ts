// The JSON API, called with the console's session cookie. Changes carry
// the session's anti-CSRF token.

export class APIError extends Error {
  constructor(public status: number, message: string, public details: { path: string; message: string }[] = []) {
    super(message);
  }
}

let csrf = "";

export function setCSRF(token: string) {
  csrf = token;
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && method !== "HEAD" && csrf) headers["X-CSRF-Token"] = csrf;
  const resp = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  if (resp.status === 204) return undefined as T;
  const text = await resp.text();
  let data: any = undefined;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON */
  }
  if (!resp.ok) {
    if (resp.status === 401 && path !== "/v1/session") window.dispatchEvent(new Event("leadflow:signedout"));
    throw new APIError(resp.status, data?.error ?? `${method} ${path}: HTTP ${resp.status}`, data?.details ?? []);
  }
  return data as T;
}

export interface Session {
  role: "admin" | "viewer";
  csrf_token: string;
  expires_at: string;
}

export interface Band {
  name: string;
  min: number;
  color: string;
}

// A score with the band it falls in and the band's colour.
export interface BandedScore {
  score: number;
  band: string;
  color: string;
}

export interface Lead {
  contact_id: string;
  email: string;
  score: number;
  band: string;
  band_color: string;
  stage: string;
  owner: string;
  disqualified: boolean;
  score_updated_at: string;
  last_activity: string | null;
}

export interface Leads {
  model: string;
  bands: Band[];
  leads: Lead[];
  next_cursor?: string;
}

export interface Definition {
  id: string;
  kind: "flow" | "segment" | "score_model";
  status: string;
  current_version: number;
  created_at: string;
  updated_at: string;
  body: any;
}

export interface DefinitionVersion {
  version: number;
  hash: string;
  published_at: string;
  body: any;
}

export interface LedgerEntry {
  id: number;
  model: string;
  points: number;
  kind: string;
  reason: string;
  rule_id: string;
  model_version: number;
  flow_id: string;
  flow_version: number;
  step_id: string;
  run_id: string;
  event_id: string;
  at: string;
  expires_at?: string;
  expired: boolean;
  // The half-life decay not yet in the ledger, up to the request's time.
  pending?: boolean;
}

export interface Contact {
  contact_id: string;
  email: string;
  fields: Record<string, unknown>;
  tags: string[];
  account_id: string | null;
  stage: string;
  disqualified: boolean;
  disqualified_reason: string;
  scores: Record<string, { score: number; band: string; color: string; profile: number; engagement: number }>;
  segments: string[];
  created_at: string;
  updated_at: string;
}

export interface Timeline {
  events: { id: string; type: string; properties: Record<string, unknown>; occurred_at: string; applied_at: string | null; quarantined: boolean }[];
  segments: { segment_id: string; entered_at: string }[];
  segment_history: { segment_id: string; change: string; event_id: string; at: string }[];
  flow_runs: {
    id: string;
    flow_id: string;
    flow_version: number;
    status: string;
    step_id: string;
    wait_kind: string;
    wait_event: string;
    wait_until: string | null;
    started_at: string;
    finished_at: string | null;
    error: string;
  }[];
}

export interface Task {
  id: number;
  contact_id: string;
  title: string;
  description: string;
  assignee: string;
  due_at: string | null;
  reason: string;
  flow_id: string;
  step_id: string;
  delivery_status: string;
  created_at: string;
}

export interface StepStats {
  step_id: string;
  running: number;
  waiting: number;
  completed: number;
  exited: number;
  failed: number;
}

export const q = (params: Record<string, string | undefined>) => {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") u.set(k, v);
  const s = u.toString();
  return s ? "?" + s : "";
};
