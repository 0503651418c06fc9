/**
 * Request-target canonicalisation (request flow step 4, first half).
 *
 * The gateway decides on ONE canonical form of the path and forwards exactly that form, so
 * the path that was authorised is the path ComfyUI routes (design.md, "One canonical path").
 *
 * What arrives here (measured with Bun 1.4.5, see tests): `req.url` is `http://<Host>` + the
 * path as sent, except that Bun has already resolved dot segments (raw `..`, `.` and whole
 * segments spelled `%2e%2e`, `.%2E`, ...), turned raw `\` into `/`, percent-encoded raw
 * non-ASCII bytes and `"<>^{}` backtick, and reduced an absolute-form request line to its
 * path. With a Host header Bun finds invalid (`a/b`, `a?b`, empty) `req.url` is the bare path.
 * Everything else (percent-encoding, `//`, `;`, `#`, case) is left exactly as sent.
 *
 * Rules (decode exactly once, never guess):
 * - each path segment is percent-decoded once, as strict UTF-8 (overlong forms such as
 *   `%c0%ae`, lone surrogates and malformed escapes are rejected);
 * - rejected anywhere in the path: NUL, control characters, `\` (raw or `%5C`), `#`, `;`,
 *   dot segments, empty segments (`//`), `%2F` (an encoded `/`);
 * - the one exception to `%2F`: the `{file}` and `{dest}` parameters of the userdata routes,
 *   which are whole relative paths (ComfyUI spec §3.7). They are decoded the way ComfyUI
 *   does (aiohttp once, then the handler once more if a `%` remains) and the fully decoded
 *   value must be a plain relative path;
 * - a single trailing `/` is kept: `/api/prompt/` is a different (non-existent) upstream
 *   path, so it keeps its own identity and is never treated as `/api/prompt`;
 * - the query string is validated (no NUL, no raw controls or non-ASCII) and forwarded as
 *   received; it never takes part in path classification.
 *
 * `forwardPath` is rebuilt from the decoded segments with one deterministic encoding, so
 * `/api/%70rompt` is classified and forwarded as `/api/prompt`. Ordinary ComfyUI paths come
 * out byte-identical. Userdata parameters are forwarded as received (byte-exact) so the
 * upstream sees exactly `workflows%2Fa.json` or `workflows%252Fdbl.json`.
 */

/** Longest request-target (path + query) accepted. ComfyUI's own clients stay far below. */
export const MAX_TARGET_LENGTH = 8192;

export type TargetErrorCode =
  | "BAD_TARGET_FORM"
  | "BAD_TARGET_TOO_LONG"
  | "BAD_PATH_FRAGMENT"
  | "BAD_PATH_CHARACTER"
  | "BAD_PATH_CONTROL"
  | "BAD_PATH_NUL"
  | "BAD_PATH_ENCODING"
  | "BAD_PATH_SEMICOLON"
  | "BAD_PATH_BACKSLASH"
  | "BAD_PATH_ENCODED_SLASH"
  | "BAD_PATH_DOT_SEGMENT"
  | "BAD_PATH_DOUBLE_SLASH"
  | "BAD_USERDATA_PATH_ABSOLUTE"
  | "BAD_USERDATA_PATH_TRAVERSAL"
  | "BAD_USERDATA_PATH_NONCANONICAL"
  | "BAD_QUERY_NUL"
  | "BAD_QUERY_CHARACTER";

/** The userdata route parameters, fully decoded the way ComfyUI resolves them on disk. */
export interface UserdataPathParams {
  /** `{file}`: a relative path below the user's root, e.g. `workflows/a.json`. */
  readonly file: string;
  /** `{dest}` of `/userdata/{file}/move/{dest}`, or null for the other userdata routes. */
  readonly dest: string | null;
}

export interface RequestTarget {
  /** The path as received (before `?`), with its encoding intact. */
  readonly rawPath: string;
  /**
   * Path segments, each percent-decoded exactly once. A trailing `/` is not a segment (see
   * `trailingSlash`); `/` itself has no segments. Only userdata parameters can contain `/`.
   */
  readonly segments: readonly string[];
  /** True when the path ends in `/` (and is not `/` itself). */
  readonly trailingSlash: boolean;
  /** Canonical spelling of the path: every segment re-encoded the same deterministic way. */
  readonly path: string;
  /** The exact path sent upstream: `path`, except userdata parameters kept as received. */
  readonly forwardPath: string;
  /** The raw query string including its `?`, or "" when there was no `?`. */
  readonly search: string;
  /** Set when the path has the shape of a userdata file route (`{file}`, `{dest}` decoded). */
  readonly userdata: UserdataPathParams | null;
}

