/**
 * NSFW guard: the classifier's state with a Start/Stop button (`GET /mss-login/api/nsfw/status`,
 * `POST …/classifier {action}`), the images it or a person judged (`GET …/verdicts?filter&limit&offset`),
 * each with a blurred thumbnail that can be revealed and the actions Mark safe / Mark NSFW
 * (`PUT …/tag`), Re-scan (`POST …/rescan {file}`) and Clear tag (`DELETE …/tag`), and two tools:
 * re-scan everything recorded since a date (`POST …/rescan {since}`) and clear every manual tag
 * (`POST …/clear-tags`). The contract is src/nsfw/routes.ts. Thresholds and previews are run-time
 * settings (Settings, group "NSFW guard"); each account's SFW check is in Users and roles.
 */
import { api } from "../../lib/api.ts";
import { field, h, replace, uid } from "../../lib/dom.ts";
import { confirmAction, notify } from "../../lib/ui.ts";
import { badge, errorBox, focusByKey, keepingFocus, loadingBox, outcomeLine, plural, timeText, type BadgeKind } from "../parts.ts";
import type { AdminContext, AdminSection } from "../section.ts";

/** `GET /mss-login/api/nsfw/status` as an administrator reads it. */
interface ClassifierStatusView {
  available: boolean;
  state: "stopped" | "loading" | "ready" | "failed";
  stopped_by_admin: boolean;
  workers: number;
  ready: number;
  busy: number;
  queued: { now: number; background: number };
  classified: number;
  failures: number;
  rejected_inputs: number;
  restarts: number;
  last_error: string | null;
  load_ms: number | null;
  memory_bytes: number | null;
  scanner: { queued: number; scanning: number; dropped: number; scanned: number };
  verdicts: number;
}

interface FileRefView {
  type: string;
  subfolder: string;
  filename: string;
}

const CLASSES = ["Drawing", "Hentai", "Neutral", "Porn", "Sexy"] as const;
type ClassName = (typeof CLASSES)[number];

/** One item of `GET /mss-login/api/nsfw/verdicts`. */
interface VerdictItem {
  file: FileRefView;
  owner: string | null;
  version: string;
  nsfw: boolean;
  reason: "manual" | "scores" | "unclassifiable" | "not_visual";
  detail: string | null;
  scores: Record<ClassName, number> | null;
  failure: string | null;
  format: string | null;
  width: number | null;
  height: number | null;
  manual_tag: "nsfw" | "safe" | null;
  classified_at: string;
}

type Filter = "blocked" | "tagged" | "all";
const FILTERS: { value: Filter; label: string; empty: string }[] = [
  { value: "blocked", label: "Blocked images", empty: "No image is blocked for checked users." },
  { value: "tagged", label: "Tagged by a person", empty: "Nobody has tagged an image." },
  { value: "all", label: "All judged images", empty: "No image has been judged yet." },
];
const PAGE_SIZE = 20;
const BASE = "/mss-login/api/nsfw";

/** Why an image could not be classified, in words. */
const FAILURES: Record<string, string> = {
  NOT_CLASSIFIED: "not classified yet",
  EMPTY: "the file is empty",
  UNSUPPORTED_FORMAT: "a format the classifier cannot read",
  CORRUPT_IMAGE: "the image is damaged",
  TOO_MANY_PIXELS: "too many pixels",
  TOO_LARGE: "the file is too large",
  NOT_AN_IMAGE: "not a picture",
};

export const nsfwSection: AdminSection = {
  id: "nsfw",
  label: "NSFW guard",
  order: 45,
  render: (container, context) => renderNsfw(container, context),
};

const filePath = (file: FileRefView): string => [file.type, file.subfolder, file.filename].filter((part) => part !== "").join("/");
const fileQuery = (file: FileRefView): URLSearchParams => new URLSearchParams({ type: file.type, subfolder: file.subfolder, filename: file.filename });
const itemKey = (item: VerdictItem): string => `${filePath(item.file)}@${item.version}`;

