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
  };
}
