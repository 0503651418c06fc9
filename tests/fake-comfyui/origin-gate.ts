/**
 * ComfyUI's origin middlewares (spec §7, finding 20).
 *
 * Without `--enable-cors-header`: when the `Host` is a loopback address and an `Origin` is
 * sent, their host[:port] must be equal (compared as strings; the port only when both sides
 * have one) or the request gets an empty 403. An `Origin` without a host (`null`) is not
 * checked. OPTIONS then gets an empty 200. The v0.38 profile also refuses
 * `Sec-Fetch-Site: cross-site`.
 *
 * With a CORS origin: no check, OPTIONS gets 200, every response gets the CORS headers.
 */
import { emptyResponse } from "./http-responses.ts";
import type { ResolvedOptions } from "./options.ts";

interface HostParts {
  netloc: string;
  hostname: string | null;
  port: string | null;
}

/** `urllib.parse.urlsplit('//' + netloc)`: host name (lower case) and port. */
function splitNetloc(netloc: string): HostParts {
  const lower = netloc.toLowerCase();
  const withoutUser = lower.slice(lower.lastIndexOf("@") + 1);
  const bracketed = /^\[([^\]]*)\](?::(\d*))?$/.exec(withoutUser);
  if (bracketed !== null) {
    return { netloc: lower, hostname: bracketed[1] ?? null, port: bracketed[2] ? bracketed[2] : null };
  }
  const colon = withoutUser.lastIndexOf(":");
  const hostname = colon === -1 ? withoutUser : withoutUser.slice(0, colon);
  const port = colon === -1 ? null : withoutUser.slice(colon + 1);
  return { netloc: lower, hostname: hostname === "" ? null : hostname, port: port ? port : null };
}

/** Netloc of an `Origin` value; "" for `null` and other values without `//`. */
function originNetloc(origin: string): string {
  const match = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/([^/?#]*)/.exec(origin);
  return match?.[1] ?? "";
}

/** The fake does not resolve names: IP literals and `localhost` only. */
function isLoopback(hostname: string | null): boolean {
  if (hostname === null) return false;
  if (hostname === "localhost" || hostname === "::1") return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

function originRefused(host: string, origin: string): boolean {
  const hostParts = splitNetloc(host);
  const originParts = splitNetloc(originNetloc(origin));
  let hostDomain: string | null = hostParts.netloc;
  let originDomain: string | null = originParts.netloc;
  if (originParts.port === null) hostDomain = hostParts.hostname;
  if (hostParts.port === null) originDomain = originParts.hostname;
  if (!isLoopback(hostParts.hostname)) return false;
  if (hostDomain === null || originDomain === null || hostDomain === "" || originDomain === "") return false;
  return hostDomain !== originDomain;
}

/** A response that ends the request before routing, or null to go on. */
export function originGate(req: Request, options: ResolvedOptions): Response | null {
  if (options.corsOrigin !== null) return req.method === "OPTIONS" ? emptyResponse(200) : null;
  if (options.profile === "v0.38" && req.headers.get("sec-fetch-site")?.toLowerCase() === "cross-site") {
    return emptyResponse(403);
  }
  const host = req.headers.get("host");
  const origin = req.headers.get("origin");
  if (host !== null && origin !== null && originRefused(host, origin)) return emptyResponse(403);
  return req.method === "OPTIONS" ? emptyResponse(200) : null;
}

export function corsHeaders(options: ResolvedOptions): Record<string, string> {
  if (options.corsOrigin === null) return {};
  return {
    "Access-Control-Allow-Origin": options.corsOrigin,
    "Access-Control-Allow-Methods":
      options.profile === "v0.38" ? "POST, GET, DELETE, PUT, OPTIONS, PATCH" : "POST, GET, DELETE, PUT, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, Authorization",
    "Access-Control-Allow-Credentials": "true",
  };
}
