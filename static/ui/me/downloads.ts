/**
 * Model downloads on the user's own page: the API keys for CivitAI and Hugging Face (write-only:
 * "set" or "not set", never shown back), the CivitAI site that version IDs refer to, a form for
 * a new download (a pasted link, a CivitAI version ID or a Hugging Face file, into one of
 * ComfyUI's model folders) and the user's jobs with their progress, read again every second
 * while one is queued or running and the page is in view. The API is src/downloads/routes.ts;
 * the card is not shown to accounts whose role may not download (403 DOWNLOAD_DENIED).
 */
import { field, h, replace, uid } from "../lib/dom.ts";
import { api, ApiError } from "../lib/api.ts";
import { confirmAction, notify } from "../lib/ui.ts";
import {
  DOWNLOAD_API,
  formatBytes,
  isActive,
  jobOrigin,
  jobTitle,
  progressBar,
  progressText,
  setProgress,
  sourceName,
  STATUS_TEXT,
  statusBadge,
  type DownloadJob,
} from "../lib/downloads.ts";
import { busy, card, failedView, failureText, loadingView, markInvalid, messageLine, type MeContext } from "./parts.ts";

interface SourcesAnswer {
  sources: string[];
  sources_with_keys: string[];
  enabled: boolean;
  capabilities?: { key_required?: Record<string, boolean> };
}

interface FoldersAnswer {
  folders: string[];
  default_folder: string;
}

interface PreferencesAnswer {
  civitai_host: string;
  allowed_civitai_hosts: string[];
}

const POLL_MS = 1000;

const KEY_HINTS: Record<string, string> = {
  civitai: "Needed for every CivitAI download. Create one in your CivitAI account settings, under API keys.",
  huggingface: "Only needed for gated or private repositories. Create a read token in your Hugging Face settings, under Access tokens.",
};

type Mode = "url" | "civitai" | "huggingface";

/**
 * The card, in a wrapper that stays hidden until the gateway says this account may download
 * (and is removed when it may not).
 */
export function downloadsCard(_me: MeContext): HTMLElement {
  const wrapper = h("div", { class: "mss-me-wide mss-dl", id: "downloads", hidden: true });
  const { section, body } = card("Model downloads", "Download models from CivitAI or Hugging Face straight into ComfyUI's model folders. Downloads run on the server: you may close this page meanwhile.");
  section.setAttribute("data-card", "downloads");
  wrapper.append(section);
  replace(body, loadingView("Loading model downloads…"));

  const load = async (): Promise<void> => {
    let sources: SourcesAnswer;
    let folders: FoldersAnswer;
    let preferences: PreferencesAnswer;
    try {
      sources = await api<SourcesAnswer>("GET", `${DOWNLOAD_API}/sources`);
    } catch (error) {
      if (error instanceof ApiError && (error.code === "DOWNLOAD_DENIED" || error.status === 404)) {
        // This role may not download: nothing to show.
        wrapper.remove();
        return;
      }
      wrapper.hidden = false;
      replace(body, failedView("Could not load model downloads", error, () => void load()));
      return;
    }
    wrapper.hidden = false;
    try {
      [folders, preferences] = await Promise.all([api<FoldersAnswer>("GET", `${DOWNLOAD_API}/folders`), api<PreferencesAnswer>("GET", `${DOWNLOAD_API}/preferences`)]);
    } catch (error) {
      replace(body, failedView("Could not load model downloads", error, () => void load()));
      return;
    }
    render(body, sources, folders, preferences);
  };
  void load();
  return wrapper;
}

