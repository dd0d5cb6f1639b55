// The leadflow console: a hash-routed single page (#/leads,
// #/contacts/<id>, #/flows, #/flows/<id>) over the JSON API.

import { api, APIError, setCSRF, type Session } from "./api";
import { h } from "./dom";
import { boardPage } from "./board";
import { contactPage } from "./contact";
import { flowsPage, flowPage, newDefinitionPage } from "./flows";
import { workPage } from "./work";
import { accountPage, accountsPage, segmentPage, segmentsPage } from "./segments";

export type Cleanup = (() => void) | void;

let session: Session | null = null;
let cleanup: Cleanup = undefined;

const main = document.getElementById("main")!;

export function currentSession(): Session | null {
  return session;
}

function signInPage(): Cleanup {
  const key = h("input", { id: "key", name: "key", type: "password", autocomplete: "current-password", required: true });
  const msg = h("p", { id: "signin-error", class: "error", role: "alert" });
  const form = h(
    "form",
    { class: "card signin", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title" }, "Sign in to leadflow"),
    h("p", {}, "Use the admin key, or the viewer key to read only."),
    h("label", { for: "key" }, "Key"),
    key,
    h("button", { type: "submit", id: "signin" }, "Sign in"),
    msg,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    msg.textContent = "";
    try {
      session = await api<Session>("POST", "/v1/session", { key: key.value });
      setCSRF(session.csrf_token);
      key.value = "";
      if (!location.hash || location.hash === "#/signin") location.hash = "#/leads";
      else route();
    } catch (err) {
      msg.textContent = err instanceof APIError ? err.message : String(err);
      key.focus();
    }
  });
  main.replaceChildren(form);
  key.focus();
}

function chrome() {
  const nav = document.getElementById("nav")!;
  const who = document.getElementById("who")!;
  const out = document.getElementById("signout")!;
  nav.hidden = !session;
  out.hidden = !session;
  who.textContent = session ? `signed in: ${session.role}` : "";
  for (const a of nav.querySelectorAll("a")) {
    const active = location.hash.startsWith(a.getAttribute("href")!.replace(/s$/, ""));
    if (active) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

export function route() {
  if (typeof cleanup === "function") cleanup();
  cleanup = undefined;
  chrome();
  if (!session) {
    cleanup = signInPage();
    return;
  }
  const hash = decodeURIComponent(location.hash.slice(1));
  let m: RegExpMatchArray | null;
  if ((m = hash.match(/^\/contacts\/(.+)$/))) cleanup = contactPage(main, m[1]);
  else if ((m = hash.match(/^\/flows\/(.+)$/))) cleanup = flowPage(main, m[1]);
  else if (hash === "/flows") cleanup = flowsPage(main);
  else if (hash === "/new") cleanup = newDefinitionPage(main);
  else if (hash === "/work") cleanup = workPage(main);
  else if ((m = hash.match(/^\/segments\/(.+)$/))) cleanup = segmentPage(main, m[1]);
  else if (hash === "/segments") cleanup = segmentsPage(main);
  else if ((m = hash.match(/^\/accounts\/(.+)$/))) cleanup = accountPage(main, m[1]);
  else if (hash === "/accounts") cleanup = accountsPage(main);
  else cleanup = boardPage(main);
  main.focus({ preventScroll: true });
}

document.getElementById("signout")!.addEventListener("click", async () => {
  try {
    await api("DELETE", "/v1/session");
  } finally {
    session = null;
    setCSRF("");
    route();
  }
});

window.addEventListener("leadflow:signedout", () => {
  if (session) {
    session = null;
    route();
  }
});
window.addEventListener("hashchange", route);
document.querySelector(".skip")?.addEventListener("click", (e) => {
  e.preventDefault();
  main.focus();
});

(async () => {
  try {
    session = await api<Session>("GET", "/v1/session");
    setCSRF(session.csrf_token);
  } catch {
    session = null;
  }
  route();
})();
