// The download queue in-process against a raw-socket CDN that misbehaves exactly as scripted:
// cut connections, bodies without a length, a resume answered with another file's range, a
// file that changes at the source between attempts, a cancel while bytes arrive.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Socket, TCPSocketListener } from "bun";
import { createDownloadQueue, type JobRow } from "../../src/downloads/queue.ts";
import { createLogger } from "../../src/log.ts";
import { modelBytes, sha256Hex } from "../support/fake-model-sources.ts";
import { useTempDataDir } from "../support/temp-database.ts";

/** What the CDN does with one request: the status line's code, headers, body, and whether to cut it short. */
interface Answer {
  status: 200 | 206;
  headers: Record<string, string>;
  body: Uint8Array;
  /** Send this many bytes of the body, then close. */
  cutAfter?: number;
  /** Wait between 4 KiB pieces (to cancel mid-stream). */
  slowMs?: number;
}

/** Bun's socket.write sends what fits and returns the count: the rest waits for room. */
async function writeAll(socket: Socket<undefined>, bytes: Uint8Array): Promise<void> {
  for (let offset = 0; offset < bytes.length; ) {
    offset += Math.max(0, socket.write(bytes.subarray(offset)));
    if (offset < bytes.length) await Bun.sleep(1);
  }
}

let cdn: TCPSocketListener<undefined>;
let hf: ReturnType<typeof Bun.serve>;
const script: ((range: string | null) => Answer)[] = [];
const ranges: (string | null)[] = [];
let publishedHash: string | null = null;

beforeAll(() => {
  cdn = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      async data(socket: Socket<undefined>, data) {
        const head = Buffer.from(data).toString("latin1");
        const range = /\r\nrange: ([^\r\n]+)/i.exec(head)?.[1] ?? null;
        ranges.push(range);
        const next = script.shift();
        if (next === undefined) return void socket.end("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        const answer = next(range);
        const lines = [`HTTP/1.1 ${answer.status} ${answer.status === 200 ? "OK" : "Partial Content"}`, "Connection: close", ...Object.entries(answer.headers).map(([name, value]) => `${name}: ${value}`)];
        await writeAll(socket, Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1"));
        const body = answer.cutAfter === undefined ? answer.body : answer.body.subarray(0, answer.cutAfter);
        for (let offset = 0; offset < body.length; offset += 4096) {
          await writeAll(socket, body.subarray(offset, offset + 4096));
          if (answer.slowMs !== undefined) await Bun.sleep(answer.slowMs);
        }
        // A cut comes a moment after the bytes: closed at once, Bun's client may drop what it had buffered.
        if (answer.cutAfter !== undefined) await Bun.sleep(50);
        socket.end();
      },
    },
  });
  hf = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: () =>
      new Response(null, {
        status: 302,
        headers: { location: `http://127.0.0.1:${cdn.port}/blob`, ...(publishedHash === null ? {} : { "x-linked-etag": `"${publishedHash}"` }) },
      }),
  });
});
afterAll(() => {
  cdn.stop(true);
  hf.stop(true);
});

const temp = useTempDataDir("mss-queue-");

function queueIn(dir: string) {
  const modelsDir = join(dir, "models");
  mkdirSync(join(modelsDir, "checkpoints"), { recursive: true });
  const ended: JobRow[] = [];
  const queue = createDownloadQueue({
    db: temp.open().db,
    settings: () => ({
      models_dir: modelsDir,
      max_active: 5,
      max_civitai: 3,
      max_huggingface: 2,
      max_per_user: 20,
      max_bytes: 64 * 1024 * 1024,
      read_timeout_ms: 3_000,
      allowed_hosts: [],
      test_sources: [`huggingface=http://127.0.0.1:${hf.port}`, `cdn=http://127.0.0.1:${cdn.port}`],
    }),
    log: createLogger("error"),
    apiKey: async () => null,
    ended: (job) => ended.push(job),
    retryDelayMs: () => 10,
  });
  const folder = join(modelsDir, "checkpoints");
  const start = (filename = "m.safetensors") =>
    queue.enqueue({ userId: "u1", requestedBy: "u1", target: { source: "huggingface", repoId: "org/repo", filename, subfolder: "", revision: "main" }, folder: "checkpoints", filename, existing: [] });
  const done = async (id: string): Promise<JobRow> => {
    for (let i = 0; i < 500; i++) {
      const job = ended.find((entry) => entry.id === id);
      if (job !== undefined) return job;
      await Bun.sleep(10);
    }
    throw new Error("the job did not end");
  };
  return { queue, folder, start, done };
}

