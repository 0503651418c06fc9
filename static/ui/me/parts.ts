/**
 * Small building blocks shared by the cards of the user's own page: a titled card, a form's
 * message line (announced to screen readers), a busy state for a submit button, and a way to
 * show a list that is loading, failed, or empty.
 */
import { h, replace, uid, type Child } from "../lib/dom.ts";
import { ApiError, errorText } from "../lib/api.ts";

/** What every card gets: who is signed in, and a way to tell the other cards that something changed. */
export interface MeContext {
  username: string;
  role: string;
  isAdmin: boolean;
  mfaEnabled: boolean;
  permissions: Record<string, boolean>;
  /** Another card changed something the sessions list shows (other sessions were signed out). */
  sessionsChanged(): void;
}

/** A card section whose heading names it for assistive technology. */
export function card(title: string, intro: Child, ...children: Child[]): { section: HTMLElement; body: HTMLDivElement } {
  const headingId = uid("me-card");
  const body = h("div", { class: "mss-me-card-body" });
  const section = h("section", { class: "mss-card mss-me-card", "aria-labelledby": headingId }, h("h2", { id: headingId }, title), intro ? h("p", { class: "mss-muted" }, intro) : null, body, ...children);
  return { section, body };
}

/**
 * The message line under a form. Errors go in a `role="alert"` element (read out at once);
 * successes in a `role="status"` one (read out politely).
 */
export function messageLine(): { element: HTMLDivElement; error(text: string): void; ok(text: string): void; clear(): void } {
  const alert = h("p", { class: "mss-error mss-me-message", role: "alert" });
  const status = h("p", { class: "mss-ok mss-me-message", role: "status" });
  const element = h("div", {}, alert, status);
  return {
    element,
    error(text) {
      status.textContent = "";
      alert.textContent = text;
    },
    ok(text) {
      alert.textContent = "";
      status.textContent = text;
    },
    clear() {
      alert.textContent = "";
      status.textContent = "";
    },
  };
}

/** Marks a control as wrong (or right again) for assistive technology and the theme. */
export function markInvalid(control: HTMLElement, invalid: boolean): void {
  if (invalid) control.setAttribute("aria-invalid", "true");
  else control.removeAttribute("aria-invalid");
}

/** Runs `work` with `button` disabled and showing `busyLabel`; restores it afterwards. */
export async function busy<T>(button: HTMLButtonElement, busyLabel: string, work: () => Promise<T>): Promise<T> {
  const label = button.textContent ?? "";
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  button.textContent = busyLabel;
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
    button.textContent = label;
  }
}

/** The text to show for a failed call: the server's own message, or a plain one when it cannot be reached. */
export function failureText(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 401) return "Your session has ended. Sign in again to continue.";
    return error.message;
  }
  if (error instanceof TypeError) return "The gateway cannot be reached. Check the connection and try again.";
  return errorText(error);
}

/** A "loading" placeholder announced politely. */
export function loadingView(text: string): HTMLElement {
  return h("p", { class: "mss-muted mss-me-loading", role: "status" }, h("span", { class: "mss-me-spinner", "aria-hidden": "true" }), text);
}

/** A failed load with the reason and a retry button. */
export function failedView(what: string, error: unknown, retry: () => void): HTMLElement {
  const signedOut = error instanceof ApiError && error.status === 401;
  return h(
    "div",
    { class: "mss-me-failed", role: "alert" },
    h("p", { class: "mss-error" }, `${what}: ${failureText(error)}`),
    signedOut
      ? h("a", { class: "mss-btn", href: `/login?next=${encodeURIComponent(location.pathname)}` }, "Sign in again")
      : h("button", { type: "button", class: "mss-btn", onclick: retry }, "Try again"),
  );
}

/**
 * Loads a list into `target`: a loading line first, then `render(data)`, or the error with a
 * retry. Returns the reload function.
 */
export function loader<T>(target: HTMLElement, what: string, fetchData: () => Promise<T>, render: (data: T) => Child): () => Promise<void> {
  const load = async (): Promise<void> => {
    target.setAttribute("aria-busy", "true");
    if (target.childElementCount === 0) replace(target, loadingView(`Loading ${what.toLowerCase()}…`));
    try {
      const data = await fetchData();
      replace(target, render(data));
    } catch (error) {
      replace(target, failedView(`Could not load ${what.toLowerCase()}`, error, () => void load()));
    } finally {
      target.removeAttribute("aria-busy");
    }
  };
  return load;
}

/** Cells of a table that turns into labelled blocks at phone width (see theme.css, .mss-me-stack). */
export function cell(label: string, ...children: Child[]): HTMLTableCellElement {
  return h("td", { "data-label": label }, h("div", { class: "mss-me-cell" }, ...children));
}

/** A short, readable name for a browser's user agent ("Firefox on Windows"). */
export function describeAgent(agent: string | null | undefined): string {
  if (!agent) return "Unknown device";
  const browser =
    /\bEdg(e|A|iOS)?\//.test(agent) ? "Edge"
    : /\bOPR\//.test(agent) ? "Opera"
    : /\bFirefox\/|FxiOS\//.test(agent) ? "Firefox"
    : /Chrom(e|ium)\/|CriOS\//.test(agent) ? "Chrome"
    : /\bSafari\//.test(agent) ? "Safari"
    : /^curl\//.test(agent) ? "curl"
    : /python-requests|aiohttp|httpx/i.test(agent) ? "Python script"
    : null;
  const system =
    /iPhone|iPad|iPod/.test(agent) ? "iOS"
    : /Android/.test(agent) ? "Android"
    : /Windows/.test(agent) ? "Windows"
    : /Mac OS X|Macintosh/.test(agent) ? "macOS"
    : /CrOS/.test(agent) ? "ChromeOS"
    : /Linux/.test(agent) ? "Linux"
    : null;
  if (browser && system) return `${browser} on ${system}`;
  if (browser) return browser;
  if (system) return `Browser on ${system}`;
  return agent.length > 60 ? `${agent.slice(0, 57)}…` : agent;
}

/**
 * The account's name in a password form, hidden: password managers match the saved password to
 * it (they look for a username field in the same form).
 */
export function usernameForPasswordManagers(username: string): HTMLInputElement {
  return h("input", { type: "text", name: "username", autocomplete: "username", value: username, hidden: true, readonly: true, tabindex: -1, "aria-hidden": "true" });
}
