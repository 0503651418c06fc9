/** Configuration of a fake ComfyUI instance (spec §10.1) and its defaults. */
import { readdirSync } from "node:fs";
import { basename, join, sep } from "node:path";

export type Profile = "v0.3" | "v0.38";
export type ExecutionMode = "auto" | "manual";

/** Seed content of one user's data directory: relative path → file content. */
export type UserFilesSeed = Record<string, string | Uint8Array>;

export interface FakeComfyUIOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Loopback only by default. */
  host?: string;
  /** `--multi-user`: the `comfy-user` header selects the user, unknown users are refused. */
  multiUser?: boolean;
  /** "v0.3" is ComfyUI 0.3.64 as recorded; "v0.38" adds the newer behaviours of spec §10.1. */
  profile?: Profile;
  /** "auto" runs prompts by itself; "manual" waits for `POST /__fake/step` (or `step()`). */
  execution?: ExecutionMode;
  /** `--enable-cors-header ORIGIN`; null (the default) means the origin-only middleware. */
  corsOrigin?: string | null;
  /** `--max-upload-size` in bytes (default 100 MiB): larger request bodies get 413. */
  maxUploadBytes?: number;
  /** Auto mode: time each node and each progress tick takes (default 2 ms). */
  stepDelayMs?: number;
  /**
   * Auto mode: extra time per megapixel for image work, so big images are slow the way the
   * recorded "slow job" is (default 25; ImageBlur costs about radius/3 times more). 0 disables.
   */
  workMsPerMegapixel?: number;
  /**
   * Users known at start (`users.json`), id → display name. Multi-user mode defaults to none,
   * as on a fresh server; single-user mode always has `default`.
   */
  users?: Record<string, string>;
  /** Initial user data per user id (e.g. `{ alice_…: { "workflows/a.json": "{}" } }`). */
  userFiles?: Record<string, UserFilesSeed>;
  /**
   * Installed model files by folder (`{ checkpoints: ["sd15.safetensors"] }`), listed by
   * `/models/{folder}`, `/experiment/models/{folder}`, `/embeddings` and the loaders' lists.
   * Default: none, like the recorded server.
   */
  models?: Record<string, string[]>;
  /**
   * A models directory on disk (`<dir>/<folder>/<file>`), read at each request the way ComfyUI
   * scans its folders: files with a model extension are listed after the `models` option's.
   */
  modelsDir?: string;
  /**
   * Custom nodes' `WEB_DIRECTORY`s, module name → folder on disk: served under
   * `/extensions/<module>/…` and their `.js` files listed by `/api/extensions`, as ComfyUI does.
   */
  customNodeWebDirs?: Record<string, string>;
  /** Makes generated ids (prompt ids, sids, user ids, temp prefixes) repeatable. */
  seed?: number;
  /** Clock in milliseconds since the epoch (default `Date.now`). */
  now?: () => number;
  /** Print each request to stderr. */
  logRequests?: boolean;
}

export interface ResolvedOptions {
  port: number;
  host: string;
  multiUser: boolean;
  profile: Profile;
  execution: ExecutionMode;
  corsOrigin: string | null;
  maxUploadBytes: number;
  stepDelayMs: number;
  workMsPerMegapixel: number;
  users: Record<string, string> | undefined;
  userFiles: Record<string, UserFilesSeed>;
  models: Record<string, string[]>;
  customNodeWebDirs: Record<string, string>;
  seed: number | undefined;
  now: () => number;
  logRequests: boolean;
}

/** ComfyUI's model file extensions (folder_paths.supported_pt_extensions); hidden files are skipped. */
const MODEL_FILE = /^[^.].*\.(ckpt|pt|pt2|bin|pth|safetensors|pkl|sft)$/i;

/** The `models` option plus each folder's files on disk, read whenever a folder is looked up. */
function modelsOnDisk(fixed: Record<string, string[]>, dir: string): Record<string, string[]> {
  return new Proxy(fixed, {
    get(target, folder) {
      if (typeof folder !== "string") return undefined;
      let onDisk: string[] = [];
      try {
        onDisk = readdirSync(join(dir, folder), { recursive: true, encoding: "utf8" }).filter((name) => MODEL_FILE.test(basename(name))).map((name) => name.split(sep).join("/"));
      } catch {
        // no such folder on disk
      }
      const listed = [...(target[folder] ?? []), ...onDisk];
      return listed.length > 0 ? [...new Set(listed)] : undefined;
    },
  });
}

export const DEFAULT_MAX_UPLOAD_BYTES = 100 * 1024 * 1024;

export function resolveOptions(options: FakeComfyUIOptions = {}): ResolvedOptions {
  const profile = options.profile ?? "v0.3";
  if (profile !== "v0.3" && profile !== "v0.38") throw new Error(`unknown profile ${String(profile)}`);
  const execution = options.execution ?? "auto";
  if (execution !== "auto" && execution !== "manual") throw new Error(`unknown execution mode ${String(execution)}`);
  return {
    port: options.port ?? 0,
    host: options.host ?? "127.0.0.1",
    multiUser: options.multiUser ?? false,
    profile,
    execution,
    corsOrigin: options.corsOrigin ?? null,
    maxUploadBytes: options.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES,
    stepDelayMs: options.stepDelayMs ?? 2,
    workMsPerMegapixel: options.workMsPerMegapixel ?? 25,
    users: options.users,
    userFiles: options.userFiles ?? {},
    models: options.modelsDir === undefined ? (options.models ?? {}) : modelsOnDisk(options.models ?? {}, options.modelsDir),
    customNodeWebDirs: options.customNodeWebDirs ?? {},
    seed: options.seed,
    now: options.now ?? Date.now,
    logRequests: options.logRequests ?? false,
  };
}
