/**
 * Audit log: the chain check (`GET /mss-login/api/audit/verify`) with a "Check again" button, the
 * filters (action prefix, outcome, actor, address, since/until), the entries newest first
 * (`GET /mss-login/api/audit?…&before_id&limit`, paged with "Older entries" and "Newest"), and
 * the downloads of every matching entry (`GET …/audit/export?format=ndjson|csv&…`, plain links:
 * same origin, the session cookie goes along). The contract is src/audit/routes.ts.
 */
import { api } from "../../lib/api.ts";
import { field, h, replace, uid } from "../../lib/dom.ts";
import { badge, errorBox, focusByKey, keepingFocus, loadingBox, outcomeLine, plural, setFieldError, timeText, type BadgeKind } from "../parts.ts";
import type { AdminContext, AdminSection } from "../section.ts";

/** One item of `GET /mss-login/api/audit`. */
interface AuditItem {
  id: number;
  at: string;
  actor_id: string | null;
  actor: string | null;
  ip: string | null;
  user_agent: string | null;
  action: string;
  target: string | null;
  outcome: string;
  details: unknown;
  hash: string;
}

type VerifyView = { intact: true; entries: number; from: number; head: string } | { intact: false; entries_verified: number; broken_id: number; problem: string };

const BASE = "/mss-login/api/audit";
const ACTION_PREFIXES = ["login.", "ip.", "nsfw.", "settings.", "POST ", "PUT ", "DELETE "];
const OUTCOMES: { value: string; label: string }[] = [
  { value: "", label: "Any" },
  { value: "success", label: "Success" },
  { value: "failure", label: "Failure" },
  { value: "denied", label: "Denied" },
];
const PAGE_SIZES = [10, 25, 50, 100];
const DEFAULT_PAGE_SIZE = 50;

export const auditSection: AdminSection = {
  id: "audit",
  label: "Audit log",
  order: 47,
  render: (container, context) => renderAudit(container, context),
};

const OUTCOME_KINDS: Record<string, BadgeKind> = { success: "good", failure: "bad", denied: "warn" };

/** `details` as a compact `key: value` list (text as it is; anything else as JSON). */
function detailsView(details: unknown): Node {
  const none = h("span", { class: "mss-muted" }, "—");
  if (details === null || details === undefined || details === "") return none;
  if (typeof details !== "object" || Array.isArray(details)) return h("code", { class: "mss-audit-detail-text" }, typeof details === "string" ? details : JSON.stringify(details));
  const entries = Object.entries(details as Record<string, unknown>);
  if (entries.length === 0) return none;
  return h(
    "ul",
    { class: "mss-audit-details" },
    entries.map(([key, value]) => h("li", {}, h("span", { class: "mss-muted" }, `${key}: `), typeof value === "string" ? value : JSON.stringify(value))),
  );
}