const full = (body: Uint8Array, extra: Partial<Answer> = {}) => (): Answer => ({ status: 200, headers: { "Content-Length": String(body.length) }, body, ...extra });
const unsized = (body: Uint8Array, extra: Partial<Answer> = {}) => (): Answer => ({ status: 200, headers: {}, body, ...extra });

describe("resuming only what provably continues the same file", () => {
  test("a body without a length or a hash is refused (a cut connection would look complete)", async () => {
    script.length = ranges.length = 0;
    publishedHash = null;
    script.push(unsized(modelBytes(10_000)));
    const { folder, start, done } = queueIn(temp.dir());
    const job = await done(start().id);
    expect(job).toMatchObject({ status: "failed", errorCode: "UNVERIFIABLE" });
    expect(readdirSync(folder)).toEqual([]);
  });

  test("without a published hash, a dropped download starts over instead of splicing", async () => {
    script.length = ranges.length = 0;
    publishedHash = null;
    const content = modelBytes(100_000, 2);
    script.push(full(content, { cutAfter: 40_000 }), full(content));
    const { folder, start, done } = queueIn(temp.dir());
    const job = await done(start().id);
    expect(job.status).toBe("completed");
    expect(ranges).toEqual([null, null]);
    expect(sha256Hex(readFileSync(join(folder, "m.safetensors")))).toBe(sha256Hex(content));
  });

  test("a resume answered with a range of another size is thrown away and the download starts over", async () => {
    script.length = ranges.length = 0;
    const content = modelBytes(100_000, 3);
    publishedHash = sha256Hex(content);
    const other = modelBytes(150_000, 4);
    script.push(
      full(content, { cutAfter: 40_000 }),
      (range) => ({ status: 206, headers: { "Content-Range": `bytes ${range!.slice(6, -1)}-149999/150000`, "Content-Length": String(150_000 - 40_000) }, body: other.subarray(40_000) }),
      full(content),
    );
    const { folder, start, done } = queueIn(temp.dir());
    const job = await done(start().id);
    expect(job.status).toBe("completed");
    expect(ranges).toEqual([null, "bytes=40000-", null]);
    expect(sha256Hex(readFileSync(join(folder, "m.safetensors")))).toBe(sha256Hex(content));
  });

  test("a proper resume continues the file and is verified", async () => {
    script.length = ranges.length = 0;
    const content = modelBytes(100_000, 5);
    publishedHash = sha256Hex(content);
    script.push(full(content, { cutAfter: 30_000 }), () => ({ status: 206, headers: { "Content-Range": "bytes 30000-99999/100000", "Content-Length": "70000" }, body: content.subarray(30_000) }));
    const { folder, start, done } = queueIn(temp.dir());
    expect((await done(start().id)).sha256).toBe(sha256Hex(content));
    expect(ranges).toEqual([null, "bytes=30000-"]);
    expect(readdirSync(folder)).toEqual(["m.safetensors"]);
  });

  test("a file that changed at the source between attempts is fetched again from the start", async () => {
    script.length = ranges.length = 0;
    const before = modelBytes(100_000, 6);
    const after = modelBytes(100_000, 7);
    publishedHash = sha256Hex(before);
    script.push(
      () => {
        publishedHash = sha256Hex(after); // the next answer of the source publishes the new file
        return full(before, { cutAfter: 50_000 })();
      },
      full(after), // answers the resume; its new hash shows the part is stale
      full(after),
    );
    const { folder, start, done } = queueIn(temp.dir());
    const job = await done(start().id);
    expect(job.status).toBe("completed");
    expect(job.sha256).toBe(sha256Hex(after));
    expect(ranges).toEqual([null, "bytes=50000-", null]);
    expect(readdirSync(folder)).toEqual(["m.safetensors"]);
  });
});

test("a cancel while a body without a length arrives ends the job cancelled, with no file", async () => {
  script.length = ranges.length = 0;
  publishedHash = sha256Hex(modelBytes(400_000, 8));
  script.push(unsized(modelBytes(400_000, 8), { slowMs: 20 }));
  const { queue, folder, start, done } = queueIn(temp.dir());
  const job = start();
  for (let i = 0; i < 200 && (queue.progress(job.id)?.bytesDone ?? 0) < 20_000; i++) await Bun.sleep(10);
  expect(queue.cancel(job.id)).toBe(true);
  expect((await done(job.id)).status).toBe("cancelled");
  await Bun.sleep(50);
  expect(readdirSync(folder)).toEqual([]);
  expect(existsSync(join(folder, "m.safetensors"))).toBe(false);
});
