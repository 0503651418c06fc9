/** Unit tests of the fake's building blocks. */
import { describe, expect, test } from "bun:test";
import { decodeBinaryFrame, previewImageFrame, previewWithMetadataFrame, progressTextFrame } from "./binary-frames.ts";
import { deterministicBytes } from "./file-store.ts";
import { HistoryStore, MAXIMUM_HISTORY_SIZE, type HistoryEntry } from "./history-store.ts";
import { createIdSource } from "./id-source.ts";
import { heapify, heapPop, heapPush } from "./min-heap.ts";
import { parseForm } from "./multipart.ts";
import { resolveOptions } from "./options.ts";
import { corsHeaders, originGate } from "./origin-gate.ts";
import { crc32, encodeSolidPng, isPng } from "./png.ts";
import { pyJsonDumps } from "./py-json.ts";
import { IdMapper } from "./replay/id-mapper.ts";
import { isInside, joinAbsolute, pyUnquote, splitExtension } from "./virtual-paths.ts";

describe("pyJsonDumps", () => {
  test("writes Python's separators and ensure_ascii escapes", () => {
    expect(pyJsonDumps({ exec_info: { queue_remaining: 0 } })).toBe('{"exec_info": {"queue_remaining": 0}}');
    expect(pyJsonDumps(["é", "\u2028", "\n\t\"\\", "\u007f"])).toBe('["\\u00e9", "\\u2028", "\\n\\t\\"\\\\", "\\u007f"]');
    expect(pyJsonDumps({ a: [], b: {}, c: null, d: true, e: undefined })).toBe('{"a": [], "b": {}, "c": null, "d": true}');
  });

  test("indent=4 gives the recorded comfy.settings.json size", () => {
    const settings = { "Comfy.UseNewMenu": "Top", "Comfy.Workflow.WorkflowTabsPosition": "Topbar", "Comfy.Extension.Disabled": ["gateway.hide"] };
    const text = pyJsonDumps(settings, 4);
    expect(text.length).toBe(150); // su-143 reports size 150
    expect(text).toBe(
      '{\n    "Comfy.UseNewMenu": "Top",\n    "Comfy.Workflow.WorkflowTabsPosition": "Topbar",\n    "Comfy.Extension.Disabled": [\n        "gateway.hide"\n    ]\n}',
    );
  });
});

describe("min-heap (heapq)", () => {
  const compare = (a: number, b: number): number => a - b;

  test("keeps raw heap order like the recorded queue_pending [-21, 20, 19]", () => {
    const heap: number[] = [];
    for (const n of [19, 20, -21]) heapPush(heap, n, compare);
    expect(heap).toEqual([-21, 20, 19]);
  });

  test("pops in priority order and heapify restores the invariant", () => {
    const heap: number[] = [];
    for (const n of [5, 3, 9, -1, 7, 3, 0]) heapPush(heap, n, compare);
    const popped: number[] = [];
    for (let n = heapPop(heap, compare); n !== undefined; n = heapPop(heap, compare)) popped.push(n);
    expect(popped).toEqual([-1, 0, 3, 3, 5, 7, 9]);
    const raw = [9, 8, 7, 6, 5];
    heapify(raw, compare);
    expect(raw[0]).toBe(5);
  });
});

describe("multipart forms", () => {
  const encoder = new TextEncoder();
  const body = encoder.encode(
    "--XYZ\r\nContent-Disposition: form-data; name=\"image\"; filename=\"..%2Fevil.png\"\r\nContent-Type: image/png\r\n\r\nPNGDATA\r\n" +
      "--XYZ\r\nContent-Disposition: form-data; name=\"subfolder\"\r\n\r\nalice/pets\r\n" +
      "--XYZ\r\nContent-Disposition: form-data; name=\"other\"; filename*=UTF-8''caf%C3%A9.png\r\n\r\n\r\n--XYZ--\r\n",
  );

  test("keeps a percent-encoded filename literally (finding 19)", () => {
    const form = parseForm("multipart/form-data; boundary=XYZ", body);
    const image = form.part("image");
    expect(image?.filename).toBe("..%2Fevil.png");
    expect(new TextDecoder().decode(image?.data)).toBe("PNGDATA");
    expect(form.text("subfolder")).toBe("alice/pets");
    expect(form.part("other")?.filename).toBe("café.png");
    expect(form.part("other")?.data.length).toBe(0);
  });

  test("url-encoded bodies give text fields; other types give nothing", () => {
    expect(parseForm("application/x-www-form-urlencoded", encoder.encode("subfolder=alice&x=a+b")).text("x")).toBe("a b");
    expect(parseForm("application/json", encoder.encode("{}")).parts).toEqual([]);
  });
});

