/**
 * WebSocket isolation through the real gateway and the fake ComfyUI (comfyui-api.md §4.4,
 * §10.8 scenarios 1–4): two accounts, A (the test gateway's own) and B, each with a token.
 *
 * Prompts are recorded as A's in the gateway's database and submitted straight to the fake with
 * the upstream sid of A's socket (read from the upgrade the fake received), so that these tests
 * exercise the relay's filtering only, whatever `POST /prompt` does. One test goes through the
 * gateway's own `/prompt` and reads the prompt_id from its answer.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { applyMigrations, openDatabase, type OpenDatabase } from "../../src/db/index.ts";
import { createOwnershipStore, type OwnershipStore } from "../../src/isolation/ownership.ts";
import { startFakeComfyUI, type FakeComfyUI } from "../fake-comfyui/server.ts";
import { createTestAccount, startTestGateway, type TestAccount, type TestGateway } from "../support/gateway.ts";

let fake: FakeComfyUI;
let gateway: TestGateway;
let alice: TestAccount;
let bob: TestAccount;
let database: OpenDatabase;
let ownership: OwnershipStore;

beforeAll(async () => {
  fake = await startFakeComfyUI({ multiUser: true, stepDelayMs: 1 });
  // Without the NSFW check: this file is about whose events and previews reach whom; the guard (which withholds checked users' previews and re-labels or refuses their images) has its own tests (nsfw-*.test.ts).
  gateway = await startTestGateway(fake.url, [], {}, "user", { sfwCheck: false });
  alice = gateway.account;
  bob = await createTestAccount(gateway.dataDir, "bob", "user", { sfwCheck: false });
  database = openDatabase(gateway.dataDir);
  applyMigrations(database.sqlite);
  ownership = createOwnershipStore(database.db);
});

afterAll(async () => {
  database.close();
  await gateway.stop();
  await fake.stop();
});

const sockets: Client[] = [];
afterEach(async () => {
  for (const client of sockets.splice(0)) client.socket.close();
  fake.setExecutionMode("auto");
  await fake.waitForIdle(5000);
});

interface Client {
  socket: WebSocket;
  /** Text frames as received, binary frames as bytes. */
  frames: Array<string | Uint8Array>;
  /** The sid the gateway opened the upstream socket with. */
  upstreamSid: string;
  /** The sid the client was told (first `status`). */
  clientSid: string;
  closed: Promise<{ code: number; reason: string }>;
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(5);
  }
}

const upgradesSeen = () => fake.requests().filter((r) => /^\/(api\/)?ws(\?|$)/.test(r.target));

/** Opens `/ws` through the gateway as `account`; resolves once the first `status` arrived. */
async function connect(account: TestAccount, clientId: string | null, featureFlags = false): Promise<Client> {
  const before = upgradesSeen().length;
  const socket = new WebSocket(`${gateway.wsUrl}/ws${clientId === null ? "" : `?clientId=${clientId}`}`, { headers: { authorization: `Bearer ${account.token}` } } as unknown as string[]);
  socket.binaryType = "arraybuffer";
  const frames: Array<string | Uint8Array> = [];
  socket.onmessage = (event) => frames.push(typeof event.data === "string" ? event.data : new Uint8Array(event.data as ArrayBuffer));
  const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.addEventListener("close", (event) => resolve({ code: event.code, reason: event.reason })));
  await new Promise<void>((resolve, reject) => {
    socket.onopen = () => resolve();
    socket.onerror = () => reject(new Error("websocket failed"));
  });
  if (featureFlags) socket.send(JSON.stringify({ type: "feature_flags", data: { supports_preview_metadata: true } }));
  await waitFor("the first status", () => {
    if (socket.readyState === WebSocket.CLOSED) throw new Error("closed before its first status");
    return frames.some((f) => typeof f === "string" && f.includes('"sid"'));
  });
  const status = JSON.parse(frames.find((f) => typeof f === "string" && f.includes('"sid"')) as string) as { data: { sid: string } };
  const upgrade = upgradesSeen()[before];
  const upstreamSid = new URL(`http://x${upgrade!.target}`).searchParams.get("clientId")!;
  if (featureFlags) await waitFor("feature_flags", () => frames.some((f) => typeof f === "string" && f.includes('"feature_flags"')));
  const client: Client = { socket, frames, upstreamSid, clientSid: status.data.sid, closed };
  sockets.push(client);
  return client;
}

