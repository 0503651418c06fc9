/**
 * Step 1 of the request flow: who is the client? The socket's peer, unless that peer is one of
 * the operator's trusted reverse proxies; then the one header the operator named
 * (`client_ip_header`) is read: `X-Forwarded-For` from the right, past trusted hops, the first
 * untrusted address being the client; or `X-Real-IP` / Cloudflare's `CF-Connecting-IP`, one
 * address the proxy sets. Forwarding headers from anyone else are ignored: they are the first
 * thing an attacker forges.
 */
import { formatIp, inRange, parseIp, parseIpRange, unmapped, type IpAddress, type IpRange } from "../config/ip.ts";

export interface ClientInfo {
  /** Canonical text of the client's address (IPv4-mapped IPv6 shown as IPv4). */
  ip: string;
  /** The client reached us over HTTPS (per a trusted proxy's `X-Forwarded-Proto`). */
  secure: boolean;
  /** The address came from a trusted proxy's header rather than the socket. */
  viaProxy: boolean;
}


/** Parses one forwarded-for entry: a bare v4 or v6 address (mapped forms too), `[v6]:port`, or `v4:port`. */
function parseForwardedEntry(text: string): IpAddress | null {
  const value = text.trim();
  let address = parseIp(value);
  if (address === null && value.startsWith("[")) address = parseIp(value.slice(1, value.indexOf("]")));
  if (address === null && /^[\d.]+:\d+$/.test(value)) address = parseIp(value.slice(0, value.indexOf(":")));
  return address === null ? null : unmapped(address);
}

/** The header a trusted proxy puts the client's address in. */
export type ClientIpHeader = "x-forwarded-for" | "x-real-ip" | "cf-connecting-ip";

export function createClientResolver(trustedProxies: readonly string[], clientIpHeader: ClientIpHeader = "x-forwarded-for"): (socketAddress: string | null, headers: Headers) => ClientInfo {
  const trusted: IpRange[] = [];
  for (const text of trustedProxies) {
    const parsed = parseIpRange(text);
    if (parsed.ok) trusted.push(parsed.range); // validated at start-up already
  }
  const isTrusted = (address: IpAddress) => trusted.some((range) => inRange(address, range));

  return (socketAddress, headers) => {
    const peer = socketAddress === null ? null : parseIp(socketAddress);
    const peerAddress = peer === null ? null : unmapped(peer);
    const direct: ClientInfo = { ip: peerAddress === null ? "unknown" : formatIp(peerAddress), secure: false, viaProxy: false };
    if (trusted.length === 0 || peerAddress === null || !isTrusted(peerAddress)) return direct;

    const protoHeader = headers.get("x-forwarded-proto");
    const secure = protoHeader !== null && protoHeader.split(",").at(-1)?.trim().toLowerCase() === "https";
    // One header only, the one configured: a proxy that sets X-Forwarded-For passes the client's
    // own X-Real-IP or CF-Connecting-IP on untouched, so reading another header as a fallback
    // would let clients choose their address.
    if (clientIpHeader !== "x-forwarded-for") {
      const value = headers.get(clientIpHeader);
      if (value === null) return { ...direct, secure };
      // The proxy sets exactly one address; anything else (a list, garbage) leaves the client unknown.
      const address = value.includes(",") ? null : parseForwardedEntry(value);
      return { ip: address === null ? "unknown" : formatIp(address), secure, viaProxy: true };
    }
    const forwarded = headers.get("x-forwarded-for");
    if (forwarded === null) return { ...direct, secure };
    const hops = forwarded.split(",");
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = parseForwardedEntry(hops[i]!);
      // An entry a trusted proxy wrote that cannot be read: the client is not known, and is
      // certainly not the proxy itself (that would give every client the proxy's standing).
      if (hop === null) return { ip: "unknown", secure, viaProxy: true };
      if (!isTrusted(hop) || i === 0) return { ip: formatIp(hop), secure, viaProxy: true };
    }
    return { ...direct, secure };
  };
}