export interface TargetRejection {
  readonly ok: false;
  readonly status: 400;
  readonly code: TargetErrorCode;
  readonly error: string;
}

export type TargetResult = { readonly ok: true; readonly target: RequestTarget } | TargetRejection;

function reject(code: TargetErrorCode, error: string): TargetRejection {
  return { ok: false, status: 400, code, error };
}

// ---------------------------------------------------------------------------------------------
// Character classes, as lookup tables over ASCII (built once).

/** Raw characters allowed in a path segment besides `%`-escapes (printable ASCII minus a few). */
const RAW_PATH_CHAR_OK = new Uint8Array(128);
/** Characters a re-encoded segment keeps literally: RFC 3986 pchar without `;` and `%`. */
const SEGMENT_LITERAL_OK = new Uint8Array(128);
{
  for (let c = 0x21; c <= 0x7e; c++) RAW_PATH_CHAR_OK[c] = 1;
  // `#` ends the path (fragment), `\` is a separator on Windows and for some parsers, `;`
  // starts path parameters for some servers, `%` is handled by the decoder, `?` starts the
  // query (never inside a raw segment), `/` separates segments.
  for (const ch of "#\\;%?/") RAW_PATH_CHAR_OK[ch.charCodeAt(0)] = 0;

  const literal =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789" + "-._~" + "!$&'()*+,=" + ":@";
  for (const ch of literal) SEGMENT_LITERAL_OK[ch.charCodeAt(0)] = 1;
}

const HEX_DIGITS = "0123456789ABCDEF";

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x41 && code <= 0x46) return code - 0x37;
  if (code >= 0x61 && code <= 0x66) return code - 0x57;
  return -1;
}

/** C0 controls, DEL and C1 controls: never legitimate in a path, and they poison logs. */
function isControl(code: number): boolean {
  return code < 0x20 || (code >= 0x7f && code <= 0x9f);
}

// `ignoreBOM` keeps a leading U+FEFF as a character instead of silently dropping it, so the
// decoded value is exactly what a Python/aiohttp decoder would produce.
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

type DecodeFailure = { readonly failure: "escape" | "utf8" };
const MALFORMED_ESCAPE: DecodeFailure = { failure: "escape" };
const INVALID_UTF8: DecodeFailure = { failure: "utf8" };

/**
 * Percent-decode one raw segment exactly once, strictly: every `%` must start a two-digit
 * hex escape and the resulting bytes must be valid UTF-8.
 */
function decodeSegmentOnce(raw: string): string | DecodeFailure {
  if (raw.indexOf("%") < 0) return raw;
  const bytes = new Uint8Array(raw.length);
  let length = 0;
  let ascii = true;
  for (let i = 0; i < raw.length; i++) {
    const code = raw.charCodeAt(i);
    if (code !== 0x25) {
      bytes[length++] = code; // raw characters were validated as printable ASCII
      continue;
    }
    const high = i + 2 < raw.length ? hexValue(raw.charCodeAt(i + 1)) : -1;
    const low = high >= 0 ? hexValue(raw.charCodeAt(i + 2)) : -1;
    if (low < 0) return MALFORMED_ESCAPE;
    const byte = (high << 4) | low;
    if (byte >= 0x80) ascii = false;
    bytes[length++] = byte;
    i += 2;
  }
  if (ascii) return String.fromCharCode(...bytes.subarray(0, length));
  try {
    return strictUtf8.decode(bytes.subarray(0, length));
  } catch {
    return INVALID_UTF8;
  }
}

/**
 * The second decoding ComfyUI's userdata handler applies when a `%` is left after aiohttp's
 * decoding (Python `urllib.parse.unquote`): runs of ASCII characters have their valid `%XX`
 * escapes turned into bytes, malformed escapes stay literal, other characters pass through.
 * Python would substitute U+FFFD for invalid UTF-8; we refuse it instead (null).
 */
function unquoteLikeComfyUserdata(value: string): string | null {
  if (value.indexOf("%") < 0) return value;
  let out = "";
  let runBytes: number[] = [];
  const flushRun = (): boolean => {
    if (runBytes.length === 0) return true;
    try {
      out += strictUtf8.decode(Uint8Array.from(runBytes));
    } catch {
      return false;
    }
    runBytes = [];
    return true;
  };
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code >= 0x80) {
      if (!flushRun()) return null;
      out += value[i];
      continue;
    }
    if (code === 0x25 && i + 2 < value.length) {
      const high = hexValue(value.charCodeAt(i + 1));
      const low = hexValue(value.charCodeAt(i + 2));
      if (high >= 0 && low >= 0) {
        runBytes.push((high << 4) | low);
        i += 2;
        continue;
      }
    }
    runBytes.push(code);
  }
  return flushRun() ? out : null;
}

