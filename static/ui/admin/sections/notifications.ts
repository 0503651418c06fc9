/**
 * Notifications: push messages through ntfy (`GET`/`PUT /mss-login/api/notifications`, `POST
 * …/notifications/test`; the contract is src/notify/routes.ts). The owner sets the server, the
 * topic and the access token (write-only: the app only learns whether one is set; "Remove" clears
 * it), the master switch, attachments, and per event: on/off, priority and tags; one Save sends it
 * all. Administrators see the same, read-only, and may send a test. "Send test" uses the saved
 * settings and shows what the ntfy server answered. The delivery card tells how sending went.
 */
import { api, ApiError } from "../../lib/api.ts";
import { field, h, replace, uid } from "../../lib/dom.ts";
import { confirmAction, notify } from "../../lib/ui.ts";
import { badge, checkboxField, loadFirst, outcomeLine, plural, setFieldError, timeText } from "../parts.ts";
import type { AdminContext, AdminSection } from "../section.ts";

type Priority = "min" | "low" | "default" | "high" | "urgent";

interface EventSetting {
  enabled: boolean;
  priority: Priority;
  tags: string[];
}

interface CatalogueItem {
  key: string;
  label: string;
  description: string;
  default_enabled: boolean;
  default_priority: Priority;
  default_tags: string[];
}

interface Delivery {
  queued: number;
  sent: number;
  failed: number;
  dropped: number;
  suppressed: number;
  images_waiting: number;
  last_success_at: string | null;
  last_failure_at: string | null;
  last_error: string | null;
}

/** `GET /mss-login/api/notifications`. */
interface NotificationSettings {
  enabled: boolean;
  server_url: string;
  topic: string;
  token_set: boolean;
  attach_images: boolean;
  events: Record<string, EventSetting>;
  catalogue: CatalogueItem[];
  priorities: Priority[];
  updated_at: string | null;
  updated_by: string | null;
  can_edit: boolean;
  delivery: Delivery;
  token_cleared?: boolean;
}

const PATH = "/mss-login/api/notifications";
const PRIORITY_LABELS: Record<Priority, string> = { min: "Min (1)", low: "Low (2)", default: "Default (3)", high: "High (4)", urgent: "Urgent (5)" };
const TAG = /^[A-Za-z0-9_+-]{1,32}$/;
const MAX_TAGS = 5;

export const notificationsSection: AdminSection = {
  id: "notifications",
  label: "Notifications",
  order: 48,
  render: (container, context) => renderNotifications(container, context),
};

/** Tags as typed: separated by commas or spaces. */
function tagList(text: string): string[] {
  return text
    .split(/[,\s]+/)
    .map((tag) => tag.trim())
    .filter((tag) => tag !== "");
}

function tagProblem(tags: string[]): string | null {
  if (tags.length > MAX_TAGS) return `At most ${MAX_TAGS} tags.`;
  const bad = tags.find((tag) => !TAG.test(tag));
  return bad === undefined ? null : `"${bad}" is not a tag: use letters, digits, _, + or - (emoji short codes such as warning or lock).`;
}

