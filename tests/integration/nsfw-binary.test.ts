/**
 * Issue 6's end-to-end run, through the compiled binary (the model and the WebAssembly embedded
 * in it) and the fake ComfyUI: real, safe, generated images classified by the real model; an
 * output classified in the background before anyone views it; a tagged output refused to a
 * checked user, shown to its owner without the check and to an admin; previews withheld from
 * checked users; a stopped classifier failing closed.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startFakeComfyUI, type FakeComfyUI } from "../fake-comfyui/server.ts";
import { compiledGateway } from "../support/compiled-binary.ts";
import { createTestAccount, fetchAs, spawnGateway, type SpawnedGateway, type TestAccount } from "../support/gateway.ts";
import { concatBytes, PNG_SIGNATURE, pngChunk, pngIhdr, safeImage } from "../support/nsfw-images.ts";
import { until } from "../support/until.ts";

let fake: FakeComfyUI;
let gateway: SpawnedGateway;
let kid: TestAccount; // a user with the check (the default)
let carol: TestAccount; // a user without the check
let boss: TestAccount; // an admin

beforeAll(async () => {
  const { binary } = await compiledGateway();
  fake = await startFakeComfyUI({ multiUser: true, stepDelayMs: 5 });
  // As an operator runs it: the model loads at start, so outputs are classified as they appear.
  gateway = await spawnGateway(fake.url, { command: [binary], env: { MSS_LOGIN_NSFW__LOAD: "startup", MSS_LOGIN_NSFW__WORKERS: "1" } });
  kid = gateway.account;
  carol = await createTestAccount(gateway.dataDir, "carol", "user", { sfwCheck: false });
  boss = await createTestAccount(gateway.dataDir, "boss", "admin");
}, 120_000);
afterAll(async () => {
  await gateway?.stop();
  await fake?.stop();
});

const call = (who: TestAccount | null, path: string, init: RequestInit = {}) => fetchAs(gateway.url, who, path, init);
/** A request body of bytes (typed for fetch). */
const bytes = (data: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(data);
const json = async (response: Response) => (await response.json()) as Record<string, any>;

interface Socket {
  texts: Array<{ type: string; data: Record<string, any> }>;
  binaries: number;
  ws: WebSocket;
}

/** A browser-like socket: feature flags first, so previews come with metadata (type 4). */
async function openSocket(who: TestAccount, clientId: string): Promise<Socket> {
  const ws = new WebSocket(`${gateway.url.replace("http", "ws")}/ws?clientId=${clientId}`, { headers: { authorization: `Bearer ${who.token}` } } as unknown as string[]);
  ws.binaryType = "arraybuffer";
  const socket: Socket = { texts: [], binaries: 0, ws };
  ws.onmessage = (event) => {
    if (typeof event.data === "string") socket.texts.push(JSON.parse(event.data) as Socket["texts"][number]);
    else socket.binaries++;
  };
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error("socket failed"));
  });
  ws.send(JSON.stringify({ type: "feature_flags", data: { supports_preview_metadata: true } }));
  return socket;
}

/** Runs one SaveImage prompt over the user's socket; answers the output's /view query and the socket. */
async function generate(who: TestAccount, clientId: string, seed: number): Promise<{ view: string; file: { filename: string; subfolder: string; type: string }; socket: Socket }> {
  const socket = await openSocket(who, clientId);
  const prompt = { "1": { class_type: "FakeSampler", inputs: { steps: 3, seed, width: 64, height: 64 } }, "9": { class_type: "SaveImage", inputs: { images: ["1", 0], filename_prefix: "nsfw" } } };
  const answer = await json(await call(who, "/api/prompt", { method: "POST", body: JSON.stringify({ client_id: clientId, prompt }) }));
  const id = answer.prompt_id as string;
  const executed = await until("the executed event", async () => socket.texts.find((m) => m.type === "executed" && m.data.prompt_id === id));
  await until("the prompt to finish", async () => socket.texts.some((m) => m.type === "executing" && m.data.node === null && m.data.prompt_id === id));
  const file = executed.data.output.images[0] as { filename: string; subfolder: string; type: string };
  return { view: `/api/view?${new URLSearchParams({ filename: file.filename, subfolder: file.subfolder, type: file.type })}`, file, socket };
}

const checkPath = (file: { filename: string; subfolder: string; type: string }, fast: boolean) => `/mss-login/api/nsfw/check?${new URLSearchParams({ ...file, ...(fast ? { fast: "1" } : {}) })}`;

