// Model downloads, put together: the stored queue, the users' sealed API keys, the routes, and
// what happens when a job ends (the model is granted to its user, the audit log and the
// notifier are told).
import { readdirSync } from "node:fs";
import { eq } from "drizzle-orm";
import type { AuditEvent } from "../audit/log.ts";
import type { AdminGuard } from "../auth/admin-guard.ts";
import { getUserById } from "../auth/users.ts";
import type { Config } from "../config/index.ts";
import type { Db } from "../db/index.ts";
import type { Logger } from "../log.ts";
import type { ModelGrantStore } from "../models/grants.ts";
import { createApiKeyStore } from "./keys.ts";
import { createDownloadQueue, targetOf, type JobRow } from "./queue.ts";
import { downloadRoutes } from "./routes.ts";
import { createSourceSearch } from "./search.ts";
import type { Resolver } from "./safe-fetch.ts";
import { sourceUrl } from "./sources.ts";
import { downloadPreferences } from "./tables.ts";

/** Folders of ComfyUI's `/models` that hold no models. */
const NOT_MODEL_FOLDERS: ReadonlySet<string> = new Set(["configs", "custom_nodes"]);
const FOLDERS_CACHE_MS = 30_000;

export interface DownloadsOptions {
  db: Db;
  settings: () => Config["downloads"];
  /** 32 bytes, derived from the gateway's secret for this purpose only. */
  apiKeyEncryptionKey: Uint8Array;
  grants: ModelGrantStore;
  /** ComfyUI's JSON, for its list of model folders. */
  upstreamJson: (path: string) => Promise<{ status: number; body: unknown }>;
  record: (event: AuditEvent) => void;
  /** A finished or failed job, for notifications. */
  ended?: (job: JobRow, username: string) => void;
  log: Logger;
  resolve?: Resolver;
}

export function createDownloads(options: DownloadsOptions) {
  const { db, log } = options;
  const keys = createApiKeyStore(db, options.apiKeyEncryptionKey);
  let folderCache: { at: number; folders: string[] } | null = null;

  /** ComfyUI's model folders; when it cannot be asked, the folders that exist in models_dir. */
  async function folders(): Promise<string[]> {
    if (folderCache !== null && folderCache.at > Date.now() - FOLDERS_CACHE_MS) return folderCache.folders;
    let list: string[] | null = null;
    try {
      const answer = await options.upstreamJson("/api/models");
      if (answer.status === 200 && Array.isArray(answer.body)) list = answer.body.filter((folder): folder is string => typeof folder === "string" && !NOT_MODEL_FOLDERS.has(folder));
    } catch {
      // ComfyUI is down: fall back to the directories on disk
    }
    const modelsDir = options.settings().models_dir;
    if (list === null && modelsDir !== null) {
      try {
        list = readdirSync(modelsDir, { withFileTypes: true }).filter((entry) => entry.isDirectory() && !NOT_MODEL_FOLDERS.has(entry.name)).map((entry) => entry.name);
      } catch {
        list = [];
      }
    }
    const sorted = (list ?? []).sort();
    folderCache = { at: Date.now(), folders: sorted };
    return sorted;
  }

  function ended(job: JobRow): void {
    const user = getUserById(db, job.userId);
    const username = user?.username ?? "(deleted user)";
    const target = targetOf(job);
    const details = {
      job: job.id,
      source: job.source,
      url: sourceUrl(target),
      folder: job.folder,
      filename: job.filename,
      bytes: job.bytesDone,
      sha256: job.sha256,
      expected_sha256: job.expectedSha256,
      requested_by: job.requestedBy === job.userId ? username : (getUserById(db, job.requestedBy)?.username ?? job.requestedBy),
    };
    if (job.status === "completed" && job.filename !== null) {
      log.info("downloads: completed", { job: job.id, user: username, destination: `${job.folder}/${job.filename}`, bytes: job.bytesDone });
      options.record({ action: "download.completed", outcome: "success", actorId: job.userId, actorName: username, target: `${job.folder}/${job.filename}`, details });
      // Under model isolation the user sees only granted models: the download is theirs (a grant
      // left from an earlier download of the same name stays as it is).
      const grantee = { kind: "user", userId: job.userId } as const;
      if (!options.grants.listFor(grantee).some((grant) => grant.folder === job.folder && grant.itemName === job.filename)) {
        options.grants.grant({ grantee, folder: job.folder, itemName: job.filename, grantedBy: null });
      }
    } else {
      log.info(`downloads: ${job.status}`, { job: job.id, user: username, code: job.errorCode });
      options.record({
        action: job.status === "cancelled" ? "download.cancelled" : "download.failed",
        outcome: job.status === "cancelled" ? "success" : "failure",
        actorId: job.userId,
        actorName: username,
        target: job.filename === null ? details.url : `${job.folder}/${job.filename}`,
        details: { ...details, failure: job.errorCode },
      });
    }
    options.ended?.(job, username);
  }

  const search = createSourceSearch({ settings: options.settings, apiKey: (userId, source) => keys.open(userId, source), resolve: options.resolve });
  const queue = createDownloadQueue({ db, settings: options.settings, log, apiKey: (userId, source) => keys.open(userId, source), ended, resolve: options.resolve });

  return {
    queue,
    keys,
    routes: (deps: { guard: AdminGuard; allows(role: string, key: string): boolean }) =>
      downloadRoutes({
        db,
        guard: deps.guard,
        allows: deps.allows,
        queue,
        keys,
        search,
        folders,
        modelsIn: async (folder) => {
          try {
            const answer = await options.upstreamJson(`/api/models/${encodeURIComponent(folder)}`);
            return Array.isArray(answer.body) ? answer.body.filter((name): name is string => typeof name === "string") : [];
          } catch {
            return []; // ComfyUI down: the folder on disk is still checked
          }
        },
        enabled: () => options.settings().models_dir !== null,
        limits: () => options.settings(),
        log,
      }),
    /** An account was deleted: its downloads stop, its keys and preferences are erased. */
    accountDeleted(userId: string): void {
      queue.cancelAllOf(userId);
      keys.forget(userId);
      db.delete(downloadPreferences).where(eq(downloadPreferences.userId, userId)).run();
    },
    start: () => {
      const testSources = options.settings().test_sources;
      if (testSources.length > 0) log.warn("downloads: downloads.test_sources is set; it is for tests only and sends download requests (and API keys) to local fakes over plain http", { test_sources: testSources.join(",") });
      queue.start();
    },
    stop: () => queue.stop(),
  };
}