/** The thumbnail: ComfyUI's own small WebP preview of the file (admins are never filtered). */
function thumbnailUrl(file: FileRefView): string {
  return `/api/view?${new URLSearchParams({ filename: file.filename, subfolder: file.subfolder, type: file.type, preview: "webp;60" })}`;
}

const percent = (fraction: number): string => `${Math.round(fraction * 1000) / 10}%`;

function topScores(scores: Record<ClassName, number>, count = 3): string {
  return CLASSES.slice()
    .sort((a, b) => scores[b] - scores[a])
    .slice(0, count)
    .map((name) => `${name} ${percent(scores[name])}`)
    .join(" · ");
}

function reasonText(item: VerdictItem): string {
  switch (item.reason) {
    case "manual":
      return item.manual_tag === "nsfw" ? "Marked NSFW by a person" : "Marked safe by a person";
    case "scores":
      return item.nsfw ? `Over a threshold: ${item.detail ?? "scores"}` : "Passes the thresholds";
    case "unclassifiable": {
      const code = item.detail ?? item.failure ?? "NOT_CLASSIFIED";
      return `Could not be classified: ${FAILURES[code] ?? code}`;
    }
    case "not_visual":
      return "Not a picture (nothing to judge)";
  }
}

function stateBadge(status: ClassifierStatusView): { text: string; kind: BadgeKind; sentence: string } {
  if (status.stopped_by_admin) return { text: "Stopped by an administrator", kind: "warn", sentence: "Checked users see no images until it is started again." };
  switch (status.state) {
    case "ready":
      return { text: "Running", kind: "good", sentence: "Checked users see the images that pass." };
    case "loading":
      return { text: "Loading the model", kind: "info", sentence: "Checked users wait for verdicts until it is ready." };
    case "failed":
      return { text: "Failed", kind: "bad", sentence: "The model could not load: checked users see no images. Start it to try again." };
    case "stopped":
      return { text: "Not loaded", kind: "warn", sentence: "It loads when it is first needed; until then checked users wait for a verdict." };
  }
}

function megabytes(bytes: number | null): string {
  return bytes === null ? "—" : `${Math.round(bytes / (1024 * 1024))} MB`;
}

