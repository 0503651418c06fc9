// Authenticated encryption of small secrets at rest (TOTP secrets, later API keys of
// integrations): AES-256-GCM through WebCrypto.
//
// Sealed text format, ASCII only, safe in a TEXT column and in JSON:
//
//   v1.<nonce>.<ciphertext||tag>      (both parts base64url without padding)
//
// - The key is 32 raw bytes (derived from SECRET_KEY per purpose by src/auth/secret-key.ts).
// - A fresh random 96-bit nonce per message: with random nonces a key stays well inside the
//   GCM limit of 2^32 messages for anything this gateway stores.
// - The caller's associated data (for example the user id) is authenticated, not stored: a
//   ciphertext copied to another user's row no longer opens. The version tag is bound into the
//   associated data as well, so a future format cannot be confused with this one.
// - Any failure to open (wrong key, tampered or truncated text, other associated data,
//   unknown version) is a SecretBoxError carrying a reason, never partial plaintext.

export const SECRET_BOX_KEY_BYTES = 32;
const VERSION = "v1";
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** Base64url without padding, nothing else (Buffer's decoder would silently skip junk). */
const BASE64URL = /^[A-Za-z0-9_-]*$/;

export type SecretBoxFailure = "bad_key" | "malformed" | "unsupported_version" | "authentication_failed";

export class SecretBoxError extends Error {
  override readonly name = "SecretBoxError";
  readonly reason: SecretBoxFailure;

  constructor(reason: SecretBoxFailure, message: string, options?: ErrorOptions) {
    super(message, options);
    this.reason = reason;
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

async function importKey(key: Uint8Array): Promise<CryptoKey> {
  if (!(key instanceof Uint8Array) || key.byteLength !== SECRET_BOX_KEY_BYTES) {
    throw new SecretBoxError("bad_key", `secret box key must be ${SECRET_BOX_KEY_BYTES} bytes`);
  }
  // Copy: the caller's array may be a view into a larger buffer, and WebCrypto wants exactly
  // the key bytes. Non-extractable, usable only for what we do here.
  return crypto.subtle.importKey("raw", new Uint8Array(key), { name: "AES-GCM" }, false, [
    "encrypt",
    "decrypt",
  ]);
}

function additionalData(version: string, associatedData: string): Uint8Array<ArrayBuffer> {
  // "mss-login-secret-box/<version>\0<caller data>": the NUL cannot occur in the version.
  return encoder.encode(`mss-login-secret-box/${version}\u0000${associatedData}`);
}

function toBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64url");
}

function fromBase64Url(text: string): Uint8Array<ArrayBuffer> | null {
  if (!BASE64URL.test(text) || text.length % 4 === 1) return null;
  const bytes = Buffer.from(text, "base64url");
  // Canonical encodings only (no stray trailing bits), so each sealed value has one spelling.
  if (bytes.toString("base64url") !== text) return null;
  return new Uint8Array(bytes);
}

/** Encrypts `plaintext` (bytes, or a string as UTF-8) under `key`, bound to `associatedData`. */
export async function sealSecret(key: Uint8Array, plaintext: Uint8Array | string, associatedData: string): Promise<string> {
  const cryptoKey = await importKey(key);
  const nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
  const data = typeof plaintext === "string" ? encoder.encode(plaintext) : new Uint8Array(plaintext);
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv: nonce, additionalData: additionalData(VERSION, associatedData), tagLength: TAG_BYTES * 8 },
    cryptoKey,
    data,
  );
  return `${VERSION}.${toBase64Url(nonce)}.${toBase64Url(new Uint8Array(sealed))}`;
}

/** Decrypts a value made by sealSecret(); throws SecretBoxError unless key, text and associated data all match. */
export async function openSecret(key: Uint8Array, sealedText: string, associatedData: string): Promise<Uint8Array> {
  const cryptoKey = await importKey(key);
  const parts = sealedText.split(".");
  if (parts.length !== 3) throw new SecretBoxError("malformed", "sealed value is not <version>.<nonce>.<ciphertext>");
  const [version, nonceText, bodyText] = parts as [string, string, string];
  if (version !== VERSION) {
    throw new SecretBoxError("unsupported_version", "sealed value has an unsupported format version");
  }
  const nonce = fromBase64Url(nonceText);
  const body = fromBase64Url(bodyText);
  if (nonce === null || nonce.byteLength !== NONCE_BYTES || body === null || body.byteLength < TAG_BYTES) {
    throw new SecretBoxError("malformed", "sealed value has a malformed nonce or ciphertext");
  }
  try {
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: nonce, additionalData: additionalData(version, associatedData), tagLength: TAG_BYTES * 8 },
      cryptoKey,
      body,
    );
    return new Uint8Array(plain);
  } catch (error) {
    throw new SecretBoxError(
      "authentication_failed",
      "sealed value does not authenticate (wrong key, associated data or tampered text)",
      { cause: error },
    );
  }
}

/** openSecret() for values sealed from a string; a non-UTF-8 plaintext is "malformed". */
export async function openSecretString(key: Uint8Array, sealedText: string, associatedData: string): Promise<string> {
  const bytes = await openSecret(key, sealedText, associatedData);
  try {
    return decoder.decode(bytes);
  } catch (error) {
    throw new SecretBoxError("malformed", "sealed value is not UTF-8 text", { cause: error });
  } finally {
    bytes.fill(0);
  }
}
