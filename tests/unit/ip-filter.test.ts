/** The IP filter's rules (src/ipfilter/rules.ts) and the admin API's list validation. */
import { describe, expect, test } from "bun:test";
import { decide, parseEntry, type IpRule } from "../../src/ipfilter/rules.ts";
import { parseDeviceLocks, parseLists } from "../../src/ipfilter/routes.ts";

function rule(kind: "allow" | "deny", text: string, expiresAt: number | null = null): IpRule {
  const parsed = parseEntry(text);
  if (!parsed.ok) throw new Error(parsed.problem);
  return { kind, range: parsed.range, text: parsed.text, expiresAt };
}

describe("entries", () => {
  test("addresses and CIDR ranges, IPv4 and IPv6, in canonical form", () => {
    expect(parseEntry(" 192.0.2.7 ")).toMatchObject({ ok: true, text: "192.0.2.7" });
    expect(parseEntry("10.0.0.0/8")).toMatchObject({ ok: true, text: "10.0.0.0/8" });
    expect(parseEntry("2001:DB8:0:0::/32")).toMatchObject({ ok: true, text: "2001:db8::/32" });
  });

  test("malformed entries, host bits, and decimal, hex or octal address spellings are refused with a reason", () => {
    expect(parseEntry("10.0.0.1/8")).toMatchObject({ ok: false, problem: expect.stringContaining("did you mean 10.0.0.0/8") });
    for (const bad of ["10.0.0.0/33", "300.1.1.1", "3232235777", "0xC0A80001", "010.0.0.1", "1.2.3", "fe80::1%eth0", "example.com", ""]) {
      expect(parseEntry(bad).ok, bad).toBe(false);
    }
  });
});

describe("decision", () => {
  const now = 1_000_000;
  test("no rules: everyone; a deny entry (address or range) refuses; an expired one does not", () => {
    expect(decide("203.0.113.5", [], now).allowed).toBe(true);
    expect(decide("203.0.113.5", [rule("deny", "203.0.113.0/24")], now)).toMatchObject({ allowed: false, reason: "deny-listed", rule: "203.0.113.0/24" });
    expect(decide("203.0.113.5", [rule("deny", "203.0.113.5", now - 1)], now).allowed).toBe(true);
    expect(decide("203.0.113.5", [rule("deny", "203.0.113.5", now + 1)], now).allowed).toBe(false);
  });

  test("allow-list mode refuses everyone not listed; a listed address passes even when also denied", () => {
    const rules = [rule("allow", "198.51.100.0/24"), rule("deny", "198.51.100.9")];
    expect(decide("198.51.100.7", rules, now).allowed).toBe(true);
    expect(decide("198.51.100.9", rules, now)).toMatchObject({ allowed: true, reason: "allow-listed" });
    expect(decide("203.0.113.5", rules, now)).toMatchObject({ allowed: false, reason: "not allow-listed" });
  });

  test("IPv6 ranges match IPv6 clients; an IPv4-mapped IPv6 client is its IPv4 address", () => {
    expect(decide("2001:db8::42", [rule("deny", "2001:db8::/32")], now).allowed).toBe(false);
    expect(decide("2001:db9::42", [rule("deny", "2001:db8::/32")], now).allowed).toBe(true);
    expect(decide("::ffff:203.0.113.5", [rule("deny", "203.0.113.5")], now).allowed).toBe(false);
  });

  test("loopback is never refused, whatever the rules (the owner at the machine can always fix them)", () => {
    const rules = [rule("allow", "198.51.100.0/24"), rule("deny", "127.0.0.0/8"), rule("deny", "::1")];
    for (const ip of ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"]) expect(decide(ip, rules, now).allowed, ip).toBe(true);
  });

  test("an address that cannot be read is refused once any rule exists", () => {
    expect(decide("unknown", [rule("deny", "203.0.113.5")], now).allowed).toBe(false);
    expect(decide("unknown", [], now).allowed).toBe(true);
  });
});

describe("the admin API's lists", () => {
  test("the original's shape: IPs and CIDRs, permanent or hours-long deny entries", () => {
    const parsed = parseLists({ whitelist: ["10.0.0.0/8"], blacklist: ["203.0.113.5", { ip: "198.51.100.0/24", permanent: false, expires_in_hours: 2 }] }, 0);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.rules.map((r) => [r.kind, r.text, r.expiresAt])).toEqual([
      ["allow", "10.0.0.0/8", null],
      ["deny", "203.0.113.5", null],
      ["deny", "198.51.100.0/24", 7_200_000],
    ]);
  });

  test("one bad entry refuses the whole set, naming every problem (the original dropped them silently)", () => {
    const parsed = parseLists({ whitelist: ["10.0.0.1/8", 5], blacklist: [{ ip: "1.2.3.4", permanent: false }, { ip: "0x01020304" }] }, 0);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.problems).toHaveLength(4);
  });
});

describe("ends sent back as they were read", () => {
  test("a deny entry's expires_at (epoch seconds) is kept exactly; one in the past is refused", () => {
    const now = 1_000_000_000;
    const parsed = parseLists({ blacklist: [{ ip: "203.0.113.5", permanent: false, expires_at: now / 1000 + 3600 }] }, now);
    expect(parsed.ok && parsed.rules[0]!.expiresAt).toBe(now + 3_600_000);
    expect(parseLists({ blacklist: [{ ip: "203.0.113.5", expires_at: now / 1000 - 1 }] }, now).ok).toBe(false);
  });

  test("device locks: ids (permanent) or {device_id, expires_at}; anything malformed refuses the set", () => {
    const now = 1_000_000_000;
    expect(parseDeviceLocks(["laptop-1", { device_id: "phone.2", expires_at: now / 1000 + 60 }], now)).toEqual([
      { deviceId: "laptop-1", expiresAt: null },
      { deviceId: "phone.2", expiresAt: now + 60_000 },
    ]);
    for (const bad of [[""], ["has space"], [{ device_id: "x", expires_at: 1 }], "laptop-1", [5]]) expect(parseDeviceLocks(bad, now)).toBeNull();
  });
});
