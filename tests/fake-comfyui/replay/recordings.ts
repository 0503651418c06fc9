/**
 * The recordings of a real ComfyUI 0.3.64 (their README says how they were made): 299 HTTP
 * exchanges and 21 WebSocket transcripts. The team's oracle lives in `shared/fixtures/`; a copy
 * is kept in `../recordings` so that a clone alone can run every test, and
 * recordings-copy.test.ts fails when the copy drifts from the shared one.
 * `FAKE_COMFYUI_RECORDINGS` may point at another copy.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export const RECORDINGS_DIR = process.env.FAKE_COMFYUI_RECORDINGS ?? join(import.meta.dir, "..", "recordings");

/** Where the shared oracle sits when the repository is checked out next to `shared/`. */
export const SHARED_RECORDINGS_DIR = join(import.meta.dir, "..", "..", "..", "..", "shared", "fixtures", "comfyui-0.3.64");

export type MultipartPart =
  | { name: string; filename: string; content_type: string; size: number; sha256: string; base64: string }
  | { name: string; value: string };

export interface BinaryBody {
  encoding: "base64";
  length: number;
  sha256: string;
  head_hex: string;
  base64: string;
  truncated?: boolean;
}

export interface HttpRecording {
  id: string;
  mode: "single-user" | "multi-user";
  description: string;
  request: {
    method: string;
    target: string;
    path: string;
    headers: Record<string, string>;
    body: unknown;
  };
  response: {
    status: number;
    headers: Record<string, string>;
    body: unknown;
    body_length?: number;
    first_ws_frame_after_upgrade?: unknown;
  };
}

export type TranscriptEntry =
  | { dir: "event"; t_ms: number; socket: string; event: "open"; target: string; request_headers?: Record<string, string> }
  | { dir: "event"; t_ms: number; socket: string; event: "client_close_requested" | "closed" }
  | { dir: "out"; t_ms: number; socket: string; kind: "text"; data: unknown }
  | { dir: "in"; t_ms: number; socket: string; kind: "text"; data: { type: string; data: Record<string, unknown> } }
  | { dir: "in"; t_ms: number; socket: string; kind: "binary"; data: { event_type: number; [key: string]: unknown } }
  | { dir: "http"; t_ms: number; kind: "request"; method: string; target: string; body: unknown }
  | { dir: "http"; t_ms: number; kind: "response"; method: string; target: string; status: number; body: unknown }
  | { dir: "note"; t_ms: number; text: string };

export interface WsRecording {
  file: string;
  name: string;
  mode: "single-user" | "multi-user";
  description: string;
  transcript: TranscriptEntry[];
}

export function loadHttpRecordings(prefix: "su-" | "mu-"): HttpRecording[] {
  const dir = join(RECORDINGS_DIR, "http");
  return readdirSync(dir)
    .filter((name) => name.startsWith(prefix) && name.endsWith(".json"))
    .sort()
    .map((name) => JSON.parse(readFileSync(join(dir, name), "utf8")) as HttpRecording);
}

export function loadWsRecordings(): WsRecording[] {
  const dir = join(RECORDINGS_DIR, "ws");
  return readdirSync(dir)
    .filter((name) => name.endsWith(".json"))
    .sort()
    .map((name) => ({ file: name, ...(JSON.parse(readFileSync(join(dir, name), "utf8")) as Omit<WsRecording, "file">) }));
}

export function isBinaryBody(body: unknown): body is BinaryBody {
  return body !== null && typeof body === "object" && (body as BinaryBody).encoding === "base64";
}