const texts = (client: Client) => client.frames.filter((f): f is string => typeof f === "string");
const binaries = (client: Client) => client.frames.filter((f): f is Uint8Array => typeof f !== "string");
const typesOf = (client: Client) => texts(client).map((t) => (JSON.parse(t) as { type: string }).type);
const mentioning = (client: Client, promptId: string) => texts(client).filter((t) => t.includes(promptId));
const binaryType = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset).getUint32(0);

let seed = 1;
function samplerGraph(steps = 3) {
  return {
    "1": { class_type: "FakeSampler", inputs: { steps, seed: seed++, width: 64, height: 64 } },
    "2": { class_type: "SaveImage", inputs: { images: ["1", 0], filename_prefix: "iso" } },
  };
}

/** A prompt of `owner`'s, recorded as the gateway would, queued straight at the fake. */
async function queueDirectly(owner: TestAccount, clientId: string | null, steps = 3): Promise<string> {
  const promptId = crypto.randomUUID();
  ownership.recordPrompt({ promptId, owner: { userId: owner.userId, username: owner.username }, clientId, now: Date.now() });
  const body: Record<string, unknown> = { prompt: samplerGraph(steps), prompt_id: promptId };
  if (clientId !== null) body.client_id = clientId;
  const response = await fetch(`${fake.url}/prompt`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  expect(response.status).toBe(200);
  return promptId;
}

const finished = (client: Client, promptId: string) => () => texts(client).some((t) => t.includes('"executing"') && t.includes('"node": null') && t.includes(promptId));

describe("scenario 1: a prompt's events reach only its owner", () => {
  test("A's targeted events (executing, executed, progress, type-4 previews) reach A's socket and not B's", async () => {
    const a = await connect(alice, "alice-tab", true);
    const b = await connect(bob, "bob-tab", true);
    expect(a.upstreamSid).toMatch(/^[0-9a-f]{32}$/);
    expect(a.clientSid).toBe("alice-tab");
    const promptId = await queueDirectly(alice, a.upstreamSid);
    await waitFor("A's prompt to finish", finished(a, promptId));
    expect(typesOf(a)).toEqual(expect.arrayContaining(["execution_start", "executing", "progress", "progress_state", "executed", "execution_success"]));
    expect(binaries(a).map(binaryType)).toEqual([4, 4, 4]);
    await Bun.sleep(50);
    expect(mentioning(b, promptId)).toEqual([]);
    expect(binaries(b)).toEqual([]);
    // The `executed` message recorded A's output as A's.
    const executed = JSON.parse(texts(a).find((t) => t.includes('"executed"'))!) as { data: { output: { images: Array<{ filename: string; subfolder: string }> } } };
    const image = executed.data.output.images[0]!;
    expect(ownership.ownerOfFile({ type: "output", subfolder: image.subfolder, filename: image.filename })).toBe(alice.userId);
  });

  test("through the gateway's own /prompt: the prompt_id it answers with is A's, its events reach A only", async () => {
    const a = await connect(alice, "alice-api-tab");
    const b = await connect(bob, "bob-api-tab");
    const response = await gateway.fetch("/api/prompt", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ prompt: samplerGraph(), client_id: "alice-api-tab" }) });
    expect(response.status).toBe(200);
    const { prompt_id: promptId } = (await response.json()) as { prompt_id: string };
    await waitFor("A's prompt to finish", finished(a, promptId));
    expect(binaries(a).length).toBeGreaterThan(0);
    await Bun.sleep(50);
    expect(mentioning(b, promptId)).toEqual([]);
    expect(binaries(b)).toEqual([]);
  });
});

