// Outbound HTTP for model downloads, contained against server-side request forgery.
//
// A download URL comes (directly or through a source's API) from a user, so everything about
// where the gateway connects is checked here, on every hop:
// - the URL: https only, no user name or password, no IP literal in any spelling (the URL
//   parser turns `2130706433` and `0x7f.1` into `127.0.0.1`, which is then refused), no
//   trailing-dot host, default port only, and the host on the allow-list;
// - the addresses: resolved inside the connection's own `lookup`, so the address checked is the
//   address connected to (a DNS answer that changes between a check and the connect cannot slip
//   through); every answer must be a global unicast address;
// - redirects: followed by hand, at most MAX_REDIRECTS, each target checked as above;
// - credentials: a source's token goes only to the host it belongs to, never to a redirect
//   target elsewhere; nothing of the user's session is ever sent.
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import http, { type IncomingMessage } from "node:http";
import https from "node:https";
import { inRange, parseIp, parseIpRange, unmapped, type IpAddress, type IpRange } from "../config/ip.ts";

export const MAX_REDIRECTS = 5;

/** A refusal or failure with a stable code; `retryable` failures are worth another attempt. */
export class DownloadError extends Error {
  override readonly name = "DownloadError";
  constructor(
    readonly code: string,
    message: string,
    readonly retryable = false,
  ) {
    super(message);
  }
}

export interface OutboundPolicy {
  /** Host names, or `*.domain` for any host under the domain. */
  readonly allowedHosts: readonly string[];
  /** Loopback origins of local fakes (tests only): allowed as they are, over http, unchecked. */
  readonly testOrigins: ReadonlySet<string>;
}

/** Resolves a host name to every address it has (injectable so tests can play DNS). */
export type Resolver = (hostname: string) => Promise<readonly LookupAddress[]>;

export const systemResolver: Resolver = (hostname) =>
  new Promise((resolve, reject) => dnsLookup(hostname, { all: true, verbatim: true }, (error, addresses) => (error ? reject(error) : resolve(addresses))));

export function hostAllowed(host: string, patterns: readonly string[]): boolean {
  return patterns.some((pattern) => (pattern.startsWith("*.") ? host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1 : host === pattern));
}

/**
 * The URL as the gateway will use it, or a DownloadError saying why it may not be fetched.
 * Also applied to every redirect target.
 */
export function checkOutboundUrl(raw: string | URL, policy: OutboundPolicy): URL {
  const text = String(raw);
  if (text.length > 4096) throw new DownloadError("URL_INVALID", "The URL is too long.");
  if (!URL.canParse(text)) throw new DownloadError("URL_INVALID", "This is not a URL.");
  const url = new URL(text);
  if (policy.testOrigins.has(url.origin) && url.username === "" && url.password === "") return url;
  if (url.protocol !== "https:") throw new DownloadError("URL_SCHEME", `Only https:// URLs are fetched (not ${url.protocol}).`);
  if (url.username !== "" || url.password !== "") throw new DownloadError("URL_CREDENTIALS", "URLs with a user name or password are refused.");
  const host = url.hostname;
  if (host.startsWith("[") || parseIp(host) !== null) throw new DownloadError("URL_IP_LITERAL", "URLs naming an IP address are refused; use the source's host name.");
  if (host.endsWith(".")) throw new DownloadError("URL_HOST_NOT_ALLOWED", "Host names ending in a dot are refused.");
  if (url.port !== "") throw new DownloadError("URL_PORT", "Only the default https port is used.");
  if (!hostAllowed(host, policy.allowedHosts)) throw new DownloadError("URL_HOST_NOT_ALLOWED", `Downloads may not contact ${host}.`);
  return url;
}

/** Ranges that are not global unicast (RFC 6890 and friends), as an operator would write them. */
const NON_GLOBAL = [
  "0.0.0.0/8", // "this network"
  "10.0.0.0/8",
  "100.64.0.0/10", // carrier-grade NAT (also 100.100.100.200, a cloud metadata address)
  "127.0.0.0/8",
  "169.254.0.0/16", // link-local, cloud metadata
  "172.16.0.0/12",
  "192.0.0.0/24",
  "192.0.2.0/24",
  "192.88.99.0/24",
  "192.168.0.0/16",
  "198.18.0.0/15",
  "198.51.100.0/24",
  "203.0.113.0/24",
  "224.0.0.0/4", // multicast
  "240.0.0.0/4", // reserved, broadcast
  "2001:db8::/32", // documentation
  "2001::/32", // Teredo
  "2002::/16", // 6to4
].map(builtInRange);
/** Global unicast IPv6 is within 2000::/3 (loopback, ULA, link-local and multicast are not). */
const GLOBAL_V6 = builtInRange("2000::/3");
const NAT64 = builtInRange("64:ff9b::/96");

function builtInRange(text: string): IpRange {
  const parsed = parseIpRange(text);
  if (!parsed.ok) throw new Error(`bad built-in range ${text}`);
  return parsed.range;
}

/**
 * Whether an address is global unicast: not loopback, private, shared, link-local, metadata,
 * documentation, multicast or reserved. IPv4-mapped and NAT64 addresses are judged by their
 * IPv4 part.
 */
