/**
 * The NSFW guard's logic without the model: judging stored scores, the verdict store, the
 * scanner (versions, dedupe, fail-closed outcomes) and the /view guard's answers, with a
 * scripted classifier in place of the worker pool (tests/unit/nsfw-classifier.test.ts runs the
 * real one).
 */
import { describe, expect, test } from "bun:test";
import { createLogger } from "../../src/log.ts";
import type { ClassifierPool, ClassifyResult, NsfwScores } from "../../src/nsfw/classifier/types.ts";
import { judge, severity, type StoredVerdict, type Thresholds } from "../../src/nsfw/judge.ts";
import { createScanner, isUnavailable, type FetchFile } from "../../src/nsfw/scanner.ts";
import { createVerdictStore } from "../../src/nsfw/verdicts.ts";
import { createViewGuard } from "../../src/nsfw/view-guard.ts";
import { createTrafficMeter } from "../../src/gateway/traffic.ts";
import type { FileRef } from "../../src/isolation/ownership.ts";
import { useTempDataDir } from "../support/temp-database.ts";

const DEFAULT: Thresholds = { porn: 0.5, hentai: 0.5, sexy: null };
const SAFE: NsfwScores = { Drawing: 0.1, Hentai: 0.01, Neutral: 0.85, Porn: 0.02, Sexy: 0.02 };
const EXPLICIT: NsfwScores = { Drawing: 0.01, Hentai: 0.05, Neutral: 0.04, Porn: 0.88, Sexy: 0.02 };

function verdict(partial: Partial<StoredVerdict>): StoredVerdict {
  return { scores: null, failure: null, format: "png", width: 64, height: 64, classifiedAt: 1, manualTag: null, ...partial };
}

describe("judge", () => {
  test("scores above a class threshold block; below pass", () => {
    expect(judge(verdict({ scores: SAFE }), DEFAULT).blocked).toBe(false);
    expect(judge(verdict({ scores: EXPLICIT }), DEFAULT)).toEqual({ blocked: true, reason: "scores", detail: "Porn 88%" });
    expect(judge(verdict({ scores: { ...SAFE, Hentai: 0.51, Neutral: 0.35 } }), DEFAULT).blocked).toBe(true);
  });

  test("Porn and Hentai split evenly still block together", () => {
    const split = { Drawing: 0.1, Hentai: 0.3, Neutral: 0.3, Porn: 0.3, Sexy: 0 };
    expect(judge(verdict({ scores: split }), DEFAULT)).toEqual({ blocked: true, reason: "scores", detail: "Porn + Hentai 60%" });
  });

  test("Sexy blocks only when its threshold is set", () => {
    const sexy = { Drawing: 0, Hentai: 0, Neutral: 0.2, Porn: 0.05, Sexy: 0.75 };
    expect(judge(verdict({ scores: sexy }), DEFAULT).blocked).toBe(false);
    expect(judge(verdict({ scores: sexy }), { ...DEFAULT, sexy: 0.7 }).blocked).toBe(true);
  });

  test("a person's tag wins over the scores, both ways", () => {
    expect(judge(verdict({ scores: SAFE, manualTag: "nsfw" }), DEFAULT).blocked).toBe(true);
    expect(judge(verdict({ scores: EXPLICIT, manualTag: "safe" }), DEFAULT).blocked).toBe(false);
  });

  test("files the classifier could not read are blocked, except files that are not pictures at all", () => {
    for (const failure of ["CORRUPT_IMAGE", "TOO_MANY_PIXELS", "TOO_LARGE", "UNSUPPORTED_FORMAT", "EMPTY"]) {
      expect(judge(verdict({ failure }), DEFAULT)).toEqual({ blocked: true, reason: "unclassifiable", detail: failure });
    }
    expect(judge(verdict({ failure: "NOT_AN_IMAGE" }), DEFAULT).blocked).toBe(false);
  });

  test("severity follows the original: ceil(score x 10), at least 1", () => {
    expect(severity({ ...SAFE, Porn: 0, Hentai: 0 })).toBe(1);
    expect(severity({ ...SAFE, Porn: 0.55, Hentai: 0 })).toBe(6);
    expect(severity({ ...SAFE, Porn: 1, Hentai: 0 })).toBe(10);
  });
});

const temp = useTempDataDir("mss-nsfw-");
const FILE: FileRef = { type: "output", subfolder: "u-x", filename: "a_00001_.png" };

