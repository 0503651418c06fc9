/**
 * What the user's page and the admin app share about model downloads: the job record of
 * `GET /mss-login/api/model-download/jobs` (src/downloads/queue.ts, `publicJob`), and the words
 * and numbers shown for it (title, status, sizes, speed, time left, a progress bar).
 */
import { h } from "./dom.ts";

export const DOWNLOAD_API = "/mss-login/api/model-download";

export type JobStatus = "queued" | "running" | "completed" | "failed" | "cancelled";

/** One job as the gateway shows it. */
export interface DownloadJob {
  job_id: string;
  source: "civitai" | "huggingface" | string;
  status: JobStatus;
  folder_type: string;
  created_at: number | null;
  started_at: number | null;
  finished_at: number | null;
  bytes_done: number;
  total_bytes: number | null;
  progress_pct: number | null;
  speed_bps: number;
  eta_seconds: number | null;
  destination: string | null;
  filename: string | null;
  sha256: string | null;
  expected_sha256: string | null;
  error: string | null;
  error_code: string | null;
  can_cancel: boolean;
  /** CivitAI jobs */
  model_version_id?: number | null;
  model_id?: number | null;
  civitai_host?: string;
  /** Hugging Face jobs */
  repo_id?: string;
  subfolder?: string;
  revision?: string;
  /** The admin list only: whose job it is. */
  username?: string;
}

/** `stats` of the job lists: what runs now against the caps, and what waits. */
export interface DownloadStats {
  active_total: number;
  active_civitai: number;
  active_huggingface: number;
  pending_total: number;
  limit_total: number;
  limit_civitai: number;
  limit_huggingface: number;
}

export const SOURCE_NAMES: Record<string, string> = { civitai: "CivitAI", huggingface: "Hugging Face" };
export const sourceName = (source: string): string => SOURCE_NAMES[source] ?? source;

export const isActive = (job: DownloadJob): boolean => job.status === "queued" || job.status === "running";

/** What the job fetches, in a few words: the file name once known, else what was asked for. */
export function jobTitle(job: DownloadJob): string {
  if (job.filename) return job.filename;
  if (job.source === "civitai") {
    if (job.model_version_id) return `CivitAI model version ${job.model_version_id}`;
    if (job.model_id) return `CivitAI model ${job.model_id}`;
    return "CivitAI model";
  }
  if (job.source === "huggingface" && job.repo_id) return [job.repo_id, job.subfolder, job.filename].filter((part) => part).join("/");
  return sourceName(job.source);
}

/** Where the job fetches from, for the second line (the CivitAI site and version, or repository and revision). */
export function jobOrigin(job: DownloadJob): string {
  if (job.source === "civitai") {
    const what = job.model_version_id ? `version ${job.model_version_id}` : job.model_id ? `model ${job.model_id}` : "";
    return [job.civitai_host ?? "CivitAI", what].filter((part) => part).join(", ");
  }
  if (job.source === "huggingface" && job.repo_id) return `${job.repo_id}${job.revision && job.revision !== "main" ? ` @ ${job.revision}` : ""}`;
  return sourceName(job.source);
}

export const STATUS_TEXT: Record<string, { label: string; kind: "good" | "bad" | "warn" | "info" | undefined }> = {
  queued: { label: "Queued", kind: undefined },
  running: { label: "Downloading", kind: "info" },
  completed: { label: "Done", kind: "good" },
  failed: { label: "Failed", kind: "bad" },
  cancelled: { label: "Cancelled", kind: "warn" },
};

export function statusBadge(status: string): HTMLSpanElement {
  const known = STATUS_TEXT[status] ?? { label: status, kind: undefined };
  return h("span", { class: known.kind ? `mss-badge mss-badge-${known.kind}` : "mss-badge", "data-status": status }, known.label);
}

/** 1 234 567 bytes → "1.2 MB" (decimal units, as download sites show them). */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return "—";
  if (bytes < 1000) return `${bytes} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = "B";
  for (const next of units) {
    if (value < 1000) break;
    value /= 1000;
    unit = next;
  }
  return `${value >= 100 ? Math.round(value) : value.toFixed(1)} ${unit}`;
}

export const formatSpeed = (bytesPerSecond: number): string => `${formatBytes(bytesPerSecond)}/s`;

/** 75 → "1 min 15 s". */
export function formatDuration(seconds: number): string {
  const total = Math.max(0, Math.round(seconds));
  if (total < 60) return `${total} s`;
  const minutes = Math.floor(total / 60);
  if (minutes < 60) return `${minutes} min${total % 60 ? ` ${total % 60} s` : ""}`;
  const hours = Math.floor(minutes / 60);
  return `${hours} h${minutes % 60 ? ` ${minutes % 60} min` : ""}`;
}

/** "1.2 MB of 4.0 MB · 1.1 MB/s · about 3 s left", as far as it is known. */
export function progressText(job: DownloadJob): string {
  const parts: string[] = [];
  if (job.status === "queued") return "Waiting for a free download slot.";
  const size =
    job.total_bytes === null ? formatBytes(job.bytes_done) : job.status === "completed" || job.bytes_done >= job.total_bytes ? formatBytes(job.total_bytes) : `${formatBytes(job.bytes_done)} of ${formatBytes(job.total_bytes)}`;
  if (job.bytes_done > 0 || job.total_bytes !== null) parts.push(size);
  if (job.status === "running") {
    if (job.progress_pct !== null) parts.push(`${job.progress_pct}%`);
    if (job.speed_bps > 0) parts.push(formatSpeed(job.speed_bps));
    if (job.eta_seconds !== null) parts.push(`about ${formatDuration(job.eta_seconds)} left`);
    if (parts.length === 0) parts.push("Starting…");
  }
  return parts.join(" · ");
}

/**
 * A progress bar named by `labelId` (a <progress>: its value is read out by screen readers on
 * demand). Without a known size it has no value, which shows as "busy".
 */
export function progressBar(labelId: string): HTMLProgressElement {
  return h("progress", { class: "mss-dl-bar", max: 100, "aria-labelledby": labelId });
}

export function setProgress(bar: HTMLProgressElement, job: DownloadJob): void {
  const pct = job.status === "completed" ? 100 : job.progress_pct;
  if (pct === null || job.status === "queued") bar.removeAttribute("value");
  else bar.value = pct;
  bar.hidden = job.status === "failed" || job.status === "cancelled";
}

/** The first 12 characters of a SHA-256, for a compact column. */
export const shortHash = (sha: string | null): string => (sha ? sha.slice(0, 12) : "");
