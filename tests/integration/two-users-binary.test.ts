/**
 * Issue 4's end-to-end run, through the compiled binary and the fake ComfyUI: users A and B run
 * prompts at the same time over their own WebSockets; each sees only their own queue, history,
 * outputs, previews and uploads; B's attempts on A's things (view, delete, interrupt, history,
 * socket takeover, prompt_id collision, comfy-user spoofing) all fail and the gateway's log
 * records them under B's name. And issue 3's sign-in checks, through the same binary.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startFakeComfyUI, type FakeComfyUI } from "../fake-comfyui/server.ts";
import { compiledGateway } from "../support/compiled-binary.ts";
import { createTestAccount, spawnGateway, TEST_PASSWORD, type SpawnedGateway } from "../support/gateway.ts";

let fake: FakeComfyUI;
let gateway: SpawnedGateway;
let bob: { token: string; userId: string };

beforeAll(async () => {
  const { binary } = await compiledGateway();
  fake = await startFakeComfyUI({ multiUser: true, stepDelayMs: 5 });
  // Previews pass unchecked here: this test is about whose previews reach whom (the NSFW guard,
  // which withholds them from checked users by default, has its own tests).
  gateway = await spawnGateway(fake.url, { command: [binary], env: { MSS_LOGIN_NSFW__PREVIEWS: "pass" } });
  bob = await createTestAccount(gateway.dataDir, "bob", "user");
}, 120_000);
afterAll(async () => {
  await gateway?.stop();
  await fake?.stop();
});

type Who = "alice" | "bob";
const tokenOf = (who: Who) => (who === "alice" ? gateway.account.token : bob.token);
const folderOf = (who: Who) => `u-${who === "alice" ? gateway.account.userId : bob.userId}`;
function call(who: Who, path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${tokenOf(who)}`);
  if (typeof init.body === "string") headers.set("content-type", "application/json");
  return fetch(gateway.url + path, { ...init, headers });
}
const json = async (response: Response) => (await response.json()) as Record<string, unknown>;

interface Socket {
  texts: Array<{ type: string; data: Record<string, unknown> }>;
  previews: number;
  ws: WebSocket;
}

/** A browser-like socket: feature flags first (so previews come with metadata, type 4). */
async function openSocket(who: Who, clientId: string): Promise<Socket> {
  const ws = new WebSocket(`${gateway.url.replace("http", "ws")}/ws?clientId=${clientId}`, { headers: { authorization: `Bearer ${tokenOf(who)}` } } as unknown as string[]);
  ws.binaryType = "arraybuffer";
  const socket: Socket = { texts: [], previews: 0, ws };
  ws.onmessage = (event) => {
    if (typeof event.data === "string") socket.texts.push(JSON.parse(event.data) as Socket["texts"][number]);
    else socket.previews++;
  };
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error(`socket of ${who} failed`));
  });
  ws.send(JSON.stringify({ type: "feature_flags", data: { supports_preview_metadata: true } }));
  return socket;
}

async function until(what: string, check: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(10);
  }
}

function graph(seed: number, prefix: string) {
  return {
    "1": { class_type: "FakeSampler", inputs: { steps: 3, seed, width: 16, height: 16 } },
    "9": { class_type: "SaveImage", inputs: { images: ["1", 0], filename_prefix: prefix } },
  };
}

