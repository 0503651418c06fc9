import { describe, expect, test } from "bun:test";
import { createClientResolver } from "../../src/gateway/client-address.ts";

const headers = (entries: Record<string, string>) => new Headers(entries);

describe("client address (checklist 5.2, items 16-19)", () => {
  test("without trusted proxies the socket peer is the client, whatever the headers say", () => {
    const resolve = createClientResolver([]);
    expect(resolve("203.0.113.9", headers({ "x-forwarded-for": "1.2.3.4", "x-forwarded-proto": "https" }))).toEqual({ ip: "203.0.113.9", secure: false, viaProxy: false });
  });

  test("forwarding headers from an untrusted peer are ignored", () => {
    const resolve = createClientResolver(["10.0.0.0/8"]);
    expect(resolve("192.0.2.1", headers({ "x-forwarded-for": "1.2.3.4" })).ip).toBe("192.0.2.1");
  });

  test("from a trusted proxy, X-Forwarded-For is read right to left past trusted hops", () => {
    const resolve = createClientResolver(["10.0.0.0/8", "127.0.0.1"]);
    // The left-most entry is the client's own claim and is never believed over a real hop.
    const info = resolve("127.0.0.1", headers({ "x-forwarded-for": "6.6.6.6, 198.51.100.7, 10.1.2.3", "x-forwarded-proto": "https" }));
    expect(info).toEqual({ ip: "198.51.100.7", secure: true, viaProxy: true });
  });

  test("when every hop is trusted, the left-most is the client; an unreadable hop makes the client unknown, never the proxy", () => {
    const resolve = createClientResolver(["10.0.0.0/8"]);
    expect(resolve("10.0.0.1", headers({ "x-forwarded-for": "10.9.9.9, 10.0.0.2" })).ip).toBe("10.9.9.9");
    expect(resolve("10.0.0.1", headers({ "x-forwarded-for": "6.6.6.6, not-an-ip, 10.0.0.2" })).ip).toBe("unknown");
    expect(resolve("10.0.0.1", headers({ "x-forwarded-for": "" })).ip).toBe("unknown");
  });

  test("only the configured header is read: with X-Forwarded-For, a client's own X-Real-IP or CF-Connecting-IP passed through changes nothing", () => {
    const resolve = createClientResolver(["10.0.0.0/8"]);
    expect(resolve("10.0.0.1", headers({ "x-real-ip": "6.6.6.6", "cf-connecting-ip": "6.6.6.7" })).ip).toBe("10.0.0.1");
    expect(resolve("10.0.0.1", headers({ "x-forwarded-for": "198.51.100.7", "x-real-ip": "6.6.6.6" })).ip).toBe("198.51.100.7");
  });

  test.each(["x-real-ip", "cf-connecting-ip"] as const)("with client_ip_header %s, that header is read from trusted peers only, one address", (header) => {
    const resolve = createClientResolver(["10.0.0.0/8"], header);
    expect(resolve("10.0.0.1", headers({ [header]: "198.51.100.7", "x-forwarded-for": "6.6.6.6" }))).toEqual({ ip: "198.51.100.7", secure: false, viaProxy: true });
    expect(resolve("10.0.0.1", headers({ [header]: "[2001:db8::5]" })).ip).toBe("2001:db8::5");
    // From anyone else it is the client's own claim.
    expect(resolve("192.0.2.1", headers({ [header]: "198.51.100.7" })).ip).toBe("192.0.2.1");
    // A list or garbage: the client is unknown, never the proxy.
    expect(resolve("10.0.0.1", headers({ [header]: "6.6.6.6, 198.51.100.7" })).ip).toBe("unknown");
    expect(resolve("10.0.0.1", headers({ [header]: "localhost" })).ip).toBe("unknown");
    // Absent: the proxy itself is the client.
    expect(resolve("10.0.0.1", headers({ "x-forwarded-for": "6.6.6.6" })).ip).toBe("10.0.0.1");
  });

  test("IPv6, IPv4-mapped addresses, brackets and ports are read canonically", () => {
    const resolve = createClientResolver(["::1", "fd00::/8"]);
    expect(resolve("::ffff:203.0.113.5", headers({})).ip).toBe("203.0.113.5");
    expect(resolve("::1", headers({ "x-forwarded-for": "[2001:DB8::1]" })).ip).toBe("2001:db8::1");
    expect(resolve("::1", headers({ "x-forwarded-for": "198.51.100.7:4711" })).ip).toBe("198.51.100.7");
    expect(resolve("::1", headers({ "x-forwarded-for": "[2001:db8::2]:4711" })).ip).toBe("2001:db8::2");
    // Node-based proxies write IPv4 clients in the mapped form.
    expect(resolve("::1", headers({ "x-forwarded-for": "::ffff:203.0.113.9" })).ip).toBe("203.0.113.9");
  });

  test("CIDR boundaries", () => {
    const resolve = createClientResolver(["192.168.1.0/24"]);
    expect(resolve("192.168.1.255", headers({ "x-forwarded-for": "1.1.1.1" })).ip).toBe("1.1.1.1");
    expect(resolve("192.168.2.0", headers({ "x-forwarded-for": "1.1.1.1" })).ip).toBe("192.168.2.0");
  });
});