/** Today (or `daysAgo` before) as the value of an <input type="date">, in local time. */
function dateValue(daysAgo = 0): string {
  const date = new Date();
  date.setDate(date.getDate() - daysAgo);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

async function renderNsfw(container: HTMLElement, context: AdminContext): Promise<void> {
  replace(container, loadingBox("Loading the NSFW guard…"));
  let status: ClassifierStatusView;
  let filter: Filter = "blocked";
  let offset = 0;
  let items: VerdictItem[] = [];
  let hasNext = false;
  const revealed = new Set<string>();

  const fetchStatus = () => api<ClassifierStatusView>("GET", `${BASE}/status`);
  const fetchPage = async (): Promise<void> => {
    const query = new URLSearchParams({ filter, limit: String(PAGE_SIZE + 1), offset: String(offset) });
    const answer = await api<{ items: VerdictItem[] }>("GET", `${BASE}/verdicts?${query}`);
    hasNext = answer.items.length > PAGE_SIZE;
    items = answer.items.slice(0, PAGE_SIZE);
  };
  try {
    [status] = await Promise.all([fetchStatus(), fetchPage()]);
  } catch (error) {
    replace(container, errorBox("Could not load the NSFW guard", error, () => void renderNsfw(container, context)));
    return;
  }
  const outcome = outcomeLine();

  /** A link to another section: the hash on the standalone page, the section's own nav button inside ComfyUI's page. */
  const sectionLink = (id: string, text: string): HTMLAnchorElement =>
    h(
      "a",
      {
        href: `#${id}`,
        onclick: (event: Event) => {
          if (!context.embedded) return;
          event.preventDefault();
          container.closest(".mss-admin")?.querySelector<HTMLButtonElement>(`button[data-entry="${id}"]`)?.click();
        },
      },
      text,
    );

  // ----- the classifier -----
  const statusBody = h("div", { class: "mss-nsfw-status", "data-nsfw-status": "" });
  const refreshStatus = h("button", { type: "button", class: "mss-btn", "data-focus-key": "status-refresh" }, "Refresh");
  refreshStatus.addEventListener("click", () => void reloadStatus(true));
  let polling = false;

  async function reloadStatus(reportErrors: boolean): Promise<void> {
    try {
      status = await fetchStatus();
    } catch (error) {
      if (reportErrors) outcome.error("Could not read the classifier's state", error);
      return;
    }
    if (container.isConnected) drawStatus();
  }

  /** While the model loads, the state is read again every second (until it settles or the section closes). */
  function pollWhileLoading(): void {
    if (polling || status.state !== "loading") return;
    polling = true;
    const tick = async (): Promise<void> => {
      if (!container.isConnected) {
        polling = false;
        return;
      }
      await reloadStatus(false);
      if (status.state === "loading" && container.isConnected) setTimeout(() => void tick(), 1000);
      else polling = false;
    };
    setTimeout(() => void tick(), 1000);
  }

  async function setClassifier(action: "start" | "stop", button: HTMLButtonElement): Promise<void> {
    if (action === "stop") {
      const stop = await confirmAction(
        "Stop the NSFW classifier?",
        "Checked users will see no images until it is started again (accounts with the SFW check, and guests). Owners and admins still see everything.",
        "Stop the classifier",
        true,
      );
      if (!stop) return;
    }
    outcome.clear();
    button.disabled = true;
    button.textContent = action === "stop" ? "Stopping…" : "Starting…";
    try {
      await api("POST", `${BASE}/classifier`, { action });
      notify(action === "stop" ? "The classifier is stopped." : "The classifier is started.", "ok");
    } catch (error) {
      outcome.error(action === "stop" ? "Could not stop the classifier" : "Could not start the classifier", error);
    }
    await reloadStatus(false);
    drawStatus();
    focusByKey(statusBody, "classifier", refreshStatus);
  }

  function drawStatus(): void {
    const state = stateBadge(status);
    const running = !status.stopped_by_admin && (status.state === "ready" || status.state === "loading");
    const toggle = h(
      "button",
      { type: "button", class: running ? "mss-btn mss-danger" : "mss-btn mss-primary", "data-focus-key": "classifier", "data-nsfw-action": running ? "stop" : "start" },
      running ? "Stop the classifier" : "Start the classifier",
    );
    toggle.addEventListener("click", () => void setClassifier(running ? "stop" : "start", toggle));
    const fact = (term: string, value: string | Node, wide = false) => h("div", { class: wide ? "mss-nsfw-wide" : null }, h("dt", {}, term), h("dd", {}, value));
    const scanner = status.scanner;
    keepingFocus(statusBody, () =>
      replace(
        statusBody,
        h("p", { class: "mss-nsfw-state" }, h("span", {}, "State: "), badge(state.text, state.kind), h("span", { class: "mss-muted" }, state.sentence)),
        h(
          "dl",
          { class: "mss-nsfw-stats" },
          fact("Workers", `${status.ready} of ${status.workers} ready, ${status.busy} busy`),
          fact("Waiting", `${status.queued.now} now, ${status.queued.background} in the background`),
          fact("Background scans", `${scanner.queued} queued, ${scanner.scanning} running${scanner.dropped > 0 ? `, ${scanner.dropped} dropped` : ""}`),
          fact("Memory", megabytes(status.memory_bytes)),
          fact("Classified", String(status.classified)),
          fact("Failures", String(status.failures)),
          fact("Unreadable inputs", String(status.rejected_inputs)),
          fact("Restarts", String(status.restarts)),
          fact("Verdicts stored", String(status.verdicts)),
          fact("Model load time", status.load_ms === null ? "—" : `${(status.load_ms / 1000).toFixed(1)} s`),
          fact("Last error", status.last_error === null ? h("span", { class: "mss-muted" }, "none") : h("code", {}, status.last_error), true),
        ),
        h("div", { class: "mss-row" }, toggle, refreshStatus),
      ),
    );
    pollWhileLoading();
  }

  // ----- the judged images -----
  const filterSelect = h(
    "select",
    { "data-focus-key": "filter" },
    FILTERS.map((option) => h("option", { value: option.value, selected: option.value === filter }, option.label)),
  );
  filterSelect.addEventListener("change", () => {
    filter = filterSelect.value as Filter;
    offset = 0;
    void reloadList(null);
  });
  const refreshList = h("button", { type: "button", class: "mss-btn", "data-focus-key": "list-refresh" }, "Refresh");
  refreshList.addEventListener("click", () => void reloadList("list-refresh"));
  const listCount = h("p", { class: "mss-muted mss-nsfw-count", "aria-live": "polite", tabindex: "-1" });
  const listBody = h("div", { class: "mss-nsfw-list-wrap" });
  const previous = h("button", { type: "button", class: "mss-btn", "data-focus-key": "previous" }, "Previous");
  const next = h("button", { type: "button", class: "mss-btn", "data-focus-key": "next" }, "Next");
  previous.addEventListener("click", () => {
    offset = Math.max(0, offset - PAGE_SIZE);
    void reloadList("previous");
  });
  next.addEventListener("click", () => {
    offset += PAGE_SIZE;
    void reloadList("next");
  });
  const pager = h("nav", { class: "mss-row mss-nsfw-pager", "aria-label": "Pages of the image list" }, previous, next);

  /** Loads the current page again; a page emptied by the last action steps back one page. */
  async function reloadList(focusKey: string | null): Promise<void> {
    refreshList.disabled = true;
    try {
      await fetchPage();
      if (items.length === 0 && offset > 0) {
        offset = Math.max(0, offset - PAGE_SIZE);
        await fetchPage();
      }
    } catch (error) {
      outcome.error("Could not load the images", error);
    } finally {
      refreshList.disabled = false;
    }
    drawList();
    if (focusKey !== null) focusByKey(container, focusKey, listCount);
  }

  /** One action on one image; the list is read again afterwards (the image may leave it). */
  async function act(item: VerdictItem, what: string, button: HTMLButtonElement, run: () => Promise<string>): Promise<void> {
    outcome.clear();
    const key = button.dataset.focusKey;
    button.disabled = true;
    try {
      notify(await run(), "ok");
    } catch (error) {
      outcome.error(`${what} ${item.file.filename}`, error);
    }
    await reloadList(null);
    void reloadStatus(false);
    focusByKey(listBody, key, listCount);
  }

  const markTag = (item: VerdictItem, nsfw: boolean) => async (): Promise<string> => {
    await api("PUT", `${BASE}/tag`, { ...item.file, is_nsfw: nsfw });
    return nsfw ? `${item.file.filename} is marked NSFW.` : `${item.file.filename} is marked safe.`;
  };
  const clearTag = (item: VerdictItem) => async (): Promise<string> => {
    await api("DELETE", `${BASE}/tag?${fileQuery(item.file)}`);
    return `The tag on ${item.file.filename} is cleared; it is classified again.`;
  };
  const rescanOne = (item: VerdictItem) => async (): Promise<string> => {
    const answer = await api<{ verdict: VerdictItem }>("POST", `${BASE}/rescan`, item.file);
    const verdict = answer.verdict;
    return `${item.file.filename}: ${verdict.nsfw ? "blocked" : "visible"} (${reasonText({ ...item, ...verdict })}).`;
  };

  function thumbnail(item: VerdictItem): HTMLElement {
    const key = itemKey(item);
    const image = h("img", {
      src: thumbnailUrl(item.file),
      alt: item.file.filename,
      loading: "lazy",
      decoding: "async",
      class: revealed.has(key) ? "mss-nsfw-image" : "mss-nsfw-image mss-nsfw-blurred",
    });
    const frame = h("div", { class: "mss-nsfw-frame" }, image);
    image.addEventListener("error", () => replace(frame, h("span", { class: "mss-muted mss-nsfw-noimage" }, "No preview")), { once: true });
    const toggle = h("button", { type: "button", class: "mss-btn mss-btn-sm", "data-focus-key": `${key}:reveal`, "data-nsfw-action": "reveal" });
    const show = () => {
      const open = revealed.has(key);
      image.classList.toggle("mss-nsfw-blurred", !open);
      toggle.textContent = open ? "Blur" : "Reveal";
      toggle.setAttribute("aria-label", `${open ? "Blur" : "Reveal"} the image ${item.file.filename}`);
    };
    toggle.addEventListener("click", () => {
      if (revealed.has(key)) revealed.delete(key);
      else revealed.add(key);
      show();
    });
    show();
    return h("div", { class: "mss-nsfw-thumb" }, frame, toggle);
  }

  function actionButton(item: VerdictItem, label: string, action: string, kind: string, disabled: boolean, run: () => Promise<string>, what: string): HTMLButtonElement {
    const button = h(
      "button",
      { type: "button", class: `mss-btn mss-btn-sm${kind}`, disabled, "data-focus-key": `${itemKey(item)}:${action}`, "data-nsfw-action": action, "aria-label": `${label}: ${item.file.filename}` },
      label,
    );
    button.addEventListener("click", () => void act(item, what, button, run));
    return button;
  }

  function itemView(item: VerdictItem): HTMLElement {
    const fact = (term: string, ...value: (Node | string | null)[]) => h("div", {}, h("dt", {}, term), h("dd", {}, ...value));
    const tag = item.manual_tag === "nsfw" ? badge("NSFW", "warn") : item.manual_tag === "safe" ? badge("safe", "info") : h("span", { class: "mss-muted" }, "none");
    const picture = item.format ? `${item.format.toUpperCase()}${item.width && item.height ? `, ${item.width} × ${item.height}` : ""}` : null;
    return h(
      "li",
      { class: "mss-nsfw-item", "data-file": filePath(item.file), "data-version": item.version },
      thumbnail(item),
      h(
        "div",
        { class: "mss-nsfw-body" },
        h("h4", { class: "mss-nsfw-name" }, item.file.filename),
        h("p", { class: "mss-nsfw-path" }, h("code", {}, filePath(item.file))),
        h(
          "dl",
          { class: "mss-nsfw-facts" },
          fact("Verdict", item.nsfw ? badge("blocked", "bad") : badge("visible", "good"), " ", reasonText(item)),
          fact("Scores", item.scores === null ? h("span", { class: "mss-muted" }, "none") : topScores(item.scores)),
          fact("Owner", item.owner ?? h("span", { class: "mss-muted" }, "unknown")),
          fact("Manual tag", tag),
          fact("Classified", timeText(item.classified_at), picture ? h("span", { class: "mss-muted" }, ` · ${picture}`) : null),
        ),
        h(
          "div",
          { class: "mss-nsfw-actions" },
          actionButton(item, "Mark safe", "safe", "", item.manual_tag === "safe", markTag(item, false), "Could not mark safe"),
          actionButton(item, "Mark NSFW", "nsfw", " mss-btn-danger-quiet", item.manual_tag === "nsfw", markTag(item, true), "Could not mark NSFW"),
          actionButton(item, "Re-scan", "rescan", "", false, rescanOne(item), "Could not re-scan"),
          actionButton(item, "Clear tag", "clear", "", item.manual_tag === null, clearTag(item), "Could not clear the tag of"),
        ),
      ),
    );
  }

  function drawList(): void {
    const chosen = FILTERS.find((option) => option.value === filter)!;
    listCount.textContent =
      items.length === 0 ? (offset === 0 ? chosen.empty : "No more images.") : `${plural(items.length, "image")}: ${offset + 1} to ${offset + items.length}${hasNext ? ", more on the next page" : ""}.`;
    previous.disabled = offset === 0;
    next.disabled = !hasNext;
    pager.hidden = offset === 0 && !hasNext;
    keepingFocus(listBody, () => replace(listBody, items.length === 0 ? null : h("ol", { class: "mss-nsfw-list", "aria-label": chosen.label }, items.map(itemView))));
  }

  // ----- tools -----
  const sinceId = uid("mss-nsfw-since");
  const sinceInput = h("input", { type: "date", id: sinceId, required: true, value: dateValue(1), max: dateValue(0), class: "mss-nsfw-date", "aria-describedby": `${sinceId}-hint` });
  const rescanButton = h("button", { type: "submit", class: "mss-btn" }, "Re-scan");
  const rescanForm = h(
    "form",
    { class: "mss-nsfw-tool", novalidate: true },
    h(
      "div",
      { class: "mss-field" },
      h("label", { for: sinceId }, "Re-scan everything recorded since"),
      h("div", { class: "mss-row" }, sinceInput, rescanButton),
      h("p", { class: "mss-hint", id: `${sinceId}-hint` }, "Every file ComfyUI reported from the start of that day is classified again in the background. Manual tags stay."),
    ),
  );
  rescanForm.addEventListener("submit", (event) => {
    event.preventDefault();
    void rescanSince();
  });
  async function rescanSince(): Promise<void> {
    outcome.clear();
    const value = sinceInput.value;
    const since = value === "" ? Number.NaN : new Date(`${value}T00:00:00`).getTime();
    if (!Number.isFinite(since)) {
      outcome.error("Nothing was re-scanned", new Error("Choose a date."));
      sinceInput.focus();
      return;
    }
    rescanButton.disabled = true;
    try {
      const answer = await api<{ queued: number }>("POST", `${BASE}/rescan`, { since: new Date(since).toISOString() });
      notify(answer.queued === 0 ? "No file was recorded since then." : `${plural(answer.queued, "file")} queued for a new scan.`, "ok");
      outcome.ok(`${plural(answer.queued, "file")} queued for a new scan.`);
    } catch (error) {
      outcome.error("Could not re-scan", error);
    } finally {
      rescanButton.disabled = false;
    }
    await Promise.all([reloadStatus(false), reloadList(null)]);
  }

  const clearAll = h("button", { type: "button", class: "mss-btn mss-btn-danger-quiet", "data-focus-key": "clear-all" }, "Clear all manual tags");
  clearAll.addEventListener("click", async () => {
    const sure = await confirmAction(
      "Clear every manual tag?",
      "Every image a person marked NSFW or safe goes back to the classifier's verdict: images marked NSFW by hand may become visible to checked users again. This cannot be undone.",
      "Clear all manual tags",
      true,
    );
    if (!sure) return;
    outcome.clear();
    clearAll.disabled = true;
    try {
      const answer = await api<{ cleared_count: number }>("POST", `${BASE}/clear-tags`);
      notify(answer.cleared_count === 0 ? "There were no manual tags." : `${plural(answer.cleared_count, "manual tag")} cleared.`, "ok");
    } catch (error) {
      outcome.error("Could not clear the manual tags", error);
    } finally {
      clearAll.disabled = false;
    }
    await reloadList(null);
    clearAll.focus();
  });

  replace(
    container,
    h(
      "p",
      { class: "mss-muted mss-section-intro" },
      "Images the classifier or a person judged NSFW are hidden from accounts with the SFW check and from guests; owners and admins see everything. The thresholds and live previews are in ",
      sectionLink("settings", "Settings"),
      " (group “NSFW guard”); each account's SFW check is in ",
      sectionLink("users", "Users and roles"),
      ".",
    ),
    outcome.element,
    h("div", { class: "mss-card" }, h("h3", { class: "mss-card-title" }, "Classifier"), statusBody),
    h(
      "div",
      { class: "mss-card" },
      h("h3", { class: "mss-card-title" }, "Judged images"),
      h("p", { class: "mss-muted" }, "Thumbnails are blurred until you reveal them."),
      h("div", { class: "mss-toolbar" }, field("Show", filterSelect), refreshList),
      listCount,
      listBody,
      pager,
    ),
    h(
      "div",
      { class: "mss-card" },
      h("h3", { class: "mss-card-title" }, "Tools"),
      rescanForm,
      h("div", { class: "mss-nsfw-tool" }, clearAll, h("p", { class: "mss-hint" }, "Images a person marked NSFW or safe go back to the classifier's verdict.")),
    ),
  );
  drawStatus();
  drawList();
}
