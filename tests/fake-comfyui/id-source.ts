/**
 * Random ids of the kinds ComfyUI makes: `uuid4()` strings (prompt ids, user id suffixes),
 * `uuid4().hex` (WebSocket sids) and the 5 lowercase letters of a PreviewImage temp prefix.
 * With a seed the sequence is repeatable.
 */

export interface IdSource {
  uuid(): string;
  hex32(): string;
  letters(count: number): string;
}

/** mulberry32: small, fast, good enough for test ids. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function formatUuid4(bytes: Uint8Array): string {
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function createIdSource(seed?: number): IdSource {
  const random = seed === undefined ? null : seededRandom(seed);
  const randomBytes = (count: number): Uint8Array => {
    const bytes = new Uint8Array(count);
    if (random === null) crypto.getRandomValues(bytes);
    else for (let i = 0; i < count; i++) bytes[i] = Math.floor(random() * 256);
    return bytes;
  };
  return {
    uuid: () => formatUuid4(randomBytes(16)),
    hex32: () => formatUuid4(randomBytes(16)).replaceAll("-", ""),
    letters: (count) =>
      [...randomBytes(count)].map((b) => String.fromCharCode(97 + (b % 26))).join(""),
  };
}

/** Canonical lowercase UUID, as the v0.38 prompt-id and job-id checks require. */
export const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