describe("binary frames", () => {
  test("type 3 has the recorded header layout", () => {
    const frame = progressTextFrame("2", "width: 24, height: 16\n batch size: 1");
    expect(Buffer.from(frame.subarray(0, 9)).toString("hex")).toBe("000000030000000132"); // ws-03e header_hex
    expect(frame.length).toBe(45);
    expect(decodeBinaryFrame(frame)).toMatchObject({ eventType: 3, nodeId: "2", text: "width: 24, height: 16\n batch size: 1" });
  });

  test("type 4 carries Python-style metadata JSON, type 1 the image type", () => {
    const image = new Uint8Array([1, 2, 3]);
    const metadata = { node_id: "9", prompt_id: "p", display_node_id: "9", parent_node_id: null, real_node_id: "9", image_type: "image/png" };
    const frame = previewWithMetadataFrame(metadata, image);
    const json = pyJsonDumps(metadata);
    expect(new DataView(frame.buffer).getUint32(4)).toBe(json.length);
    expect(new TextDecoder().decode(frame.subarray(8, 8 + json.length))).toStartWith('{"node_id": "9", "prompt_id": "p"');
    expect(decodeBinaryFrame(frame).payload).toEqual(image);
    const type1 = previewImageFrame(2, image);
    expect(Buffer.from(type1.subarray(0, 8)).toString("hex")).toBe("0000000100000002");
  });
});

describe("PNG writer", () => {
  test("writes a valid PNG with text chunks", async () => {
    const png = encodeSolidPng({ width: 17, height: 5, color: 0xff8000, text: { prompt: '{"1": {}}' } });
    expect(isPng(png)).toBe(true);
    expect(await new Bun.Image(png).metadata()).toMatchObject({ width: 17, height: 5, format: "png" });
    expect(Buffer.from(png).includes(Buffer.from('tEXtprompt\u0000{"1": {}}', "latin1"))).toBe(true);
    expect(crc32(new TextEncoder().encode("IEND"))).toBe(0xae426082);
  });
});

describe("history paging (get_history)", () => {
  const entry = {} as HistoryEntry;
  const store = new HistoryStore();
  for (const id of ["a", "b", "c", "d"]) store.set(id, entry);

  test("max_items alone is the newest N; offset counts from the oldest", () => {
    expect(Object.keys(store.page(null, -1))).toEqual(["a", "b", "c", "d"]);
    expect(Object.keys(store.page(2, -1))).toEqual(["c", "d"]);
    expect(Object.keys(store.page(null, 1))).toEqual(["b", "c", "d"]);
    expect(Object.keys(store.page(2, 1))).toEqual(["b", "c"]);
    expect(Object.keys(store.page(9, -1))).toEqual(["a", "b", "c", "d"]);
    expect(Object.keys(store.page(0, 0))).toEqual(["a"]); // the real quirk
  });

  test("a reused id keeps its place (finding 1) and the oldest goes past the cap", () => {
    const history = new HistoryStore();
    for (const id of ["x", "y", "z"]) history.set(id, entry);
    history.set("x", { ...entry });
    expect(history.all().map(([id]) => id)).toEqual(["x", "y", "z"]);
    const big = new HistoryStore();
    for (let i = 0; i <= MAXIMUM_HISTORY_SIZE; i++) big.set(String(i), entry);
    expect(big.all().length).toBe(MAXIMUM_HISTORY_SIZE);
    expect(big.get("0")).toBeUndefined();
  });
});

