/**
 * The HTTP/1.1 wire format pieces of the upstream client: building a request head, parsing a
 * response head, decoding a chunked body. Pure functions and a small state machine, no I/O, so
 * they can be tested byte by byte.
 *
 * The parser is deliberately strict (RFC 9112): anything that could be read two ways by two
 * parsers (both Content-Length and Transfer-Encoding, conflicting lengths, bare CR/LF, folded
 * header lines, odd chunk sizes) is an error rather than a guess, because a gateway that guesses
 * differently from its upstream is how request/response smuggling starts.
 */

/** Anything that is not well-formed HTTP/1.x. The client turns it into `UpstreamError("protocol")`. */
export class Http1ParseError extends Error {
  override name = "Http1ParseError";
}

export interface ResponseHead {
  status: number;
  statusText: string;
  /** `HTTP/1.1` (true) or `HTTP/1.0` (false); nothing else is accepted. */
  http11: boolean;
  /** Header fields in order, names as received; repeated fields (Set-Cookie) stay separate. */
  headers: [string, string][];
  /** The declared Content-Length, or -1 when there is none. */
  contentLength: number;
  /** `Transfer-Encoding: chunked` (the only transfer coding accepted). */
  chunked: boolean;
  /** The `Connection` header lists `close`. */
  connectionClose: boolean;
}

/** `\r\n\r\n`, the end of a message head. */
const HEAD_END = Buffer.from("\r\n\r\n", "latin1");
const HTTP_PREFIX = [0x48, 0x54, 0x54, 0x50, 0x2f]; // "HTTP/"

/** Index of the `\r\n\r\n` that ends the head in `buf[from..]`, or -1. Native memmem, no per-byte JS. */
export function findHeadEnd(buf: Buffer, from: number): number {
  return buf.indexOf(HEAD_END, from);
}

/**
 * Whether the bytes available at `buf[start..]` can be the start of a status line. Checked on the
 * first bytes of every response, so garbage fails at once instead of after `maxHeaderBytes`.
 */
export function startsLikeStatusLine(buf: Uint8Array, start: number): boolean {
  const n = Math.min(buf.length - start, HTTP_PREFIX.length);
  for (let i = 0; i < n; i++) if (buf[start + i] !== HTTP_PREFIX[i]) return false;
  return true;
}

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

/** `1*DIGIT`, as a safe integer; -1 when malformed. */
function parseDecimal(value: string): number {
  if (value.length === 0 || value.length > 15) return -1;
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (!isDigit(c)) return -1;
    n = n * 10 + (c - 0x30);
  }
  return n;
}

/** Whether a comma-separated header value lists `token` (case-insensitive). */
function listsToken(value: string, token: string): boolean {
  const lower = value.toLowerCase();
  if (lower === token) return true;
  for (const part of lower.split(",")) if (part.trim() === token) return true;
  return false;
}

/**
 * Parses the response head in `buf[start..end)` (`end` is where `\r\n\r\n` begins).
 *
 * The head is decoded once as latin1 (bytes map 1:1 to chars, obs-text survives, no UTF-8 work,
 * and never a byte of the body), then split with string `indexOf`: measured in Bun that is about
 * twice as fast as slicing every name and value out of the bytes separately. No regexes. Names
 * and values are not validated here: the `Headers` the caller builds rejects invalid names and
 * CR/LF/NUL in values, which covers bare CR or LF inside a line.
 */
