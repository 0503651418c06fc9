import { createUpstreamClient, type UpstreamClient } from "./upstream-client.ts";

/** Where ComfyUI lives, parsed once from `upstream.url`. */
export interface Upstream {
  /** `http://127.0.0.1:8188` */
  origin: string;
  /** `127.0.0.1:8188`: the Host header ComfyUI expects. */
  host: string;
  /** Optional base path without trailing slash (`""` or `/comfy`). */
  basePath: string;
  /** `ws://127.0.0.1:8188` + basePath */
  wsOrigin: string;
  connectTimeoutMs: number;
  responseTimeoutMs: number;
  wsOpenTimeoutMs: number;
  /**
   * Keep-alive HTTP/1.1 client for a plain-http upstream (the usual loopback ComfyUI): cheaper
   * per request than fetch. Null for https upstreams, which go through fetch.
   */
  client: UpstreamClient | null;
}

export function describeUpstream(url: string, timeouts: { connectTimeoutMs: number; responseTimeoutMs: number; wsOpenTimeoutMs: number }): Upstream {
  const parsed = new URL(url);
  const basePath = parsed.pathname.replace(/\/+$/, "");
  const wsScheme = parsed.protocol === "https:" ? "wss:" : "ws:";
  return {
    origin: parsed.origin,
    host: parsed.host,
    basePath,
    wsOrigin: `${wsScheme}//${parsed.host}${basePath}`,
    ...timeouts,
    client:
      parsed.protocol === "http:"
        ? createUpstreamClient({
            host: parsed.hostname.replace(/^\[|\]$/g, ""),
            port: Number(parsed.port || 80),
            connectTimeoutMs: timeouts.connectTimeoutMs,
          })
        : null,
  };
}
