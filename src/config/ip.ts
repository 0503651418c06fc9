// IP address and CIDR syntax (v4 and v6), for validating trusted_proxies and, later, for the
// IP filter. Strict on purpose: no leading zeros in IPv4 (ambiguous: octal or decimal?), no
// IPv6 zone ids, no host bits in a CIDR.

export interface IpAddress {
  readonly version: 4 | 6;
  /** 4 or 16 bytes, network order. */
  readonly bytes: Uint8Array;
}

export interface IpRange extends IpAddress {
  /** Prefix length; 32 or 128 for a single address. */
  readonly prefix: number;
}

export type IpRangeResult = { ok: true; range: IpRange } | { ok: false; problem: string };

function parseIPv4Bytes(text: string): number[] | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const bytes: number[] = [];
  for (const part of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(part)) return null;
    const value = Number(part);
    if (value > 255) return null;
    bytes.push(value);
  }
  return bytes;
}

function parseIPv6Bytes(text: string): number[] | null {
  if (!/^[0-9A-Fa-f:.]+$/.test(text)) return null;
  const halves = text.split("::");
  if (halves.length > 2) return null;

  const groupsOf = (part: string): number[] | null => {
    if (part === "") return [];
    const groups: number[] = [];
    const pieces = part.split(":");
    for (const [index, piece] of pieces.entries()) {
      if (index === pieces.length - 1 && piece.includes(".")) {
        // A trailing dotted IPv4 (e.g. ::ffff:10.0.0.1) fills the last two groups.
        const v4 = parseIPv4Bytes(piece);
        if (v4 === null) return null;
        groups.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0));
      } else {
        if (!/^[0-9A-Fa-f]{1,4}$/.test(piece)) return null;
        groups.push(parseInt(piece, 16));
      }
    }
    return groups;
  };

  const head = groupsOf(halves[0] ?? "");
  const tail = groupsOf(halves[1] ?? "");
  if (head === null || tail === null) return null;
  let groups: number[];
  if (halves.length === 2) {
    const missing = 8 - head.length - tail.length;
    if (missing < 1) return null;
    groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  } else {
    groups = head;
  }
  if (groups.length !== 8) return null;
  return groups.flatMap((group) => [group >> 8, group & 0xff]);
}

/** Parses a bare IP address (no brackets, no port, no zone). */
export function parseIp(text: string): IpAddress | null {
  const v4 = parseIPv4Bytes(text);
  if (v4 !== null) return { version: 4, bytes: Uint8Array.from(v4) };
  const v6 = text.includes(":") ? parseIPv6Bytes(text) : null;
  if (v6 !== null) return { version: 6, bytes: Uint8Array.from(v6) };
  return null;
}

/** Canonical text: dotted IPv4, or RFC 5952 IPv6 (lower case, longest zero run as `::`). */
export function formatIp(address: IpAddress): string {
  const b = address.bytes;
  if (address.version === 4) return Array.from(b).join(".");
  const groups = Array.from({ length: 8 }, (_, i) => ((b[2 * i] ?? 0) << 8) | (b[2 * i + 1] ?? 0));
  let bestStart = -1;
  let bestLength = 1; // a single zero group is not compressed
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (list: number[]) => list.map((g) => g.toString(16)).join(":");
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLength))}`;
}

/** Parses `address` or `address/prefix`. A CIDR with host bits set is refused, with the fix. */
export function parseIpRange(text: string): IpRangeResult {
  const slash = text.indexOf("/");
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const address = parseIp(addressText);
  if (address === null) return { ok: false, problem: "must be an IP address or CIDR range" };
  const maxPrefix = address.version === 4 ? 32 : 128;
  if (slash < 0) return { ok: true, range: { ...address, prefix: maxPrefix } };

  const prefixText = text.slice(slash + 1);
  if (!/^(0|[1-9]\d{0,2})$/.test(prefixText) || Number(prefixText) > maxPrefix) {
    return { ok: false, problem: `must have a prefix length 0-${maxPrefix} after "/"` };
  }
  const prefix = Number(prefixText);
  const network = Uint8Array.from(address.bytes, (byte, i) => {
    const bitsKept = Math.min(8, Math.max(0, prefix - 8 * i));
    return byte & ((0xff << (8 - bitsKept)) & 0xff);
  });
  if (!network.every((byte, i) => byte === address.bytes[i])) {
    const fixed = `${formatIp({ version: address.version, bytes: network })}/${prefix}`;
    return { ok: false, problem: `has host bits set; did you mean ${fixed}?` };
  }
  return { ok: true, range: { version: address.version, bytes: network, prefix } };
}

/** `::ffff:a.b.c.d` is the IPv4 address a.b.c.d (a v4 client on a dual-stack socket). */
export function unmapped(address: IpAddress): IpAddress {
  const b = address.bytes;
  if (address.version === 6 && b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) {
    return { version: 4, bytes: b.slice(12) };
  }
  return address;
}

/** Whether `address` lies in `range` (same version; no unmapping here). */
export function inRange(address: IpAddress, range: IpRange): boolean {
  if (address.version !== range.version) return false;
  let bits = range.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if (((address.bytes[i] ?? 0) & mask) !== ((range.bytes[i] ?? 0) & mask)) return false;
  }
  return true;
}

/** 127.0.0.0/8 or ::1, IPv4-mapped forms included. */
export function isLoopback(address: IpAddress): boolean {
  const a = unmapped(address);
  if (a.version === 4) return a.bytes[0] === 127;
  return a.bytes.slice(0, 15).every((x) => x === 0) && a.bytes[15] === 1;
}
