/**
 * The IP filter's decision, pure: parse entries, match an address, decide. Precedence (made
 * explicit where the original's was accidental, reference §8): an allow entry that matches
 * wins; then a live deny entry refuses; then, in allow-list mode (any allow entry), everything
 * else is refused. Loopback clients are never refused, so the owner at the machine can always
 * get in and fix the rules.
 */
import { formatIp, inRange, isLoopback, parseIp, parseIpRange, unmapped, type IpRange } from "../config/ip.ts";

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


export type IpDecision = { allowed: true; reason: "loopback" | "allow-listed" | "no rule" } | { allowed: false; reason: "deny-listed" | "not allow-listed" | "unreadable address"; rule?: string };

export function decide(ip: string, rules: readonly IpRule[], now: number): IpDecision {
  const parsed = parseIp(ip);
  if (parsed === null) return rules.length === 0 ? { allowed: true, reason: "no rule" } : { allowed: false, reason: "unreadable address" };
  const address = unmapped(parsed);
  if (isLoopback(address)) return { allowed: true, reason: "loopback" };
  let allowMode = false;
  for (const rule of rules) {
    if (rule.kind !== "allow") continue;
    allowMode = true;
    if (inRange(address, rule.range)) return { allowed: true, reason: "allow-listed" };
  }
  for (const rule of rules) {
    if (rule.kind === "deny" && (rule.expiresAt === null || rule.expiresAt > now) && inRange(address, rule.range)) return { allowed: false, reason: "deny-listed", rule: rule.text };
  }
  return allowMode ? { allowed: false, reason: "not allow-listed" } : { allowed: true, reason: "no rule" };
}