describe("verdict store", () => {
  test("a verdict is per version: a re-generated file with the same name is another row", () => {
    const store = createVerdictStore(temp.open().db);
    const ok: ClassifyResult = { ok: true, scores: SAFE, format: "png", width: 64, height: 64, ms: 3 };
    store.save({ ...FILE, version: '"v1"' }, ok, 1000);
    expect(store.get({ ...FILE, version: '"v1"' })?.scores).toEqual(SAFE);
    expect(store.get({ ...FILE, version: '"v2"' })).toBeNull();
    store.save({ ...FILE, version: '"v2"' }, { ok: false, code: "CORRUPT_IMAGE" }, 2000);
    expect(store.latest(FILE)?.failure).toBe("CORRUPT_IMAGE");
    expect(store.count()).toBe(2);
  });

  test("a manual tag survives a re-classification of the same version, and clearing tags removes it", () => {
    const store = createVerdictStore(temp.open().db);
    const version = { ...FILE, version: '"v1"' };
    store.tag(version, "nsfw", "admin-id", 10);
    expect(store.get(version)).toMatchObject({ manualTag: "nsfw", failure: "NOT_CLASSIFIED", scores: null });
    store.save(version, { ok: true, scores: SAFE, format: "png", width: 1, height: 1, ms: 1 }, 20);
    expect(store.get(version)).toMatchObject({ manualTag: "nsfw", scores: SAFE, failure: null });
    expect(store.clearTags()).toBe(1);
    expect(store.get(version)?.manualTag).toBeNull();
  });

  test("forgetting a file drops the classifier's rows and keeps tagged ones", () => {
    const store = createVerdictStore(temp.open().db);
    store.save({ ...FILE, version: "a" }, { ok: true, scores: SAFE, format: "png", width: 1, height: 1, ms: 1 }, 1);
    store.tag({ ...FILE, version: "b" }, "safe", "u", 2);
    store.forgetFile(FILE);
    expect(store.get({ ...FILE, version: "a" })).toBeNull();
    expect(store.get({ ...FILE, version: "b" })?.manualTag).toBe("safe");
  });
});

/** A classifier that answers from a script and counts its calls. */
function scriptedPool(answer: (bytes: Uint8Array) => ClassifyResult | Promise<ClassifyResult>): ClassifierPool & { calls: number } {
  const pool = {
    calls: 0,
    start: async () => {},
    stop: async () => {},
    classify: async (bytes: Uint8Array) => {
      pool.calls++;
      return answer(bytes);
    },
    status: () => ({ state: "ready" as const, workers: 1, ready: 1, busy: 0, queued: { now: 0, background: 0 }, classified: 0, failures: 0, rejectedInputs: 0, restarts: 0, lastError: null, loadMs: 1, memoryBytes: null }),
    crashWorkerForTest: () => {},
  };
  return pool;
}

/** A ComfyUI that serves files from a map (bytes and ETag), counting requests. */
function fakeFiles(files: Map<string, { bytes: Uint8Array; etag: string | null; type?: string }>): FetchFile & { gets: number; heads: number } {
  const fetchFile = Object.assign(
    async (file: FileRef, method: "GET" | "HEAD") => {
      if (method === "GET") fetchFile.gets++;
      else fetchFile.heads++;
      const entry = files.get(file.filename);
      if (entry === undefined) return new Response(null, { status: 404 });
      const headers: Record<string, string> = { "content-type": entry.type ?? "image/png", "content-length": String(entry.bytes.byteLength) };
      if (entry.etag !== null) headers.etag = entry.etag;
      return new Response(method === "HEAD" ? null : entry.bytes.slice(), { headers });
    },
    { gets: 0, heads: 0 },
  );
  return fetchFile;
}

const silent = createLogger("error");

function scannerWith(pool: ClassifierPool, files: FetchFile, maxImageBytes = 1024 * 1024) {
  const store = createVerdictStore(temp.open().db);
  const scanner = createScanner({ store, pool, fetchFile: files, log: silent, limits: () => ({ maxImageBytes }), ensureStarted: async () => true, backgroundAllowed: () => true });
  return { store, scanner };
}

const PNG_BYTES = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);