describe("scenario 2: a prompt without a client_id (API style, broadcast by ComfyUI)", () => {
  test("its progress, progress_state, type-1 previews and execution_interrupted reach A but not B", async () => {
    const a = await connect(alice, "alice-broadcast");
    const b = await connect(bob, "bob-broadcast");
    fake.setExecutionMode("manual");
    const promptId = await queueDirectly(alice, null, 5);
    await fake.step(); // node 1 starts, ticks once (progress, preview), parks before the next tick
    await fake.step(); // one more tick
    fake.interrupt();
    fake.setExecutionMode("auto");
    await fake.waitForIdle(5000);
    await waitFor("A to see the interruption", () => typesOf(a).includes("execution_interrupted"));
    expect(typesOf(a)).toEqual(expect.arrayContaining(["progress", "progress_state", "execution_interrupted"]));
    expect(binaries(a).map(binaryType)).toEqual([1, 1]);
    // The fake did broadcast them: B's upstream socket got them, the relay dropped them.
    await Bun.sleep(50);
    expect(mentioning(b, promptId)).toEqual([]);
    expect(binaries(b)).toEqual([]);
    expect(typesOf(b).every((type) => type === "status")).toBe(true);
  });

  test("type-3 text that a node of A's prompt sends to everyone (sid=None) reaches A only", async () => {
    const a = await connect(alice, "alice-text");
    const b = await connect(bob, "bob-text");
    const promptId = crypto.randomUUID();
    ownership.recordPrompt({ promptId, owner: { userId: alice.userId, username: alice.username }, clientId: a.upstreamSid, now: Date.now() });
    const graph = {
      "1": { class_type: "EmptyImage", inputs: { width: 8, height: 8, batch_size: 1, color: seed++ } },
      "2": { class_type: "GetImageSize", inputs: { image: ["1", 0] } },
      // GetImageSize runs only when something uses its size.
      "3": { class_type: "EmptyImage", inputs: { width: ["2", 0], height: ["2", 1], batch_size: 1, color: 0 } },
      "4": { class_type: "PreviewImage", inputs: { images: ["3", 0] } },
    };
    const response = await fetch(`${fake.url}/prompt`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ prompt: graph, prompt_id: promptId, client_id: a.upstreamSid }) });
    expect(response.status).toBe(200);
    await waitFor("A's prompt to finish", finished(a, promptId));
    // GetImageSize sends its text with sid=None, so B's upstream socket got it as well.
    expect(binaries(a).map(binaryType)).toContain(3);
    await Bun.sleep(50);
    expect(binaries(b)).toEqual([]);
  });
});

describe("scenario 3: sid hijack", () => {
  test("B connecting with A's clientId gets a sid of its own; A is not evicted and keeps receiving", async () => {
    const a = await connect(alice, "victim-id", true);
    const b = await connect(bob, "victim-id", true);
    expect(b.upstreamSid).not.toBe(a.upstreamSid);
    expect(b.clientSid).toBe("victim-id"); // B's own binding of that id, not A's socket
    expect(fake.summary().sockets).toEqual(expect.arrayContaining([a.upstreamSid, b.upstreamSid]));
    // B leaving does not take A's registration with it (the eviction bug needs a shared sid).
    b.socket.close();
    await b.closed;
    await waitFor("B's upstream socket to close", () => !fake.summary().sockets.includes(b.upstreamSid));
    expect(fake.summary().sockets).toContain(a.upstreamSid);
    const promptId = await queueDirectly(alice, a.upstreamSid);
    await waitFor("A's prompt to finish", finished(a, promptId));
    expect(mentioning(b, promptId)).toEqual([]);
  });

  test("B presenting A's clientId and submitting a prompt with it does not aim B's events at A", async () => {
    const a = await connect(alice, "aim-id");
    const b = await connect(bob, "aim-id");
    const response = await fetch(`${gateway.url}/api/prompt`, {
      method: "POST",
      headers: { authorization: `Bearer ${bob.token}`, "content-type": "application/json" },
      body: JSON.stringify({ prompt: samplerGraph(), client_id: "aim-id" }),
    });
    expect(response.status).toBe(200);
    const { prompt_id: promptId } = (await response.json()) as { prompt_id: string };
    await waitFor("B's prompt to finish", finished(b, promptId));
    await Bun.sleep(50);
    expect(mentioning(a, promptId)).toEqual([]);
    expect(binaries(a)).toEqual([]);
  });
});

