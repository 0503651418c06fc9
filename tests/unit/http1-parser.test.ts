import { describe, expect, test } from "bun:test";
import { buildRequestHead, ChunkedDecoder, findHeadEnd, Http1ParseError, parseResponseHead, startsLikeStatusLine } from "../../src/gateway/http1-parser.ts";
import type { BodySink } from "../../src/gateway/http1-parser.ts";

function head(text: string) {
  const buf = Buffer.from(text, "latin1");
  const end = findHeadEnd(buf, 0);
  if (end < 0) throw new Error("test head has no end");
  return parseResponseHead(buf, 0, end);
}

function status(lines: string[]): string {
  return `${lines.join("\r\n")}\r\n\r\n`;
}

describe("parseResponseHead", () => {
  test("status, reason, headers in order, framing facts", () => {
    const h = head(status(["HTTP/1.1 200 OK", "Content-Type: application/json", "Content-Length: 37", "X-Empty:", "X-Pad: \t spaced \t "]));
    expect(h.status).toBe(200);
    expect(h.statusText).toBe("OK");
    expect(h.http11).toBe(true);
    expect(h.contentLength).toBe(37);
    expect(h.chunked).toBe(false);
    expect(h.connectionClose).toBe(false);
    expect(h.headers).toEqual([
      ["Content-Type", "application/json"],
      ["Content-Length", "37"],
      ["X-Empty", ""],
      ["X-Pad", "spaced"],
    ]);
  });

  test("reason phrase may be missing or contain spaces; HTTP/1.0 is recognised", () => {
    expect(head(status(["HTTP/1.1 404"])).statusText).toBe("");
    expect(head(status(["HTTP/1.1 404 "])).statusText).toBe("");
    expect(head(status(["HTTP/1.1 503 Service Temporarily Unavailable"])).statusText).toBe("Service Temporarily Unavailable");
    const old = head(status(["HTTP/1.0 200 OK"]));
    expect(old.http11).toBe(false);
    expect(old.contentLength).toBe(-1);
  });

  test("repeated Set-Cookie fields stay separate", () => {
    const h = head(status(["HTTP/1.1 200 OK", "Set-Cookie: a=1; Path=/", "Set-Cookie: b=2, c=3", "Content-Length: 0"]));
    expect(h.headers.filter(([n]) => n === "Set-Cookie").map(([, v]) => v)).toEqual(["a=1; Path=/", "b=2, c=3"]);
  });

  test("obs-text (latin1 bytes) survives byte for byte", () => {
    const h = head(status(["HTTP/1.1 200 OK", "X-Name: caf\xe9"]));
    expect(h.headers[0]).toEqual(["X-Name", "caf\xe9"]);
  });

  test("chunked and Connection: close are recognised case-insensitively", () => {
    const h = head(status(["HTTP/1.1 200 OK", "transfer-encoding: Chunked", "CONNECTION: keep-alive, Close"]));
    expect(h.chunked).toBe(true);
    expect(h.connectionClose).toBe(true);
    expect(head(status(["HTTP/1.1 200 OK", "Connection: keep-alive"])).connectionClose).toBe(false);
  });

  test("identical repeated Content-Length is tolerated", () => {
    expect(head(status(["HTTP/1.1 200 OK", "Content-Length: 5", "content-length: 5"])).contentLength).toBe(5);
  });

  const invalid: [string, string][] = [
    ["garbage", "hello there\r\n\r\n"],
    ["HTTP/2 status line", status(["HTTP/2 200 OK"])],
    ["HTTP/1.2", status(["HTTP/1.2 200 OK"])],
    ["short status", status(["HTTP/1.1 20 OK"])],
    ["non-digit status", status(["HTTP/1.1 2x0 OK"])],
    ["no space after status", status(["HTTP/1.1 200OK"])],
    ["bare LF in reason", status(["HTTP/1.1 200 O\nK"])],
    ["Content-Length and Transfer-Encoding", status(["HTTP/1.1 200 OK", "Content-Length: 5", "Transfer-Encoding: chunked"])],
    ["conflicting Content-Length", status(["HTTP/1.1 200 OK", "Content-Length: 5", "Content-Length: 6"])],
    ["Content-Length list", status(["HTTP/1.1 200 OK", "Content-Length: 5, 5"])],
    ["signed Content-Length", status(["HTTP/1.1 200 OK", "Content-Length: +5"])],
    ["hex Content-Length", status(["HTTP/1.1 200 OK", "Content-Length: 0x5"])],
    ["empty Content-Length", status(["HTTP/1.1 200 OK", "Content-Length:"])],
    ["huge Content-Length", status(["HTTP/1.1 200 OK", "Content-Length: 99999999999999999999"])],
    ["gzip transfer coding", status(["HTTP/1.1 200 OK", "Transfer-Encoding: gzip, chunked"])],
    ["chunked twice", status(["HTTP/1.1 200 OK", "Transfer-Encoding: chunked", "Transfer-Encoding: chunked"])],
    ["folded line", status(["HTTP/1.1 200 OK", "X-A: 1", " continued"])],
    ["line without colon", status(["HTTP/1.1 200 OK", "X-A 1"])],
    ["empty name", status(["HTTP/1.1 200 OK", ": 1"])],
  ];
  for (const [name, text] of invalid) {
    test(`rejects ${name}`, () => {
      expect(() => head(text)).toThrow(Http1ParseError);
    });
  }
});