describe("the NSFW guard in the compiled binary", () => {
  test("the embedded model loads at start and classifies real, safe images of every format; bad input gets clear errors", async () => {
    const status = await until("the classifier to be ready", async () => {
      const body = await json(await call(boss, "/mss-login/api/nsfw/status"));
      return body.state === "ready" ? body : null;
    });
    expect(status.available).toBe(true);
    const health = await json(await fetch(`${gateway.url}/mss-login/health`));
    expect(health.nsfw.state).toBe("ready");
    expect(health.nsfw.memory_bytes).toBeGreaterThan(10 * 1024 * 1024);

    for (const [kind, pattern] of [["png", "landscape"], ["jpeg", "landscape"], ["webp", "drawing"], ["gif", "drawing"], ["bmp", "landscape"]] as const) {
      const image = await safeImage(kind, 512, pattern);
      const response = await call(kid, "/mss-login/api/nsfw/classify", { method: "POST", body: bytes(image), headers: { "content-type": `image/${kind}` } });
      const body = await json(response);
      expect(response.status, kind).toBe(200);
      expect(body.format).toBe(kind);
      expect(body.nsfw, `${kind}: ${JSON.stringify(body.scores)}`).toBe(false);
      const total = Object.values(body.scores as Record<string, number>).reduce((a, b) => a + b, 0);
      expect(total).toBeCloseTo(1, 2);
      expect(body.enforced).toBe(true);
    }
    const refusal = async (data: Uint8Array) => {
      const response = await call(kid, "/mss-login/api/nsfw/classify", { method: "POST", body: bytes(data) });
      return [response.status, (await json(response)).code];
    };
    expect(await refusal(new Uint8Array(0))).toEqual([400, "EMPTY"]);
    expect(await refusal(new TextEncoder().encode("just some text, named like a picture"))).toEqual([400, "NOT_AN_IMAGE"]);
    expect(await refusal(concatBytes([PNG_SIGNATURE, pngChunk("IHDR", pngIhdr(100_000, 100_000))]))).toEqual([400, "TOO_MANY_PIXELS"]);
    const png = await safeImage("png", 128);
    expect((await refusal(png.slice(0, png.length / 2)))[1]).toBe("CORRUPT_IMAGE");
    expect((await call(null, "/mss-login/api/nsfw/classify", { method: "POST", body: bytes(png) })).status).toBe(401);
    // The gateway is still up and well after all of that.
    expect((await json(await call(boss, "/mss-login/api/nsfw/status"))).state).toBe("ready");
  }, 60_000);

  test("an output is classified in the background before anyone views it; a checked user sees a safe one; an upload is checked on view", async () => {
    const { view, file, socket } = await generate(kid, "kid-tab", 1);
    // No view yet: the verdict (fast = look up only, never classify) appears on its own.
    const verdict = await until("the background verdict", async () => (await json(await call(kid, checkPath(file, true)))).verdict);
    expect(verdict.nsfw).toBe(false);
    expect(verdict.scores).not.toBeNull();
    const shown = await call(kid, view);
    expect(shown.status).toBe(200);
    expect(shown.headers.get("content-type")).toBe("image/png");
    expect(shown.headers.get("cache-control")).toBe("private, no-store");
    // Previews of the checked user's own prompt were withheld; its events were not.
    expect(socket.binaries).toBe(0);
    expect(socket.texts.some((m) => m.type === "executed")).toBe(true);
    socket.ws.close();

    // Upload-then-view: an input is classified when a checked user views it.
    const form = new FormData();
    form.append("image", new Blob([bytes(await safeImage("jpeg", 300, "landscape"))], { type: "image/jpeg" }), "holiday.jpg");
    const uploaded = await json(await call(kid, "/api/upload/image", { method: "POST", body: form }));
    const inputView = `/api/view?${new URLSearchParams({ filename: uploaded.name, subfolder: uploaded.subfolder, type: "input" })}`;
    expect((await call(kid, inputView)).status).toBe(200);
    const inputVerdict = (await json(await call(kid, checkPath({ filename: uploaded.name, subfolder: uploaded.subfolder, type: "input" }, true)))).verdict;
    expect(inputVerdict).toMatchObject({ nsfw: false, format: "jpeg", width: 300, height: 300 });
  }, 60_000);

  test("a tagged output: refused to a checked user (JSON and placeholder), shown to an admin, and to an owner without the check", async () => {
    const mine = await generate(kid, "kid-tab-2", 2);
    mine.socket.ws.close();
    const tag = await call(boss, "/mss-login/api/nsfw/tag", { method: "PUT", body: JSON.stringify({ ...mine.file, is_nsfw: true }) });
    expect(tag.status).toBe(200);

    const refused = await call(kid, mine.view);
    expect(refused.status).toBe(403);
    expect(await json(refused)).toMatchObject({ code: "NSFW_BLOCKED" });
    const tile = await call(kid, mine.view, { headers: { "sec-fetch-dest": "image", accept: "image/avif,image/webp,*/*" } });
    expect([tile.status, tile.headers.get("content-type")]).toEqual([403, "image/svg+xml"]);
    for (const trick of [{ range: "bytes=0-" }, { "if-none-match": '"anything"' }] as Record<string, string>[]) expect((await call(kid, mine.view, { headers: trick })).status).toBe(403);
    expect((await call(kid, `${mine.view}&preview=webp;50`)).status).toBe(403);
    expect((await call(kid, mine.view.replace("/api/view", "/view"))).status).toBe(403);
    expect((await call(boss, mine.view)).status).toBe(200);

    // A checked user may not lift the block on their own image; marking NSFW is allowed.
    const lift = await call(kid, "/mss-login/api/nsfw/tag", { method: "PUT", body: JSON.stringify({ ...mine.file, is_nsfw: false }) });
    expect([lift.status, (await json(lift)).code]).toEqual([403, "NSFW_CHECK_APPLIES"]);

    // carol (no check) sees her own tagged output; kid cannot even reach it (isolation: 404).
    const hers = await generate(carol, "carol-tab", 3);
    expect(hers.socket.binaries).toBeGreaterThan(0); // her previews pass
    hers.socket.ws.close();
    expect((await call(carol, "/mss-login-gallery/mark-nsfw", { method: "POST", body: JSON.stringify({ filename: hers.file.filename, is_nsfw: true }) })).status).toBe(200);
    expect((await call(carol, hers.view)).status).toBe(200);
    expect((await call(kid, hers.view)).status).toBe(404);
    // The original's route is open to anyone there; here it needs a sign-in, and only one's own files.
    expect((await call(null, "/mss-login-gallery/mark-nsfw", { method: "POST", body: JSON.stringify({ filename: hers.file.filename, is_nsfw: false }) })).status).toBe(401);
    // kid naming carol's file reaches at most kid's own file of that name (and may not lift a block): carol's tag stays.
    expect((await call(kid, "/mss-login-gallery/mark-nsfw", { method: "POST", body: JSON.stringify({ filename: hers.file.filename, is_nsfw: false }) })).status).not.toBe(200);
    expect((await json(await call(boss, checkPath(hers.file, true)))).verdict).toMatchObject({ manual_tag: "nsfw" });

    // The admin list shows the block, with the owner's name.
    const blocked = await json(await call(boss, "/mss-login/api/nsfw/verdicts?filter=blocked"));
    const row = (blocked.items as Array<Record<string, any>>).find((item) => item.file.filename === mine.file.filename);
    expect(row).toMatchObject({ owner: kid.username, nsfw: true, reason: "manual", manual_tag: "nsfw" });
    // The process log records the block (the audit log of issue 7 will read such events).
    await until("the block in the log", async () => gateway.log().includes("nsfw: blocked"));
  }, 60_000);

  test("a stopped classifier fails closed: a checked user gets no unverified image until it runs again", async () => {
    const stop = await call(boss, "/mss-login/api/nsfw/classifier", { method: "POST", body: JSON.stringify({ action: "stop" }) });
    expect(await json(stop)).toMatchObject({ state: "stopped", stopped_by_admin: true });
    const fresh = await generate(kid, "kid-tab-3", 4);
    fresh.socket.ws.close();
    const refused = await call(kid, fresh.view);
    expect(refused.status).toBe(503);
    expect(await json(refused)).toMatchObject({ code: "NSFW_CHECK_UNAVAILABLE" });
    // carol has no check: her images do not depend on the classifier.
    const hers = await generate(carol, "carol-tab-2", 5);
    hers.socket.ws.close();
    expect((await call(carol, hers.view)).status).toBe(200);

    expect((await call(boss, "/mss-login/api/nsfw/classifier", { method: "POST", body: JSON.stringify({ action: "start" }) })).status).toBe(200);
    expect((await call(kid, fresh.view)).status).toBe(200);
  }, 60_000);
});