describe("scanner", () => {
  test("a background scan stores the verdict under ComfyUI's ETag; a view then only looks it up", async () => {
    const pool = scriptedPool(() => ({ ok: true, scores: SAFE, format: "png", width: 8, height: 8, ms: 1 }));
    const files = fakeFiles(new Map([[FILE.filename, { bytes: PNG_BYTES, etag: '"1a-7"' }]]));
    const { scanner, store } = scannerWith(pool, files);
    scanner.enqueue(FILE);
    scanner.enqueue(FILE); // once only
    await Bun.sleep(20);
    expect(pool.calls).toBe(1);
    expect(store.get({ ...FILE, version: '"1a-7"' })?.scores).toEqual(SAFE);
    const outcome = await scanner.verdictFor({ ...FILE, version: '"1a-7"' }, 1000);
    expect(isUnavailable(outcome)).toBe(false);
    expect(pool.calls).toBe(1);
    expect(files.gets).toBe(1);
  });

  test("a view that expects another version than ComfyUI serves gets FILE_CHANGED, never the old verdict", async () => {
    const pool = scriptedPool(() => ({ ok: true, scores: SAFE, format: "png", width: 8, height: 8, ms: 1 }));
    const { scanner } = scannerWith(pool, fakeFiles(new Map([[FILE.filename, { bytes: PNG_BYTES, etag: '"new"' }]])));
    const outcome = await scanner.verdictFor({ ...FILE, version: '"old"' }, 1000);
    expect(outcome).toMatchObject({ unavailable: true, code: "FILE_CHANGED" });
  });

  test("transient classifier failures are not stored (the next look tries again); input failures are", async () => {
    let answer: ClassifyResult = { ok: false, code: "CLASSIFIER_FAILED", message: "worker died" };
    const pool = scriptedPool(() => answer);
    const { scanner, store } = scannerWith(pool, fakeFiles(new Map([[FILE.filename, { bytes: PNG_BYTES, etag: '"e"' }]])));
    expect(await scanner.verdictFor({ ...FILE, version: '"e"' }, 1000)).toMatchObject({ unavailable: true, code: "CLASSIFIER_FAILED" });
    expect(store.count()).toBe(0);
    answer = { ok: false, code: "CORRUPT_IMAGE", message: "bad", format: "png" };
    expect(await scanner.verdictFor({ ...FILE, version: '"e"' }, 1000)).toMatchObject({ failure: "CORRUPT_IMAGE" });
  });

  test("a file named or served as a picture that is no picture is unsupported (blocked), a text file is not visual", async () => {
    const pool = scriptedPool(() => ({ ok: false, code: "NOT_AN_IMAGE", message: "no", format: null }));
    const text = new TextEncoder().encode("hello");
    const files = fakeFiles(
      new Map([
        ["fake.png", { bytes: text, etag: '"1"', type: "text/plain" }],
        ["notes.txt", { bytes: text, etag: '"2"', type: "text/plain" }],
        ["served.bin", { bytes: text, etag: '"3"', type: "image/png" }],
        ["drawing.svg", { bytes: new TextEncoder().encode('<svg xmlns="http://www.w3.org/2000/svg"></svg>'), etag: '"4"', type: "image/svg+xml" }],
      ]),
    );
    const { scanner } = scannerWith(pool, files);
    const of = async (filename: string, version: string) => scanner.verdictFor({ type: "output", subfolder: "", filename, version }, 1000);
    expect(await of("fake.png", '"1"')).toMatchObject({ failure: "UNSUPPORTED_FORMAT" });
    expect(await of("notes.txt", '"2"')).toMatchObject({ failure: "NOT_AN_IMAGE" });
    expect(await of("served.bin", '"3"')).toMatchObject({ failure: "UNSUPPORTED_FORMAT" });
    expect(await of("drawing.svg", '"4"')).toMatchObject({ failure: "UNSUPPORTED_FORMAT" });
  });

  test("a file larger than the limit is TOO_LARGE without being read or classified", async () => {
    const pool = scriptedPool(() => ({ ok: true, scores: SAFE, format: "png", width: 8, height: 8, ms: 1 }));
    const { scanner } = scannerWith(pool, fakeFiles(new Map([[FILE.filename, { bytes: new Uint8Array(4096), etag: '"big"' }]])), 1024);
    expect(await scanner.verdictFor({ ...FILE, version: '"big"' }, 1000)).toMatchObject({ failure: "TOO_LARGE" });
    expect(pool.calls).toBe(0);
  });

  test("a view waits at most its bound for a slow classification: TIMEOUT, nothing stored", async () => {
    const pool = scriptedPool(() => new Promise<ClassifyResult>((resolve) => setTimeout(() => resolve({ ok: true, scores: SAFE, format: "png", width: 1, height: 1, ms: 1 }), 300)));
    const { scanner, store } = scannerWith(pool, fakeFiles(new Map([[FILE.filename, { bytes: PNG_BYTES, etag: '"s"' }]])));
    scanner.enqueue(FILE);
    await Bun.sleep(5);
    expect(await scanner.verdictFor({ ...FILE, version: '"s"' }, 50)).toMatchObject({ unavailable: true, code: "TIMEOUT" });
    await Bun.sleep(400);
    expect(store.get({ ...FILE, version: '"s"' })?.scores).toEqual(SAFE);
  });

  test("with background scans held (on-demand loading), files queue and are scanned once resumed", async () => {
    const pool = scriptedPool(() => ({ ok: true, scores: SAFE, format: "png", width: 8, height: 8, ms: 1 }));
    let allowed = false;
    const store = createVerdictStore(temp.open().db);
    const files = fakeFiles(new Map([[FILE.filename, { bytes: PNG_BYTES, etag: '"q"' }]]));
    const scanner = createScanner({ store, pool, fetchFile: files, log: silent, limits: () => ({ maxImageBytes: 1 << 20 }), ensureStarted: async () => true, backgroundAllowed: () => allowed });
    scanner.enqueue(FILE);
    await Bun.sleep(10);
    expect(scanner.stats().queued).toBe(1);
    expect(files.gets).toBe(0);
    allowed = true;
    scanner.resume();
    await Bun.sleep(20);
    expect(store.get({ ...FILE, version: '"q"' })).not.toBeNull();
  });
});