export function isGlobalAddress(raw: IpAddress): boolean {
  let address = unmapped(raw);
  if (inRange(address, NAT64)) address = { version: 4, bytes: address.bytes.subarray(12, 16) };
  if (address.version === 6 && !inRange(address, GLOBAL_V6)) return false;
  return !NON_GLOBAL.some((range) => inRange(address, range));
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** A `lookup` for node:http(s) that resolves and refuses any answer that is not global. */
export function checkedLookup(resolve: Resolver) {
  return (hostname: string, options: { all?: boolean }, callback: LookupCallback): void => {
    resolve(hostname).then(
      (addresses) => {
        const refused = addresses.find((entry) => {
          const parsed = parseIp(entry.address);
          return parsed === null || !isGlobalAddress(parsed);
        });
        if (addresses.length === 0 || refused !== undefined) {
          const error = new DownloadError("ADDRESS_NOT_ALLOWED", `${hostname} resolves to an address the gateway does not connect to${refused === undefined ? "" : ` (${refused.address})`}.`) as unknown as NodeJS.ErrnoException;
          callback(error, options.all ? [] : "", 4);
          return;
        }
        if (options.all) callback(null, addresses.map((entry) => ({ address: entry.address, family: entry.family })));
        else callback(null, addresses[0]!.address, addresses[0]!.family);
      },
      (error: unknown) => callback(new DownloadError("DNS_FAILED", `${hostname} could not be resolved: ${error instanceof Error ? error.message : String(error)}`, true) as unknown as NodeJS.ErrnoException, options.all ? [] : "", 4),
    );
  };
}

export interface OutboundRequest {
  url: URL;
  policy: OutboundPolicy;
  /** Headers for one hop; called per hop so credentials can depend on the host. */
  headersFor: (url: URL) => Record<string, string>;
  signal?: AbortSignal;
  /** Nothing received for this long fails the request (retryable). */
  idleTimeoutMs: number;
  resolve?: Resolver;
  /** Extra TLS trust (tests with a local certificate). */
  ca?: string | Buffer;
}

export interface OutboundResponse {
  /** The final answer, not yet read. */
  response: IncomingMessage;
  finalUrl: URL;
  /** Each redirect's headers in order (a source may publish a hash on its first answer). */
  redirects: readonly { url: URL; headers: IncomingMessage["headers"] }[];
}

function requestOnce(url: URL, request: OutboundRequest): Promise<IncomingMessage> {
  return new Promise((resolveResponse, reject) => {
    const testOrigin = request.policy.testOrigins.has(url.origin);
    const transport = url.protocol === "https:" ? https : http;
    const outgoing = transport.request(
      {
        protocol: url.protocol,
        host: url.hostname.replace(/^\[|\]$/g, ""),
        port: url.port === "" ? undefined : Number(url.port),
        path: `${url.pathname}${url.search}`,
        method: "GET",
        headers: { "user-agent": "mss-login-downloader", ...request.headersFor(url) },
        // Test fakes are named by loopback IP literals, which need no lookup.
        ...(testOrigin ? {} : { lookup: checkedLookup(request.resolve ?? systemResolver) }),
        ...(request.ca === undefined ? {} : { ca: request.ca }),
        signal: request.signal,
      },
      resolveResponse,
    );
    outgoing.setTimeout(request.idleTimeoutMs, () => outgoing.destroy(new DownloadError("READ_TIMEOUT", `Nothing received from ${url.hostname} for ${Math.round(request.idleTimeoutMs / 1000)} s.`, true)));
    outgoing.on("error", (error) => reject(asDownloadError(error, url)));
    outgoing.end();
  });
}

/** Any failure of a connection as a DownloadError (network failures are retryable). */
export function asDownloadError(error: unknown, url?: URL): DownloadError {
  if (error instanceof DownloadError) return error;
  const cause = error as { name?: string; message?: string; code?: string; cause?: unknown };
  if (cause.cause instanceof DownloadError) return cause.cause;
  if (cause.name === "AbortError") return new DownloadError("CANCELLED", "The download was cancelled.");
  const where = url === undefined ? "" : ` (${url.hostname})`;
  return new DownloadError("NETWORK_ERROR", `The connection failed${where}: ${cause.message ?? String(error)}`.slice(0, 300), true);
}

/** GET with every hop checked; redirects (301, 302, 303, 307, 308) followed up to MAX_REDIRECTS. */
export async function fetchOutbound(request: OutboundRequest): Promise<OutboundResponse> {
  const redirects: { url: URL; headers: IncomingMessage["headers"] }[] = [];
  let url = checkOutboundUrl(request.url, request.policy);
  for (let hop = 0; ; hop++) {
    const response = await requestOnce(url, request);
    const status = response.statusCode ?? 0;
    if (![301, 302, 303, 307, 308].includes(status)) return { response, finalUrl: url, redirects };
    response.resume(); // discard the redirect's body
    const location = response.headers.location;
    if (typeof location !== "string" || location === "") throw new DownloadError("BAD_REDIRECT", `${url.hostname} answered ${status} without a Location.`);
    if (hop + 1 > MAX_REDIRECTS) throw new DownloadError("TOO_MANY_REDIRECTS", `More than ${MAX_REDIRECTS} redirects.`);
    redirects.push({ url, headers: response.headers });
    let next: URL;
    try {
      next = checkOutboundUrl(new URL(location, url), request.policy);
      // A test fake is reachable from the fakes only: a real host can never redirect to loopback.
      if (request.policy.testOrigins.has(next.origin) && !request.policy.testOrigins.has(url.origin)) throw new DownloadError("URL_HOST_NOT_ALLOWED", "A test source is reachable only from another test source.");
    } catch (error) {
      const refusal = asDownloadError(error);
      throw new DownloadError("REDIRECT_NOT_ALLOWED", `${url.hostname} redirected somewhere downloads may not go: ${refusal.message}`);
    }
    url = next;
  }
}