async function renderNotifications(container: HTMLElement, context: AdminContext): Promise<void> {
  const loaded = await loadFirst<NotificationSettings>(container, { loading: "Loading the notification settings…", failed: "Could not load the notification settings" }, () => api<NotificationSettings>("GET", PATH), () => void renderNotifications(container, context));
  if (loaded === null) return;
  let saved: NotificationSettings = loaded;
  const editable = saved.can_edit;
  const outcome = outcomeLine();

  // ----- delivery -----
  const deliveryBody = h("div");
  const testButton = h("button", { type: "button", class: "mss-btn" }, "Send test");
  const testResult = h("div", { class: "mss-notify-test-result" });
  testButton.addEventListener("click", () => void sendTest());

  function drawDelivery(): void {
    const d = saved.delivery;
    const state = !saved.enabled ? badge("off", undefined) : d.last_failure_at !== null && (d.last_success_at === null || d.last_failure_at > d.last_success_at) ? badge("failing", "bad") : badge("on", "good");
    const where = saved.topic === "" ? "No topic set yet." : `${saved.server_url}/${saved.topic}`;
    replace(
      deliveryBody,
      h("p", { class: "mss-notify-state" }, h("span", {}, "Notifications: "), state, " ", h("code", { class: "mss-notify-where" }, where)),
      h(
        "dl",
        { class: "mss-notify-stats" },
        h("div", {}, h("dt", {}, "Sent"), h("dd", {}, String(d.sent))),
        h("div", {}, h("dt", {}, "Waiting"), h("dd", {}, String(d.queued + d.images_waiting))),
        h("div", {}, h("dt", {}, "Failed"), h("dd", {}, String(d.failed))),
        h("div", {}, h("dt", {}, "Dropped or held back"), h("dd", {}, String(d.dropped + d.suppressed))),
        h("div", {}, h("dt", {}, "Last delivered"), h("dd", {}, timeText(d.last_success_at, "never"))),
        h("div", {}, h("dt", {}, "Last failure"), h("dd", {}, timeText(d.last_failure_at, "none"))),
        d.last_error === null ? null : h("div", { class: "mss-notify-wide" }, h("dt", {}, "Last error"), h("dd", {}, d.last_error)),
      ),
    );
    testButton.disabled = saved.topic === "";
  }

  async function sendTest(): Promise<void> {
    testButton.disabled = true;
    testButton.textContent = "Sending…";
    testResult.replaceChildren(h("p", { class: "mss-muted", role: "status" }, "Sending a test message…"));
    try {
      const answer = await api<{ ok: true; status: number; server_url: string; topic: string }>("POST", `${PATH}/test`, {});
      testResult.replaceChildren(h("p", { class: "mss-ok", role: "status" }, `Delivered: ${answer.server_url} accepted the test for topic ${answer.topic} (${answer.status}). Check your ntfy app.`));
    } catch (error) {
      const message = error instanceof ApiError ? error.message : String(error);
      testResult.replaceChildren(h("p", { class: "mss-alert", role: "alert" }, h("strong", {}, "Not delivered: "), message.replace(/^The test was not delivered: /, "")));
    } finally {
      testButton.textContent = "Send test";
      await refreshDelivery();
    }
  }

  async function refreshDelivery(): Promise<void> {
    try {
      const fresh = await api<NotificationSettings>("GET", PATH);
      saved = { ...saved, delivery: fresh.delivery };
    } catch {
      // the counts stay as they were
    }
    drawDelivery();
  }

  // ----- server, topic, token, switches -----
  const enabledBox = h("input", { type: "checkbox", disabled: !editable, "data-focus-key": "enabled" });
  const attachBox = h("input", { type: "checkbox", disabled: !editable, "data-focus-key": "attach" });
  const urlInput = h("input", { type: "url", spellcheck: "false", autocomplete: "off", disabled: !editable, placeholder: "https://ntfy.sh", "data-focus-key": "url" });
  const topicInput = h("input", { type: "text", spellcheck: "false", autocomplete: "off", disabled: !editable, maxlength: 64, placeholder: "a-hard-to-guess-topic", "data-focus-key": "topic" });
  const tokenInput = h("input", { type: "password", autocomplete: "new-password", spellcheck: "false", disabled: !editable, maxlength: 512, placeholder: "tk_…", "data-focus-key": "token" });
  const tokenState = h("p", { class: "mss-notify-token-state", id: uid("mss-token-state") });
  const removeToken = h("button", { type: "button", class: "mss-btn mss-btn-sm", disabled: !editable }, "Remove token");
  let clearToken = false;
  removeToken.addEventListener("click", () => {
    clearToken = !clearToken;
    if (clearToken) tokenInput.value = "";
    drawToken();
    updateBar();
  });
  tokenInput.addEventListener("input", () => {
    if (tokenInput.value !== "") clearToken = false;
    drawToken();
    updateBar();
  });
  for (const control of [enabledBox, attachBox]) control.addEventListener("change", () => updateBar());
  for (const control of [urlInput, topicInput]) control.addEventListener("input", () => updateBar());

  function serverOriginChanged(): boolean {
    try {
      return new URL(urlInput.value.trim()).origin !== new URL(saved.server_url).origin;
    } catch {
      return false;
    }
  }

  function drawToken(): void {
    const typed = tokenInput.value.trim() !== "";
    let text: string;
    if (typed) text = saved.token_set ? "The new token replaces the stored one when you save." : "The token is stored (encrypted) when you save.";
    else if (clearToken) text = "The stored token is removed when you save.";
    else if (saved.token_set && serverOriginChanged()) text = "A token is set, but it is forgotten when the server changes: enter the token for the new server.";
    else text = saved.token_set ? "A token is set. It is never shown; type a new one to replace it." : "No token: fine for public topics (for example on ntfy.sh).";
    const forgotten = saved.token_set && !typed && !clearToken && serverOriginChanged();
    const state = clearToken || forgotten ? badge("removed on save", "warn") : typed ? badge("new", "info") : saved.token_set ? badge("set", "good") : badge("not set");
    replace(tokenState, state, " ", text);
    removeToken.hidden = !saved.token_set;
    removeToken.textContent = clearToken ? "Keep token" : "Remove token";
    removeToken.setAttribute("aria-pressed", clearToken ? "true" : "false");
  }
  tokenInput.setAttribute("aria-describedby", tokenState.id);

  // ----- events -----
  const eventRows = new Map<string, { enabled: HTMLInputElement; priority: HTMLSelectElement; tags: HTMLInputElement; row: HTMLTableRowElement }>();
  const eventsTable = h(
    "table",
    { class: "mss-table mss-table-cards mss-notify-events" },
    h("caption", { class: "mss-visually-hidden" }, "Events and how each is sent"),
    h("thead", {}, h("tr", {}, ["Event", "Send", "Priority", "Tags"].map((title) => h("th", { scope: "col" }, title)))),
    h(
      "tbody",
      {},
      saved.catalogue.map((event) => {
        const enabled = h("input", { type: "checkbox", disabled: !editable, "aria-label": `Send "${event.label}"`, "data-focus-key": `${event.key}:on` });
        const priority = h(
          "select",
          { class: "mss-select-compact", disabled: !editable, "aria-label": `Priority of "${event.label}"`, "data-focus-key": `${event.key}:priority` },
          saved.priorities.map((name) => h("option", { value: name }, PRIORITY_LABELS[name] ?? name)),
        );
        const tags = h("input", { type: "text", class: "mss-notify-tags", spellcheck: "false", autocomplete: "off", disabled: !editable, "aria-label": `Tags of "${event.label}"`, placeholder: "warning, lock", "data-focus-key": `${event.key}:tags` });
        const tagsField = h("div", { class: "mss-field mss-notify-tags-field" }, tags);
        enabled.addEventListener("change", () => updateBar());
        priority.addEventListener("change", () => updateBar());
        tags.addEventListener("input", () => {
          setFieldError(tags, null);
          updateBar();
        });
        tags.addEventListener("change", () => setFieldError(tags, tagProblem(tagList(tags.value))));
        const row = h(
          "tr",
          { "data-event": event.key },
          h("th", { scope: "row" }, h("span", { class: "mss-notify-event-label" }, event.label), h("span", { class: "mss-hint mss-notify-event-hint" }, event.description)),
          h("td", { "data-label": "Send", class: "mss-cell-center" }, enabled),
          h("td", { "data-label": "Priority" }, priority),
          h("td", { "data-label": "Tags", class: "mss-cell-wide mss-notify-tags-cell" }, tagsField),
        );
        eventRows.set(event.key, { enabled, priority, tags, row });
        return row;
      }),
    ),
  );

  function fill(): void {
    enabledBox.checked = saved.enabled;
    attachBox.checked = saved.attach_images;
    urlInput.value = saved.server_url;
    topicInput.value = saved.topic;
    tokenInput.value = "";
    clearToken = false;
    for (const [key, controls] of eventRows) {
      const setting = saved.events[key];
      if (setting === undefined) continue;
      controls.enabled.checked = setting.enabled;
      controls.priority.value = setting.priority;
      controls.tags.value = setting.tags.join(", ");
      setFieldError(controls.tags, null);
    }
    for (const control of [urlInput, topicInput, tokenInput]) setFieldError(control, null);
    drawToken();
  }

  // ----- the save bar -----
  const counter = h("p", { class: "mss-savebar-count", "aria-live": "polite", tabindex: "-1" });
  const saveButton = h("button", { type: "button", class: "mss-btn mss-primary" }, "Save");
  const discardButton = h("button", { type: "button", class: "mss-btn" }, "Discard");
  saveButton.addEventListener("click", () => void save());
  discardButton.addEventListener("click", () => void discard());

  /** The draft's differences from what is stored, one per field or event. */
  function changes(): string[] {
    const list: string[] = [];
    if (enabledBox.checked !== saved.enabled) list.push("enabled");
    if (attachBox.checked !== saved.attach_images) list.push("attach_images");
    if (urlInput.value.trim().replace(/\/+$/, "") !== saved.server_url) list.push("server_url");
    if (topicInput.value.trim() !== saved.topic) list.push("topic");
    if (tokenInput.value.trim() !== "" || clearToken) list.push("token");
    for (const [key, controls] of eventRows) {
      const setting = saved.events[key];
      if (setting === undefined) continue;
      const same = controls.enabled.checked === setting.enabled && controls.priority.value === setting.priority && tagList(controls.tags.value).join(",") === setting.tags.join(",");
      controls.row.classList.toggle("mss-notify-changed", !same);
      if (!same) list.push(`events.${key}`);
    }
    return list;
  }

  function updateBar(): void {
    const count = editable ? changes().length : 0;
    counter.textContent = !editable ? "Only the owner may change these settings." : count === 0 ? "No unsaved changes" : plural(count, "unsaved change");
    counter.classList.toggle("mss-savebar-dirty", count > 0);
    saveButton.disabled = count === 0;
    discardButton.disabled = count === 0;
    context.setUnsaved(count === 0 ? null : plural(count, "unsaved notification change"));
    drawToken();
  }

  /** Shows a refusal under the control it is about (the server names one problem at a time). */
  function showRefusal(error: ApiError): void {
    const byCode: Record<string, HTMLInputElement> = { BAD_SERVER_URL: urlInput, BAD_TOPIC: topicInput, TOPIC_REQUIRED: topicInput, BAD_TOKEN: tokenInput };
    const eventKey = /^events\.([a-z_]+):/.exec(error.message)?.[1];
    const row = eventKey === undefined ? undefined : eventRows.get(eventKey);
    const control = byCode[error.code] ?? (row === undefined ? undefined : error.message.includes("priority") ? row.priority : row.tags);
    if (control === undefined) return;
    if (control instanceof HTMLInputElement && control.type !== "checkbox") setFieldError(control, error.message);
    control.focus();
  }

  async function save(): Promise<void> {
    outcome.clear();
    for (const control of [urlInput, topicInput, tokenInput]) setFieldError(control, null);
    const events: Record<string, EventSetting> = {};
    let firstBad: HTMLInputElement | null = null;
    for (const [key, controls] of eventRows) {
      const tags = tagList(controls.tags.value);
      const problem = tagProblem(tags);
      setFieldError(controls.tags, problem);
      if (problem !== null) firstBad ??= controls.tags;
      events[key] = { enabled: controls.enabled.checked, priority: controls.priority.value as Priority, tags };
    }
    if (firstBad !== null) {
      outcome.error("Nothing was saved", new Error("Some tags are not valid; see the marked events."));
      firstBad.focus();
      return;
    }
    const body: Record<string, unknown> = { enabled: enabledBox.checked, server_url: urlInput.value.trim(), topic: topicInput.value.trim(), attach_images: attachBox.checked, events };
    if (tokenInput.value.trim() !== "") body.token = tokenInput.value.trim();
    else if (clearToken) body.token = null;
    saveButton.disabled = true;
    saveButton.textContent = "Saving…";
    let answer: NotificationSettings;
    try {
      answer = await api<NotificationSettings>("PUT", PATH, body);
    } catch (error) {
      saveButton.textContent = "Save";
      updateBar();
      outcome.error("Nothing was saved", error);
      if (error instanceof ApiError) showRefusal(error);
      return;
    }
    saveButton.textContent = "Save";
    saved = answer;
    fill();
    drawDelivery();
    updateBar();
    notify("The notification settings are saved.", "ok");
    outcome.ok(answer.token_cleared === true ? "Saved. The server changed, so the stored token was removed: enter the new server's token if it needs one." : "Saved. They apply at once; use Send test to check.");
    counter.focus();
  }

  async function discard(): Promise<void> {
    if (!(await confirmAction("Discard the changes?", `${plural(changes().length, "unsaved change")} will be lost.`, "Discard", true))) return;
    outcome.clear();
    fill();
    updateBar();
    counter.focus();
  }

  const updated = saved.updated_at === null ? null : h("p", { class: "mss-muted" }, "Last saved ", timeText(saved.updated_at), saved.updated_by === null ? "" : ` by ${saved.updated_by}`, ".");
  replace(
    container,
    h(
      "div",
      { class: "mss-section-intro" },
      h(
        "p",
        { class: "mss-muted" },
        "Push messages to your phone or desktop through ntfy (ntfy.sh or a server of your own) when something happens on the gateway: failed sign-ins, new accounts, blocked images, finished downloads. Messages never contain passwords or tokens. ",
        editable ? "Only you, the owner, may change where they are sent." : "Only the owner may change these settings; you can send a test.",
      ),
      updated,
    ),
    h("div", { class: "mss-card" }, h("h3", { class: "mss-card-title" }, "Delivery"), deliveryBody, h("div", { class: "mss-actions mss-actions-start" }, testButton), h("p", { class: "mss-hint" }, "The test uses the saved settings, even while notifications are switched off."), testResult),
    h(
      "div",
      { class: "mss-card" },
      h("h3", { class: "mss-card-title" }, "ntfy server"),
      checkboxField("Send notifications", enabledBox, "Master switch: nothing is sent while it is off."),
      h(
        "div",
        { class: "mss-form-grid" },
        field("Server address", urlInput, "https:// (plain http:// only for a server on this machine)."),
        field("Topic", topicInput, "Letters, digits, - and _. Anyone who knows a public topic can read it: pick one hard to guess, or protect it with a token."),
      ),
      h("div", { class: "mss-form-grid" }, h("div", {}, field("Access token", tokenInput), tokenState, h("div", { class: "mss-actions mss-actions-start" }, removeToken))),
      checkboxField("Attach the picture to \u201cImage generated\u201d", attachBox, "Only when the NSFW guard judged that picture safe; otherwise the message says it was withheld."),
    ),
    h("div", { class: "mss-card" }, h("h3", { class: "mss-card-title" }, "Events"), h("p", { class: "mss-hint" }, "Priorities follow ntfy: Min and Low arrive silently, High and Urgent stand out. Tags are ntfy tags; emoji short codes (warning, lock, rocket) show as emoji."), h("div", { class: "mss-table-wrap" }, eventsTable)),
    h("div", { class: "mss-savebar" }, outcome.element, counter, h("div", { class: "mss-row" }, discardButton, saveButton)),
  );
  fill();
  drawDelivery();
  updateBar();
  if (!editable) {
    saveButton.hidden = true;
    discardButton.hidden = true;
  }
}