/**
 * Deterministic encoding of one decoded segment for the canonical / forwarded path:
 * RFC 3986 pchar characters stay literal (letters, digits, `-._~`, sub-delims except `;`,
 * `:` and `@`); everything else, including `/`, `%`, `;`, `?`, `#` and non-ASCII, becomes
 * uppercase `%XX` of its UTF-8 bytes. Decoding the result once gives the segment back.
 */
export function encodePathSegment(segment: string): string {
  let i = 0;
  for (; i < segment.length; i++) {
    const code = segment.charCodeAt(i);
    if (code >= 0x80 || SEGMENT_LITERAL_OK[code] !== 1) break;
  }
  if (i === segment.length) return segment; // the common case: nothing to encode

  let out = segment.slice(0, i);
  for (; i < segment.length; i++) {
    const code = segment.charCodeAt(i);
    if (code < 0x80) {
      out += SEGMENT_LITERAL_OK[code] === 1 ? segment[i] : percentByte(code);
      continue;
    }
    const codePoint = segment.codePointAt(i) ?? code;
    if (codePoint > 0xffff) i++; // a surrogate pair is one code point
    for (const byte of utf8Bytes(codePoint)) out += percentByte(byte);
  }
  return out;
}

function percentByte(byte: number): string {
  return "%" + HEX_DIGITS.charAt(byte >> 4) + HEX_DIGITS.charAt(byte & 0x0f);
}

function utf8Bytes(codePoint: number): number[] {
  if (codePoint < 0x800) return [0xc0 | (codePoint >> 6), 0x80 | (codePoint & 0x3f)];
  if (codePoint < 0x10000) {
    return [0xe0 | (codePoint >> 12), 0x80 | ((codePoint >> 6) & 0x3f), 0x80 | (codePoint & 0x3f)];
  }
  return [
    0xf0 | (codePoint >> 18),
    0x80 | ((codePoint >> 12) & 0x3f),
    0x80 | ((codePoint >> 6) & 0x3f),
    0x80 | (codePoint & 0x3f),
  ];
}

