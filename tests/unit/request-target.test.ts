/**
 * Request-target canonicalisation: the rules of src/gateway/request-target.ts, security
 * checklist 5.1 (peers-and-security.md), the userdata encoding rules of ComfyUI (spec §3.7,
 * fixtures su-140..su-175, mu-065/066) and the URL handling of Bun itself, measured live.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import type { Server } from "bun";
import {
  MAX_TARGET_LENGTH,
  canonicaliseBunRequestUrl,
  canonicaliseTarget,
  encodePathSegment,
  requestTargetFromBunUrl,
} from "../../src/gateway/request-target.ts";
import type { RequestTarget, TargetErrorCode, TargetResult } from "../../src/gateway/request-target.ts";

function accepted(raw: string): RequestTarget {
  const result = canonicaliseTarget(raw);
  if (!result.ok) throw new Error(`expected ${raw} to be accepted, got ${result.code}: ${result.error}`);
  return result.target;
}

function rejectionCode(result: TargetResult): TargetErrorCode | "accepted" {
  return result.ok ? "accepted" : result.code;
}

describe("accepted targets: decoded once, re-encoded deterministically", () => {
  // [raw target, path, forwardPath, segments, search]
  const cases: [string, string, string, string[], string][] = [
    ["/", "/", "/", [], ""],
    ["/api/prompt", "/api/prompt", "/api/prompt", ["api", "prompt"], ""],
    ["/prompt", "/prompt", "/prompt", ["prompt"], ""],
    ["/api/%70rompt", "/api/prompt", "/api/prompt", ["api", "prompt"], ""],
    ["/%61pi/%70%72%6F%6D%70%74", "/api/prompt", "/api/prompt", ["api", "prompt"], ""],
    ["/api/history?max_items=64", "/api/history", "/api/history", ["api", "history"], "?max_items=64"],
    ["/api/view?filename=a.png&type=output&subfolder=", "/api/view", "/api/view", ["api", "view"], "?filename=a.png&type=output&subfolder="],
    // The query is forwarded exactly as received, encoding included.
    ["/api/view?filename=up.png%20%5Binput%5D&preview=webp%3B90", "/api/view", "/api/view", ["api", "view"], "?filename=up.png%20%5Binput%5D&preview=webp%3B90"],
    ["/api/userdata?dir=subgraphs%2F&recurse=true", "/api/userdata", "/api/userdata", ["api", "userdata"], "?dir=subgraphs%2F&recurse=true"],
    ["/A/B?", "/A/B", "/A/B", ["A", "B"], "?"],
    ["/api/settings/Comfy.NodeBadge.ShowApiPricing", "/api/settings/Comfy.NodeBadge.ShowApiPricing", "/api/settings/Comfy.NodeBadge.ShowApiPricing", ["api", "settings", "Comfy.NodeBadge.ShowApiPricing"], ""],
    // Case is kept: routes are case-sensitive upstream (checklist 5.1 item 4).
    ["/API/PROMPT", "/API/PROMPT", "/API/PROMPT", ["API", "PROMPT"], ""],
    // A single trailing slash is part of the path's identity (item 8).
    ["/api/prompt/", "/api/prompt/", "/api/prompt/", ["api", "prompt"], ""],
    // Encoded characters that are not structure stay literal characters of their segment.
    ["/api/prompt%3F.js", "/api/prompt%3F.js", "/api/prompt%3F.js", ["api", "prompt?.js"], ""],
    ["/api/prompt%23", "/api/prompt%23", "/api/prompt%23", ["api", "prompt#"], ""],
    ["/api/prompt%3Bx=1", "/api/prompt%3Bx=1", "/api/prompt%3Bx=1", ["api", "prompt;x=1"], ""],
    // Decoded once only: %252e%252e is the literal text "%2e%2e", not a dot segment.
    ["/api/%252e%252e/prompt", "/api/%252e%252e/prompt", "/api/%252e%252e/prompt", ["api", "%2e%2e", "prompt"], ""],
    ["/a/.../b", "/a/.../b", "/a/.../b", ["a", "...", "b"], ""],
    // Sub-delims, ':' and '@' stay literal; other characters are percent-encoded, hex upper-case.
    ["/x/a:b@c!$&'()*+,=", "/x/a:b@c!$&'()*+,=", "/x/a:b@c!$&'()*+,=", ["x", "a:b@c!$&'()*+,="], ""],
    ["/x/a|b[c]", "/x/a%7Cb%5Bc%5D", "/x/a%7Cb%5Bc%5D", ["x", "a|b[c]"], ""],
    ["/x/a%7cb", "/x/a%7Cb", "/x/a%7Cb", ["x", "a|b"], ""],
    ["/x/a%20b", "/x/a%20b", "/x/a%20b", ["x", "a b"], ""],
    ["/x/caf%c3%a9", "/x/caf%C3%A9", "/x/caf%C3%A9", ["x", "café"], ""],
    ["/x/%F0%9F%98%80", "/x/%F0%9F%98%80", "/x/%F0%9F%98%80", ["x", "😀"], ""],
    ["/x/%EF%BB%BFbom", "/x/%EF%BB%BFbom", "/x/%EF%BB%BFbom", ["x", "\uFEFFbom"], ""],
    ["/x/100%25", "/x/100%25", "/x/100%25", ["x", "100%"], ""],
    ["/x/a%7Eb%2D", "/x/a~b-", "/x/a~b-", ["x", "a~b-"], ""],
    // A backslash and NUL are fine inside the query (they are the /view policy's business),
    // only raw controls and %00 are refused there.
    ["/api/view?filename=a\\b", "/api/view", "/api/view", ["api", "view"], "?filename=a\\b"],
  ];
  test.each(cases)("%s", (raw, path, forwardPath, segments, search) => {
    const target = accepted(raw);
    expect(target.path).toBe(path);
    expect(target.forwardPath).toBe(forwardPath);
    expect(target.segments).toEqual(segments);
    expect(target.search).toBe(search);
    expect(target.rawPath).toBe(raw.split("?")[0] ?? "");
    expect(target.userdata).toBeNull();
  });

  test("trailing slash is flagged and kept, '/' itself is not a trailing slash", () => {
    expect(accepted("/api/prompt/").trailingSlash).toBe(true);
    expect(accepted("/api/prompt").trailingSlash).toBe(false);
    expect(accepted("/").trailingSlash).toBe(false);
  });
});

describe("rejected targets: 400 with a stable code", () => {
  const cases: [string, TargetErrorCode][] = [
    ["", "BAD_TARGET_FORM"],
    ["*", "BAD_TARGET_FORM"],
    ["api/prompt", "BAD_TARGET_FORM"],
    ["http://evil/api/prompt", "BAD_TARGET_FORM"],
    // Fragments never belong in a request (checklist 5.1 item 8).
    ["/api/prompt#x", "BAD_PATH_FRAGMENT"],
    ["/view?filename=a.png#/../x", "BAD_PATH_FRAGMENT"],
    // Double slashes / empty segments (item 2).
    ["//prompt", "BAD_PATH_DOUBLE_SLASH"],
    ["//api/prompt", "BAD_PATH_DOUBLE_SLASH"],
    ["/api//prompt", "BAD_PATH_DOUBLE_SLASH"],
    ["/api/prompt//", "BAD_PATH_DOUBLE_SLASH"],
    ["//", "BAD_PATH_DOUBLE_SLASH"],
    // Dot segments, raw or encoded in any case (item 5, item 3).
    ["/api/../x", "BAD_PATH_DOT_SEGMENT"],
    ["/api/./prompt", "BAD_PATH_DOT_SEGMENT"],
    ["/extensions/../api/prompt", "BAD_PATH_DOT_SEGMENT"],
    ["/api/%2e%2e/x", "BAD_PATH_DOT_SEGMENT"],
    ["/api/%2E%2e/x", "BAD_PATH_DOT_SEGMENT"],
    ["/api/.%2E/x", "BAD_PATH_DOT_SEGMENT"],
    ["/api/%2e/prompt", "BAD_PATH_DOT_SEGMENT"],
    ["/api/prompt/..", "BAD_PATH_DOT_SEGMENT"],
    // Encoded slashes outside the userdata parameters (item 3).
    ["/api/history%2Fx", "BAD_PATH_ENCODED_SLASH"],
    ["/api%2Fprompt", "BAD_PATH_ENCODED_SLASH"],
    ["/api/userdata/..%2f..%2fusers.json/x", "BAD_PATH_ENCODED_SLASH"],
    ["/api/view_metadata/..%2F..%2Fetc", "BAD_PATH_ENCODED_SLASH"],
    ["/api/history/a%2fb", "BAD_PATH_ENCODED_SLASH"],
    ["/api/api/userdata/workflows%2Fa.json", "BAD_PATH_ENCODED_SLASH"],
    ["/api/userdata/workflows%2Fa.json/", "BAD_PATH_ENCODED_SLASH"],
    ["/api/userdata/a%2Fb/move", "BAD_PATH_ENCODED_SLASH"],
    // Backslashes, raw or encoded (item 6).
    ["/api\\prompt", "BAD_PATH_BACKSLASH"],
    ["/api/%5Cprompt", "BAD_PATH_BACKSLASH"],
    ["/api/x%5c..%5cprompt", "BAD_PATH_BACKSLASH"],
    ["/extensions/x/..\\..\\a.js", "BAD_PATH_BACKSLASH"],
    // NUL and control characters, raw or encoded.
    ["/api/%00", "BAD_PATH_NUL"],
    ["/api/prompt%00.js", "BAD_PATH_NUL"],
    ["/a/..%00", "BAD_PATH_NUL"],
    ["/api/\u0000", "BAD_PATH_NUL"],
    ["/api/%0a", "BAD_PATH_CONTROL"],
    ["/api/%0D%0AX-Injected:1", "BAD_PATH_CONTROL"],
    ["/api/%7F", "BAD_PATH_CONTROL"],
    ["/api/%C2%85", "BAD_PATH_CONTROL"],
    ["/api/\t", "BAD_PATH_CONTROL"],
    // Invalid encodings: malformed escapes, overlong UTF-8 (%c0%ae is an overlong '.'),
    // surrogates, bytes that are not UTF-8 (item 3).
    ["/api/%c0%ae%c0%ae/x", "BAD_PATH_ENCODING"],
    ["/api/%C0%AF", "BAD_PATH_ENCODING"],
    ["/api/%e0%80%ae", "BAD_PATH_ENCODING"],
    ["/api/%ed%a0%80", "BAD_PATH_ENCODING"],
    ["/api/%ff", "BAD_PATH_ENCODING"],
    ["/api/%e9t%e9", "BAD_PATH_ENCODING"],
    ["/api/%zz", "BAD_PATH_ENCODING"],
    ["/api/%", "BAD_PATH_ENCODING"],
    ["/api/%4", "BAD_PATH_ENCODING"],
    ["/api/prompt%", "BAD_PATH_ENCODING"],
    // Path parameters: ';' is refused, so `..;/` and `prompt;.js` tricks cannot work (items 7, 8).
    ["/api/prompt;.js", "BAD_PATH_SEMICOLON"],
    ["/api/prompt;x=1", "BAD_PATH_SEMICOLON"],
    ["/a/..;/api/prompt", "BAD_PATH_SEMICOLON"],
    ["/assets/x.js;jsessionid=1", "BAD_PATH_SEMICOLON"],
    // Raw characters that must be encoded.
    ["/api/a b", "BAD_PATH_CHARACTER"],
    ["/api/café", "BAD_PATH_CHARACTER"],
    // The query: no NUL, no raw controls, spaces or non-ASCII.
    ["/api/view?filename=a%00.png", "BAD_QUERY_NUL"],
    ["/api/view?filename=a\u0000.png", "BAD_QUERY_NUL"],
    ["/api/view?filename=a\r\nX: 1", "BAD_QUERY_CHARACTER"],
    ["/api/view?filename=a b", "BAD_QUERY_CHARACTER"],
    ["/api/view?filename=é", "BAD_QUERY_CHARACTER"],
    ["/api/view?filename=\u007f", "BAD_QUERY_CHARACTER"],
  ];
  test.each(cases)("%j -> %s", (raw, code) => {
    const result = canonicaliseTarget(raw);
    expect(rejectionCode(result)).toBe(code);
    if (!result.ok) {
      expect(result.status).toBe(400);
      expect(result.error.length).toBeGreaterThan(0);
    }
  });

  test("length limit: MAX_TARGET_LENGTH characters pass, one more is refused", () => {
    expect(canonicaliseTarget("/" + "a".repeat(MAX_TARGET_LENGTH - 1)).ok).toBe(true);
    expect(rejectionCode(canonicaliseTarget("/" + "a".repeat(MAX_TARGET_LENGTH)))).toBe("BAD_TARGET_TOO_LONG");
  });
});

describe("userdata {file} and {dest}: the one place %2F is legitimate (spec §3.7)", () => {
  // [method, target as recorded or sent, forwardPath, file, dest]. Targets from the fixtures
  // keep their recording id; the upstream answered them as noted.
  const acceptedCases: [string, string, string, string | null][] = [
    ["/api/userdata/workflows%2Fx.json", "/api/userdata/workflows%2Fx.json", "workflows/x.json", null], // su-144, su-159
    ["/api/userdata/workflows%2Fx.json?overwrite=false", "/api/userdata/workflows%2Fx.json", "workflows/x.json", null], // su-145
    ["/api/userdata/workflows%2Fsub%2Fy.json?overwrite=false&full_info=true", "/api/userdata/workflows%2Fsub%2Fy.json", "workflows/sub/y.json", null], // su-147
    // aiohttp decodes once, the handler unquotes again: su-148 stored "workflows/dbl.json".
    ["/api/userdata/workflows%252Fdbl.json", "/api/userdata/workflows%252Fdbl.json", "workflows/dbl.json", null], // su-148
    ["/api/userdata/workflows%252Fx.json", "/api/userdata/workflows%252Fx.json", "workflows/x.json", null], // su-160 (200, the x.json content)
    ["/api/userdata/workflows%2Fnope.json", "/api/userdata/workflows%2Fnope.json", "workflows/nope.json", null], // su-162 (404)
    ["/api/userdata/comfy.settings.json", "/api/userdata/comfy.settings.json", "comfy.settings.json", null], // su-167
    ["/api/userdata/user.css", "/api/userdata/user.css", "user.css", null], // front end 1.27.10 boot
    ["/userdata/workflows%2Fa.json", "/userdata/workflows%2Fa.json", "workflows/a.json", null],
    ["/api/userdata/workflows%2Fx.json/move/workflows%2Fz.json", "/api/userdata/workflows%2Fx.json/move/workflows%2Fz.json", "workflows/x.json", "workflows/z.json"], // su-168
    ["/api/userdata/workflows%2Fz.json/move/workflows%2Fsub%2Fy.json?overwrite=false", "/api/userdata/workflows%2Fz.json/move/workflows%2Fsub%2Fy.json", "workflows/z.json", "workflows/sub/y.json"], // su-169
    ["/api/userdata/workflows%2Fz.json/move/workflows%2Fz2.json?full_info=true", "/api/userdata/workflows%2Fz.json/move/workflows%2Fz2.json", "workflows/z.json", "workflows/z2.json"], // su-170
    ["/api/userdata/workflows%2Fnope.json/move/workflows%2Fq.json", "/api/userdata/workflows%2Fnope.json/move/workflows%2Fq.json", "workflows/nope.json", "workflows/q.json"], // su-171
    ["/userdata/a.json/move/b.json", "/userdata/a.json/move/b.json", "a.json", "b.json"],
    // Byte-exact forwarding: lower-case hex and needless escapes reach upstream as sent.
    ["/api/userdata/workflows%2fa.json", "/api/userdata/workflows%2fa.json", "workflows/a.json", null],
    ["/api/userdata/%77orkflows%2Fa.json", "/api/userdata/%77orkflows%2Fa.json", "workflows/a.json", null],
    // The literal segments around the parameters are canonicalised as usual.
    ["/api/%75serdata/workflows%2Fa.json", "/api/userdata/workflows%2Fa.json", "workflows/a.json", null],
    // A file named "move" is still a file.
    ["/api/userdata/move/move/x.json", "/api/userdata/move/move/x.json", "move", "x.json"],
    // A third level of encoding is one literal '%' name, exactly as ComfyUI stores it.
    ["/api/userdata/workflows%25252Fa.json", "/api/userdata/workflows%25252Fa.json", "workflows%2Fa.json", null],
    // Malformed escapes left after the first decoding stay literal (Python unquote).
    ["/api/userdata/100%25.json", "/api/userdata/100%25.json", "100%.json", null],
    ["/api/userdata/a%25zz.json", "/api/userdata/a%25zz.json", "a%zz.json", null],
    ["/api/userdata/caf%C3%A9.json", "/api/userdata/caf%C3%A9.json", "café.json", null],
    ["/api/userdata/caf%25C3%25A9.json", "/api/userdata/caf%25C3%25A9.json", "café.json", null],
    ["/api/userdata/a..b.json", "/api/userdata/a..b.json", "a..b.json", null],
    ["/api/userdata/..a.json", "/api/userdata/..a.json", "..a.json", null],
    // Characters a later hop might re-encode are forwarded in their canonical form instead.
    ["/api/userdata/a|b.json", "/api/userdata/a%7Cb.json", "a|b.json", null],
  ];
  test.each(acceptedCases)("%s", (raw, forwardPath, file, dest) => {
    const target = accepted(raw);
    expect(target.forwardPath).toBe(forwardPath);
    expect(target.userdata).toEqual({ file, dest });
    expect(target.search).toBe(raw.includes("?") ? raw.slice(raw.indexOf("?")) : "");
  });

  test("segments hold the once-decoded parameter, path its canonical spelling", () => {
    const target = accepted("/api/userdata/workflows%252Fdbl.json");
    expect(target.segments).toEqual(["api", "userdata", "workflows%2Fdbl.json"]);
    expect(target.path).toBe("/api/userdata/workflows%252Fdbl.json");
    const lower = accepted("/api/userdata/workflows%2fa.json");
    expect(lower.segments).toEqual(["api", "userdata", "workflows/a.json"]);
    expect(lower.path).toBe("/api/userdata/workflows%2Fa.json");
  });

  const rejectedCases: [string, TargetErrorCode][] = [
    ["/api/userdata/..%2Fusers.json", "BAD_USERDATA_PATH_TRAVERSAL"], // su-163 (upstream 403)
    ["/api/userdata/..%2F..%2Fmain.py", "BAD_USERDATA_PATH_TRAVERSAL"], // su-164 (403)
    ["/api/userdata/..%252F..%252Fmain.py", "BAD_USERDATA_PATH_TRAVERSAL"], // su-165 (403)
    ["/api/userdata/..%2Fevil.json", "BAD_USERDATA_PATH_TRAVERSAL"], // su-166 POST (403)
    ["/api/userdata/workflows%2Fz2.json/move/..%2Fz3.json", "BAD_USERDATA_PATH_TRAVERSAL"], // su-172 (500)
    ["/api/userdata/..%2FAlice-Smith_227a1e95-e446-4b18-b929-b7fab24b73c6%2Fworkflows%2Fa.json", "BAD_USERDATA_PATH_TRAVERSAL"], // mu-065 (403)
    ["/api/userdata/..%2f..%2fusers.json", "BAD_USERDATA_PATH_TRAVERSAL"],
    ["/api/userdata/%2e%2e%2Fusers.json", "BAD_USERDATA_PATH_TRAVERSAL"],
    ["/api/userdata/%252e%252e%252Fusers.json", "BAD_USERDATA_PATH_TRAVERSAL"],
    ["/api/userdata/workflows%2F..%2F..%2Fx", "BAD_USERDATA_PATH_TRAVERSAL"],
    ["/api/userdata/workflows%2F..", "BAD_USERDATA_PATH_TRAVERSAL"],
    ["/userdata/a.json/move/..%252Fb.json", "BAD_USERDATA_PATH_TRAVERSAL"],
    ["/api/userdata/%2Fetc%2Fpasswd", "BAD_USERDATA_PATH_ABSOLUTE"],
    ["/api/userdata/%252Fetc%252Fpasswd", "BAD_USERDATA_PATH_ABSOLUTE"],
    ["/api/userdata/C:x.json", "BAD_USERDATA_PATH_ABSOLUTE"],
    ["/api/userdata/c%3A%2Fx.json", "BAD_USERDATA_PATH_ABSOLUTE"],
    ["/api/userdata/a.json/move/%2Ftmp%2Fx", "BAD_USERDATA_PATH_ABSOLUTE"],
    ["/api/userdata/C:%5Cx.json", "BAD_PATH_BACKSLASH"],
    ["/api/userdata/%255C%255Chost%255Cshare", "BAD_PATH_BACKSLASH"],
    ["/api/userdata/..%5Cusers.json", "BAD_PATH_BACKSLASH"],
    ["/api/userdata/a%00.json", "BAD_PATH_NUL"],
    ["/api/userdata/a%2500.json", "BAD_PATH_NUL"],
    ["/api/userdata/a%250a.json", "BAD_PATH_CONTROL"],
    ["/api/userdata/a%25C0%25AE.json", "BAD_PATH_ENCODING"],
    ["/api/userdata/workflows%2F%2Fa.json", "BAD_USERDATA_PATH_NONCANONICAL"],
    ["/api/userdata/workflows%2F.%2Fa.json", "BAD_USERDATA_PATH_NONCANONICAL"],
    ["/api/userdata/workflows%2F", "BAD_USERDATA_PATH_NONCANONICAL"],
    ["/api/userdata/%2F", "BAD_USERDATA_PATH_ABSOLUTE"],
    // Whole-segment dot segments are dot segments wherever they are.
    ["/api/userdata/%2e%2e", "BAD_PATH_DOT_SEGMENT"],
    ["/api/userdata/a.json/move/%2E", "BAD_PATH_DOT_SEGMENT"],
  ];
  test.each(rejectedCases)("%s -> %s", (raw, code) => {
    expect(rejectionCode(canonicaliseTarget(raw))).toBe(code);
  });

  test("an unencoded '/' is not a userdata parameter (su-161: upstream 404)", () => {
    const target = accepted("/api/userdata/workflows/x.json");
    expect(target.userdata).toBeNull();
    expect(target.segments).toEqual(["api", "userdata", "workflows", "x.json"]);
  });

  test("listing routes have no parameter, their query is not a path", () => {
    expect(accepted("/api/userdata?dir=..").userdata).toBeNull(); // su-142: the policy checks ?dir
    expect(accepted("/api/v2/userdata?path=workflows%2Fx.json").userdata).toBeNull(); // su-158
  });
});

describe("encodePathSegment", () => {
  test("leaves every ordinary ComfyUI segment untouched", () => {
    for (const segment of [
      "api", "prompt", "object_info", "view_metadata", "Comfy.Extension.Disabled", "system_stats",
      "index-BdX1y2Zq.js", "materialdesignicons.min.css", "ComfyUI-Impact-Pack", "blake3:abc",
      "0b7c1b9e-7e0b-4f35-9d0e-6f1b0c6d2a11", "a~b", "x@y",
    ]) {
      expect(encodePathSegment(segment)).toBe(segment);
    }
  });

  test("encodes structure and non-ASCII, upper-case hex", () => {
    expect(encodePathSegment("a/b")).toBe("a%2Fb");
    expect(encodePathSegment("a%b")).toBe("a%25b");
    expect(encodePathSegment("a;b?c#d")).toBe("a%3Bb%3Fc%23d");
    expect(encodePathSegment("a b\\c")).toBe("a%20b%5Cc");
    expect(encodePathSegment("é😀")).toBe("%C3%A9%F0%9F%98%80");
  });

  test("decoding the encoding gives the segment back (seeded sample)", () => {
    const alphabet = ["a", "Z", "0", "-", ".", "_", "~", "!", "$", "&", "'", "(", ")", "*", "+", ",", "=", ":", "@",
      " ", "/", "%", ";", "?", "#", "[", "]", "|", "\\", '"', "é", "ß", "中", "😀", "\uFEFF"];
    let seed = 12345;
    const next = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let i = 0; i < 2000; i++) {
      let segment = "";
      const length = 1 + next(12);
      for (let j = 0; j < length; j++) segment += alphabet[next(alphabet.length)];
      expect(decodeURIComponent(encodePathSegment(segment))).toBe(segment);
    }
  });
});

describe("requestTargetFromBunUrl", () => {
  const cases: [string, string | null][] = [
    ["http://127.0.0.1:8188/api/prompt?x=1", "/api/prompt?x=1"],
    ["https://gw.example/", "/"],
    ["http://[::1]:8080/ws?clientId=a", "/ws?clientId=a"],
    ["http://gw.example//prompt", "//prompt"],
    // Bun hands over the bare path when the Host header is unusable (measured below).
    ["/api/prompt", "/api/prompt"],
    ["/foo//api/prompt", "/foo//api/prompt"],
    ["http://gw.example", null],
    ["ftp://gw.example/x", null],
    ["http://u@gw.example/x", null],
    ["http://a?b/x", null],
    ["api/prompt", null],
    ["", null],
  ];
  test.each(cases)("%s", (url, expected) => {
    expect(requestTargetFromBunUrl(url)).toBe(expected);
  });

  test("canonicaliseBunRequestUrl rejects an unusable URL", () => {
    expect(rejectionCode(canonicaliseBunRequestUrl("ftp://x/y"))).toBe("BAD_TARGET_FORM");
    expect(rejectionCode(canonicaliseBunRequestUrl("http://h/api/%70rompt"))).toBe("accepted");
  });
});

/**
 * The facts this module builds on, measured against the Bun in node_modules: raw requests
 * over a socket, so nothing on the client side normalises the request line.
 */
