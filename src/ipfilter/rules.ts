/**
 * The IP filter's decision, pure: parse entries, match an address, decide. Precedence (made
 * explicit where the original's was accidental, reference §8): an allow entry that matches
 * wins; then a live deny entry refuses; then, in allow-list mode (any allow entry), everything
 * else is refused. Loopback clients are never refused, so the owner at the machine can always
 * get in and fix the rules.
 */
import { formatIp, parseIp, parseIpRange, type IpAddress, type IpRange } from "../config/ip.ts";

export interface IpRule {
  readonly kind: "allow" | "deny";
  readonly range: IpRange;
  /** Canonical text of the range (an address alone has no `/prefix`). */
  readonly text: string;
  readonly expiresAt: number | null;
}

export function rangeText(range: IpRange): string {
  const full = range.version === 4 ? 32 : 128;
  return range.prefix === full ? formatIp(range) : `${formatIp(range)}/${range.prefix}`;
}

/** An entry as an operator writes it, to its canonical range, or a problem in words. */
export function parseEntry(text: string): { ok: true; range: IpRange; text: string } | { ok: false; problem: string } {
  const trimmed = text.trim();
  const parsed = parseIpRange(trimmed);
  if (!parsed.ok) return { ok: false, problem: `"${trimmed}" ${parsed.problem}` };
  return { ok: true, range: parsed.range, text: rangeText(parsed.range) };
}

/** `::ffff:a.b.c.d` is the IPv4 client a.b.c.d. */
function unmap(address: IpAddress): IpAddress {
  const b = address.bytes;
  if (address.version === 6 && b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) return { version: 4, bytes: b.slice(12) };
  return address;
}

export function contains(range: IpRange, address: IpAddress): boolean {
  if (range.version !== address.version) return false;
  let bits = range.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((range.bytes[i]! & mask) !== (address.bytes[i]! & mask)) return false;
  }
  return true;
}

export function isLoopback(address: IpAddress): boolean {
  const a = unmap(address);
  if (a.version === 4) return a.bytes[0] === 127;
  return a.bytes.slice(0, 15).every((x) => x === 0) && a.bytes[15] === 1;
}

export type IpDecision = { allowed: true; reason: "loopback" | "allow-listed" | "no rule" } | { allowed: false; reason: "deny-listed" | "not allow-listed" | "unreadable address"; rule?: string };

export function decide(ip: string, rules: readonly IpRule[], now: number): IpDecision {
  const parsed = parseIp(ip);
  if (parsed === null) return rules.length === 0 ? { allowed: true, reason: "no rule" } : { allowed: false, reason: "unreadable address" };
  const address = unmap(parsed);
  if (isLoopback(address)) return { allowed: true, reason: "loopback" };
  let allowMode = false;
  for (const rule of rules) {
    if (rule.kind !== "allow") continue;
    allowMode = true;
    if (contains(rule.range, address)) return { allowed: true, reason: "allow-listed" };
  }
  for (const rule of rules) {
    if (rule.kind === "deny" && (rule.expiresAt === null || rule.expiresAt > now) && contains(rule.range, address)) return { allowed: false, reason: "deny-listed", rule: rule.text };
  }
  return allowMode ? { allowed: false, reason: "not allow-listed" } : { allowed: true, reason: "no rule" };
}