/** True when every character of a raw segment is one the forwarder can send unchanged. */
function isPlainPcharSegment(raw: string): boolean {
  for (let i = 0; i < raw.length; i++) {
    const code = raw.charCodeAt(i);
    if (code !== 0x25 && SEGMENT_LITERAL_OK[code] !== 1) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// The userdata exception.

/**
 * Where the userdata path parameters sit, given the once-decoded segments: `userdata/{file}`
 * and `userdata/{file}/move/{dest}`, optionally behind the `/api` mirror. These are exactly
 * the shapes of the `userdata.file` and `userdata.move` routes of the route table (both
 * spellings); nothing else gets the `%2F` exception.
 */
function findUserdataParams(decoded: readonly string[]): { file: number; dest: number } | null {
  const base = decoded[0] === "api" ? 1 : 0;
  if (decoded[base] !== "userdata") return null;
  const rest = decoded.length - base;
  if (rest === 2) return { file: base + 1, dest: -1 };
  if (rest === 4 && decoded[base + 2] === "move") return { file: base + 1, dest: base + 3 };
  return null;
}

/** `C:...`: drive-absolute or drive-relative on a Windows upstream. */
function startsWithDriveLetter(value: string): boolean {
  const first = value.charCodeAt(0) | 0x20; // ASCII lower-case
  return value.charCodeAt(1) === 0x3a && first >= 0x61 && first <= 0x7a;
}

/**
 * Resolve a userdata parameter the way ComfyUI does (the value aiohttp produced, unquoted
 * again when a `%` is left) and require a plain relative path: no NUL or control characters,
 * no `\`, not absolute (leading `/` or a drive letter), no `..`, `.` or empty components.
 * Whether the path stays inside the caller's own root is for the userdata policy to decide.
 */
function resolveUserdataParam(onceDecoded: string, name: string): string | TargetRejection {
  const full = unquoteLikeComfyUserdata(onceDecoded);
  if (full === null) {
    return reject("BAD_PATH_ENCODING", `userdata ${name} is not valid UTF-8 after ComfyUI's second decoding`);
  }
  for (let i = 0; i < full.length; i++) {
    const code = full.charCodeAt(i);
    if (code === 0) return reject("BAD_PATH_NUL", `userdata ${name} contains NUL after decoding`);
    if (isControl(code)) return reject("BAD_PATH_CONTROL", `userdata ${name} contains a control character`);
    if (code === 0x5c) return reject("BAD_PATH_BACKSLASH", `userdata ${name} contains a backslash`);
  }
  if (full.startsWith("/") || startsWithDriveLetter(full)) {
    return reject("BAD_USERDATA_PATH_ABSOLUTE", `userdata ${name} must be a relative path`);
  }
  let hasNoncanonicalComponent = false;
  for (const component of full.split("/")) {
    if (component === "..") {
      return reject("BAD_USERDATA_PATH_TRAVERSAL", `userdata ${name} must not contain '..'`);
    }
    if (component === "" || component === ".") hasNoncanonicalComponent = true;
  }
  if (hasNoncanonicalComponent) {
    return reject("BAD_USERDATA_PATH_NONCANONICAL", `userdata ${name} must not contain empty or '.' components`);
  }
  return full;
}

// ---------------------------------------------------------------------------------------------

function validateRawSegment(raw: string): TargetRejection | null {
  for (let i = 0; i < raw.length; i++) {
    const code = raw.charCodeAt(i);
    if (code < 0x80 && RAW_PATH_CHAR_OK[code] === 1) continue;
    if (code === 0x25) continue; // checked by the decoder
    if (code === 0) return reject("BAD_PATH_NUL", "the path contains NUL");
    if (code === 0x5c) return reject("BAD_PATH_BACKSLASH", "the path contains a backslash");
    if (code === 0x3b) {
      return reject("BAD_PATH_SEMICOLON", "path parameters (';') are not accepted; encode ';' as %3B");
    }
    if (isControl(code)) return reject("BAD_PATH_CONTROL", "the path contains a control character");
    return reject("BAD_PATH_CHARACTER", "the path contains a character that must be percent-encoded");
  }
  return null;
}

function validateDecodedSegment(segment: string): TargetRejection | null {
  for (let i = 0; i < segment.length; i++) {
    const code = segment.charCodeAt(i);
    if (code === 0) return reject("BAD_PATH_NUL", "the path contains an encoded NUL (%00)");
    if (isControl(code)) return reject("BAD_PATH_CONTROL", "the path contains an encoded control character");
    if (code === 0x2f) return reject("BAD_PATH_ENCODED_SLASH", "an encoded '/' (%2F) is only accepted in userdata file names");
    if (code === 0x5c) return reject("BAD_PATH_BACKSLASH", "the path contains an encoded backslash (%5C)");
  }
  return null;
}

function validateQuery(search: string): TargetRejection | null {
  for (let i = 1; i < search.length; i++) {
    const code = search.charCodeAt(i);
    if (code === 0) return reject("BAD_QUERY_NUL", "the query string contains NUL");
    if (code <= 0x20 || code >= 0x7f) {
      return reject("BAD_QUERY_CHARACTER", "the query string contains a raw control, space or non-ASCII character");
    }
    if (code === 0x25 && search.charCodeAt(i + 1) === 0x30 && search.charCodeAt(i + 2) === 0x30) {
      return reject("BAD_QUERY_NUL", "the query string contains an encoded NUL (%00)");
    }
  }
  return null;
}

/**
 * Canonicalise an origin-form request-target (`/path?query`). See the module comment for the
 * rules. Every rejection is a 400 with a stable `code`.
 */
export function canonicaliseTarget(rawPathAndQuery: string): TargetResult {
  if (rawPathAndQuery.length > MAX_TARGET_LENGTH) {
    return reject("BAD_TARGET_TOO_LONG", `the request target is longer than ${MAX_TARGET_LENGTH} characters`);
  }
  if (rawPathAndQuery.charCodeAt(0) !== 0x2f) {
    return reject("BAD_TARGET_FORM", "the request target must start with '/'");
  }
  if (rawPathAndQuery.indexOf("#") >= 0) {
    return reject("BAD_PATH_FRAGMENT", "a request target must not contain a fragment ('#')");
  }

  const queryStart = rawPathAndQuery.indexOf("?");
  const rawPath = queryStart < 0 ? rawPathAndQuery : rawPathAndQuery.slice(0, queryStart);
  const search = queryStart < 0 ? "" : rawPathAndQuery.slice(queryStart);
  const queryProblem = validateQuery(search);
  if (queryProblem) return queryProblem;

  // "/" has no segments; otherwise a final empty segment is the trailing slash.
  const rawSegments = rawPath === "/" ? [] : rawPath.slice(1).split("/");
  let trailingSlash = false;
  if (rawSegments.length > 1 && rawSegments[rawSegments.length - 1] === "") {
    trailingSlash = true;
    rawSegments.pop();
  }

  const decoded: string[] = new Array<string>(rawSegments.length);
  for (let i = 0; i < rawSegments.length; i++) {
    const raw = rawSegments[i] ?? "";
    if (raw === "") {
      return reject("BAD_PATH_DOUBLE_SLASH", "the path contains an empty segment ('//')");
    }
    const rawProblem = validateRawSegment(raw);
    if (rawProblem) return rawProblem;
    const value = decodeSegmentOnce(raw);
    if (typeof value !== "string") {
      return value.failure === "escape"
        ? reject("BAD_PATH_ENCODING", "the path contains a malformed percent-escape")
        : reject("BAD_PATH_ENCODING", "the path is not valid UTF-8 once decoded (overlong or invalid bytes)");
    }
    if (value === "." || value === "..") {
      return reject("BAD_PATH_DOT_SEGMENT", "the path contains a '.' or '..' segment");
    }
    decoded[i] = value;
  }

  const userdataAt = trailingSlash ? null : findUserdataParams(decoded);
  let userdata: UserdataPathParams | null = null;
  if (userdataAt) {
    for (const at of [userdataAt.file, userdataAt.dest]) {
      if (at < 0) continue;
      const once = decoded[at] ?? "";
      for (let i = 0; i < once.length; i++) {
        const code = once.charCodeAt(i);
        if (code === 0) return reject("BAD_PATH_NUL", "the path contains an encoded NUL (%00)");
        if (isControl(code)) return reject("BAD_PATH_CONTROL", "the path contains an encoded control character");
      }
    }
    const file = resolveUserdataParam(decoded[userdataAt.file] ?? "", "file");
    if (typeof file !== "string") return file;
    let dest: string | null = null;
    if (userdataAt.dest >= 0) {
      const resolved = resolveUserdataParam(decoded[userdataAt.dest] ?? "", "destination");
      if (typeof resolved !== "string") return resolved;
      dest = resolved;
    }
    userdata = { file, dest };
  }

  let path = "";
  let forwardPath = "";
  for (let i = 0; i < decoded.length; i++) {
    const segment = decoded[i] ?? "";
    const isUserdataParam = userdataAt !== null && (i === userdataAt.file || i === userdataAt.dest);
    if (!isUserdataParam) {
      const problem = validateDecodedSegment(segment);
      if (problem) return problem;
    }
    const canonical = encodePathSegment(segment);
    path += "/" + canonical;
    const raw = rawSegments[i] ?? "";
    // Userdata parameters go upstream byte-exact when they only use characters every hop
    // passes through unchanged; otherwise their canonical form, which aiohttp decodes to the
    // same value (and so the same file).
    forwardPath += "/" + (isUserdataParam && isPlainPcharSegment(raw) ? raw : canonical);
  }
  if (decoded.length === 0 || trailingSlash) {
    path += "/";
    forwardPath += "/";
  }

  return {
    ok: true,
    target: { rawPath, segments: decoded, trailingSlash, path, forwardPath, search, userdata },
  };
}

/**
 * The origin-form target inside Bun's `req.url`: `http://<Host>` + path, or the bare path
 * when Bun found the Host header unusable. Returns null for anything else, so a malformed
 * authority can never shift part of the Host header into the path.
 */
export function requestTargetFromBunUrl(requestUrl: string): string | null {
  if (requestUrl.charCodeAt(0) === 0x2f) return requestUrl;
  let authorityStart: number;
  if (requestUrl.startsWith("http://")) authorityStart = 7;
  else if (requestUrl.startsWith("https://")) authorityStart = 8;
  else return null;
  const pathStart = requestUrl.indexOf("/", authorityStart);
  if (pathStart < 0) return null;
  for (let i = authorityStart; i < pathStart; i++) {
    const code = requestUrl.charCodeAt(i);
    // `?`, `#`, `@` and `\` cannot be part of an authority Bun produced itself.
    if (code === 0x3f || code === 0x23 || code === 0x40 || code === 0x5c) return null;
  }
  return requestUrl.slice(pathStart);
}

/** `canonicaliseTarget(requestTargetFromBunUrl(req.url))`, with a 400 when the URL is unusable. */
export function canonicaliseBunRequestUrl(requestUrl: string): TargetResult {
  const target = requestTargetFromBunUrl(requestUrl);
  if (target === null) return reject("BAD_TARGET_FORM", "the request URL has no usable origin-form path");
  return canonicaliseTarget(target);
}
