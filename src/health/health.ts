/**
 * `GET /mss-login/health`: is the gateway up, can it use its database, can it reach ComfyUI.
 * Answers 200 when the gateway itself works (a down ComfyUI is reported, not fatal: the gateway
 * still serves its own pages), 503 when the database fails. It names no internal address.
 */
import { Elysia } from "elysia";
import type { Upstream } from "../gateway/upstream.ts";
// Embedded in the compiled binary as text (Bun's types describe .html imports as bundles).
import statusPageText from "../../static/status.html" with { type: "text" };

const statusPage = statusPageText as unknown as string;

export interface UpstreamProbe {
  reachable: boolean;
  status?: number;
  latency_ms?: number;
  error?: string;
  checked_at: string;
}

export interface HealthOptions {
  upstream: Upstream;
  version: string;
  startedAt: number;
  /** Throws when the database cannot answer a trivial query. */
  checkDatabase(): void;
  /** The NSFW classifier's state and memory (its model is the gateway's largest allocation). */
  nsfw?: () => { state: string; workers: number; ready: number; memory_bytes: number | null; queued: number };
}

/** Re-probing at most this often keeps a health-check flood from becoming an upstream flood. */
const PROBE_CACHE_MS = 2000;

export function createUpstreamProber(upstream: Upstream): () => Promise<UpstreamProbe> {
  let cached: { at: number; probe: Promise<UpstreamProbe> } | null = null;
  const probeOnce = async (): Promise<UpstreamProbe> => {
    const started = performance.now();
    try {
      const response = await fetch(`${upstream.origin}${upstream.basePath}/api/features`, {
        signal: AbortSignal.timeout(upstream.connectTimeoutMs),
        headers: { "accept-encoding": "identity" },
      });
      await response.arrayBuffer();
      return {
        reachable: response.status < 500,
        status: response.status,
        latency_ms: Math.round((performance.now() - started) * 10) / 10,
        checked_at: new Date().toISOString(),
      };
    } catch (error) {
      const timedOut = error instanceof DOMException && error.name === "TimeoutError";
      return { reachable: false, error: timedOut ? "timeout" : "connection failed", checked_at: new Date().toISOString() };
    }
  };
  return () => {
    const now = Date.now();
    if (cached === null || now - cached.at > PROBE_CACHE_MS) cached = { at: now, probe: probeOnce() };
    return cached.probe;
  };
}

export function healthRoutes(options: HealthOptions) {
  const probeUpstream = createUpstreamProber(options.upstream);
  const report = async () => {
    let database: { ok: boolean; error?: string };
    try {
      options.checkDatabase();
      database = { ok: true };
    } catch {
      database = { ok: false, error: "database query failed" };
    }
    const upstream = await probeUpstream();
    const memory = process.memoryUsage();
    const body = {
      status: database.ok ? (upstream.reachable ? "ok" : "degraded") : "failing",
      version: options.version,
      uptime_s: Math.round((Date.now() - options.startedAt) / 1000),
      gateway: { ok: true, rss_bytes: memory.rss, heap_used_bytes: memory.heapUsed },
      database,
      upstream,
      ...(options.nsfw === undefined ? {} : { nsfw: options.nsfw() }),
    };
    return new Response(JSON.stringify(body), {
      status: database.ok ? 200 : 503,
      headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" },
    });
  };
  const page = () =>
    new Response(statusPage, {
      headers: {
        "content-type": "text/html; charset=utf-8",
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
        "x-frame-options": "DENY",
      },
    });
  return new Elysia({ name: "health" })
    .get("/mss-login/health", report)
    .get("/api/mss-login/health", report)
    .get("/mss-login/", page)
    .get("/mss-login/status", page);
}