test("A and B run prompts at once over their own sockets and see only their own; B's attempts fail and are recorded", async () => {
  const a = await openSocket("alice", "tab-a");
  const b = await openSocket("bob", "tab-b");

  // Uploads: each into their own folder.
  const upload = async (who: Who) => {
    const form = new FormData();
    form.append("image", new Blob([new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10])], { type: "image/png" }), `${who}.png`);
    return json(await call(who, "/api/upload/image", { method: "POST", body: form }));
  };
  expect(await upload("alice")).toMatchObject({ subfolder: folderOf("alice") });
  expect(await upload("bob")).toMatchObject({ subfolder: folderOf("bob") });

  // Both submit three prompts each, interleaved, bound to their own sockets.
  const submit = (who: Who, seed: number) => call(who, "/api/prompt", { method: "POST", body: JSON.stringify({ client_id: who === "alice" ? "tab-a" : "tab-b", prompt: graph(seed, who) }) }).then(json);
  const answers = await Promise.all([submit("alice", 1), submit("bob", 2), submit("alice", 3), submit("bob", 4), submit("alice", 5), submit("bob", 6)]);
  const aIds = [answers[0], answers[2], answers[4]].map((x) => x!.prompt_id as string);
  const bIds = [answers[1], answers[3], answers[5]].map((x) => x!.prompt_id as string);

  // While they are queued, each queue shows only its owner's.
  const queued = async (who: Who) => {
    const q = await json(await call(who, "/api/queue"));
    return [...(q.queue_running as unknown[][]), ...(q.queue_pending as unknown[][])].map((item) => item[1] as string);
  };
  for (const id of await queued("alice")) expect(aIds).toContain(id);
  for (const id of await queued("bob")) expect(bIds).toContain(id);

  const done = (socket: Socket, ids: string[]) => ids.every((id) => socket.texts.some((m) => m.type === "executing" && m.data.node === null && m.data.prompt_id === id));
  await until("both users' prompts to finish", () => done(a, aIds) && done(b, bIds), 30_000);

  // Events and previews: each socket saw only its owner's prompts.
  const promptIdsSeen = (socket: Socket) => new Set(socket.texts.map((m) => m.data?.prompt_id).filter((id): id is string => typeof id === "string"));
  expect([...promptIdsSeen(a)].sort()).toEqual([...aIds].sort());
  expect([...promptIdsSeen(b)].sort()).toEqual([...bIds].sort());
  expect(a.previews).toBeGreaterThanOrEqual(9); // 3 steps × 3 prompts
  expect(b.previews).toBeGreaterThanOrEqual(9);
  const statusSid = (socket: Socket) => socket.texts.find((m) => m.type === "status" && typeof m.data.sid === "string")?.data.sid;
  expect([statusSid(a), statusSid(b)]).toEqual(["tab-a", "tab-b"]);

  // History and outputs: only one's own, in one's own folder.
  const historyA = await json(await call("alice", "/api/history"));
  const historyB = await json(await call("bob", "/api/history"));
  expect(Object.keys(historyA).sort()).toEqual([...aIds].sort());
  expect(Object.keys(historyB).sort()).toEqual([...bIds].sort());
  const outputOf = (history: Record<string, unknown>, id: string) => ((history[id] as { outputs: Record<string, { images: Array<{ filename: string; subfolder: string }> }> }).outputs["9"]!.images[0])!;
  const aImage = outputOf(historyA, aIds[0]!);
  expect(aImage.subfolder).toBe(folderOf("alice"));
  const aView = `/api/view?filename=${aImage.filename}&subfolder=${aImage.subfolder}&type=output`;
  expect((await call("alice", aView)).status).toBe(200);

  // B's attempts on A's things.
  expect((await call("bob", aView)).status).toBe(404);
  expect((await call("bob", `/api/view?filename=alice.png&subfolder=${folderOf("alice")}&type=input`)).status).toBe(404);
  expect(await json(await call("bob", `/api/history/${aIds[0]}`))).toEqual({});
  expect((await call("bob", "/api/history", { method: "POST", body: JSON.stringify({ delete: aIds }) })).status).toBe(200);
  expect(Object.keys(await json(await call("alice", "/api/history"))).sort()).toEqual([...aIds].sort());
  const collision = await call("bob", "/api/prompt", { method: "POST", body: JSON.stringify({ prompt: graph(7, "x"), prompt_id: aIds[0] }) });
  expect([collision.status, (await json(collision)).code]).toEqual([400, "PROMPT_ID_TAKEN"]);
  const aComfyUser = Object.keys((await json(await call("alice", "/api/users"))).users as object)[0]!;
  fake.clearRequests();
  await call("bob", "/api/settings", { headers: { "comfy-user": aComfyUser } });
  expect(fake.requests().find((r) => r.target === "/api/settings")!.headers["comfy-user"]).not.toBe(aComfyUser);

  // A long prompt of A's runs; B's interrupt (with or without its id) and a socket under A's clientId change nothing.
  const long = (await json(await call("alice", "/api/prompt", { method: "POST", body: JSON.stringify({ client_id: "tab-a", prompt: { "1": { class_type: "FakeSampler", inputs: { steps: 60, seed: 99, width: 16, height: 16 } }, "9": { class_type: "SaveImage", inputs: { images: ["1", 0], filename_prefix: "long" } } } }) }))).prompt_id as string;
  await until("A's long prompt to start", () => a.texts.some((m) => m.type === "execution_start" && m.data.prompt_id === long));
  const thief = await openSocket("bob", "tab-a");
  expect((await call("bob", "/api/interrupt", { method: "POST", body: "{}" })).status).toBe(200);
  expect((await call("bob", "/api/interrupt", { method: "POST", body: JSON.stringify({ prompt_id: long }) })).status).toBe(200);
  await until("A's long prompt to finish", () => done(a, [long]), 30_000);
  const longStatus = ((await json(await call("alice", `/api/history/${long}`)))[long] as { status: { status_str: string } }).status.status_str;
  expect(longStatus).toBe("success");
  expect(thief.texts.some((m) => m.data?.prompt_id === long)).toBe(false);
  expect(thief.previews).toBe(0);

  // Recorded: the gateway's log names B for each refused reach.
  await Bun.sleep(200);
  const refusals = gateway.log().split("\n").filter((line) => line.includes("isolation: refused") && line.includes("user=bob"));
  for (const action of ["view", "history item", "history delete", "prompt", "comfy-user header", "interrupt"]) {
    expect(refusals.some((line) => line.includes(`action="${action}"`) || line.includes(`action=${action}`)), action).toBe(true);
  }
  for (const socket of [a, b, thief]) socket.ws.close();
}, 120_000);