describe("head boundaries", () => {
  test("findHeadEnd finds the blank line from an offset", () => {
    const buf = Buffer.from("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\nbody", "latin1");
    const first = findHeadEnd(buf, 0);
    expect(first).toBe(21);
    expect(findHeadEnd(buf, first + 4)).toBe(buf.indexOf("\r\n\r\nbody"));
    expect(findHeadEnd(Buffer.from("HTTP/1.1 200 OK\r\n"), 0)).toBe(-1);
  });

  test("startsLikeStatusLine judges partial prefixes", () => {
    expect(startsLikeStatusLine(Buffer.from("HT"), 0)).toBe(true);
    expect(startsLikeStatusLine(Buffer.from("HTTP/1.1 200"), 0)).toBe(true);
    expect(startsLikeStatusLine(Buffer.from("xxHTTP/"), 2)).toBe(true);
    expect(startsLikeStatusLine(Buffer.from("<html>"), 0)).toBe(false);
    expect(startsLikeStatusLine(Buffer.from("http/1.1 200"), 0)).toBe(false);
  });
});

class Collect implements BodySink {
  readonly parts: Uint8Array[] = [];
  deliver(chunk: Uint8Array): void {
    this.parts.push(chunk);
  }
  text(): string {
    return Buffer.concat(this.parts).toString("latin1");
  }
}

/** Feeds `wire` in pieces of `step` bytes; returns the decoded text and the end offset in the whole input (or -1). */
function decode(wire: string, step = wire.length, maxTrailer = 1024): { text: string; end: number } {
  const decoder = new ChunkedDecoder(maxTrailer);
  const sink = new Collect();
  const bytes = Buffer.from(wire, "latin1");
  for (let offset = 0; offset < bytes.length; offset += step) {
    const piece = bytes.subarray(offset, Math.min(offset + step, bytes.length));
    const end = decoder.push(piece, 0, sink);
    if (end >= 0) return { text: sink.text(), end: offset + end };
  }
  return { text: sink.text(), end: -1 };
}