describe("view guard", () => {
  function guardWith(pool: ClassifierPool, files: Map<string, { bytes: Uint8Array; etag: string | null }>) {
    const fetchFile = fakeFiles(files);
    const { scanner, store } = scannerWith(pool, fetchFile);
    const blocks: string[] = [];
    const guard = createViewGuard({ scanner, log: silent, limits: () => ({ thresholds: DEFAULT, viewWaitMs: 1000, maxImageBytes: 1 << 20 }), blocked: (event) => blocks.push(event.detail) });
    /** What ComfyUI answers to the forwarded request: the map's file, honouring If-None-Match. */
    const forwardFor = (filename: string, request: Request) => async () => {
      const response = await fetchFile({ type: "output", subfolder: "", filename }, request.method === "HEAD" ? "HEAD" : "GET", AbortSignal.timeout(1000));
      const etag = response.headers.get("etag");
      if (etag !== null && request.headers.get("if-none-match") === etag) return new Response(null, { status: 304, headers: { etag } });
      return response;
    };
    return { guard, store, blocks, fetchFile, forwardFor };
  }
  const file = (filename: string): FileRef => ({ type: "output", subfolder: "", filename });

  test("a blocked image: 403 NSFW_BLOCKED JSON for API callers, a placeholder picture for <img>, whatever the validator trick", async () => {
    const { guard, blocks, forwardFor } = guardWith(scriptedPool(() => ({ ok: true, scores: EXPLICIT, format: "png", width: 640, height: 480, ms: 1 })), new Map([["x.png", { bytes: PNG_BYTES, etag: '"x"' }]]));
    const api = new Request("http://gw/api/view?filename=x.png");
    const refused = await guard.guard(api, "kid", file("x.png"), "filename=x.png")(forwardFor("x.png", api));
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ code: "NSFW_BLOCKED" });
    expect(refused.headers.get("cache-control")).toContain("no-store");
    const img = new Request("http://gw/api/view?filename=x.png", { headers: { "sec-fetch-dest": "image", "if-none-match": '"x"' } });
    const tile = await guard.guard(img, "kid", file("x.png"), "filename=x.png")(forwardFor("x.png", img));
    expect(tile.status).toBe(403);
    expect(tile.headers.get("content-type")).toBe("image/svg+xml");
    const svg = await tile.text();
    expect(svg).toContain('width="640" height="480"');
    expect(svg).not.toContain("<script");
    const range = new Request("http://gw/api/view?filename=x.png", { headers: { range: "bytes=0-" } });
    expect((await guard.guard(range, "kid", file("x.png"), "filename=x.png")(forwardFor("x.png", range))).status).toBe(403);
    expect(blocks).toEqual(["Porn 88%", "Porn 88%", "Porn 88%"]);
  });

  test("a safe image passes with its bytes, marked private and no-store", async () => {
    const { guard, forwardFor } = guardWith(scriptedPool(() => ({ ok: true, scores: SAFE, format: "png", width: 8, height: 8, ms: 1 })), new Map([["s.png", { bytes: PNG_BYTES, etag: '"s"' }]]));
    const request = new Request("http://gw/view?filename=s.png");
    const response = await guard.guard(request, "kid", file("s.png"), "filename=s.png")(forwardFor("s.png", request));
    expect(response.status).toBe(200);
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(PNG_BYTES);
    expect(response.headers.get("cache-control")).toBe("private, no-store");
  });

  test("no verdict to be had (classifier down): 503 NSFW_CHECK_UNAVAILABLE, never the image", async () => {
    const { guard, forwardFor } = guardWith(scriptedPool(() => ({ ok: false, code: "CLASSIFIER_UNAVAILABLE", message: "stopped" })), new Map([["u.png", { bytes: PNG_BYTES, etag: '"u"' }]]));
    const request = new Request("http://gw/view?filename=u.png");
    const response = await guard.guard(request, "kid", file("u.png"), "filename=u.png")(forwardFor("u.png", request));
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ code: "NSFW_CHECK_UNAVAILABLE" });
  });

  test("a variant (preview=, channel=) is judged by the file's version, asked before and after", async () => {
    const pool = scriptedPool(() => ({ ok: true, scores: SAFE, format: "png", width: 8, height: 8, ms: 1 }));
    const files = new Map([["v.png", { bytes: PNG_BYTES, etag: '"v1"' as string | null }]]);
    const { guard, fetchFile } = guardWith(pool, files);
    const request = new Request("http://gw/view?filename=v.png&preview=webp;50");
    const variantBody = new Uint8Array([1, 2, 3]);
    const ok = await guard.guard(request, "kid", file("v.png"), "filename=v.png&preview=webp;50")(async () => new Response(variantBody, { headers: { "content-type": "image/webp" } }));
    expect(ok.status).toBe(200);
    expect(fetchFile.heads).toBe(2);
    // The file is replaced while the variant is made: refused.
    const changed = await guard.guard(request, "kid", file("v.png"), "filename=v.png&preview=webp;50")(async () => {
      files.set("v.png", { bytes: PNG_BYTES, etag: '"v2"' });
      return new Response(variantBody, { headers: { "content-type": "image/webp" } });
    });
    expect(changed.status).toBe(503);
  });

  test("an answer without an ETag: the very bytes served are classified", async () => {
    const seen: Uint8Array[] = [];
    const pool = scriptedPool((bytes) => {
      seen.push(bytes);
      return { ok: true, scores: SAFE, format: "png", width: 8, height: 8, ms: 1 };
    });
    const { guard, store } = guardWith(pool, new Map());
    const request = new Request("http://gw/view?filename=n.png");
    const response = await guard.guard(request, "kid", file("n.png"), "filename=n.png")(async () => new Response(PNG_BYTES.slice(), { headers: { "content-type": "image/png" } }));
    expect(response.status).toBe(200);
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(PNG_BYTES);
    expect(seen[0]).toEqual(PNG_BYTES);
    expect(store.latest(file("n.png"))?.version).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  test("what ComfyUI refuses (404, 400) passes through untouched", async () => {
    const { guard } = guardWith(scriptedPool(() => ({ ok: true, scores: SAFE, format: "png", width: 8, height: 8, ms: 1 })), new Map());
    const request = new Request("http://gw/view?filename=missing.png");
    const response = await guard.guard(request, "kid", file("missing.png"), "filename=missing.png")(async () => new Response(null, { status: 404 }));
    expect(response.status).toBe(404);
  });
});

