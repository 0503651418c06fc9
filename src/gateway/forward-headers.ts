/**
 * Which headers cross the gateway. The gateway owns identity and routing metadata, so anything a
 * client could use to claim an identity, a path or an address is dropped before the upstream
 * sees it; hop-by-hop headers never cross a proxy in either direction (RFC 9110 §7.6.1).
 */

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/**
 * Request headers the client may not pass to ComfyUI: identity (`comfy-user`, credentials meant
 * for the gateway), routing claims that other proxies trust (oauth2-proxy's advisories), method
 * overrides, `sec-fetch-site`, which newer ComfyUI turns into a 403 (the gateway does its own
 * origin checks), and framing or upgrade details that belong to the client's own connection.
 */
const NOT_FORWARDED_REQUEST_HEADERS = new Set([
  "host",
  "comfy-user",
  "authorization",
  "cookie",
  "forwarded",
  "x-forwarded-for",
  "x-forwarded-host",
  "x-forwarded-proto",
  "x-forwarded-port",
  "x-forwarded-prefix",
  "x-forwarded-uri",
  "x-forwarded-server",
  "x-forwarded-ssl",
  "x-real-ip",
  "x-client-ip",
  "x-original-url",
  "x-original-uri",
  "x-rewrite-url",
  "x-http-method-override",
  "x-http-method",
  "x-method-override",
  "cf-connecting-ip",
  "true-client-ip",
  "sec-fetch-site",
  "sec-websocket-key",
  "sec-websocket-version",
  "sec-websocket-extensions",
  "sec-websocket-accept",
  "expect",
]);

function connectionListed(headers: Headers): Set<string> | null {
  const value = headers.get("connection");
  if (value === null) return null;
  const names = new Set<string>();
  for (const token of value.split(",")) {
    const name = token.trim().toLowerCase();
    if (name !== "") names.add(name);
  }
  return names;
}

export interface UpstreamRequestHeaderOptions {
  /** `http://127.0.0.1:8188`: becomes Origin when the client sent one. */
  upstreamOrigin: string;
  /** `127.0.0.1:8188`: the Host ComfyUI expects. */
  upstreamHost: string;
  /** Headers the gateway sets itself (e.g. `comfy-user`), applied last. */
  set?: Readonly<Record<string, string>> | undefined;
}

/**
 * Turns the client's request headers into the upstream's, in place (the request is the
 * gateway's to consume, and not copying saves work on every request). Header names containing
 * `_` are dropped whole, as nginx does by default: `Comfy_User` or `X_Forwarded_For` could
 * otherwise be read as the dashed name by a server that folds underscores.
 */
export function rewriteHeadersForUpstream(headers: Headers, options: UpstreamRequestHeaderOptions): Headers {
  const listed = connectionListed(headers);
  const hadOrigin = headers.has("origin");
  const hadAcceptEncoding = headers.has("accept-encoding");
  let doomed: string[] | null = null;
  for (const [name] of headers) {
    if (HOP_BY_HOP.has(name) || NOT_FORWARDED_REQUEST_HEADERS.has(name) || name.includes("_") || (listed !== null && listed.has(name))) {
      (doomed ??= []).push(name);
    }
  }
  if (doomed !== null) for (const name of doomed) headers.delete(name);
  headers.set("host", options.upstreamHost);
  // ComfyUI refuses a foreign Origin when its Host is loopback; the gateway checks the browser's
  // Origin itself, so the upstream sees its own origin (spec §7, option b).
  if (hadOrigin) headers.set("origin", options.upstreamOrigin);
  // Bun's fetch would otherwise ask for gzip/br/zstd on the client's behalf while bodies pass
  // through undecoded, so a client that asked for no encoding must get none.
  if (!hadAcceptEncoding) headers.set("accept-encoding", "identity");
  if (options.set) for (const name in options.set) headers.set(name, options.set[name]!);
  return headers;
}

const HOP_BY_HOP_LIST = [...HOP_BY_HOP];

/**
 * Removes hop-by-hop headers from an upstream response, in place, before it goes to the client;
 * and CORS headers: the gateway owns cross-origin policy (it offers none), so a ComfyUI started
 * with `--enable-cors-header *` cannot open it to every site with the user's credentials.
 */
/**
 * ComfyUI's pages may only be framed by the gateway's own origin (clickjacking: a hidden frame
 * over "Queue" or an admin tab). Set on HTML answers unless ComfyUI already says something.
 */
export function denyForeignFraming(headers: Headers): void {
  if (!(headers.get("content-type") ?? "").toLowerCase().startsWith("text/html")) return;
  if (!headers.has("x-frame-options")) headers.set("x-frame-options", "SAMEORIGIN");
  if (!headers.has("content-security-policy")) headers.set("content-security-policy", "frame-ancestors 'self'");
}

export function stripHopByHop(headers: Headers): Headers {
  const listed = connectionListed(headers);
  if (listed !== null) for (const name of listed) headers.delete(name);
  for (const name of HOP_BY_HOP_LIST) if (headers.has(name)) headers.delete(name);
  if (headers.has("access-control-allow-origin")) {
    const cors: string[] = [];
    for (const [name] of headers) if (name.startsWith("access-control-")) cors.push(name);
    for (const name of cors) headers.delete(name);
  }
  return headers;
}