describe("ChunkedDecoder", () => {
  const wire = "5\r\nhello\r\n1;name=value\r\n \r\nA\r\n0123456789\r\n0\r\n\r\n";

  test("decodes sizes (with extensions, upper-case hex) and reports where the body ends", () => {
    const { text, end } = decode(`${wire}EXTRA`);
    expect(text).toBe("hello 0123456789");
    expect(end).toBe(wire.length);
  });

  test("gives the same bytes whatever the packet boundaries", () => {
    for (const step of [1, 2, 3, 7, 11]) expect(decode(wire, step)).toEqual({ text: "hello 0123456789", end: wire.length });
  });

  test("reads and drops trailers", () => {
    const withTrailers = "3\r\nabc\r\n0\r\nX-Checksum: 1\r\nX-Other: 2\r\n\r\n";
    expect(decode(withTrailers, 4)).toEqual({ text: "abc", end: withTrailers.length });
  });

  test("chunk data arrives as subarrays of the input (no copy)", () => {
    const decoder = new ChunkedDecoder(1024);
    const sink = new Collect();
    const input = Buffer.from("4\r\nabcd\r\n0\r\n\r\n", "latin1");
    decoder.push(input, 0, sink);
    expect(sink.parts).toHaveLength(1);
    expect(sink.parts[0]!.buffer).toBe(input.buffer);
  });

  test("needs more input until the final CRLF", () => {
    expect(decode("3\r\nabc\r\n0\r\n").end).toBe(-1);
    expect(decode("3\r\nabc\r\n0\r\n\r").end).toBe(-1);
  });

  const invalid: [string, string][] = [
    ["non-hex size", "g\r\nx\r\n0\r\n\r\n"],
    ["empty size", "\r\nx\r\n0\r\n\r\n"],
    ["negative size", "-1\r\nx\r\n0\r\n\r\n"],
    ["too many size digits", "10000000000000\r\n"],
    ["data longer than its size", "2\r\nabc\r\n0\r\n\r\n"],
    ["LF without CR after data", "2\r\nab\n0\r\n\r\n"],
    ["bare LF after size", "2\nab\r\n0\r\n\r\n"],
    ["bare LF in extension", "2;a\nb\r\nab\r\n0\r\n\r\n"],
    ["bare LF in trailer", "0\r\nX: 1\nY: 2\r\n\r\n"],
    ["CR without LF ending the body", "0\r\n\rX"],
    ["CR without LF ending a trailer", "0\r\nX: 1\rY"],
  ];
  for (const [name, text] of invalid) {
    test(`rejects ${name}`, () => {
      expect(() => decode(text)).toThrow(Http1ParseError);
      expect(() => decode(text, 1)).toThrow(Http1ParseError);
    });
  }

  test("bounds chunk extensions and trailers", () => {
    expect(() => decode(`1;${"x".repeat(5000)}\r\na\r\n0\r\n\r\n`)).toThrow(Http1ParseError);
    expect(() => decode(`0\r\nX: ${"y".repeat(200)}\r\n\r\n`, 16, 100)).toThrow(Http1ParseError);
  });
});

describe("buildRequestHead", () => {
  test("one head: request line, headers as given, framing added, caller's framing dropped", () => {
    const headers = new Headers({ host: "127.0.0.1:8188", "x-a": "1", "content-length": "999", "transfer-encoding": "gzip" });
    const head = buildRequestHead("POST", "/prompt?x=1", headers, 12, false, "unused:1");
    expect(head).toBe("POST /prompt?x=1 HTTP/1.1\r\nhost: 127.0.0.1:8188\r\nx-a: 1\r\ncontent-length: 12\r\n\r\n");
  });

  test("chunked framing, and host added only when missing", () => {
    expect(buildRequestHead("PUT", "/u", new Headers(), null, true, "h:1")).toBe("PUT /u HTTP/1.1\r\nhost: h:1\r\ntransfer-encoding: chunked\r\n\r\n");
    expect(buildRequestHead("GET", "/", new Headers(), null, false, "h:1")).toBe("GET / HTTP/1.1\r\nhost: h:1\r\n\r\n");
  });

  test("non-ASCII header values are sent as latin1 bytes, not UTF-8", () => {
    const head = buildRequestHead("GET", "/", new Headers({ host: "h", "x-name": "caf\xe9" }), null, false, "h");
    expect(Buffer.isBuffer(head)).toBe(true);
    expect([...(head as Buffer)].includes(0xe9)).toBe(true);
    expect((head as Buffer).toString("latin1")).toContain("x-name: caf\xe9\r\n");
  });

  test("refuses methods and targets that could split the request", () => {
    const h = new Headers();
    for (const method of ["", "GET /x", "GE\rT", "G:T"]) expect(() => buildRequestHead(method, "/", h, null, false, "h")).toThrow(TypeError);
    for (const target of ["", "/a b", "/a\r\nX: y", "/\u00e9", "/a\tb"]) expect(() => buildRequestHead("GET", target, h, null, false, "h")).toThrow(TypeError);
  });
});