async function renderAudit(container: HTMLElement, context: AdminContext): Promise<void> {
  replace(container, loadingBox("Loading the audit log…"));
  /** The filters in force (the fields may hold typed, not yet applied values). */
  let applied = new URLSearchParams();
  let pageSize = DEFAULT_PAGE_SIZE;
  let beforeId: number | null = null;
  let pageNumber = 1;
  let items: AuditItem[] = [];
  let nextBeforeId: number | null = null;
  let chain: VerifyView | null = null;
  let chainError: unknown = null;

  const fetchPage = async (): Promise<void> => {
    const query = new URLSearchParams(applied);
    query.set("limit", String(pageSize));
    if (beforeId !== null) query.set("before_id", String(beforeId));
    const answer = await api<{ items: AuditItem[]; next_before_id: number | null }>("GET", `${BASE}?${query}`);
    items = answer.items;
    nextBeforeId = answer.next_before_id;
  };
  const fetchChain = async (): Promise<void> => {
    try {
      chain = await api<VerifyView>("GET", `${BASE}/verify`);
      chainError = null;
    } catch (error) {
      chain = null;
      chainError = error;
    }
  };
  try {
    await Promise.all([fetchPage(), fetchChain()]);
  } catch (error) {
    replace(container, errorBox("Could not load the audit log", error, () => void renderAudit(container, context)));
    return;
  }
  const outcome = outcomeLine();

  // ----- the chain check -----
  const chainBody = h("div", { class: "mss-audit-chain", "data-audit-chain": "" });
  const checkAgain = h("button", { type: "button", class: "mss-btn", "data-focus-key": "check-again" }, "Check again");
  checkAgain.addEventListener("click", async () => {
    checkAgain.disabled = true;
    checkAgain.textContent = "Checking…";
    await fetchChain();
    checkAgain.disabled = false;
    checkAgain.textContent = "Check again";
    drawChain();
    checkAgain.focus();
  });

  function drawChain(): void {
    let line: Node;
    if (chain === null) {
      line = h("p", { class: "mss-alert", role: "alert" }, h("strong", {}, "Could not check the chain: "), chainError instanceof Error ? chainError.message : String(chainError));
    } else if (chain.intact) {
      const text = chain.entries === 0 ? "no entries yet." : `${plural(chain.entries, "entry", "entries")} verified, head hash `;
      line = h(
        "p",
        { class: "mss-audit-chain-line", role: "status", "data-intact": "true" },
        badge("Intact", "good"),
        " ",
        text,
        chain.entries === 0 ? null : h("code", { title: chain.head }, `${chain.head.slice(0, 16)}…`),
        chain.from > 1 ? h("span", { class: "mss-muted" }, ` (from entry #${chain.from}; older entries were pruned)`) : null,
      );
    } else {
      line = h(
        "div",
        { class: "mss-alert", role: "alert", "data-intact": "false" },
        h("p", {}, badge("Broken", "bad"), " ", h("strong", {}, `Broken at entry #${chain.broken_id}: `), chain.problem),
        h("p", { class: "mss-audit-chain-more" }, `${plural(chain.entries_verified, "entry", "entries")} before it verified. An entry was changed, removed or inserted outside the gateway.`),
      );
    }
    keepingFocus(chainBody, () => replace(chainBody, line));
  }

  // ----- the filters -----
  const datalistId = uid("mss-audit-actions");
  const actionInput = h("input", { type: "text", list: datalistId, spellcheck: "false", autocomplete: "off", placeholder: "login.", maxlength: 200, class: "mss-audit-input" });
  const outcomeSelect = h(
    "select",
    {},
    OUTCOMES.map((option) => h("option", { value: option.value }, option.label)),
  );
  const actorInput = h("input", { type: "text", spellcheck: "false", autocomplete: "off", maxlength: 200, class: "mss-audit-input" });
  const ipInput = h("input", { type: "text", spellcheck: "false", autocomplete: "off", maxlength: 200, class: "mss-audit-input" });
  const sinceInput = h("input", { type: "datetime-local", class: "mss-audit-input" });
  const untilInput = h("input", { type: "datetime-local", class: "mss-audit-input" });
  const sizeSelect = h(
    "select",
    {},
    PAGE_SIZES.map((size) => h("option", { value: String(size), selected: size === DEFAULT_PAGE_SIZE }, String(size))),
  );
  const applyButton = h("button", { type: "submit", class: "mss-btn mss-primary" }, "Apply");
  const resetButton = h("button", { type: "button", class: "mss-btn" }, "Clear filters");
  const filterForm = h(
    "form",
    { class: "mss-audit-filters", novalidate: true, "aria-label": "Filter the audit log" },
    h("datalist", { id: datalistId }, ACTION_PREFIXES.map((prefix) => h("option", { value: prefix }))),
    field("Action starts with", actionInput),
    field("Outcome", outcomeSelect),
    field("Actor (exact name)", actorInput),
    field("Address (exact IP)", ipInput),
    field("Since", sinceInput),
    field("Until", untilInput),
    field("Entries per page", sizeSelect),
    h("div", { class: "mss-row mss-audit-filter-buttons" }, resetButton, applyButton),
  );
  filterForm.addEventListener("submit", (event) => {
    event.preventDefault();
    void apply();
  });
  resetButton.addEventListener("click", () => {
    for (const input of [actionInput, actorInput, ipInput, sinceInput, untilInput]) {
      input.value = "";
      setFieldError(input, null);
    }
    outcomeSelect.value = "";
    void apply();
  });

  /** A datetime-local value as an ISO time (it is local time), or null when it is not a time. */
  function timeParam(input: HTMLInputElement): string | null | undefined {
    if (input.value === "") return undefined;
    const date = new Date(input.value);
    return Number.isNaN(date.getTime()) ? null : date.toISOString();
  }

  async function apply(): Promise<void> {
    outcome.clear();
    const since = timeParam(sinceInput);
    const until = timeParam(untilInput);
    setFieldError(sinceInput, since === null ? "Not a date and time." : null);
    setFieldError(untilInput, until === null ? "Not a date and time." : null);
    if (since === null || until === null) {
      (since === null ? sinceInput : untilInput).focus();
      return;
    }
    if (since !== undefined && until !== undefined && since > until) {
      setFieldError(untilInput, "Until is before Since.");
      untilInput.focus();
      return;
    }
    const next = new URLSearchParams();
    const set = (name: string, value: string | undefined) => {
      if (value !== undefined && value.trim() !== "") next.set(name, value.trim());
    };
    // The action is a prefix: its trailing space ("PUT ") matters.
    if (actionInput.value.trim() !== "") next.set("action", actionInput.value.trimStart());
    set("outcome", outcomeSelect.value);
    set("actor", actorInput.value);
    set("ip", ipInput.value);
    set("since", since);
    set("until", until);
    applied = next;
    pageSize = Number(sizeSelect.value) || DEFAULT_PAGE_SIZE;
    beforeId = null;
    pageNumber = 1;
    drawExports();
    await reloadList(null);
    listCount.focus();
  }

  // ----- the entries -----
  const listCount = h("p", { class: "mss-muted mss-audit-count", "aria-live": "polite", tabindex: "-1" });
  const listBody = h("div", { class: "mss-table-wrap" });
  const newest = h("button", { type: "button", class: "mss-btn", "data-focus-key": "newest" }, "Newest");
  const older = h("button", { type: "button", class: "mss-btn", "data-focus-key": "older" }, "Older entries");
  newest.addEventListener("click", () => {
    beforeId = null;
    pageNumber = 1;
    void reloadList("older");
  });
  older.addEventListener("click", () => {
    if (nextBeforeId === null) return;
    beforeId = nextBeforeId;
    pageNumber += 1;
    void reloadList("older");
  });
  const pager = h("nav", { class: "mss-row mss-audit-pager", "aria-label": "Pages of the audit log" }, newest, older);

  async function reloadList(focusKey: string | null): Promise<void> {
    try {
      await fetchPage();
    } catch (error) {
      outcome.error("Could not load the entries", error);
      items = [];
      nextBeforeId = null;
    }
    drawList();
    if (focusKey !== null) focusByKey(container, focusKey, listCount);
  }

  function row(item: AuditItem): HTMLTableRowElement {
    const muted = (text: string) => h("span", { class: "mss-muted" }, text);
    return h(
      "tr",
      { "data-id": String(item.id), "data-action": item.action, "data-outcome": item.outcome },
      h("th", { scope: "row" }, timeText(item.at), muted(` #${item.id}`)),
      h("td", { "data-label": "Actor" }, item.actor ?? (item.actor_id === null ? muted("—") : h("code", {}, item.actor_id))),
      h("td", { "data-label": "Address" }, item.ip === null ? muted("—") : h("code", {}, item.ip)),
      h("td", { "data-label": "Action", class: "mss-cell-wide mss-audit-action" }, h("code", {}, item.action)),
      h("td", { "data-label": "Target" }, item.target ?? muted("—")),
      h("td", { "data-label": "Outcome" }, badge(item.outcome, OUTCOME_KINDS[item.outcome])),
      h("td", { "data-label": "Details", class: "mss-cell-wide mss-audit-details-cell" }, detailsView(item.details)),
    );
  }

  function drawList(): void {
    const filtered = [...applied.keys()].length > 0;
    listCount.textContent =
      items.length === 0
        ? pageNumber === 1
          ? filtered
            ? "No entry matches the filters."
            : "The audit log is empty."
          : "No older entries."
        : `Page ${pageNumber}: ${plural(items.length, "entry", "entries")}, newest first${nextBeforeId !== null ? ", older ones on the next page" : ""}.`;
    newest.disabled = pageNumber === 1;
    older.disabled = nextBeforeId === null;
    pager.hidden = pageNumber === 1 && nextBeforeId === null;
    keepingFocus(listBody, () =>
      replace(
        listBody,
        items.length === 0
          ? null
          : h(
              "table",
              { class: "mss-table mss-table-cards mss-audit-table" },
              h("caption", { class: "mss-visually-hidden" }, "Audit log entries, newest first"),
              h("thead", {}, h("tr", {}, ["Time", "Actor", "Address", "Action", "Target", "Outcome", "Details"].map((title) => h("th", { scope: "col" }, title)))),
              h("tbody", {}, items.map(row)),
            ),
      ),
    );
  }

  // ----- the downloads -----
  const exportNdjson = h("a", { class: "mss-btn", download: "", "data-export": "ndjson" }, "Export NDJSON");
  const exportCsv = h("a", { class: "mss-btn", download: "", "data-export": "csv" }, "Export CSV");
  function drawExports(): void {
    for (const [link, format] of [
      [exportNdjson, "ndjson"],
      [exportCsv, "csv"],
    ] as const) {
      const query = new URLSearchParams(applied);
      query.set("format", format);
      link.href = `${BASE}/export?${query}`;
    }
  }

  replace(
    container,
    h(
      "p",
      { class: "mss-muted mss-section-intro" },
      "Sign-ins, refused addresses and every change made through the gateway (accounts, settings, IP rules, NSFW tags…), with who, from where and how it ended. Each entry's hash covers the one before it, so a changed or removed entry breaks the chain.",
    ),
    outcome.element,
    h("div", { class: "mss-card" }, h("h3", { class: "mss-card-title" }, "Chain check"), chainBody, h("div", { class: "mss-row" }, checkAgain)),
    h(
      "div",
      { class: "mss-card" },
      h("h3", { class: "mss-card-title" }, "Entries"),
      filterForm,
      h("div", { class: "mss-row mss-audit-exports" }, h("span", { class: "mss-muted" }, "Every entry matching the applied filters:"), exportNdjson, exportCsv),
      listCount,
      listBody,
      pager,
    ),
  );
  drawChain();
  drawExports();
  drawList();
}
