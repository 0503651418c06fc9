// TOTP (RFC 6238) with the parameters every authenticator app understands: HMAC-SHA1,
// 6 digits, 30-second steps, one step of clock skew each way, 160-bit secrets (the RFC's
// recommendation; Authelia's minimum). Codes come from `otpauth`; the QR code is drawn by
// `qrcode` on the server as an SVG string (no CDN, no client-side script).
//
// Verification returns the time step the code matched, so the caller can refuse a code whose
// step is not newer than the last accepted one (replay), see verifyTotp() and ./mfa.ts.
import { timingSafeEqual } from "node:crypto";
import { Secret, TOTP } from "otpauth";
import QRCode from "qrcode";

export const TOTP_ISSUER = "MSS-Login";
export const TOTP_ALGORITHM = "SHA1";
export const TOTP_DIGITS = 6;
export const TOTP_PERIOD_SECONDS = 30;
/** Steps accepted either side of the current one. */
export const TOTP_SKEW_STEPS = 1;
export const TOTP_SECRET_BYTES = 20;

/** A fresh random 160-bit secret (raw bytes; store it sealed, show it as base32). */
export function generateTotpSecret(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(TOTP_SECRET_BYTES));
}

/** RFC 4648 base32 without padding, as authenticator apps expect for manual entry. */
export function totpSecretToBase32(secret: Uint8Array): string {
  return new Secret({ buffer: copyBuffer(secret) }).base32;
}

/** Parses a base32 secret (spaces and case ignored). Throws on characters outside the alphabet. */
export function totpSecretFromBase32(base32: string): Uint8Array {
  return new Uint8Array(Secret.fromBase32(base32.replace(/\s+/g, "")).bytes);
}

function copyBuffer(bytes: Uint8Array): ArrayBuffer {
  return new Uint8Array(bytes).buffer;
}

function totpFor(secret: Uint8Array, label = "", issuer = TOTP_ISSUER): TOTP {
  return new TOTP({
    issuer,
    label,
    algorithm: TOTP_ALGORITHM,
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SECONDS,
    secret: new Secret({ buffer: copyBuffer(secret) }),
  });
}

/**
 * The `otpauth://totp/MSS-Login:<username>?secret=…&issuer=MSS-Login&algorithm=SHA1&digits=6&period=30`
 * provisioning URI. `issuer` may be overridden (e.g. to tell two installations apart).
 */
export function totpUri(secret: Uint8Array, username: string, issuer: string = TOTP_ISSUER): string {
  return totpFor(secret, username, issuer).toString();
}

/** The RFC 6238 time step (counter) of a Unix-millisecond timestamp. */
export function totpStep(nowMs: number): number {
  return Math.floor(nowMs / 1000 / TOTP_PERIOD_SECONDS);
}

/** The code for a given time step (tests, diagnostics). */
export function totpCodeForStep(secret: Uint8Array, step: number): string {
  return totpFor(secret).generate({ timestamp: step * TOTP_PERIOD_SECONDS * 1000 });
}

/** The code valid at a Unix-millisecond timestamp. */
export function totpCodeAt(secret: Uint8Array, nowMs: number): string {
  return totpCodeForStep(secret, totpStep(nowMs));
}

/**
 * What a user typed, reduced to the 6 digits (spaces, tabs and a middle dash allowed, as in
 * "123 456" or "123-456"); null when it cannot be a TOTP code at all.
 */
export function normaliseTotpCode(input: string): string | null {
  if (input.length > 32) return null;
  const digits = input.replace(/[\s-]/g, "");
  return /^[0-9]{6}$/.test(digits) ? digits : null;
}

export type TotpVerification =
  | { readonly status: "ok"; readonly step: number }
  /** The code matched only steps at or before `lastUsedStep`: it (or a newer one) was already used. */
  | { readonly status: "replayed"; readonly step: number }
  | { readonly status: "bad" };

/**
 * Checks `code` against the steps now-1, now and now+1, comparing every candidate in constant
 * time (no early exit). With `lastUsedStep`, only newer steps count: of several matching steps
 * the newest is taken, and a code matching only old steps is "replayed".
 * The caller must still record the returned step atomically (see ./mfa.ts).
 */
export function verifyTotp(
  secret: Uint8Array,
  code: string,
  nowMs: number,
  lastUsedStep: number | null = null,
): TotpVerification {
  const typed = normaliseTotpCode(code);
  const current = totpStep(nowMs);
  const typedBytes = Buffer.from(typed ?? "000000", "ascii");
  const totp = totpFor(secret);
  let fresh: number | null = null;
  let stale: number | null = null;
  for (let step = current - TOTP_SKEW_STEPS; step <= current + TOTP_SKEW_STEPS; step += 1) {
    const expected = Buffer.from(totp.generate({ timestamp: step * TOTP_PERIOD_SECONDS * 1000 }), "ascii");
    const matches = timingSafeEqual(typedBytes, expected);
    if (!matches) continue;
    if (lastUsedStep === null || step > lastUsedStep) fresh = step;
    else stale = step;
  }
  if (typed === null) return { status: "bad" };
  if (fresh !== null) return { status: "ok", step: fresh };
  if (stale !== null) return { status: "replayed", step: stale };
  return { status: "bad" };
}

/**
 * The provisioning URI as a QR code, as a self-contained SVG document string (black modules
 * drawn as one path on a white background; no scripts, images or external references). Error
 * correction M, quiet zone of 4 modules, as the QR standard asks. `widthPx` is the intrinsic
 * size (the viewBox scales it, so CSS may resize it freely).
 */
export async function qrSvg(uri: string, widthPx = 256): Promise<string> {
  return QRCode.toString(uri, {
    type: "svg",
    errorCorrectionLevel: "M",
    margin: 4,
    width: widthPx,
    color: { dark: "#000000ff", light: "#ffffffff" },
  });
}

/** The same QR code as a `data:image/svg+xml` URL, for an `<img src>`. */
export async function qrSvgDataUrl(uri: string, widthPx = 256): Promise<string> {
  const svg = await qrSvg(uri, widthPx);
  return `data:image/svg+xml;base64,${Buffer.from(svg, "utf8").toString("base64")}`;
}
