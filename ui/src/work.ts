// Sales' work and what went wrong: CRM tasks newest first with their
// delivery status, failed deliveries and quarantined events with their
// errors and a retry button.

import { api, q, type Task } from "./api";
import { changed, empty, fmtTime, h, keepFocus, section } from "./dom";
import { currentSession } from "./main";

const POLL_MS = 5000;

interface Delivery {
  id: number;
  kind: string;
  crm_task_id: number | null;
  url: string;
  status: string;
  attempts: number;
  last_error: string;
  response_code: number;
  manual_retries: number;
  created_at: string;
  failed_at: string | null;
}

interface FailedEvent {
  id: string;
  contact_id: string;
  type: string;
  error: string;
  attempts: number;
  last_attempt_at: string;
}

const filters = { assignee: "", status: "" };

export function workPage(main: HTMLElement) {
  let stopped = false;
  let timer = 0;
  const admin = currentSession()?.role === "admin";
  const tasks = h("div", { id: "tasks" });
  const deliveries = h("div", { id: "deliveries" });
  const events = h("div", { id: "quarantined" });
  const status = h("p", { class: "status", role: "status", "aria-live": "polite" });

  const assignee = h("input", { id: "f-assignee", type: "text", autocomplete: "off" });
  assignee.value = filters.assignee;
  assignee.addEventListener("input", () => {
    filters.assignee = assignee.value.trim();
    load();
  });
  const st = h("select", { id: "f-task-status" }, ["", "none", "pending", "delivered", "failed"].map((v) => h("option", { value: v }, v || "any status")));
  st.value = filters.status;
  st.addEventListener("change", () => {
    filters.status = st.value;
    load();
  });

  main.replaceChildren(
    h(
      "div",
      {},
      h("h1", {}, "Tasks and deliveries"),
      status,
      section(
        "CRM tasks",
        h("form", { class: "filters", role: "search", "aria-label": "Filter CRM tasks", onsubmit: (e: Event) => e.preventDefault() },
          h("div", { class: "field" }, h("label", { for: "f-assignee" }, "Assignee"), assignee),
          h("div", { class: "field" }, h("label", { for: "f-task-status" }, "Delivery status"), st)),
        tasks,
      ),
      section("Failed deliveries", h("p", { class: "sub" }, "Calls to the CRM webhook and webhook steps that gave up. Retry sends one again, as a new delivery attempt."), deliveries),
      section("Quarantined events", h("p", { class: "sub" }, "Events that could not be applied, set aside so their partition goes on. Retry puts one back in the log."), events),
    ),
  );

  async function retry(btn: HTMLButtonElement, path: string) {
    btn.disabled = true;
    try {
      await api("POST", path);
      status.textContent = `Retried (${path}).`;
    } catch (err) {
      status.textContent = "Retry refused: " + (err as Error).message;
    }
    load();
  }

  async function load() {
    window.clearTimeout(timer);
    try {
      const [t, d, e] = await Promise.all([
        api<{ tasks: Task[] }>("GET", "/v1/tasks" + q({ assignee: filters.assignee, status: filters.status, limit: "100" })),
        api<{ deliveries: Delivery[] }>("GET", "/v1/deliveries?status=failed&limit=100"),
        api<{ events: FailedEvent[] }>("GET", "/v1/events/failed?limit=100"),
      ]);
      if (stopped) return;
      if (changed(tasks, t)) keepFocus(tasks, () => tasks.replaceChildren(
        t.tasks.length
          ? table("CRM tasks, newest first", ["Created", "Task", "Contact", "Assignee", "Due", "Delivery"], t.tasks.map((x) =>
              h("tr", { "data-task": String(x.id), "data-status": x.delivery_status, "data-key": "t" + x.id },
                h("td", {}, fmtTime(x.created_at)),
                h("td", {}, x.title, h("div", { class: "sub" }, x.reason)),
                h("td", {}, h("a", { href: "#/contacts/" + encodeURIComponent(x.contact_id) }, x.contact_id)),
                h("td", {}, x.assignee || "—"),
                h("td", {}, fmtTime(x.due_at)),
                h("td", {}, h("span", { class: "pill " + x.delivery_status }, x.delivery_status)))))
          : empty("No CRM tasks match."),
      ));
      if (changed(deliveries, d)) keepFocus(deliveries, () => deliveries.replaceChildren(
        d.deliveries.length
          ? table("Failed deliveries, newest first", ["Failed", "Kind", "To", "Attempts", "Error", ""], d.deliveries.map((x) => {
              const btn = h("button", { type: "button", class: "retry", "aria-label": `Retry delivery ${x.id}` }, "Retry");
              btn.addEventListener("click", () => retry(btn, `/v1/deliveries/${x.id}/retry`));
              return h("tr", { "data-delivery": String(x.id), "data-key": "d" + x.id },
                h("td", {}, fmtTime(x.failed_at)),
                h("td", {}, x.kind, x.crm_task_id ? h("div", { class: "sub" }, `task ${x.crm_task_id}`) : null),
                h("td", { class: "mono small" }, x.url),
                h("td", { class: "num" }, String(x.attempts), x.manual_retries ? h("div", { class: "sub" }, `${x.manual_retries} by hand`) : null),
                h("td", { class: "error" }, x.last_error + (x.response_code ? ` (HTTP ${x.response_code})` : "")),
                h("td", {}, admin ? btn : null));
            }))
          : empty("No failed deliveries."),
      ));
      if (changed(events, e)) keepFocus(events, () => events.replaceChildren(
        e.events.length
          ? table("Quarantined events", ["Last attempt", "Event", "Contact", "Attempts", "Error", ""], e.events.map((x) => {
              const btn = h("button", { type: "button", class: "retry", "aria-label": `Retry event ${x.id}` }, "Retry");
              btn.addEventListener("click", () => retry(btn, `/v1/events/${encodeURIComponent(x.id)}/retry`));
              return h("tr", { "data-event": x.id, "data-key": "e" + x.id },
                h("td", {}, fmtTime(x.last_attempt_at)),
                h("td", {}, h("span", { class: "mono" }, x.type), h("div", { class: "sub mono" }, x.id)),
                h("td", {}, h("a", { href: "#/contacts/" + encodeURIComponent(x.contact_id) }, x.contact_id)),
                h("td", { class: "num" }, String(x.attempts)),
                h("td", { class: "error" }, x.error),
                h("td", {}, admin ? btn : null));
            }))
          : empty("No quarantined events."),
      ));
    } catch (err) {
      if (!stopped) status.textContent = "Could not load: " + (err as Error).message;
    }
    if (!stopped) timer = window.setTimeout(load, POLL_MS);
  }

  load();
  return () => {
    stopped = true;
    window.clearTimeout(timer);
  };
}

function table(caption: string, head: string[], rows: HTMLElement[]): HTMLElement {
  return h("div", { class: "tablewrap" },
    h("table", {},
      h("caption", { class: "sr" }, caption),
      h("thead", {}, h("tr", {}, head.map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, rows)));
}
