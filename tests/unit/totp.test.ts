import { describe, expect, test } from "bun:test";
import { URI } from "otpauth";
import {
  generateTotpSecret,
  normaliseTotpCode,
  qrSvg,
  qrSvgDataUrl,
  totpCodeAt,
  totpCodeForStep,
  totpSecretFromBase32,
  totpSecretToBase32,
  totpStep,
  totpUri,
  verifyTotp,
} from "../../src/auth/totp.ts";

// RFC 6238 appendix B, SHA1 key: the ASCII bytes "12345678901234567890". The RFC lists 8-digit
// codes; the 6-digit code is the same truncated value mod 10^6, i.e. its last six digits.
const RFC_SECRET = new TextEncoder().encode("12345678901234567890");
const RFC_VECTORS: readonly [seconds: number, eightDigits: string][] = [
  [59, "94287082"],
  [1111111109, "07081804"],
  [1111111111, "14050471"],
  [1234567890, "89005924"],
  [2000000000, "69279037"],
  [20000000000, "65353130"],
];

const NOW = 1_111_111_111_000; // step 37037037, 1 s into the step
const STEP = totpStep(NOW);

describe("TOTP codes", () => {
  test("RFC 6238 SHA1 vectors, 6-digit variant", () => {
    for (const [seconds, eight] of RFC_VECTORS) {
      expect(totpCodeAt(RFC_SECRET, seconds * 1000)).toBe(eight.slice(2));
      const verdict = verifyTotp(RFC_SECRET, eight.slice(2), seconds * 1000);
      expect(verdict).toEqual({ status: "ok", step: Math.floor(seconds / 30) });
    }
  });

  test("time steps are 30 s", () => {
    expect(totpStep(0)).toBe(0);
    expect(totpStep(29_999)).toBe(0);
    expect(totpStep(30_000)).toBe(1);
    expect(STEP).toBe(37037037);
  });

  test("one step of skew each way is accepted and reports the matched step", () => {
    for (const delta of [-1, 0, 1]) {
      const code = totpCodeForStep(RFC_SECRET, STEP + delta);
      expect(verifyTotp(RFC_SECRET, code, NOW)).toEqual({ status: "ok", step: STEP + delta });
    }
  });

  test("two steps off is refused", () => {
    for (const delta of [-2, 2, -3, 3, 100]) {
      const code = totpCodeForStep(RFC_SECRET, STEP + delta);
      expect(verifyTotp(RFC_SECRET, code, NOW)).toEqual({ status: "bad" });
    }
  });

  test("skew at step boundaries: last and first millisecond of a step", () => {
    const start = STEP * 30_000;
    const previous = totpCodeForStep(RFC_SECRET, STEP - 1);
    expect(verifyTotp(RFC_SECRET, previous, start).status).toBe("ok");
    expect(verifyTotp(RFC_SECRET, previous, start + 29_999).status).toBe("ok");
    expect(verifyTotp(RFC_SECRET, previous, start + 30_000).status).toBe("bad");
  });

  test("replay: a code whose step is at or before the last used step is 'replayed'", () => {
    const code = totpCodeForStep(RFC_SECRET, STEP);
    expect(verifyTotp(RFC_SECRET, code, NOW, STEP - 1)).toEqual({ status: "ok", step: STEP });
    expect(verifyTotp(RFC_SECRET, code, NOW, STEP)).toEqual({ status: "replayed", step: STEP });
    expect(verifyTotp(RFC_SECRET, code, NOW, STEP + 1)).toEqual({ status: "replayed", step: STEP });
    // The previous step's code after the current one was used: refused too.
    expect(verifyTotp(RFC_SECRET, totpCodeForStep(RFC_SECRET, STEP - 1), NOW, STEP).status).toBe("replayed");
    // The next step's code is still fresh.
    expect(verifyTotp(RFC_SECRET, totpCodeForStep(RFC_SECRET, STEP + 1), NOW, STEP)).toEqual({ status: "ok", step: STEP + 1 });
  });

  test("input forms: spaces and a dash allowed; anything else is 'bad'", () => {
    const code = totpCodeForStep(RFC_SECRET, STEP);
    const spaced = `${code.slice(0, 3)} ${code.slice(3)}`;
    expect(verifyTotp(RFC_SECRET, spaced, NOW).status).toBe("ok");
    expect(verifyTotp(RFC_SECRET, ` ${code.slice(0, 3)}-${code.slice(3)}\n`, NOW).status).toBe("ok");
    for (const junk of ["", "12345", "1234567", "abcdef", `${code}0`, `0${code}`, "١٢٣٤٥٦", "x".repeat(10_000)]) {
      expect(verifyTotp(RFC_SECRET, junk, NOW)).toEqual({ status: "bad" });
    }
    expect(normaliseTotpCode("123 456")).toBe("123456");
    expect(normaliseTotpCode("12a456")).toBeNull();
  });
});

