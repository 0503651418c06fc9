// Tables owned by model downloads. Importable by drizzle-kit under Node: drizzle-orm only.
import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * One download job. Jobs are stored (unlike the original's in-memory table) so that a queued
 * or running download survives a gateway restart and resumes from its temporary file.
 */
export const downloadJobs = sqliteTable(
  "download_jobs",
  {
    /** 32 hex characters. */
    id: text("id").primaryKey(),
    /** The gateway user the model is for (and whose API key is used). */
    userId: text("user_id").notNull(),
    /** Who asked, when not the same (`target_username`). */
    requestedBy: text("requested_by").notNull(),
    /** `civitai` or `huggingface`. */
    source: text("source").notNull(),
    /** `queued`, `running`, `completed`, `failed`, `cancelled`. */
    status: text("status").notNull(),
    /** A ComfyUI model folder name (checkpoints, loras, ...). */
    folder: text("folder").notNull(),
    /** What to fetch, source-specific (version id and host, or repo, file, revision), as JSON. */
    requestJson: text("request_json").notNull(),
    /** The file name in the folder (known once the source answered, or given). */
    filename: text("filename"),
    /** Bytes announced by the source; null when unknown. */
    totalBytes: integer("total_bytes"),
    bytesDone: integer("bytes_done").notNull(),
    /** The SHA-256 the source published, lower-case hex; null when it publishes none. */
    expectedSha256: text("expected_sha256"),
    /** The SHA-256 of the completed file. */
    sha256: text("sha256"),
    errorCode: text("error_code"),
    error: text("error"),
    /** Unix milliseconds. */
    createdAt: integer("created_at").notNull(),
    startedAt: integer("started_at"),
    finishedAt: integer("finished_at"),
  },
  (t) => [index("download_jobs_user").on(t.userId, t.createdAt), index("download_jobs_status").on(t.status)],
);

/** Each user's API key per source, sealed with the gateway's secret key; never shown back. */
export const downloadApiKeys = sqliteTable(
  "download_api_keys",
  {
    userId: text("user_id").notNull(),
    /** `civitai` or `huggingface`. */
    source: text("source").notNull(),
    keySealed: text("key_sealed").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.source] })],
);

/** Each user's download preferences (the original's `civitai_host`: civitai.com or civitai.red). */
export const downloadPreferences = sqliteTable("download_preferences", {
  userId: text("user_id").primaryKey(),
  civitaiHost: text("civitai_host").notNull(),
  updatedAt: integer("updated_at").notNull(),
});
