/**
 * Small pieces the admin sections share: loading and error boxes, the line that reports the
 * outcome of the last action, badges, role names, and keeping keyboard focus across a re-render.
 * Everything is built with `h`, so server data is always text.
 */
import { errorText } from "../lib/api.ts";
import { h, replace, uid, type Child } from "../lib/dom.ts";

/** A visible "Loading…" line (never a blank area while a section waits for the server). */
export function loadingBox(text = "Loading…"): HTMLElement {
  return h("p", { class: "mss-muted mss-loading", role: "status" }, text);
}

/**
 * A section's first load: a loading line, then the data; on failure the error box with "Try
 * again" (calling `retry`) replaces the section, and the result is null.
 */
export async function loadFirst<T>(container: HTMLElement, texts: { loading: string; failed: string }, load: () => Promise<T>, retry: () => void): Promise<T | null> {
  replace(container, loadingBox(texts.loading));
  try {
    return await load();
  } catch (error) {
    replace(container, errorBox(texts.failed, error, retry));
    return null;
  }
}

/** A box that says what failed, with the server's message and an optional "Try again". */
export function errorBox(title: string, error: unknown, retry?: () => void): HTMLElement {
  return h(
    "div",
    { class: "mss-card mss-error-box", role: "alert" },
    h("h3", {}, title),
    h("p", {}, errorText(error)),
    retry ? h("div", { class: "mss-actions mss-actions-start" }, h("button", { type: "button", class: "mss-btn", onclick: retry }, "Try again")) : null,
  );
}

export type BadgeKind = "good" | "bad" | "warn" | "info" | undefined;

export function badge(text: string, kind?: BadgeKind): HTMLSpanElement {
  return h("span", { class: kind ? `mss-badge mss-badge-${kind}` : "mss-badge" }, text);
}

/**
 * Where a section reports what its last action did: errors (the server's own message) stay
 * until the next action; a new alert element is inserted each time so screen readers say it.
 */
export interface Outcome {
  element: HTMLElement;
  error(context: string, error: unknown): void;
  ok(message: string): void;
  clear(): void;
}

export function outcomeLine(): Outcome {
  const element = h("div", { class: "mss-outcome" });
  return {
    element,
    error(context, error) {
      element.replaceChildren(h("p", { class: "mss-alert", role: "alert" }, h("strong", {}, `${context}: `), errorText(error)));
    },
    ok(message) {
      element.replaceChildren(h("p", { class: "mss-ok", role: "status" }, message));
    },
    clear() {
      element.replaceChildren();
    },
  };
}

const ROLE_LABELS: Record<string, string> = { owner: "Owner", admin: "Admin", power: "Power user", user: "User", guest: "Guest" };

export function roleLabel(role: string): string {
  return ROLE_LABELS[role] ?? role;
}

/** Re-renders what is inside `root` and gives focus back to the control that had it (matched by `data-focus-key`). */
export function keepingFocus(root: HTMLElement, render: () => void): void {
  const active = document.activeElement;
  const key = active instanceof HTMLElement && root.contains(active) ? active.dataset.focusKey : undefined;
  render();
  if (key !== undefined) focusByKey(root, key);
}

/** "1 unsaved change" / "3 unsaved changes". */
export function plural(count: number, one: string, many: string = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

/** A labelled checkbox on one line (label after the box). */
export function checkboxField(label: string, input: HTMLInputElement, hint?: Child): HTMLElement {
  if (!input.id) input.id = uid("mss-check");
  const hintId = hint ? `${input.id}-hint` : null;
  if (hintId) input.setAttribute("aria-describedby", hintId);
  return h(
    "div",
    { class: "mss-field mss-field-check" },
    h("div", { class: "mss-check-line" }, input, h("label", { for: input.id }, label)),
    hintId ? h("p", { class: "mss-hint", id: hintId }, hint) : null,
  );
}

/**
 * Shows (or, with null, clears) an error under a form control: the message is linked to the
 * control with aria-describedby and the control is marked aria-invalid.
 */
export function setFieldError(control: HTMLElement, message: string | null): void {
  if (!control.id) control.id = uid("mss-control");
  const errorId = `${control.id}-error`;
  const holder = control.closest(".mss-field") ?? control.parentElement;
  let element = holder?.querySelector<HTMLElement>(`#${CSS.escape(errorId)}`) ?? null;
  const others = (control.getAttribute("aria-describedby") ?? "").split(/\s+/).filter((id) => id !== "" && id !== errorId);
  if (message === null) {
    element?.remove();
    control.removeAttribute("aria-invalid");
    if (others.length > 0) control.setAttribute("aria-describedby", others.join(" "));
    else control.removeAttribute("aria-describedby");
    return;
  }
  if (element === null) {
    element = h("p", { class: "mss-field-error", id: errorId });
    holder?.appendChild(element);
  }
  element.textContent = message;
  control.setAttribute("aria-invalid", "true");
  control.setAttribute("aria-describedby", [errorId, ...others].join(" "));
}

const SHORT_TIME = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
const SHORT_TIME_YEAR = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });

/** A compact date and time ("Nov 30, 10:14 PM"; the year only when it is not this one) in a <time>, with the full time as its title. */
export function timeText(iso: string | null | undefined, none = "—"): HTMLElement | string {
  if (!iso) return none;
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return none;
  const text = (date.getFullYear() === new Date().getFullYear() ? SHORT_TIME : SHORT_TIME_YEAR).format(date);
  return h("time", { datetime: date.toISOString(), title: date.toLocaleString() }, text);
}

/** Puts focus on the enabled control with this `data-focus-key` inside `root`, or on `fallback`. */
export function focusByKey(root: ParentNode, key: string | undefined, fallback?: HTMLElement | null): void {
  const target = key === undefined ? null : root.querySelector<HTMLElement>(`[data-focus-key="${CSS.escape(key)}"]`);
  if (target && !target.hasAttribute("disabled")) target.focus();
  else fallback?.focus();
}