describe("background scans give way to traffic", () => {
  test("the traffic meter reports the last full quarter second's rate", () => {
    let clock = 0;
    const meter = createTrafficMeter(() => clock);
    for (let i = 0; i < 100; i++) meter.count();
    expect(meter.rate()).toBe(0); // the window is not over yet
    clock = 260;
    expect(meter.rate()).toBe(400);
    clock = 1000; // a quiet stretch: nothing in the last full window
    expect(meter.rate()).toBe(0);
  });

  test("while the gateway is busy, queued files wait; they are scanned once it is quiet, without a nudge", async () => {
    const pool = scriptedPool(() => ({ ok: true, scores: SAFE, format: "png", width: 8, height: 8, ms: 1 }));
    let busy = true;
    const store = createVerdictStore(temp.open().db);
    const files = fakeFiles(new Map([[FILE.filename, { bytes: PNG_BYTES, etag: '"b"' }]]));
    const scanner = createScanner({ store, pool, fetchFile: files, log: silent, limits: () => ({ maxImageBytes: 1 << 20 }), ensureStarted: async () => true, backgroundAllowed: () => !busy });
    scanner.enqueue(FILE);
    await Bun.sleep(300);
    expect(files.gets).toBe(0);
    // A view does not wait for quiet: it classifies at once.
    expect(isUnavailable(await scanner.verdictFor({ ...FILE, version: '"b"' }, 1000))).toBe(false);
    store.forgetFile(FILE);
    scanner.enqueue({ ...FILE, filename: "other.png" });
    busy = false;
    await Bun.sleep(400);
    expect(scanner.stats().queued).toBe(0);
  });
});