function render(body: HTMLElement, sources: SourcesAnswer, folders: FoldersAnswer, preferences: PreferencesAnswer): void {
  const withKeys = new Set(sources.sources_with_keys);
  /** Announces what changed in the job list (started, finished, every quarter of the way) to screen readers. */
  const live = h("p", { class: "mss-visually-hidden", role: "status", "aria-live": "polite", "data-dl-live": "" });
  const jobs = jobList(live);
  const keyInputs = new Map<string, HTMLInputElement>();

  // ----- API keys -----
  function keyForm(source: string): HTMLElement {
    const name = sourceName(source);
    const input = h("input", { type: "password", name: `${source}-api-key`, autocomplete: "off", spellcheck: "false", maxlength: 512 });
    keyInputs.set(source, input);
    const state = h("span", { "data-key-state": source });
    const save = h("button", { type: "submit", class: "mss-btn", "aria-label": `Save the ${name} key` }, "Save");
    const clear = h("button", { type: "button", class: "mss-btn", "aria-label": `Clear the ${name} key` }, "Clear");
    const message = messageLine();
    const show = () => {
      const set = withKeys.has(source);
      replace(state, set ? h("span", { class: "mss-badge mss-badge-good" }, "set") : h("span", { class: "mss-badge" }, "not set"));
      clear.disabled = !set;
    };
    show();
    const form = h(
      "form",
      { class: "mss-dl-key", novalidate: true, "data-source": source },
      h("p", { class: "mss-dl-key-head" }, h("strong", {}, name), " ", state),
      field(`${name} API key`, input, KEY_HINTS[source]),
      h("div", { class: "mss-row" }, save, clear),
      message.element,
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      message.clear();
      markInvalid(input, false);
      const key = input.value.trim();
      if (key === "") {
        markInvalid(input, true);
        message.error(`Paste your ${name} API key first.`);
        input.focus();
        return;
      }
      try {
        await busy(save, "Saving…", () => api("PUT", `${DOWNLOAD_API}/api-keys`, { source, api_key: key }));
        input.value = "";
        withKeys.add(source);
        show();
        message.ok(`Your ${name} key is saved. It is stored encrypted and never shown again.`);
      } catch (error) {
        markInvalid(input, true);
        message.error(failureText(error));
        input.focus();
      }
    });
    clear.addEventListener("click", async () => {
      message.clear();
      try {
        await busy(clear, "Clearing…", () => api("PUT", `${DOWNLOAD_API}/api-keys`, { source, api_key: "" }));
        withKeys.delete(source);
        show();
        message.ok(`Your ${name} key is removed.`);
      } catch (error) {
        message.error(failureText(error));
      }
      input.focus();
    });
    return form;
  }

  // ----- the CivitAI site -----
  function hostForm(): HTMLElement {
    const select = h(
      "select",
      { name: "civitai_host" },
      (preferences.allowed_civitai_hosts ?? ["civitai.com", "civitai.red"]).map((host) => h("option", { value: host, selected: host === preferences.civitai_host }, host)),
    );
    const save = h("button", { type: "submit", class: "mss-btn" }, "Save site");
    const message = messageLine();
    const selectId = uid("me-dl-host");
    select.id = selectId;
    select.setAttribute("aria-describedby", `${selectId}-hint`);
    const form = h(
      "form",
      { class: "mss-dl-host", novalidate: true },
      h(
        "div",
        { class: "mss-field" },
        h("label", { for: selectId }, "Site for CivitAI version IDs"),
        h("div", { class: "mss-row mss-dl-inline" }, select, save),
        h("p", { class: "mss-hint", id: `${selectId}-hint` }, "A pasted CivitAI link always uses its own site."),
      ),
      message.element,
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      message.clear();
      try {
        const answer = await busy(save, "Saving…", () => api<PreferencesAnswer>("PUT", `${DOWNLOAD_API}/preferences`, { civitai_host: select.value }));
        preferences = answer;
        message.ok(`CivitAI version IDs now refer to ${answer.civitai_host}.`);
      } catch (error) {
        message.error(failureText(error));
      }
    });
    return form;
  }

  // ----- a new download -----
  function downloadForm(): HTMLElement {
    const modeName = uid("me-dl-mode");
    const modes: { value: Mode; label: string }[] = [
      { value: "url", label: "Paste a link" },
      { value: "civitai", label: "CivitAI version ID" },
      { value: "huggingface", label: "Hugging Face file" },
    ];
    const radios = modes.map((mode) => {
      const id = uid("me-dl-mode");
      const radio = h("input", { type: "radio", id, name: modeName, value: mode.value, checked: mode.value === "url" });
      return { radio, row: h("div", { class: "mss-me-check" }, radio, h("label", { for: id }, mode.label)) };
    });
    const modeSet = h("fieldset", { class: "mss-me-fieldset mss-dl-modes" }, h("legend", {}, "Download by"), radios.map((r) => r.row));

    const url = h("input", { type: "url", name: "url", autocomplete: "off", spellcheck: "false", inputmode: "url", placeholder: "https://civitai.com/models/…" });
    const versionId = h("input", { type: "text", name: "model_version_id", autocomplete: "off", inputmode: "numeric", pattern: "[0-9]*", maxlength: 12 });
    const repoId = h("input", { type: "text", name: "repo_id", autocomplete: "off", spellcheck: "false", placeholder: "org/name" });
    const filename = h("input", { type: "text", name: "filename", autocomplete: "off", spellcheck: "false", placeholder: "model.safetensors" });
    const subfolder = h("input", { type: "text", name: "subfolder", autocomplete: "off", spellcheck: "false" });
    const revision = h("input", { type: "text", name: "revision", autocomplete: "off", spellcheck: "false", placeholder: "main" });
    const folderList = folders.folders;
    const folder = h(
      "select",
      { name: "folder_type", disabled: folderList.length === 0 },
      folderList.length === 0 ? h("option", { value: "" }, "No model folders found") : folderList.map((name) => h("option", { value: name, selected: name === (folderList.includes(folders.default_folder) ? folders.default_folder : folderList[0]) }, name)),
    );
    const saveAs = h("input", { type: "text", name: "preferred_filename", autocomplete: "off", spellcheck: "false", maxlength: 200 });
    const submit = h("button", { type: "submit", class: "mss-btn mss-primary", disabled: folderList.length === 0 }, "Download");
    const message = messageLine();

    const urlGroup = h("div", { "data-mode": "url" }, field("Link to the model", url, "A CivitAI model page (…/models/123?modelVersionId=456) or download link, or a Hugging Face file link (…/blob/main/model.safetensors)."));
    const civitaiGroup = h("div", { "data-mode": "civitai", hidden: true }, field("Model version ID", versionId, "The number after modelVersionId= in the model page's address."));
    const hfGroup = h(
      "div",
      { "data-mode": "huggingface", hidden: true },
      h("div", { class: "mss-dl-fields" }, field("Repository", repoId, "org/name, as in the repository's address."), field("File name", filename)),
      h("div", { class: "mss-dl-fields" }, field("Folder in the repository (optional)", subfolder), field("Revision (optional)", revision, "A branch, tag or commit; main when empty.")),
    );
    const groups: Record<Mode, HTMLElement> = { url: urlGroup, civitai: civitaiGroup, huggingface: hfGroup };
    const mode = (): Mode => (radios.find((r) => r.radio.checked)?.radio.value as Mode | undefined) ?? "url";
    for (const { radio } of radios) {
      radio.addEventListener("change", () => {
        for (const [name, group] of Object.entries(groups)) group.hidden = name !== mode();
        message.clear();
      });
    }
    const allInputs = [url, versionId, repoId, filename, subfolder, revision, folder, saveAs];

    /** The control a refusal is about, so that it can be marked and focused. */
    function controlFor(error: ApiError): HTMLElement | null {
      const m = mode();
      switch (error.code) {
        case "URL_INVALID":
        case "URL_SCHEME":
        case "URL_CREDENTIALS":
        case "URL_PORT":
        case "URL_UNSUPPORTED":
        case "URL_HOST_NOT_ALLOWED":
        case "SOURCE_MISMATCH":
          return url;
        case "FILENAME_REQUIRED":
          return m === "url" ? url : filename;
        case "FILENAME_INVALID":
          return error.message.startsWith("preferred_filename") ? saveAs : m === "url" ? url : filename;
        case "DESTINATION_EXISTS":
          return saveAs;
        case "VERSION_REQUIRED":
          return versionId;
        case "BAD_REQUEST":
          return m === "civitai" ? versionId : null;
        case "REPO_INVALID":
          return repoId;
        case "SUBFOLDER_INVALID":
          return subfolder;
        case "REVISION_INVALID":
          return revision;
        case "FOLDER_INVALID":
          return folder;
        default:
          return null;
      }
    }

    /** The server's words, with its field names said the way the form says them. */
    function refusalText(error: ApiError): string {
      if (error.code === "API_KEY_REQUIRED") return "CivitAI downloads need your CivitAI API key: add it under “API keys” first.";
      if (error.code === "URL_INVALID") return "That is not a link: paste the address of a CivitAI or Hugging Face page.";
      if (error.code === "DOWNLOADS_NOT_CONFIGURED") return "Model downloads are not set up on this server yet. Ask an administrator.";
      return failureText(error)
        .replace(/^preferred_filename\b/, "The file name to save as")
        .replace(/^filename\b/, "The file name")
        .replace(/^model_version_id\b/, "The version ID")
        .replace(/^repo_id is ORG\/REPO\./, "The repository is written org/name.")
        .replace(/^folder_type\b/, "The folder");
    }

    const form = h(
      "form",
      { class: "mss-me-form mss-dl-form", novalidate: true },
      modeSet,
      urlGroup,
      civitaiGroup,
      hfGroup,
      h("div", { class: "mss-dl-fields" }, field("Save in folder", folder), field("Save as (optional)", saveAs, "A file name of your own, ending in .safetensors, .ckpt, .pt, .pth, .bin or .gguf.")),
      message.element,
      h("div", { class: "mss-actions mss-me-actions-start" }, submit),
    );

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      message.clear();
      for (const control of allInputs) markInvalid(control, false);
      const m = mode();
      const request: Record<string, string> = { folder_type: folder.value };
      if (saveAs.value.trim() !== "") request.preferred_filename = saveAs.value.trim();
      const missing = (control: HTMLInputElement, text: string): void => {
        markInvalid(control, true);
        message.error(text);
        control.focus();
      };
      if (m === "url") {
        if (url.value.trim() === "") return missing(url, "Paste the link to the model.");
        request.url = url.value.trim();
      } else if (m === "civitai") {
        if (!/^\d+$/.test(versionId.value.trim())) return missing(versionId, "Type the model version ID (a number).");
        request.source = "civitai";
        request.model_version_id = versionId.value.trim();
      } else {
        if (repoId.value.trim() === "") return missing(repoId, "Type the repository (org/name).");
        if (filename.value.trim() === "") return missing(filename, "Type the file name.");
        request.source = "huggingface";
        request.repo_id = repoId.value.trim();
        request.filename = filename.value.trim();
        if (subfolder.value.trim() !== "") request.subfolder = subfolder.value.trim().replace(/^\/+|\/+$/g, "");
        if (revision.value.trim() !== "") request.revision = revision.value.trim();
      }
      try {
        const answer = await busy(submit, "Queueing…", () => api<{ job: DownloadJob }>("POST", `${DOWNLOAD_API}/download`, request));
        message.ok(`Queued: ${jobTitle(answer.job)}, into ${answer.job.folder_type}.`);
        for (const control of [url, versionId, filename, subfolder, saveAs]) control.value = "";
        await jobs.refresh();
      } catch (error) {
        message.error(error instanceof ApiError ? refusalText(error) : failureText(error));
        if (error instanceof ApiError) {
          if (error.code === "API_KEY_REQUIRED") {
            keyInputs.get("civitai")?.focus();
            return;
          }
          const control = controlFor(error);
          if (control !== null) {
            markInvalid(control, true);
            control.focus();
          }
        }
      }
    });
    return form;
  }

  const newHeading = h("h3", { class: "mss-me-first" }, "New download");
  const keysHeading = h("h3", { class: "mss-me-first" }, "API keys");
  replace(
    body,
    sources.enabled
      ? null
      : h(
          "p",
          { class: "mss-me-warning", role: "note" },
          h("strong", {}, "Model downloads are not set up on this server. "),
          "An administrator has to tell the gateway where ComfyUI's models are (the downloads.models_dir setting) before anything can be downloaded. You can add your API keys meanwhile.",
        ),
    h(
      "div",
      { class: "mss-dl-grid" },
      sources.enabled ? h("div", { class: "mss-dl-new" }, newHeading, downloadForm()) : null,
      h("div", { class: "mss-dl-settings" }, keysHeading, (sources.sources ?? ["civitai", "huggingface"]).map(keyForm), h("h3", {}, "CivitAI site"), hostForm()),
    ),
    jobs.element,
    live,
  );
  void jobs.refresh();
}