describe("TOTP secrets and provisioning URI", () => {
  test("160-bit random secrets, base32 round trip", () => {
    const a = generateTotpSecret();
    const b = generateTotpSecret();
    expect(a).toHaveLength(20);
    expect(a).not.toEqual(b);
    const base32 = totpSecretToBase32(a);
    expect(base32).toMatch(/^[A-Z2-7]{32}$/);
    expect(totpSecretFromBase32(base32)).toEqual(a);
    expect(totpSecretFromBase32(base32.toLowerCase().replace(/(.{4})/g, "$1 "))).toEqual(a);
    expect(totpSecretToBase32(RFC_SECRET)).toBe("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
  });

  test("otpauth URI: issuer MSS-Login, username as label, SHA1/6/30", () => {
    const uri = totpUri(RFC_SECRET, "alice_1");
    const url = new URL(uri);
    expect(url.protocol).toBe("otpauth:");
    expect(uri.startsWith("otpauth://totp/MSS-Login:alice_1?")).toBe(true);
    expect(url.searchParams.get("issuer")).toBe("MSS-Login");
    expect(url.searchParams.get("secret")).toBe("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    expect(url.searchParams.get("algorithm")).toBe("SHA1");
    expect(url.searchParams.get("digits")).toBe("6");
    expect(url.searchParams.get("period")).toBe("30");

    // What an authenticator app would parse back generates the same codes.
    const parsed = URI.parse(uri);
    expect(parsed.issuer).toBe("MSS-Login");
    expect(parsed.label).toBe("alice_1");
    expect(parsed.generate({ timestamp: NOW })).toBe(totpCodeAt(RFC_SECRET, NOW));
  });
});

describe("QR code", () => {
  test("self-contained SVG with drawn modules and no external references", async () => {
    const uri = totpUri(generateTotpSecret(), "alice");
    const svg = await qrSvg(uri);
    expect(svg.trimStart().startsWith("<svg")).toBe(true);
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
    expect(svg).toContain('xmlns="http://www.w3.org/2000/svg"');
    expect(svg).toMatch(/viewBox="0 0 \d+ \d+"/);
    expect(svg).toMatch(/<path[^>]* d="M[^"]+"/);
    expect(svg).toMatch(/<path[^>]*stroke="#000000"/);
    // Nothing that fetches or runs: no href/src, no url(), no images, scripts, styles or foreign objects.
    expect(svg).not.toMatch(/href|src=|url\(|<image|<script|<style|<foreignObject|on\w+=/i);
    // The only URL-looking text is the SVG namespace.
    expect(svg.replace('xmlns="http://www.w3.org/2000/svg"', "")).not.toMatch(/https?:|\/\//);
    // The secret never appears in the SVG as text.
    expect(svg).not.toContain(new URL(uri).searchParams.get("secret") ?? "unreachable");

    const dataUrl = await qrSvgDataUrl(uri);
    expect(dataUrl.startsWith("data:image/svg+xml;base64,")).toBe(true);
    expect(Buffer.from(dataUrl.split(",")[1] ?? "", "base64").toString("utf8")).toBe(svg);
  });
});