describe("end to end through Bun.serve (raw request lines)", () => {
  let server: Server<undefined>;
  beforeAll(() => {
    server = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch(request) {
        const result = canonicaliseBunRequestUrl(request.url);
        return Response.json(result.ok ? { url: request.url, forward: result.target.forwardPath + result.target.search } : { url: request.url, code: result.code });
      },
    });
  });
  afterAll(() => {
    server.stop(true);
  });

  async function send(requestLine: string, host: string | null = "gw.example"): Promise<{ status: number; body: Record<string, string> }> {
    const raw = `${requestLine}\r\n${host === null ? "" : `Host: ${host}\r\n`}Connection: close\r\n\r\n`;
    const text = await new Promise<string>((resolve, reject) => {
      // Each character is one byte on the wire (latin1), so raw UTF-8 bytes can be written.
      const socket = connect(server.port ?? 0, "127.0.0.1", () => socket.write(Buffer.from(raw, "latin1")));
      let received = "";
      socket.setEncoding("latin1");
      socket.on("data", (chunk: string) => (received += chunk));
      socket.on("end", () => resolve(received));
      socket.on("error", reject);
    });
    const status = Number(text.slice(9, 12));
    const bodyStart = text.indexOf("\r\n\r\n");
    const body = status === 200 ? (JSON.parse(text.slice(bodyStart + 4)) as Record<string, string>) : {};
    return { status, body };
  }

  // [request line, forwarded target or rejection code]
  const cases: [string, string][] = [
    ["GET /api/%70rompt HTTP/1.1", "/api/prompt"],
    ["GET /API/PROMPT HTTP/1.1", "/API/PROMPT"],
    ["GET //prompt HTTP/1.1", "BAD_PATH_DOUBLE_SLASH"],
    ["GET /api//prompt HTTP/1.1", "BAD_PATH_DOUBLE_SLASH"],
    // Bun resolves raw and whole-segment encoded dot segments before we see them, so the
    // forwarded path is the resolved one: what is authorised is what is forwarded.
    ["GET /api/../x HTTP/1.1", "/x"],
    ["GET /extensions/../api/prompt HTTP/1.1", "/api/prompt"],
    ["GET /api/./prompt HTTP/1.1", "/api/prompt"],
    ["GET /api/%2e%2e/x HTTP/1.1", "/x"],
    ["GET /api/.%2E/prompt HTTP/1.1", "/prompt"],
    // Raw backslashes become '/', encoded ones arrive and are refused.
    ["GET /api\\prompt HTTP/1.1", "/api/prompt"],
    ["GET /api/%5Cprompt HTTP/1.1", "BAD_PATH_BACKSLASH"],
    ["GET /api/userdata/..%2Fusers.json HTTP/1.1", "BAD_USERDATA_PATH_TRAVERSAL"],
    ["GET /api/userdata/%2e%2e%2Fusers.json HTTP/1.1", "BAD_USERDATA_PATH_TRAVERSAL"],
    ["GET /api/userdata/workflows%252Fdbl.json HTTP/1.1", "/api/userdata/workflows%252Fdbl.json"],
    ["GET /api/%00 HTTP/1.1", "BAD_PATH_NUL"],
    ["GET /api/%c0%ae HTTP/1.1", "BAD_PATH_ENCODING"],
    ["GET /api/prompt;.js HTTP/1.1", "BAD_PATH_SEMICOLON"],
    ["GET /a/..;/x HTTP/1.1", "BAD_PATH_SEMICOLON"],
    ["GET /api/prompt#frag HTTP/1.1", "BAD_PATH_FRAGMENT"],
    ["GET /view?x=1#frag HTTP/1.1", "BAD_PATH_FRAGMENT"],
    // Absolute form: Bun keeps only the path (checklist 5.1 item 12).
    ["GET http://evil.example/api/prompt?q=1 HTTP/1.1", "/api/prompt?q=1"],
    // Raw bytes Bun percent-encodes itself.
    ["GET /x/caf\u00c3\u00a9 HTTP/1.1", "/x/caf%C3%A9"],
    ["GET /x/a|b^c HTTP/1.1", "/x/a%7Cb%5Ec"],
  ];
  test.each(cases)("%s", async (line, expected) => {
    const { status, body } = await send(line);
    expect(status).toBe(200);
    expect(body.forward ?? body.code).toBe(expected);
  });

  test("an unusable Host header makes req.url the bare path, which is handled", async () => {
    for (const host of ["a/b", "a?b", "u@a", ""]) {
      const { body } = await send("GET /api/%70rompt HTTP/1.1", host);
      expect(body.url).toBe("/api/%70rompt");
      expect(body.forward).toBe("/api/prompt");
    }
  });

  test("Bun itself refuses a raw control character in the request line", async () => {
    const { status } = await send("GET /x\u0001y HTTP/1.1");
    expect(status).toBeGreaterThanOrEqual(400);
  });
});
