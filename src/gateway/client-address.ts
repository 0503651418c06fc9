/**
 * Step 1 of the request flow: who is the client? The socket's peer, unless that peer is one of
 * the operator's trusted reverse proxies; then `X-Forwarded-For` is read from the right, past
 * trusted hops, and the first untrusted address is the client. Forwarding headers from anyone
 * else are ignored: they are the first thing an attacker forges.
 */
import { formatIp, parseIp, parseIpRange, type IpAddress, type IpRange } from "../config/ip.ts";

export interface ClientInfo {
  /** Canonical text of the client's address (IPv4-mapped IPv6 shown as IPv4). */
  ip: string;
  /** The client reached us over HTTPS (per a trusted proxy's `X-Forwarded-Proto`). */
  secure: boolean;
  /** The address came from a trusted proxy's header rather than the socket. */
  viaProxy: boolean;
}

/** `::ffff:a.b.c.d` is an IPv4 client on a dual-stack socket. */
function unmapped(address: IpAddress): IpAddress {
  const b = address.bytes;
  if (address.version === 6 && b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) {
    return { version: 4, bytes: b.slice(12) };
  }
  return address;
}

export function inRange(address: IpAddress, range: IpRange): boolean {
  if (address.version !== range.version) return false;
  let bits = range.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if (((address.bytes[i] ?? 0) & mask) !== ((range.bytes[i] ?? 0) & mask)) return false;
  }
  return true;
}

/** Parses one forwarded-for entry: a bare address, `[v6]`, or `v4:port`. */
function parseForwardedEntry(text: string): IpAddress | null {
  let value = text.trim();
  if (value.startsWith("[")) value = value.slice(1, value.indexOf("]"));
  else if (value.includes(".") && value.includes(":")) value = value.slice(0, value.indexOf(":"));
  const address = parseIp(value);
  return address === null ? null : unmapped(address);
}

export function createClientResolver(trustedProxies: readonly string[]): (socketAddress: string | null, headers: Headers) => ClientInfo {
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
    const forwarded = headers.get("x-forwarded-for") ?? headers.get("x-real-ip");
    if (forwarded === null) return { ...direct, secure };
    const hops = forwarded.split(",");
    let client = peerAddress;
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = parseForwardedEntry(hops[i]!);
      // Garbage ends the walk: nothing to its left can be believed.
      if (hop === null) break;
      client = hop;
      if (!isTrusted(hop)) break;
    }
    return { ip: formatIp(client), secure, viaProxy: client !== peerAddress };
  };
}