test("the compiled binary refuses anonymous /api/prompt, /ws and /view; a browser session and an API token both run a prompt; logout ends the cookie at once; a ticket opens the socket once", async () => {
  const prompt = JSON.stringify({ prompt: graph(1234, "auth") });
  for (const [method, path] of [["POST", "/api/prompt"], ["GET", "/ws"], ["GET", "/view?filename=x.png"]] as const) {
    const response = await fetch(gateway.url + path, { method, body: method === "POST" ? prompt : null, headers: path === "/ws" ? { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" } : {} });
    expect(response.status, path).toBe(401);
  }

  // A browser session (bob is a plain user: no second factor required).
  const signedIn = await fetch(`${gateway.url}/login`, { method: "POST", headers: { "content-type": "application/json", "sec-fetch-site": "same-origin" }, body: JSON.stringify({ username: "bob", password: TEST_PASSWORD }) });
  expect(signedIn.status).toBe(200);
  const cookie = signedIn.headers.getSetCookie()[0]!.split(";")[0]!;
  const byCookie = await fetch(`${gateway.url}/api/prompt`, { method: "POST", headers: { cookie, "content-type": "application/json", "sec-fetch-site": "same-origin" }, body: prompt });
  expect(byCookie.status).toBe(200);
  const byToken = await call("alice", "/api/prompt", { method: "POST", body: JSON.stringify({ prompt: graph(4321, "auth") }) });
  expect(byToken.status).toBe(200);

  // A ticket opens the socket exactly once.
  const ticket = ((await (await fetch(`${gateway.url}/mss-login/api/ticket`, { method: "POST", headers: { cookie, "content-type": "application/json", "sec-fetch-site": "same-origin" }, body: "{}" })).json()) as { ticket: string }).ticket;
  const openWith = (t: string) =>
    new Promise<boolean>((resolve) => {
      const ws = new WebSocket(`${gateway.url.replace("http", "ws")}/ws?clientId=ticketed&ticket=${t}`);
      ws.onopen = () => {
        ws.close();
        resolve(true);
      };
      ws.onerror = () => resolve(false);
    });
  expect(await openWith(ticket)).toBe(true);
  expect(await openWith(ticket)).toBe(false);

  const out = await fetch(`${gateway.url}/logout`, { method: "POST", headers: { cookie, "sec-fetch-site": "same-origin" }, redirect: "manual" });
  expect(out.headers.getSetCookie()[0]).toContain("Max-Age=0");
  expect((await fetch(`${gateway.url}/api/queue`, { headers: { cookie } })).status).toBe(401);
}, 60_000);