export function parseResponseHead(buf: Buffer, start: number, end: number): ResponseHead {
  const text = buf.toString("latin1", start, end);

  // Status line: HTTP/1.x SP 3DIGIT [SP reason]
  let lineEnd = text.indexOf("\r\n");
  if (lineEnd < 0) lineEnd = text.length;
  if (lineEnd < 12 || !text.startsWith("HTTP/1.") || text.charCodeAt(8) !== 0x20) {
    throw new Http1ParseError("malformed status line");
  }
  const minor = text.charCodeAt(7);
  if (minor !== 0x30 && minor !== 0x31) throw new Http1ParseError("unsupported HTTP version");
  const d0 = text.charCodeAt(9);
  const d1 = text.charCodeAt(10);
  const d2 = text.charCodeAt(11);
  if (!isDigit(d0) || !isDigit(d1) || !isDigit(d2)) throw new Http1ParseError("malformed status code");
  const status = (d0 - 0x30) * 100 + (d1 - 0x30) * 10 + (d2 - 0x30);
  let statusText = "";
  if (lineEnd > 12) {
    if (text.charCodeAt(12) !== 0x20) throw new Http1ParseError("malformed status line");
    statusText = text.slice(13, lineEnd);
    // Headers validation does not cover the reason phrase, so bare CR/LF are checked here.
    if (statusText.includes("\r") || statusText.includes("\n")) throw new Http1ParseError("malformed reason phrase");
  }

  const headers: [string, string][] = [];
  let contentLength = -1;
  let transferEncoding: string | null = null;
  let connectionClose = false;

  let pos = lineEnd + 2;
  while (pos < text.length) {
    let eol = text.indexOf("\r\n", pos);
    if (eol < 0) eol = text.length;
    const first = text.charCodeAt(pos);
    // obs-fold (a continuation line) is deprecated; refusing it is allowed and avoids ambiguity.
    if (first === 0x20 || first === 0x09) throw new Http1ParseError("folded header line");
    const colon = text.indexOf(":", pos);
    if (colon <= pos || colon > eol) throw new Http1ParseError("malformed header line");
    const name = text.slice(pos, colon);
    // Trim optional whitespace (SP / HTAB only: String.trim would also eat latin1 0xA0).
    let vs = colon + 1;
    while (vs < eol && (text.charCodeAt(vs) === 0x20 || text.charCodeAt(vs) === 0x09)) vs++;
    let ve = eol;
    while (ve > vs && (text.charCodeAt(ve - 1) === 0x20 || text.charCodeAt(ve - 1) === 0x09)) ve--;
    const value = text.slice(vs, ve);
    headers.push([name, value]);

    // The three framing headers, recognised by length first so most names cost one comparison.
    if (name.length === 14 && name.toLowerCase() === "content-length") {
      const n = parseDecimal(value);
      if (n < 0) throw new Http1ParseError("invalid Content-Length");
      // Repeated identical values are tolerated (RFC 9112 §6.3); differing ones are not.
      if (contentLength >= 0 && contentLength !== n) throw new Http1ParseError("conflicting Content-Length");
      contentLength = n;
    } else if (name.length === 17 && name.toLowerCase() === "transfer-encoding") {
      transferEncoding = transferEncoding === null ? value : `${transferEncoding}, ${value}`;
    } else if (name.length === 10 && name.toLowerCase() === "connection") {
      if (listsToken(value, "close")) connectionClose = true;
    }
    pos = eol + 2;
  }

  let chunked = false;
  if (transferEncoding !== null) {
    // Only plain `chunked` is accepted: any other coding would leave the body's end undecidable
    // for us (or be a coding we would have to undo), and CL + TE is the classic smuggling vector.
    if (transferEncoding.trim().toLowerCase() !== "chunked") throw new Http1ParseError("unsupported Transfer-Encoding");
    if (contentLength >= 0) throw new Http1ParseError("both Content-Length and Transfer-Encoding");
    chunked = true;
  }

  return { status, statusText, http11: minor === 0x31, headers, contentLength, chunked, connectionClose };
}

/** Receives decoded body bytes (subarrays of the input: no copy). */
export interface BodySink {
  deliver(chunk: Uint8Array): void;
}

// Chunked decoder states.
const C_SIZE = 0; // hex digits of the chunk size
const C_EXT = 1; // chunk extensions (ignored) until CR
const C_SIZE_LF = 2; // LF after the size line
const C_DATA = 3; // chunk data
const C_DATA_CR = 4; // CR after chunk data
const C_DATA_LF = 5; // LF after chunk data
const C_TRAILER_START = 6; // start of a trailer line, or the final CRLF
const C_TRAILER = 7; // inside a trailer line (ignored) until CR
const C_TRAILER_LF = 8; // LF ending a trailer line
const C_END_LF = 9; // LF of the final CRLF
const C_DONE = 10;

/** Longest chunk-size line we read (size, extensions): far beyond anything real, bounded all the same. */
const MAX_CHUNK_LINE = 4096;
/** 13 hex digits = 2^52: the largest size that stays an exact JS number. */
const MAX_SIZE_DIGITS = 13;

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  const lower = code | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/**
 * Decodes `Transfer-Encoding: chunked` incrementally, whatever the packet boundaries. Chunk data
 * is handed on as subarrays of the input; only the framing lines are looked at byte by byte.
 * Trailers are read and dropped (a fetch `Response` has nowhere to put them).
 */
export class ChunkedDecoder {
  private state = C_SIZE;
  private size = 0;
  private digits = 0;
  private lineBytes = 0;
  private trailerBytes = 0;

  constructor(private readonly maxTrailerBytes: number) {}

  get done(): boolean {
    return this.state === C_DONE;
  }