/**
 * The user's jobs, newest first. Items are updated in place (never rebuilt), so that keyboard
 * focus and a screen reader's place survive the refresh every second.
 */
function jobList(live: HTMLElement): { element: HTMLElement; refresh(): Promise<void> } {
  const heading = h("h3", { tabindex: -1 }, "Your downloads");
  const refreshButton = h("button", { type: "button", class: "mss-btn mss-btn-sm" }, "Refresh");
  const summary = h("p", { class: "mss-muted mss-dl-summary" });
  const list = h("ol", { class: "mss-dl-jobs", "aria-label": "Your downloads" });
  const failure = h("div", {});
  const element = h("div", { class: "mss-dl-list" }, h("div", { class: "mss-dl-list-head" }, heading, refreshButton), summary, failure, list);
  const items = new Map<string, { element: HTMLLIElement; update(job: DownloadJob): void }>();
  /** What was last said about each job: its status and the quarter of the way it had reached. */
  const said = new Map<string, { status: string; quarter: number }>();
  let current: DownloadJob[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  let inFlight: Promise<void> | null = null;
  let first = true;

  function item(job: DownloadJob): { element: HTMLLIElement; update(job: DownloadJob): void } {
    const titleId = uid("me-dl-title");
    const progressId = uid("me-dl-progress");
    const title = h("strong", { class: "mss-dl-title", id: titleId });
    const badgeHolder = h("span", {});
    const meta = h("p", { class: "mss-dl-meta" });
    const bar = progressBar(`${titleId} ${progressId}`);
    const progress = h("p", { class: "mss-dl-progress", id: progressId });
    const error = h("p", { class: "mss-error mss-dl-error" });
    const cancel = h("button", { type: "button", class: "mss-btn mss-btn-sm mss-btn-danger-quiet", "data-dl-cancel": "" }, "Cancel");
    let latest = job;
    cancel.addEventListener("click", () => void cancelJob(latest, cancel));
    const element = h(
      "li",
      { class: "mss-dl-job", "data-job": job.job_id },
      h("div", { class: "mss-dl-head" }, title, badgeHolder, h("span", { class: "mss-dl-actions" }, cancel)),
      meta,
      bar,
      progress,
      error,
    );
    const update = (next: DownloadJob): void => {
      latest = next;
      element.dataset.status = next.status;
      title.textContent = jobTitle(next);
      replace(badgeHolder, statusBadge(next.status));
      meta.textContent = `${sourceName(next.source)} · ${jobOrigin(next)} → ${next.destination ?? `${next.folder_type}/`}`;
      setProgress(bar, next);
      progress.textContent = progressText(next);
      progress.hidden = progress.textContent === "";
      error.hidden = next.error === null && next.error_code === null;
      replace(error, next.error ?? "", next.error_code && next.error_code !== "CANCELLED" ? [" ", h("code", {}, next.error_code)] : null);
      cancel.hidden = !next.can_cancel;
      cancel.setAttribute("aria-label", `Cancel the download of ${jobTitle(next)}`);
    };
    update(job);
    return { element, update };
  }

  async function cancelJob(job: DownloadJob, button: HTMLButtonElement): Promise<void> {
    if (job.status === "running") {
      const sure = await confirmAction(
        "Cancel this download?",
        `${jobTitle(job)}: what was downloaded so far${job.bytes_done > 0 ? ` (${formatBytes(job.bytes_done)})` : ""} is deleted.`,
        "Cancel the download",
        true,
        "Keep downloading",
      );
      if (!sure) {
        button.focus();
        return;
      }
    }
    try {
      await busy(button, "Cancelling…", () => api("POST", `${DOWNLOAD_API}/jobs/${encodeURIComponent(job.job_id)}/cancel`, {}));
      notify(`${jobTitle(job)}: cancelled.`, "ok");
    } catch (error) {
      notify(`Could not cancel ${jobTitle(job)}: ${failureText(error)}`, "error");
    }
    await refresh();
    if (!button.isConnected || button.hidden) heading.focus();
  }

  function announce(jobs: DownloadJob[]): void {
    const lines: string[] = [];
    for (const job of jobs) {
      const quarter = job.status === "running" && job.progress_pct !== null ? Math.floor(job.progress_pct / 25) : 0;
      const before = said.get(job.job_id);
      said.set(job.job_id, { status: job.status, quarter });
      if (first || before === undefined) continue;
      const name = jobTitle(job);
      if (before.status !== job.status) {
        if (job.status === "running") lines.push(`${name}: downloading.`);
        else if (job.status === "completed") lines.push(`${name}: done, saved as ${job.destination ?? job.folder_type}.`);
        else if (job.status === "failed") lines.push(`${name}: failed. ${job.error ?? ""}`);
        else if (job.status === "cancelled") lines.push(`${name}: cancelled.`);
      } else if (job.status === "running" && quarter > before.quarter && quarter < 4) {
        lines.push(`${name}: ${quarter * 25}% downloaded.`);
      }
    }
    if (lines.length > 0) live.textContent = lines.join(" ");
  }

  function draw(jobs: DownloadJob[]): void {
    current = jobs;
    const running = jobs.filter((job) => job.status === "running").length;
    const queued = jobs.filter((job) => job.status === "queued").length;
    summary.textContent =
      jobs.length === 0
        ? "You have not downloaded anything yet."
        : running + queued === 0
          ? `${jobs.length === 1 ? "1 download" : `${jobs.length} downloads`}, none running.`
          : [running > 0 ? `${running} ${STATUS_TEXT.running!.label.toLowerCase()}` : null, queued > 0 ? `${queued} queued` : null].filter((part) => part).join(", ") + ".";
    const keep = new Set(jobs.map((job) => job.job_id));
    for (const [id, entry] of items) {
      if (!keep.has(id)) {
        entry.element.remove();
        items.delete(id);
      }
    }
    // In order, moving nothing that is already in place (a moved element would lose focus).
    let cursor: ChildNode | null = list.firstChild;
    for (const job of jobs) {
      let entry = items.get(job.job_id);
      if (entry === undefined) {
        entry = item(job);
        items.set(job.job_id, entry);
      } else entry.update(job);
      if (entry.element === cursor) cursor = cursor.nextSibling;
      else list.insertBefore(entry.element, cursor);
    }
    list.hidden = jobs.length === 0;
    announce(jobs);
    first = false;
  }

  function schedule(): void {
    clearTimeout(timer);
    timer = undefined;
    if (!element.isConnected || document.hidden) return;
    if (current.some(isActive)) timer = setTimeout(() => void refresh(), POLL_MS);
  }

  async function refresh(): Promise<void> {
    if (inFlight !== null) return inFlight;
    inFlight = (async () => {
      refreshButton.disabled = true;
      try {
        const answer = await api<{ jobs: DownloadJob[] }>("GET", `${DOWNLOAD_API}/jobs`);
        replace(failure);
        draw(Array.isArray(answer.jobs) ? answer.jobs : []);
      } catch (error) {
        replace(failure, failedView("Could not load your downloads", error, () => void refresh()));
      } finally {
        refreshButton.disabled = false;
        inFlight = null;
      }
    })();
    await inFlight;
    schedule();
  }

  refreshButton.addEventListener("click", () => void refresh());
  const onVisibility = (): void => {
    if (!element.isConnected && !first) {
      document.removeEventListener("visibilitychange", onVisibility);
      return;
    }
    if (document.hidden) {
      clearTimeout(timer);
      timer = undefined;
    } else void refresh();
  };
  document.addEventListener("visibilitychange", onVisibility);
  return { element, refresh };
}