describe("origin middleware (finding 20)", () => {
  const options = resolveOptions();
  const request = (headers: Record<string, string>, method = "POST"): Request =>
    new Request("http://127.0.0.1:8188/api/prompt", { method, headers });
  const status = (headers: Record<string, string>, method = "POST", opts = options): number | null =>
    originGate(request(headers, method), opts)?.status ?? null;

  test("compares host[:port] strings only for a loopback Host", () => {
    expect(status({ Host: "127.0.0.1:8188", Origin: "http://example.com" })).toBe(403);
    expect(status({ Host: "127.0.0.1:8188", Origin: "http://127.0.0.1:8188" })).toBeNull();
    expect(status({ Host: "127.0.0.1:8188", Origin: "null" })).toBeNull();
    expect(status({ Host: "127.0.0.1:8188", Origin: "http://localhost:8188" })).toBe(403);
    expect(status({ Host: "127.0.0.1:8188", Origin: "http://127.0.0.1" })).toBeNull();
    expect(status({ Host: "127.0.0.1:8188", Origin: "http://127.0.0.1:3000" })).toBe(403);
    expect(status({ Host: "10.1.2.3:8188", Origin: "http://example.com" })).toBeNull();
    expect(status({ Host: "localhost:8188", Origin: "https://evil.example" })).toBe(403);
    expect(status({ Host: "[::1]:8188", Origin: "http://[::1]:8188" })).toBeNull();
  });

  test("OPTIONS gets an empty 200 after the check; Sec-Fetch-Site matters in v0.38 only", () => {
    expect(status({ Host: "127.0.0.1:8188", Origin: "http://127.0.0.1:8188" }, "OPTIONS")).toBe(200);
    expect(status({ Host: "127.0.0.1:8188", Origin: "http://example.com" }, "OPTIONS")).toBe(403);
    expect(status({ Host: "127.0.0.1:8188", "Sec-Fetch-Site": "cross-site" })).toBeNull();
    expect(status({ Host: "127.0.0.1:8188", "Sec-Fetch-Site": "cross-site" }, "GET", resolveOptions({ profile: "v0.38" }))).toBe(403);
  });

  test("with a CORS origin nothing is checked and the CORS headers are set", () => {
    const cors = resolveOptions({ corsOrigin: "*" });
    expect(status({ Host: "127.0.0.1:8188", Origin: "http://example.com" }, "POST", cors)).toBeNull();
    expect(status({}, "OPTIONS", cors)).toBe(200);
    expect(corsHeaders(cors)["Access-Control-Allow-Origin"]).toBe("*");
    expect(corsHeaders(options)).toEqual({});
  });
});

describe("paths, ids and content", () => {
  test("python-like unquote, splitext and containment", () => {
    expect(pyUnquote("workflows%2Fx.json")).toBe("workflows/x.json");
    expect(pyUnquote(pyUnquote("workflows%252Fx.json"))).toBe("workflows/x.json");
    expect(pyUnquote("%zz%41")).toBe("%zzA");
    expect(splitExtension("up.png")).toEqual(["up", ".png"]);
    expect(splitExtension(".hidden")).toEqual([".hidden", ""]);
    const root = "/srv/ComfyUI/input";
    expect(isInside(root, joinAbsolute(root, "../../etc", "x"))).toBe(false);
    expect(isInside(root, joinAbsolute(root, "/tmp"))).toBe(false);
    expect(isInside(root, joinAbsolute(root, "a/../b", "c.png"))).toBe(true);
  });

  test("a seed makes ids repeatable", () => {
    const a = createIdSource(7);
    const b = createIdSource(7);
    expect([a.uuid(), a.hex32(), a.letters(5)]).toEqual([b.uuid(), b.hex32(), b.letters(5)]);
    expect(a.uuid()).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  test("deterministic file content is i % 251", () => {
    const bytes = deterministicBytes(100_000);
    expect(bytes[0]).toBe(0);
    expect(bytes[250]).toBe(250);
    expect(bytes[251]).toBe(0);
    expect(bytes[99_999]).toBe(99_999 % 251);
  });

  test("the replay's id mapper learns recorded → fake pairs", () => {
    const ids = new IdMapper();
    const recorded = "a6641dc4-4566-4799-961c-924c945d652a";
    const fake = "0e4b6a31-1c4d-4f37-9a52-2b7d1e0c9f11";
    expect(ids.matchString(`Alice_${recorded}`, `Alice_${fake}`)).toBe(true);
    expect(ids.apply(`/api/history/${recorded}`)).toBe(`/api/history/${fake}`);
    expect(ids.matchString(recorded, "11111111-1111-4111-8111-111111111111")).toBe(false);
  });
});
