import { describe, expect, test } from "bun:test";
import { openSecret, openSecretString, SecretBoxError, sealSecret, type SecretBoxFailure } from "../../src/auth/secret-box.ts";

const key = crypto.getRandomValues(new Uint8Array(32));
const otherKey = crypto.getRandomValues(new Uint8Array(32));
const AAD = "user-1234";

async function expectFailure(promise: Promise<unknown>, reason: SecretBoxFailure): Promise<void> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(SecretBoxError);
  expect((caught as SecretBoxError).reason).toBe(reason);
}

/** Replaces the character at `index` of a base64url string with a different, valid one. */
function flipChar(text: string, index: number): string {
  const current = text[index];
  const replacement = current === "A" ? "B" : "A";
  return text.slice(0, index) + replacement + text.slice(index + 1);
}

function parts(sealed: string): [string, string, string] {
  const split = sealed.split(".");
  expect(split).toHaveLength(3);
  return split as [string, string, string];
}

describe("secret box", () => {
  test("round trip of bytes and of text", async () => {
    const bytes = crypto.getRandomValues(new Uint8Array(20));
    const sealedBytes = await sealSecret(key, bytes, AAD);
    expect(await openSecret(key, sealedBytes, AAD)).toEqual(bytes);

    const text = "naïve secret ✓";
    const sealedText = await sealSecret(key, text, AAD);
    expect(await openSecretString(key, sealedText, AAD)).toBe(text);

    const empty = await sealSecret(key, new Uint8Array(0), AAD);
    expect(await openSecret(key, empty, AAD)).toEqual(new Uint8Array(0));
  });

  test("compact versioned format: v1.<12-byte nonce>.<ciphertext + 16-byte tag>, base64url", async () => {
    const sealed = await sealSecret(key, new Uint8Array(20), AAD);
    expect(sealed).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    const [, nonce, body] = parts(sealed);
    expect(Buffer.from(nonce, "base64url")).toHaveLength(12);
    expect(Buffer.from(body, "base64url")).toHaveLength(20 + 16);
  });

  test("a fresh nonce every time: the same plaintext never seals the same way", async () => {
    const nonces = new Set<string>();
    const sealedValues = new Set<string>();
    for (let i = 0; i < 200; i += 1) {
      const sealed = await sealSecret(key, "same plaintext", AAD);
      sealedValues.add(sealed);
      nonces.add(parts(sealed)[1]);
    }
    expect(nonces.size).toBe(200);
    expect(sealedValues.size).toBe(200);
  });

  test("tampered ciphertext, tag, nonce, associated data or key: authentication fails", async () => {
    const sealed = await sealSecret(key, "top secret", AAD);
    const [version, nonce, body] = parts(sealed);
    await expectFailure(openSecret(key, `${version}.${nonce}.${flipChar(body, 0)}`, AAD), "authentication_failed");
    // A character inside the tag (the body's last 16 bytes), not the padding-bit final char.
    await expectFailure(openSecret(key, `${version}.${nonce}.${flipChar(body, body.length - 4)}`, AAD), "authentication_failed");
    await expectFailure(openSecret(key, `${version}.${flipChar(nonce, 3)}.${body}`, AAD), "authentication_failed");
    await expectFailure(openSecret(key, sealed, "user-1235"), "authentication_failed");
    await expectFailure(openSecret(key, sealed, ""), "authentication_failed");
    await expectFailure(openSecret(otherKey, sealed, AAD), "authentication_failed");
    // Swapping in another message's body under this nonce.
    const [, , otherBody] = parts(await sealSecret(key, "top secret", AAD));
    await expectFailure(openSecret(key, `${version}.${nonce}.${otherBody}`, AAD), "authentication_failed");
  });

  test("unknown or altered version: refused before decrypting", async () => {
    const sealed = await sealSecret(key, "top secret", AAD);
    const [, nonce, body] = parts(sealed);
    for (const version of ["v2", "V1", "v0", "", "v1 "]) {
      await expectFailure(openSecret(key, `${version}.${nonce}.${body}`, AAD), "unsupported_version");
    }
  });

  test("malformed text: wrong part count, bad base64url, short nonce or body", async () => {
    const sealed = await sealSecret(key, "top secret", AAD);
    const [version, nonce, body] = parts(sealed);
    await expectFailure(openSecret(key, "", AAD), "malformed");
    await expectFailure(openSecret(key, `${version}.${nonce}`, AAD), "malformed");
    await expectFailure(openSecret(key, `${sealed}.x`, AAD), "malformed");
    await expectFailure(openSecret(key, `${version}.${nonce}.${body}=`, AAD), "malformed");
    await expectFailure(openSecret(key, `${version}.${nonce}.${body.slice(0, 5)}!${body.slice(5)}`, AAD), "malformed");
    await expectFailure(openSecret(key, `${version}.${nonce.slice(0, 12)}.${body}`, AAD), "malformed");
    await expectFailure(openSecret(key, `${version}.${nonce}.${body.slice(0, 20)}`, AAD), "malformed");
    await expectFailure(openSecret(key, `${version}.${nonce}.`, AAD), "malformed");
  });

  test("the error never carries the plaintext", async () => {
    const sealed = await sealSecret(key, "PLAINTEXT-MARKER", AAD);
    try {
      await openSecret(key, sealed, "someone-else");
      throw new Error("should not open");
    } catch (error) {
      expect(error).toBeInstanceOf(SecretBoxError);
      expect(String(error)).not.toContain("PLAINTEXT-MARKER");
      expect(JSON.stringify(error)).not.toContain("PLAINTEXT-MARKER");
    }
  });

  test("keys must be exactly 32 bytes", async () => {
    await expectFailure(sealSecret(new Uint8Array(16), "x", AAD), "bad_key");
    await expectFailure(sealSecret(new Uint8Array(33), "x", AAD), "bad_key");
    const sealed = await sealSecret(key, "x", AAD);
    await expectFailure(openSecret(new Uint8Array(31), sealed, AAD), "bad_key");
  });

  test("a key that is a view into a larger buffer works", async () => {
    const big = new Uint8Array(64);
    big.set(key, 16);
    const view = big.subarray(16, 48);
    const sealed = await sealSecret(view, "x", AAD);
    expect(await openSecretString(key, sealed, AAD)).toBe("x");
  });
});
