/**
 * Downloads: every user's model download jobs (`GET /mss-login/api/model-download/admin/jobs`,
 * newest first, at most 500), what runs now against the caps (`stats`), and cancelling a queued
 * or running job (`POST …/jobs/:id/cancel`; someone else's job is an admin write, so the gateway
 * may ask for the password again). The list is read again every two seconds while a job is
 * queued or running, the section is open and the page is in view. When downloads are not
 * configured (`enabled: false`) the section says which setting turns them on. The contract is
 * src/downloads/routes.ts; users queue downloads on their own page (/mss-login/me).
 */
import { api } from "../../lib/api.ts";
import { field, h, replace } from "../../lib/dom.ts";
import { confirmAction, notify } from "../../lib/ui.ts";
import {
  DOWNLOAD_API,
  formatBytes,
  formatDuration,
  formatSpeed,
  isActive,
  jobOrigin,
  jobTitle,
  progressBar,
  setProgress,
  shortHash,
  sourceName,
  statusBadge,
  type DownloadJob,
  type DownloadStats,
} from "../../lib/downloads.ts";
import { focusByKey, keepingFocus, loadFirst, outcomeLine, plural } from "../parts.ts";
import type { AdminContext, AdminSection } from "../section.ts";

interface AdminJobs {
  jobs: DownloadJob[];
  stats: DownloadStats;
  enabled: boolean;
}

type Filter = "all" | "active" | "failed" | "completed" | "cancelled";
const FILTERS: { value: Filter; label: string; empty: string }[] = [
  { value: "all", label: "All jobs", empty: "Nobody has downloaded a model yet." },
  { value: "active", label: "Queued or running", empty: "Nothing is queued or running." },
  { value: "failed", label: "Failed", empty: "No download has failed." },
  { value: "completed", label: "Done", empty: "No download has finished yet." },
  { value: "cancelled", label: "Cancelled", empty: "No download was cancelled." },
];
const POLL_MS = 2000;

export const downloadsSection: AdminSection = {
  id: "downloads",
  label: "Downloads",
  order: 43,
  render: (container, context) => renderDownloads(container, context),
};

const matches = (job: DownloadJob, filter: Filter): boolean => (filter === "all" ? true : filter === "active" ? isActive(job) : job.status === filter);

/** "1.2 MB of 4.0 MB", "4.0 MB", or "—". */
function sizeText(job: DownloadJob): string {
  if (job.total_bytes === null) return job.bytes_done > 0 ? formatBytes(job.bytes_done) : "—";
  if (job.status === "completed" || job.bytes_done >= job.total_bytes) return formatBytes(job.total_bytes);
  return `${formatBytes(job.bytes_done)} of ${formatBytes(job.total_bytes)}`;
}