  /**
   * Feeds `buf[start..]`. Returns the offset just past the final CRLF when the body ended inside
   * this buffer (bytes after it are not ours), or -1 when more input is needed.
   * @throws Http1ParseError on malformed framing
   */
  push(buf: Uint8Array, start: number, sink: BodySink): number {
    const len = buf.length;
    let i = start;
    while (i < len) {
      switch (this.state) {
        case C_SIZE: {
          const c = buf[i]!;
          const h = hexValue(c);
          if (h >= 0) {
            if (++this.digits > MAX_SIZE_DIGITS) throw new Http1ParseError("chunk size too large");
            this.size = this.size * 16 + h;
            i++;
          } else if (this.digits === 0) {
            throw new Http1ParseError("invalid chunk size");
          } else if (c === 0x0d) {
            this.state = C_SIZE_LF;
            i++;
          } else if (c === 0x3b || c === 0x20 || c === 0x09) {
            // `;ext` (BWS allowed before it); extensions carry nothing we need.
            this.state = C_EXT;
          } else {
            throw new Http1ParseError("invalid chunk size");
          }
          this.lineBytes++;
          break;
        }
        case C_EXT: {
          const cr = buf.indexOf(0x0d, i);
          const stop = cr < 0 ? len : cr;
          // A bare LF would end the line for a lenient parser: refuse it.
          const lf = buf.indexOf(0x0a, i);
          if (lf >= 0 && lf < stop) throw new Http1ParseError("bare LF in chunk extension");
          this.lineBytes += stop - i;
          if (this.lineBytes > MAX_CHUNK_LINE) throw new Http1ParseError("chunk extension too long");
          i = stop;
          if (cr >= 0) {
            this.state = C_SIZE_LF;
            i++;
          }
          break;
        }
        case C_SIZE_LF: {
          if (buf[i] !== 0x0a) throw new Http1ParseError("expected LF after chunk size");
          i++;
          this.lineBytes = 0;
          this.digits = 0;
          if (this.size === 0) {
            this.state = C_TRAILER_START;
          } else {
            this.state = C_DATA;
          }
          break;
        }
        case C_DATA: {
          const n = Math.min(this.size, len - i);
          sink.deliver(i === 0 && n === len ? buf : buf.subarray(i, i + n));
          this.size -= n;
          i += n;
          if (this.size === 0) this.state = C_DATA_CR;
          break;
        }
        case C_DATA_CR:
          if (buf[i] !== 0x0d) throw new Http1ParseError("chunk data longer than its size");
          this.state = C_DATA_LF;
          i++;
          break;
        case C_DATA_LF:
          if (buf[i] !== 0x0a) throw new Http1ParseError("expected LF after chunk data");
          this.state = C_SIZE;
          i++;
          break;
        case C_TRAILER_START:
          if (buf[i] === 0x0d) {
            this.state = C_END_LF;
            i++;
          } else {
            this.state = C_TRAILER;
          }
          break;
        case C_TRAILER: {
          const cr = buf.indexOf(0x0d, i);
          const stop = cr < 0 ? len : cr;
          const lf = buf.indexOf(0x0a, i);
          if (lf >= 0 && lf < stop) throw new Http1ParseError("bare LF in trailer");
          this.trailerBytes += stop - i;
          if (this.trailerBytes > this.maxTrailerBytes) throw new Http1ParseError("trailer section too large");
          i = stop;
          if (cr >= 0) {
            this.state = C_TRAILER_LF;
            i++;
          }
          break;
        }
        case C_TRAILER_LF:
          if (buf[i] !== 0x0a) throw new Http1ParseError("expected LF after trailer");
          this.state = C_TRAILER_START;
          i++;
          break;
        case C_END_LF:
          if (buf[i] !== 0x0a) throw new Http1ParseError("expected LF at end of chunked body");
          this.state = C_DONE;
          return i + 1;
        default:
          // C_DONE: the caller stops feeding once the body ended.
          return i;
      }
    }
    return this.state === C_DONE ? i : -1;
  }
}

/** tchar (RFC 9110 §5.6.2): what a method may consist of. */
const METHOD_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** A request target is visible ASCII, no spaces: anything else could split the request line. */
const TARGET_RE = /^[\x21-\x7e]+$/;
const NON_ASCII_RE = /[^\x00-\x7f]/;

/**
 * Builds the request head as one string, to be written with a single `write()`. The caller's
 * headers go out as they are except `content-length` and `transfer-encoding` (framing is the
 * client's job, and a stale value from the client side would desynchronise the connection);
 * `host` is added from `defaultHost` only if missing (HTTP/1.1 requires one).
 *
 * Returns a string when the head is pure ASCII (the common case, written as is) and latin1
 * bytes otherwise: header values are ByteStrings, and writing a string would UTF-8 encode them.
 * @throws TypeError on a method or target that cannot be written safely
 */
export function buildRequestHead(
  method: string,
  target: string,
  headers: Headers,
  /** Framing: a Content-Length to send, or null for none. */
  contentLength: number | null,
  /** Send `Transfer-Encoding: chunked` (exclusive with contentLength). */
  chunked: boolean,
  defaultHost: string,
): string | Buffer {
  if (!METHOD_RE.test(method)) throw new TypeError(`invalid HTTP method: ${JSON.stringify(method)}`);
  if (!TARGET_RE.test(target)) throw new TypeError(`invalid request target: ${JSON.stringify(target)}`);
  let head = `${method} ${target} HTTP/1.1\r\n`;
  let hasHost = false;
  for (const [name, value] of headers) {
    // Names from Headers are lower-case already.
    if (name.length === 14 && name === "content-length") continue;
    if (name.length === 17 && name === "transfer-encoding") continue;
    if (name.length === 4 && name === "host") hasHost = true;
    head += `${name}: ${value}\r\n`;
  }
  if (!hasHost) head += `host: ${defaultHost}\r\n`;
  if (contentLength !== null) head += `content-length: ${contentLength}\r\n`;
  else if (chunked) head += "transfer-encoding: chunked\r\n";
  head += "\r\n";
  return NON_ASCII_RE.test(head) ? Buffer.from(head, "latin1") : head;
}