describe("scenario 4: reconnect storm", () => {
  test("reconnecting with the same clientId while the old socket is open: the old one is replaced, the sid resumes, no upstream socket shares it", async () => {
    const first = await connect(alice, "storm-tab");
    const second = await connect(alice, "storm-tab");
    expect(await first.closed).toEqual({ code: 4000, reason: "replaced by a newer connection with the same clientId" });
    const third = await connect(alice, "storm-tab");
    expect((await second.closed).code).toBe(4000);
    expect(second.upstreamSid).toBe(first.upstreamSid);
    expect(third.upstreamSid).toBe(first.upstreamSid);
    expect(third.clientSid).toBe("storm-tab");
    expect(fake.summary().sockets.filter((sid) => sid === first.upstreamSid)).toHaveLength(1);
    const promptId = await queueDirectly(alice, third.upstreamSid);
    await waitFor("the prompt's events on the newest socket", finished(third, promptId));
    expect(typesOf(third)).toEqual(expect.arrayContaining(["execution_start", "executed", "execution_success"]));
  });

  test("a reconnect while A's prompt runs keeps its events flowing to the new socket, including the prompt-less `executing`", async () => {
    const first = await connect(alice, "running-tab", true);
    const b = await connect(bob, "running-bob");
    fake.setExecutionMode("manual");
    const promptId = await queueDirectly(alice, first.upstreamSid, 4);
    await fake.step(); // node 1 running
    await waitFor("the first progress", () => mentioning(first, promptId).some((t) => t.includes('"progress"')));
    const second = await connect(alice, "running-tab", true);
    await first.closed;
    // ComfyUI greets a reconnect of the running prompt's sid with `executing {node}` (no prompt_id).
    await waitFor("the reconnect's executing", () => texts(second).some((t) => t.includes('"executing"') && !t.includes("prompt_id")));
    fake.setExecutionMode("auto");
    await waitFor("the rest of the prompt on the new socket", finished(second, promptId));
    expect(typesOf(second)).toEqual(expect.arrayContaining(["progress", "executed", "execution_success"]));
    await Bun.sleep(50);
    expect(mentioning(b, promptId)).toEqual([]);
    expect(texts(b).some((t) => t.includes('"executing"'))).toBe(false);
  });

  test("several connections at once with one clientId: one survives, and it receives the events", async () => {
    const attempts = await Promise.allSettled([1, 2, 3].map(() => connect(alice, "burst-tab")));
    const open = attempts.flatMap((attempt) => (attempt.status === "fulfilled" ? [attempt.value] : []));
    expect(open.length).toBeGreaterThan(0);
    await waitFor("all but one to close", () => open.filter((c) => c.socket.readyState === WebSocket.OPEN).length === 1);
    const survivor = open.find((c) => c.socket.readyState === WebSocket.OPEN)!;
    const sid = fake.summary().sockets.filter((s) => s === survivor.upstreamSid);
    expect(sid).toHaveLength(1);
    const promptId = await queueDirectly(alice, survivor.upstreamSid);
    await waitFor("the survivor's events", finished(survivor, promptId));
  });
});

describe("broadcasts", () => {
  test("status reaches both users; a prompt-less extension broadcast too", async () => {
    const a = await connect(alice, "status-a");
    const b = await connect(bob, "status-b");
    const statusesBefore = typesOf(b).filter((type) => type === "status").length;
    fake.broadcast("status", { status: { exec_info: { queue_remaining: 0 } } });
    fake.broadcast("crystools.monitor", { cpu_utilization: 3.5 });
    await waitFor("both to get them", () => [a, b].every((client) => typesOf(client).includes("crystools.monitor")));
    expect(typesOf(b).filter((type) => type === "status").length).toBe(statusesBefore + 1);
    expect(typesOf(a).filter((type) => type === "status").length).toBe(2);
  });

  test("a socket without a clientId is told a gateway-minted one, and the upstream never sees it", async () => {
    const client = await connect(alice, null);
    expect(client.clientSid).toMatch(/^[0-9a-f]{32}$/);
    expect(client.upstreamSid).not.toBe(client.clientSid);
  });
});

describe("relay mechanics with filtering on", () => {
  test("with filtering on, a client that stops reading still gets a large flood whole and in order (backpressure intact)", async () => {
    const a = await connect(alice, "slow-reader");
    // 12.5 MB: more than the socket buffers hold, less than the fake's own send limit (it drops past 16 MB).
    const COUNT = 200;
    const socket = a.socket as unknown as Bun.WebSocket;
    socket.pause();
    fake.flood("bench.flood", COUNT, 64 * 1024, a.upstreamSid);
    await Bun.sleep(200);
    socket.resume();
    const floods = () => texts(a).filter((t) => t.startsWith('{"type": "bench.flood"'));
    await waitFor("the whole flood", () => floods().length === COUNT, 20_000);
    expect(floods().map((t) => (JSON.parse(t) as { data: { seq: number } }).data.seq)).toEqual([...Array(COUNT).keys()]);
  });
});