async function renderDownloads(container: HTMLElement, context: AdminContext): Promise<void> {
  const fetchJobs = () => api<AdminJobs>("GET", `${DOWNLOAD_API}/admin/jobs`);
  const loaded = await loadFirst<AdminJobs>(container, { loading: "Loading the downloads…", failed: "Could not load the downloads" }, () => fetchJobs(), () => void renderDownloads(container, context));
  if (loaded === null) return;
  let data: AdminJobs = loaded;
  let filter: Filter = "all";
  const outcome = outcomeLine();
  /** Finished jobs said once (for screen readers), not at every refresh. */
  const live = h("p", { class: "mss-visually-hidden", role: "status", "aria-live": "polite" });
  const lastStatus = new Map<string, string>(data.jobs.map((job) => [job.job_id, job.status]));

  const notice = h("div", {});
  const counters = h("dl", { class: "mss-nsfw-stats mss-dl-counters", "data-dl-counters": "" });
  const filterSelect = h(
    "select",
    { "data-focus-key": "filter" },
    FILTERS.map((option) => h("option", { value: option.value }, option.label)),
  );
  filterSelect.addEventListener("change", () => {
    filter = filterSelect.value as Filter;
    drawList();
  });
  const refreshButton = h("button", { type: "button", class: "mss-btn", "data-focus-key": "refresh" }, "Refresh");
  refreshButton.addEventListener("click", () => void reload(true));
  const count = h("p", { class: "mss-muted mss-nsfw-count", tabindex: "-1" });
  const listBody = h("div", { class: "mss-table-wrap" });

  function drawNotice(): void {
    replace(
      notice,
      data.enabled
        ? null
        : h(
            "div",
            { class: "mss-card mss-dl-off", role: "note", "data-dl-off": "" },
            h("h3", { class: "mss-card-title" }, "Model downloads are off"),
            h(
              "p",
              {},
              "Set ",
              h("code", {}, "downloads.models_dir"),
              " to ComfyUI's models directory (the folder holding checkpoints/, loras/, …): in ",
              h("code", {}, "config.json"),
              " in the data directory, or with the environment variable ",
              h("code", {}, "MSS_LOGIN_DOWNLOADS__MODELS_DIR"),
              ". Restart the gateway afterwards. Until then nobody can download, and users with the download permission see that downloads are not set up.",
            ),
          ),
    );
  }

  function drawCounters(): void {
    const stats = data.stats;
    const fact = (term: string, value: string) => h("div", {}, h("dt", {}, term), h("dd", {}, value));
    replace(
      counters,
      fact("Running", `${stats.active_total} of ${stats.limit_total}`),
      fact("CivitAI", `${stats.active_civitai} of ${stats.limit_civitai} running`),
      fact("Hugging Face", `${stats.active_huggingface} of ${stats.limit_huggingface} running`),
      fact("Queued", String(stats.pending_total)),
    );
  }

  async function cancel(job: DownloadJob, button: HTMLButtonElement): Promise<void> {
    const title = jobTitle(job);
    const sure = await confirmAction(
      job.username ? `Cancel ${job.username}'s download?` : "Cancel this download?",
      `${title} (${sourceName(job.source)}) is stopped and what was downloaded so far is deleted.${job.username ? ` ${job.username} sees it as cancelled.` : ""}`,
      "Cancel the download",
      true,
      "Keep it",
    );
    if (!sure) {
      button.focus();
      return;
    }
    outcome.clear();
    button.disabled = true;
    try {
      await api("POST", `${DOWNLOAD_API}/jobs/${encodeURIComponent(job.job_id)}/cancel`, {});
      notify(`${title}: cancelled.`, "ok");
      outcome.ok(`${job.username ? `${job.username}'s` : "The"} download of ${title} is cancelled.`);
    } catch (error) {
      outcome.error(`Could not cancel ${title}`, error);
    }
    await reload(false);
    focusByKey(listBody, button.dataset.focusKey, count);
  }

  /** A job's row, and under it a full-width row with its error when it has one. */
  function rows(job: DownloadJob): HTMLTableRowElement[] {
    const title = jobTitle(job);
    const labelId = `mss-dl-row-${job.job_id}`;
    const none = (label: string) => h("td", { "data-label": label, class: "mss-dl-empty" }, h("span", { class: "mss-muted" }, "—"));
    const bar = progressBar(`${labelId}-name ${labelId}-pct`);
    setProgress(bar, job);
    const pct = job.status === "completed" ? 100 : job.progress_pct;
    const detail: string[] = [];
    if (job.status === "running") {
      if (job.speed_bps > 0) detail.push(formatSpeed(job.speed_bps));
      if (job.eta_seconds !== null) detail.push(`${formatDuration(job.eta_seconds)} left`);
    }
    const cancelButton = job.can_cancel
      ? h("button", { type: "button", class: "mss-btn mss-btn-sm mss-btn-danger-quiet", "data-focus-key": `cancel:${job.job_id}`, "aria-label": `Cancel ${job.username ? `${job.username}'s ` : ""}download of ${title}` }, "Cancel")
      : null;
    cancelButton?.addEventListener("click", () => void cancel(job, cancelButton));
    const failed = job.status === "failed" && (job.error !== null || job.error_code !== null);
    const main = h(
      "tr",
      { "data-job": job.job_id, "data-status": job.status, class: failed ? "mss-dl-has-error" : null },
      h("th", { scope: "row", class: "mss-dl-user" }, h("span", { class: "mss-username" }, job.username ?? "—")),
      h("td", { "data-label": "Model", class: "mss-cell-wide mss-dl-model" }, h("span", { class: "mss-dl-name", id: `${labelId}-name` }, title), h("span", { class: "mss-user-sub mss-muted" }, `${sourceName(job.source)} · ${jobOrigin(job)}`)),
      h("td", { "data-label": "Destination", class: "mss-dl-dest" }, h("code", { title: job.destination ?? undefined }, `${job.folder_type}/`)),
      h("td", { "data-label": "Status" }, statusBadge(job.status)),
      job.status === "failed" || job.status === "cancelled"
        ? none("Progress")
        : h(
            "td",
            { "data-label": "Progress", class: "mss-dl-progress-cell" },
            bar,
            h("span", { class: "mss-dl-pct", id: `${labelId}-pct` }, pct === null ? (job.status === "queued" ? "waiting" : "…") : `${pct}%`),
            detail.length > 0 ? h("span", { class: "mss-user-sub mss-muted" }, detail.join(" · ")) : null,
          ),
      job.total_bytes === null && job.bytes_done === 0 ? none("Size") : h("td", { "data-label": "Size", class: "mss-nowrap" }, sizeText(job)),
      job.sha256 ? h("td", { "data-label": "SHA-256" }, h("code", { title: job.sha256 }, shortHash(job.sha256))) : none("SHA-256"),
      h("td", { class: cancelButton ? "mss-dl-actions-cell" : "mss-dl-actions-cell mss-dl-empty" }, cancelButton),
    );
    if (!failed) return [main];
    return [
      main,
      h(
        "tr",
        { class: "mss-dl-error-row", "data-error-of": job.job_id },
        h(
          "td",
          { colspan: 8 },
          h("p", { class: "mss-dl-error" }, h("span", { class: "mss-visually-hidden" }, `Error of ${title}: `), job.error_code ? [h("code", {}, job.error_code), " "] : null, job.error ?? ""),
        ),
      ),
    ];
  }

  function drawList(): void {
    const shown = data.jobs.filter((job) => matches(job, filter));
    const chosen = FILTERS.find((option) => option.value === filter)!;
    count.textContent = shown.length === 0 ? chosen.empty : `${plural(shown.length, "job")}${filter === "all" ? "" : ` (${plural(data.jobs.length, "job")} in all)`}.`;
    keepingFocus(listBody, () =>
      replace(
        listBody,
        shown.length === 0
          ? null
          : h(
              "table",
              { class: "mss-table mss-table-cards mss-dl-table" },
              h("caption", { class: "mss-visually-hidden" }, "Model download jobs of every user, newest first"),
              h("thead", {}, h("tr", {}, ["User", "Model", "Destination", "Status", "Progress", "Size", "SHA-256", "Actions"].map((name) => h("th", { scope: "col", class: "mss-nowrap" }, name === "Actions" ? h("span", { class: "mss-visually-hidden" }, name) : name)))),
              h("tbody", {}, shown.map(rows)),
            ),
      ),
    );
  }

  function announce(): void {
    const lines: string[] = [];
    for (const job of data.jobs) {
      const before = lastStatus.get(job.job_id);
      lastStatus.set(job.job_id, job.status);
      if (before === undefined || before === job.status || isActive(job)) continue;
      lines.push(`${job.username ?? "A user"}'s download of ${jobTitle(job)}: ${job.status === "completed" ? "done" : job.status}.`);
    }
    if (lines.length > 0) live.textContent = lines.join(" ");
  }

  let timer: ReturnType<typeof setTimeout> | undefined;
  let loading = false;
  async function reload(reportErrors: boolean): Promise<void> {
    if (loading) return;
    loading = true;
    refreshButton.disabled = reportErrors;
    try {
      data = await fetchJobs();
    } catch (error) {
      if (reportErrors) outcome.error("Could not load the downloads", error);
    } finally {
      loading = false;
      refreshButton.disabled = false;
    }
    if (!container.isConnected) return;
    drawNotice();
    drawCounters();
    drawList();
    announce();
    schedule();
    if (reportErrors) refreshButton.focus();
  }

  function schedule(): void {
    clearTimeout(timer);
    timer = undefined;
    if (!container.isConnected || document.hidden) return;
    if (data.jobs.some(isActive)) timer = setTimeout(() => void reload(false), POLL_MS);
  }
  const onVisibility = (): void => {
    if (!container.isConnected) {
      document.removeEventListener("visibilitychange", onVisibility);
      clearTimeout(timer);
      return;
    }
    if (document.hidden) clearTimeout(timer);
    else void reload(false);
  };
  document.addEventListener("visibilitychange", onVisibility);

  replace(
    container,
    h(
      "p",
      { class: "mss-muted mss-section-intro" },
      "Model downloads of every user, newest first. Users with the download permission queue them on their account page; each file goes into one of ComfyUI's model folders and is checked against the SHA-256 the source publishes.",
    ),
    notice,
    outcome.element,
    h("div", { class: "mss-card" }, h("h3", { class: "mss-card-title" }, "Now"), counters),
    h("div", { class: "mss-card" }, h("h3", { class: "mss-card-title" }, "Jobs"), h("div", { class: "mss-toolbar" }, field("Show", filterSelect), refreshButton), count, listBody),
    live,
  );
  drawNotice();
  drawCounters();
  drawList();
  schedule();
}
