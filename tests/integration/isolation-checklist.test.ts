/**
 * Per-user isolation checklist (issue 4): sections 5.2, 5.3, 5.7 and 5.8 of
 * /work/shared/spec/peers-and-security.md and the gateway scenarios of comfyui-api.md §10.8,
 * with two real users A and B (role user, each an account with an API token) through the real
 * gateway and the fake ComfyUI (multi-user, v0.38, manual execution); C is a power user, plus an
 * admin and the owner. Each request carries an `x-check` header, so "nothing reached ComfyUI" is
 * checked per request in the fake's log. Cases the code does not meet are `test.todo` with the
 * test that should pass (`bun test --todo tests/integration/isolation-checklist.test.ts`: each
 * must still fail), and a comment above each names the code at fault or why it is not done.
 *
 * COVERAGE MAP (item → the test that proves it; "this file" = tests/integration/isolation-checklist.test.ts,
 * isolation = tests/integration/isolation.test.ts, ws-isolation = tests/integration/websocket-isolation.test.ts,
 * matrix = tests/integration/authorization-matrix.test.ts, forwarding = tests/integration/forwarding.test.ts,
 * path-forwarding = tests/integration/path-forwarding.test.ts, sign-in = tests/integration/sign-in.test.ts,
 * model-grants = tests/integration/model-grants.test.ts, unit/X = tests/unit/X.test.ts). TODO = a code gap
 * or a feature not built yet (with the issue that will build it), written as test.todo here.
 * DECISION = the project chose another remedy than the checklist's wording; the test checks that remedy.
 *
 * 5.2 Identity and trust headers
 *  15 comfy-user spoofing       → this file :: "15 / §10.8.5: a forged comfy-user (any spelling, another user's id or a system id) never reaches ComfyUI; ..."
 *                                  + isolation :: "B's forged comfy-user never reaches ComfyUI; /users shows only the caller; POST /users is refused"
 *                                  + forwarding :: "header names with underscores are dropped whole (Comfy_User, X_Forwarded_For)"
 *  16 X-Forwarded-For spoofing  → this file :: "16: a spoofed X-Forwarded-For does not escape the per-address sign-in limit, ..."
 *                                  + unit/client-address :: "from a trusted proxy, X-Forwarded-For is read right to left past trusted hops"
 *  17 localhost bypass          → this file :: "17: no implicit trust for loopback: ..." (every matrix request is from 127.0.0.1 too: anonymous → 401)
 *  18 X-Forwarded-Proto/-Host   → this file :: "18: X-Forwarded-Proto and X-Forwarded-Host from an untrusted peer change no cookie, redirect or link"
 *                                  + sign-in :: "cookie attributes: ... over HTTPS (per a trusted proxy) Secure and __Host- (5.4.34)"
 *  19 IP parsing edge cases     → this file :: "19: forwarded addresses are read canonically: ..."
 *                                  + unit/config :: "IPs and CIDRs, v4 and v6" (010.0.0.1, fe80::1%eth0 refused), "a CIDR with host bits set is refused ..."
 *                                  + unit/client-address :: "IPv6, IPv4-mapped addresses, brackets and ports are read canonically", "CIDR boundaries"
 *                                  (no live-edited address lists exist: trusted_proxies is validated when the configuration loads)
 *  20 direct backend access     → this file :: "20: the gateway warns at startup when ComfyUI is addressed beyond loopback ...; not for 127.x, ::1 or localhost"
 *                                  (the gateway cannot see how ComfyUI itself listens: it warns on the upstream.url it is given)
 *
 * 5.3 WebSocket
 *  21 credentials on upgrade    → this file :: "21 / 26: upgrades without a valid credential are refused with 401 before anything opens upstream, ..."
 *                                  + sign-in :: "the WebSocket upgrade is refused with 401 before anything is opened upstream"
 *                                  Origin on upgrade: forwarding :: "a WebSocket upgrade from another origin is refused"
 *                                  cookies checked: this file :: "25: a role change ..." and "§10.8.10: ..." (cookie-opened sockets)
 *  22 clientId hijack           → ws-isolation :: "B connecting with A's clientId gets a sid of its own; A is not evicted and keeps receiving"
 *                                  + unit/sockets :: "another user presenting that clientId gets a sid of their own, and the owner's socket is left alone"
 *  23 client_id injection       → ws-isolation :: "B presenting A's clientId and submitting a prompt with it does not aim B's events at A"
 *                                  + unit/isolation :: "client_id: the caller's own socket, else their latest, else a sink (never broadcast)"
 *  24 event leakage             → ws-isolation :: "A's targeted events (executing, executed, progress, type-4 previews) reach A's socket and not B's",
 *                                  "its progress, progress_state, type-1 previews and execution_interrupted reach A but not B",
 *                                  "status reaches both users; a prompt-less extension broadcast too" (status is ComfyUI's queue length only)
 *  25 session end               → logout: sign-in :: "signing out closes the session's open socket at once (1008)"
 *                                  token revoked: sign-in :: "revoking an API token closes the sockets it opened"
 *                                  disable: this file :: "25: disabling a user closes the sockets their API token opened, within seconds"
 *                                  role change: this file :: "25: a role change ends the user's browser sessions and closes the sockets they opened"
 *                                  password change: this file :: "25: a password change ends the user's other sessions and closes the sockets they opened"
 *                                  permission change: this file :: "25: a permission change (PUT /mss-login/api/groups) that takes can_access_api from a role closes that role's open sockets at once; ..."
 *  26 tokens in the WS URL      → this file :: "21 / 26: ..." (?token=, ?access_token=, ?ticket= with an API token: 401)
 *                                  + sign-in :: "a ticket opens the WebSocket exactly once", "tokens in the URL are refused unless the operator enables ..."
 *                                  redaction: tests/integration/auth-checklist.test.ts :: "37: passwords, cookies, bearer tokens, ?token=, tickets and api_key_comfy_org never reach the log"
 *  27 flooding                  → frame cap: this file :: "27: a client frame over the size cap closes the socket (1009); ..."
 *                                  per-user socket cap: this file :: "27: one user cannot hold an unbounded number of sockets: of 64 opened at once, at most 32 open and the rest get 429 TOO_MANY_SOCKETS ..."
 *                                  message rate limit: this file :: "27: a client flooding small frames is cut off by a message rate limit" (200 messages a second, then 1008)
 *  28 /internal/logs/subscribe  → this file :: "28: PATCH /internal/logs/subscribe (admins only) subscribes one of the caller's own sockets by its upstream sid; ..."
 *                                  + matrix :: "ComfyUI routes: every id × method × spelling ..." (403 ADMIN_ONLY for guest, user, power; 400 CLIENT_ID_UNKNOWN for admin, owner)
 *                                  closed socket's clientId: this file :: "28: a clientId whose socket has closed gets 400 CLIENT_ID_UNKNOWN ..."
 *
 * 5.7 Per-user isolation (BOLA/IDOR)
 *  52 queue, history, jobs      → isolation :: "each user sees only their own queue and history; the owner sees both, labelled",
 *                                  "lists, details and cancels only the caller's jobs, paged after filtering" (another's job: 404; another's history id: {})
 *                                  "view others" exception: this file :: "52: a role given can_view_all_comfyui_items sees everyone's queue and history ..."
 *                                  + matrix (history.item/jobs.item of an unknown id answered by the gateway for guest, user, power)
 *  53 destructive queue ops     → isolation :: "B cannot delete, clear or interrupt A's prompts; B's own go", "lists, details and cancels only the caller's jobs, ..."
 *  54 interrupt                 → isolation :: "B cannot delete, clear or interrupt A's prompts; B's own go"
 *                                  + this file :: "54: an interrupt without prompt_id stops A's running prompt only when the owner sends it ..."
 *  55 priority jumping          → this file :: "55: `front: true` or a negative `number` from a role that does not see everything is dropped before ComfyUI ...; the owner and a role with can_view_all_comfyui_items keep them"
 *  56 /view across users        → isolation :: "outputs land in the owner's folder and only the owner (and admins) can view them" (name, subfolder, annotation, type)
 *                                  + isolation :: "PreviewImage temp files are the prompt owner's"
 *                                  + this file :: "56: A's outputs are not B's by preview=webp, channel=a, annotation or another type"
 *                                  blake3 names: this file :: "56: B's /view?filename=blake3:<hash of A's upload> answers 404 from the gateway and is not forwarded ...; the owner's is forwarded"
 *  57 listings                  → LoadImage options: isolation :: "uploads go to the uploader's folder, show in their LoadImage list only, ..."
 *                                  /internal/files: matrix (403 ADMIN_ONLY below admin) + path-forwarding :: "operator-only ComfyUI routes ... are refused to non-admins"
 *                                  /api/models/*: model-grants :: "A's lists show only A's models; B's show none"
 *  58 userdata                  → this file :: "58: B cannot list, read, write or move A's workflows through /userdata, /v2/userdata or a move's source or destination"
 *  59 graph file references     → this file :: "59: a file-referencing input of any node that names another user's file is refused before ComfyUI ..."
 *                                  + isolation :: "uploads go to the uploader's folder, ..." (LoadImage) + unit/isolation :: "another user's uploads and outputs cannot be used; ..."
 *  60 output path escape        → this file :: "60: SaveImage prefixes that climb, are absolute or name another user's folder are forced into the caller's folder; ..."
 *                                  + unit/isolation :: "outputs go into the caller's folder, whatever the prefix tries"
 *
 * 5.8 Path traversal and uploads
 *  61 /view traversal           → this file :: "61: /view traversal gets no file: subfolder traversal ... is refused by the gateway itself; a NUL in the name finds nothing"
 *                                  + this file :: "61: /view filename traversal (`..` anywhere, a leading `/`; ...) is refused by the gateway itself with 400 BAD_FILENAME, ..."
 *                                  (symlinks: the gateway serves no files itself)
 *  62 userdata names            → this file :: "62: userdata names that climb, are absolute, carry a drive letter, a UNC prefix, backslashes or NUL are refused before ComfyUI"
 *                                  + path-forwarding :: "/api/userdata/..%2f..%2fusers.json is refused with 400 and never reaches ComfyUI" (and its %252e, workflows%2F..%2F siblings)
 *                                  device names, trailing dots/spaces: this file :: "62: userdata names that are Windows device names ..."
 *                                  (not done: ComfyUI on Linux treats them as ordinary names; only matters for a Windows host)
 *  63 uploads                   → subfolder/type/overwrite: this file :: "63: an upload's subfolder, type and overwrite cannot reach another user's folder; ..."
 *                                  + isolation :: "uploads go to the uploader's folder, ..." (subfolder forced; original_ref of another's file: 403)
 *                                  filename traversal (DECISION: sanitised, not refused): this file :: "63: an upload file name that climbs out of the caller's folder (...) reaches ComfyUI as its base name ..."
 *                                  mask uploads: this file :: "63: a mask upload (own original_ref) succeeds through the gateway ..."
 *                                  SVG/HTML (DECISION: not refused; user-file answers sandboxed): this file :: "63: an SVG or HTML upload with script is served under `Content-Security-Policy: sandbox` and nosniff ..."
 *                                  decompression bombs: this file :: "63: decompression bombs: an upload whose header declares a huge pixel count is refused ..."
 *                                  NSFW on uploads: this file :: "63 / 5.11: the NSFW check runs on uploads of a checked user: ..." (+ nsfw-binary)
 *                                  size: this file :: "§10.8.12: an upload over the limit gets 413 through the upload interceptor, ..."
 *  64 model download            → folders and names: downloads-binary :: "a folder that is not one of ComfyUI's, or a path, is refused", the URL table ("…/..%2F..%2Fetc%2Fpasswd.safetensors → 400 FILENAME_INVALID"),
 *                                  "an existing model is never overwritten"; unit downloads :: "bad fields are refused with their own codes"
 *                                  (ComfyUI-Manager's own installer is custom.comfyui-manager: power and up, in the matrix)
 *
 * comfyui-api.md §10.8 gateway scenarios
 *   1 A's prompt invisible to B → queue/history/jobs: isolation :: "each user sees only their own queue and history; ...", "lists, details and cancels only the caller's jobs, ..."
 *                                  WebSocket: ws-isolation scenario 1 tests; /view: isolation :: "outputs land in the owner's folder ..."
 *                                  /internal/files: matrix (ADMIN_ONLY below admin)
 *   2 prompt without client_id  → ws-isolation :: "its progress, progress_state, type-1 previews and execution_interrupted reach A but not B"
 *   3 sid hijack                → ws-isolation :: "B connecting with A's clientId gets a sid of its own; A is not evicted and keeps receiving"
 *   4 reconnect storm           → ws-isolation scenario 4 tests (+ unit/sockets reconnect tests)
 *   5 header ownership          → this file :: "15 / §10.8.5: ..." (/api, plain, /internal and custom-node routes) + isolation :: "B's forged comfy-user ..."
 *   6 /users from a non-admin   → isolation :: "B's forged comfy-user never reaches ComfyUI; /users shows only the caller; POST /users is refused"
 *                                  + matrix (POST /users, /api/users: 403 ADMIN_ONLY below admin)
 *   7 %2F and %252F userdata    → path-forwarding :: "GET /api/userdata/workflows%2Fa.json arrives byte-identical" (and %252F, move, list siblings)
 *                                  decoded like ComfyUI for the decision: matrix (Workflows%252F... → 403 WORKFLOW_DENIED for guests) + unit/route-table
 *   8 clear / interrupt         → isolation :: "B cannot delete, clear or interrupt A's prompts; B's own go"
 *   9 prompt_id collision       → isolation :: "prompt_id: a client may choose a new UUID, never one already used (A's)"
 *  10 Origin/Host rule          → this file :: "§10.8.10: a browser session's POST with the gateway's Origin, and its WebSocket upgrade, reach the loopback ComfyUI ..."
 *                                  + forwarding :: "identity, routing and hop-by-hop headers never reach the upstream; Host and Origin are the upstream's",
 *                                  "the upgrade reaches the upstream with its Origin and without client identity headers"
 *  11 HTML injection            → this file :: "§10.8.11: ..."; comfy-page-ui :: injection once, ETag/304, per-role styles, /api/extensions;
 *                                  Comfy.Extension.Disabled filter: isolation :: "a settings write cannot switch off the gateway's own extension"
 *                                  script injection, /api/extensions: TODO this file (issue 5)
 *  12 large upload              → this file :: "§10.8.12: ..." (through the upload interceptor)
 *                                  + forwarding :: "a declared length over the limit is refused with 413 before the upstream is contacted",
 *                                  "a chunked body that grows past the limit is cut off with 413"
 *  13 v0.38 profile             → jobs paging, another's job 404, cancel does nothing: isolation :: "lists, details and cancels only the caller's jobs, paged after filtering"
 *                                  /api/assets for non-admins: matrix (every asset route: 403 ADMIN_ONLY for guest, user, power)
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createClientResolver } from "../../src/gateway/client-address.ts";
import { fileBytes } from "../fake-comfyui/file-store.ts";
import { startFakeComfyUI, type FakeComfyUI, type RecordedRequest } from "../fake-comfyui/server.ts";
import { createTestAccount, startTestGateway, TEST_PASSWORD, type TestAccount, type TestGateway } from "../support/gateway.ts";
import { concatBytes, PNG_SIGNATURE, pngChunk, pngIhdr, safeImage } from "../support/nsfw-images.ts";

const UPLOAD_LIMIT = 1024 * 1024;

let fake: FakeComfyUI;
let gateway: TestGateway;
/** Two real users, A and B (role user); C a power user; an admin; the owner. */
let A: TestAccount;
let B: TestAccount;
let C: TestAccount;
let admin: TestAccount;
let owner: TestAccount;

beforeAll(async () => {
  fake = await startFakeComfyUI({ multiUser: true, profile: "v0.38", execution: "manual" });
  gateway = await startTestGateway(fake.url, [], { MSS_LOGIN_LIMITS__MAX_UPLOAD_BYTES: String(UPLOAD_LIMIT), MSS_LOGIN_REGULATION__IP_ATTEMPTS_PER_MINUTE: "200" });
  A = gateway.account;
  B = await createTestAccount(gateway.dataDir, "bob", "user");
  C = await createTestAccount(gateway.dataDir, "carol", "power");
  admin = await createTestAccount(gateway.dataDir, "adam", "admin");
  owner = await createTestAccount(gateway.dataDir, "olga", "owner");
});
afterAll(async () => {
  await gateway?.stop();
  await fake?.stop();
});

// ---------------------------------------------------------------------------------------------
// Helpers.

let tags = 0;
/** A header that marks one request, so that what reached ComfyUI is attributed to it. */
function tag(): string {
  return `c${++tags}`;
}
const upstreamOf = (tagValue: string): RecordedRequest[] => fake.requests().filter((r) => r.headers["x-check"] === tagValue);

function call(who: TestAccount | null, path: string, init: RequestInit = {}, tagValue = tag()): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("x-check", tagValue);
  if (who !== null && !headers.has("authorization")) headers.set("authorization", `Bearer ${who.token}`);
  if (typeof init.body === "string" && !headers.has("content-type")) headers.set("content-type", "application/json");
  return fetch(gateway.url + path, { redirect: "manual", ...init, headers });
}
const post = (who: TestAccount, path: string, body: unknown, tagValue = tag()) => call(who, path, { method: "POST", body: JSON.stringify(body) }, tagValue);
const json = async (response: Response) => (await response.json()) as Record<string, unknown>;

/** The ComfyUI user the gateway maps an account to (its `/users` shows only the caller's own). */
async function comfyUserOf(who: TestAccount): Promise<string> {
  const users = (await json(await call(who, "/api/users"))).users as Record<string, string>;
  const ids = Object.keys(users);
  expect(ids.length).toBe(1);
  return ids[0]!;
}

async function runAll(): Promise<void> {
  for (let i = 0; i < 500 && fake.summary().queue_remaining > 0; i++) await fake.step();
  await fake.waitForIdle(5000);
}

let colour = 0;
function saveGraph(prefix = "check") {
  colour++;
  return {
    "1": { class_type: "EmptyImage", inputs: { width: 8, height: 8, batch_size: 1, color: colour } },
    "9": { class_type: "SaveImage", inputs: { images: ["1", 0], filename_prefix: prefix } },
  };
}
async function queue(who: TestAccount, extra: Record<string, unknown> = {}): Promise<string> {
  const response = await post(who, "/api/prompt", { prompt: saveGraph(), ...extra });
  const body = await json(response);
  expect(response.status, JSON.stringify(body)).toBe(200);
  return body.prompt_id as string;
}

const PNG = new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10, 0, 0, 0, 13]);

/** A multipart body written by hand, so that file names reach the gateway exactly as given. */
function multipart(parts: Array<{ name: string; value: string } | { name: string; filename: string; type: string; data: Uint8Array }>): { body: Uint8Array<ArrayBuffer>; contentType: string } {
  const boundary = `----check${Math.random().toString(16).slice(2)}`;
  const chunks: Uint8Array[] = [];
  const text = (s: string) => chunks.push(new TextEncoder().encode(s));
  for (const part of parts) {
    if ("filename" in part) {
      text(`--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"; filename="${part.filename}"\r\nContent-Type: ${part.type}\r\n\r\n`);
      chunks.push(part.data);
      text("\r\n");
    } else {
      text(`--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"\r\n\r\n${part.value}\r\n`);
    }
  }
  text(`--${boundary}--\r\n`);
  const body = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    body.set(c, at);
    at += c.byteLength;
  }
  return { body, contentType: `multipart/form-data; boundary=${boundary}` };
}
async function upload(who: TestAccount, filename: string, fields: Record<string, string> = {}, data: Uint8Array = PNG, type = "image/png", tagValue = tag()): Promise<Response> {
  const form = multipart([{ name: "image", filename, type, data }, ...Object.entries(fields).map(([name, value]) => ({ name, value }))]);
  return call(who, "/api/upload/image", { method: "POST", body: form.body, headers: { "content-type": form.contentType } }, tagValue);
}

interface Socket {
  socket: WebSocket;
  closed: Promise<{ code: number; reason: string }>;
}
/** Opens a WebSocket through the gateway; resolves once it is open (rejects when refused). */
async function openSocket(path: string, headers: Record<string, string>): Promise<Socket> {
  const socket = new WebSocket(gateway.wsUrl + path, { headers } as unknown as string[]);
  const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.addEventListener("close", (event) => resolve({ code: event.code, reason: event.reason })));
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener("open", () => resolve());
    socket.addEventListener("error", () => reject(new Error(`websocket ${path} refused`)));
  });
  return { socket, closed };
}
/** A socket opened as `who`, with the sid the gateway minted for it upstream (read off the upgrade ComfyUI saw). */
async function openSocketWithSid(path: string, who: TestAccount): Promise<Socket & { upstreamSid: string }> {
  const upgrades = () => fake.requests().filter((r) => /^\/(api\/)?ws(\?|$)/.test(r.target));
  const before = upgrades().length;
  const opened = await openSocket(path, { authorization: `Bearer ${who.token}` });
  for (let i = 0; i < 200 && upgrades().length === before; i++) await Bun.sleep(5);
  const upgrade = upgrades()[before];
  if (upgrade === undefined) throw new Error(`no upstream upgrade for ${path}`);
  return { ...opened, upstreamSid: new URL(`http://x${upgrade.target}`).searchParams.get("clientId")! };
}
const closedWithin = (s: Socket, ms: number) => Promise.race([s.closed, Bun.sleep(ms).then(() => null)]);

/** A raw upgrade attempt (fetch with the upgrade headers): the gateway's answer before any socket. */
function upgradeAttempt(path: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(gateway.url + path, { headers: { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13", ...headers } });
}
const upstreamUpgrades = () => fake.requests().filter((r) => /^\/(api\/)?ws(\?|$)/.test(r.target)).length;

async function login(username: string, password = TEST_PASSWORD): Promise<string> {
  const response = await fetch(`${gateway.url}/login`, { method: "POST", headers: { "content-type": "application/json", "sec-fetch-site": "same-origin" }, body: JSON.stringify({ username, password }), redirect: "manual" });
  const cookie = response.headers.getSetCookie().find((c) => c.startsWith("mss_session="));
  if (cookie === undefined) throw new Error(`no session for ${username}: ${response.status} ${await response.text()}`);
  return cookie.split(";")[0]!;
}

/** The owner's admin API (an all-scope owner token needs no step-up). */
const asOwner = (method: string, path: string, body: unknown) => call(owner, path, { method, body: JSON.stringify(body) });
const setRole = (username: string, role: string) => asOwner("PUT", `/mss-login/api/users/${username}`, { role });
const setGroups = (groups: Record<string, Record<string, boolean>>) => asOwner("PUT", "/mss-login/api/groups", { groups });

// =============================================================================================
// 5.2 Identity and trust headers

describe("5.2 identity and trust headers", () => {
  test("15 / §10.8.5: a forged comfy-user (any spelling, another user's id or a system id) never reaches ComfyUI; the caller's own id does, on /api, plain, /internal and custom-node routes", async () => {
    const aId = await comfyUserOf(A);
    const ids = new Map<TestAccount, string>([
      [B, await comfyUserOf(B)],
      [C, await comfyUserOf(C)],
      [admin, await comfyUserOf(admin)],
    ]);
    const routes: Array<[TestAccount, string]> = [
      [B, "/api/settings"],
      [B, "/settings"],
      [B, "/api/userdata?dir=workflows"],
      [B, "/userdata?dir=workflows"],
      [B, "/api/v2/userdata?path="],
      [B, "/api/prompt"],
      [B, "/api/queue"],
      [C, "/manager/version"], // custom node (ComfyUI-Manager), plain and /api
      [C, "/api/manager/version"],
      [admin, "/internal/logs"],
      [admin, "/internal/files/input"],
    ];
    const forgeries: Array<Record<string, string>> = [{ "comfy-user": aId }, { "Comfy-User": aId }, { "COMFY-USER": aId }, { "comfy-user": "__manager" }, { comfy_user: aId }, { "comfy-user": `${aId}, ${aId}` }];
    const wrong: string[] = [];
    for (const [who, path] of routes) {
      for (const forged of forgeries) {
        const t = tag();
        const response = await call(who, path, { headers: forged }, t);
        const seen = upstreamOf(t);
        if (seen.length === 0) wrong.push(`${path} ${JSON.stringify(forged)}: not forwarded (${response.status})`);
        for (const r of seen) if (r.headers["comfy-user"] !== ids.get(who)) wrong.push(`${path} ${JSON.stringify(forged)}: upstream saw comfy-user=${r.headers["comfy-user"]}`);
        if (Object.keys(seen[0]?.headers ?? {}).some((name) => name.includes("_"))) wrong.push(`${path}: an underscore header reached ComfyUI`);
      }
    }
    expect(wrong).toEqual([]);
  });

  test("16: a spoofed X-Forwarded-For does not escape the per-address sign-in limit, with or without a trusted proxy (the right-most untrusted hop counts)", async () => {
    const attempt = (local: TestGateway, xff: string) =>
      fetch(`${local.url}/login`, { method: "POST", headers: { "content-type": "application/json", "x-forwarded-for": xff }, body: JSON.stringify({ username: `nobody${Math.random()}`, password: "whatever it is" }) }).then((r) => r.status);
    const direct = await startTestGateway(fake.url, [], { MSS_LOGIN_REGULATION__IP_ATTEMPTS_PER_MINUTE: "2" });
    try {
      // No trusted proxy: the socket peer is the client, whatever the header claims.
      expect([await attempt(direct, "198.51.100.1"), await attempt(direct, "198.51.100.2"), await attempt(direct, "198.51.100.3")]).toEqual([401, 401, 429]);
    } finally {
      await direct.stop();
    }
    const proxied = await startTestGateway(fake.url, [], { MSS_LOGIN_REGULATION__IP_ATTEMPTS_PER_MINUTE: "2", MSS_LOGIN_TRUSTED_PROXIES: "127.0.0.1" });
    try {
      // Behind a trusted proxy: a new left-most entry each time (Sentinel's flaw) changes nothing.
      expect([await attempt(proxied, "6.6.6.1, 203.0.113.7"), await attempt(proxied, "6.6.6.2, 203.0.113.7"), await attempt(proxied, "6.6.6.3, 203.0.113.7")]).toEqual([401, 401, 429]);
      // Another real client behind the same proxy has a bucket of its own.
      expect(await attempt(proxied, "203.0.113.8")).toBe(401);
    } finally {
      await proxied.stop();
    }
  });

  test("17: no implicit trust for loopback: anonymous requests from 127.0.0.1, with or without headers claiming loopback, are refused and nothing reaches ComfyUI", async () => {
    const claims: Array<Record<string, string>> = [{}, { "x-forwarded-for": "127.0.0.1" }, { "x-real-ip": "127.0.0.1", forwarded: "for=127.0.0.1" }, { host: "localhost" }];
    for (const claim of claims) {
      for (const [method, path] of [["GET", "/api/queue"], ["POST", "/api/prompt"], ["GET", "/internal/logs"], ["GET", "/api/view?filename=x.png"]] as const) {
        const t = tag();
        const response = await call(null, path, { method, headers: claim, body: method === "POST" ? JSON.stringify({ prompt: saveGraph() }) : undefined }, t);
        expect(response.status).toBe(401);
        expect(upstreamOf(t)).toEqual([]);
      }
      const page = await call(null, "/", { headers: { ...claim, "sec-fetch-mode": "navigate", accept: "text/html" } });
      expect(page.status).toBe(302);
      expect(page.headers.get("location")).toStartWith("/login");
    }
    const before = upstreamUpgrades();
    expect((await upgradeAttempt("/ws", { "x-forwarded-for": "127.0.0.1" })).status).toBe(401);
    expect(upstreamUpgrades()).toBe(before);
  });

  test("18: X-Forwarded-Proto and X-Forwarded-Host from an untrusted peer change no cookie, redirect or link", async () => {
    const spoof = { "x-forwarded-proto": "https", "x-forwarded-host": "evil.example", forwarded: "proto=https;host=evil.example" };
    const form = await fetch(`${gateway.url}/login`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", "sec-fetch-site": "same-origin", "sec-fetch-mode": "navigate", accept: "text/html", ...spoof },
      body: new URLSearchParams({ username: "bob", password: TEST_PASSWORD, next: "/queue-page" }).toString(),
      redirect: "manual",
    });
    expect(form.status).toBe(302);
    expect(form.headers.get("location")).toBe("/queue-page");
    const cookie = form.headers.getSetCookie()[0]!;
    expect(cookie).toStartWith("mss_session=");
    expect(cookie).not.toContain("Secure");
    // A browser sent to sign in is sent to a path, never to the claimed host.
    const redirected = await call(null, "/api/queue", { headers: { ...spoof, "sec-fetch-mode": "navigate", accept: "text/html" } });
    expect(redirected.headers.get("location")).toStartWith("/login?");
    // A password-reset link is a path too: the claimed host cannot end up in it.
    const reset = await call(owner, "/mss-login/api/users/bob/password-reset", { method: "POST", body: "{}", headers: spoof });
    expect(reset.status).toBe(200);
    const resetPath = (await json(reset)).reset_path as string;
    expect(resetPath).toStartWith("/reset?token=");
    expect(resetPath).not.toContain("evil");
  });

  test("19: forwarded addresses are read canonically: octal-looking, hex, zone-id and trailing-dot forms never pass as a trusted or another address", () => {
    // Config-side parsing (010.0.0.1, fe80::1%eth0 refused as proxies) is unit/config :: "IPs and CIDRs, v4 and v6".
    const resolve = createClientResolver(["10.0.0.0/8"]);
    for (const claimed of ["010.000.000.001", "0x0a.0.0.1", "10.0.0.1.", "fe80::1%eth0", "1.2.3.4, 010.0.0.1"]) {
      expect(resolve("10.0.0.1", new Headers({ "x-forwarded-for": claimed })).ip).toBe("unknown");
    }
    // IPv4-mapped IPv6, in either spelling, is the IPv4 address (so it matches the IPv4 range).
    expect(resolve("10.0.0.1", new Headers({ "x-forwarded-for": "::ffff:0a00:0005" })).ip).toBe("10.0.0.5");
    expect(resolve("::ffff:10.0.0.5", new Headers({ "x-forwarded-for": "198.51.100.9" })).ip).toBe("198.51.100.9");
    // An unparseable peer is never trusted.
    expect(resolve("010.0.0.1", new Headers({ "x-forwarded-for": "198.51.100.9" })).ip).toBe("unknown");
  });

  // The gateway cannot see how ComfyUI itself listens (a probe from here reaches it over
  // loopback either way); it warns when it is told to address ComfyUI beyond loopback.
  test("20: the gateway warns at startup when ComfyUI is addressed beyond loopback (direct backend access bypasses every check); not for 127.x, ::1 or localhost", async () => {
    const warned = /WARN ComfyUI is addressed beyond loopback/;
    const startupLines = async (upstreamUrl: string): Promise<string[]> => {
      const logLines: string[] = [];
      // Nothing is asked of the upstream at startup: an unreachable address starts too.
      const local = await startTestGateway(upstreamUrl, [], {}, "owner", { logLines }); // an owner exists: no setup link on the console
      await local.stop();
      return logLines;
    };
    for (const upstreamUrl of ["http://10.0.0.5:8188", "http://[fd00::5]:8188", "http://comfy.internal:8188"]) {
      const lines = await startupLines(upstreamUrl);
      const line = lines.find((l) => warned.test(l));
      expect(line, `${upstreamUrl}: ${lines.join("\n")}`).toBeDefined();
      expect(line).toContain(upstreamUrl.replace(/:8188$/, ""));
    }
    for (const upstreamUrl of [fake.url, `http://127.0.0.2:${fake.port}`, `http://localhost:${fake.port}`, `http://[::1]:${fake.port}`]) {
      expect((await startupLines(upstreamUrl)).filter((l) => warned.test(l)), upstreamUrl).toEqual([]);
    }
  });
});

// =============================================================================================
// 5.3 WebSocket

describe("5.3 WebSocket", () => {
  test("21 / 26: upgrades without a valid credential are refused with 401 before anything opens upstream, at /ws and /api/ws: none, forged, revoked, or a long-lived API token in the URL", async () => {
    const made = await call(C, "/mss-login/generate_token", { method: "POST", body: JSON.stringify({ label: "ws-check", scopes: "read,run" }) });
    expect(made.status).toBe(200);
    const { jwt_token: revocable, id } = (await json(made)) as { jwt_token: string; id: string };
    expect((await call(C, "/mss-login/api/tokens", { method: "DELETE", body: JSON.stringify({ id }) })).status).toBe(200);
    const before = upstreamUpgrades();
    for (const path of ["/ws", "/api/ws"]) {
      expect((await upgradeAttempt(`${path}?clientId=x1`)).status).toBe(401);
      expect((await upgradeAttempt(`${path}?clientId=x1`, { authorization: "Bearer mss_forged" })).status).toBe(401);
      expect((await upgradeAttempt(`${path}?clientId=x1`, { authorization: `Bearer ${revocable}` })).status).toBe(401);
      expect((await upgradeAttempt(`${path}?clientId=x1&token=${C.token}`)).status).toBe(401);
      expect((await upgradeAttempt(`${path}?clientId=x1&access_token=${C.token}`)).status).toBe(401);
      expect((await upgradeAttempt(`${path}?clientId=x1&ticket=${C.token}`)).status).toBe(401);
    }
    expect(upstreamUpgrades()).toBe(before);
    // The same token in the header opens it.
    const open = await openSocket("/api/ws?clientId=x1", { authorization: `Bearer ${C.token}` });
    open.socket.close();
  });

  test("25: disabling a user closes the sockets their API token opened, within seconds", async () => {
    const dora = await createTestAccount(gateway.dataDir, "dora", "user");
    const socket = await openSocket("/ws?clientId=dora1", { authorization: `Bearer ${dora.token}` });
    expect((await asOwner("PUT", "/mss-login/api/users/dora", { disabled: true })).status).toBe(200);
    expect((await closedWithin(socket, 3000))?.code).toBe(1008);
    expect((await call(dora, "/api/queue")).status).toBe(401);
  });

  test("25: a role change ends the user's browser sessions and closes the sockets they opened", async () => {
    const cookie = await login("bob");
    const socket = await openSocket("/ws?clientId=bob-role", { cookie, origin: gateway.url });
    try {
      expect((await setRole("bob", "guest")).status).toBe(200);
      expect((await closedWithin(socket, 3000))?.code).toBe(1008);
      expect((await fetch(`${gateway.url}/api/queue`, { headers: { cookie } })).status).toBe(401);
    } finally {
      expect((await setRole("bob", "user")).status).toBe(200);
    }
  });

  test("25: a password change ends the user's other sessions and closes the sockets they opened", async () => {
    await createTestAccount(gateway.dataDir, "erin", "user");
    const first = await login("erin");
    const second = await login("erin");
    const socket = await openSocket("/ws?clientId=erin1", { cookie: first, origin: gateway.url });
    const changed = await fetch(`${gateway.url}/mss-login/api/me/password`, {
      method: "POST",
      headers: { cookie: second, "content-type": "application/json", origin: gateway.url },
      body: JSON.stringify({ current_password: TEST_PASSWORD, new_password: "an entirely new passphrase 7" }),
    });
    expect(changed.status).toBe(200);
    expect((await closedWithin(socket, 3000))?.code).toBe(1008);
  });

  test("25: a permission change (PUT /mss-login/api/groups) that takes can_access_api from a role closes that role's open sockets at once; other roles' stay open", async () => {
    const socket = await openSocket("/ws?clientId=carol-perm", { authorization: `Bearer ${C.token}` });
    const other = await openSocket("/ws?clientId=bob-perm", { authorization: `Bearer ${B.token}` });
    try {
      expect((await setGroups({ power: { can_access_api: false } })).status).toBe(200);
      const t = tag();
      const refused = await call(C, "/api/history", {}, t);
      expect(refused.status).toBe(403);
      expect(await json(refused)).toMatchObject({ code: "API_DENIED" });
      expect(upstreamOf(t)).toEqual([]);
      // The groups change sweeps the relays itself: no waiting for the periodic sweep (15 s).
      expect((await closedWithin(socket, 3000))?.code).toBe(1008);
      expect(await closedWithin(other, 200)).toBeNull();
      // A new socket for the role is refused before anything opens upstream.
      const before = upstreamUpgrades();
      expect((await upgradeAttempt("/ws?clientId=carol-perm2", { authorization: `Bearer ${C.token}` })).status).toBe(403);
      expect(upstreamUpgrades()).toBe(before);
    } finally {
      expect((await setGroups({ power: { can_access_api: true } })).status).toBe(200);
      socket.socket.close();
      other.socket.close();
    }
  });

  test("27: a client frame over the size cap closes the socket (1009); nothing of it reaches ComfyUI", async () => {
    const socket = await openSocket("/ws?clientId=big1", { authorization: `Bearer ${B.token}` });
    socket.socket.send("x".repeat(5 * 1024 * 1024));
    expect((await closedWithin(socket, 5000))?.code).toBe(1009);
  });

  // A user of its own: upgrade attempts count for 10 s, which would refuse later tests' sockets.
  test("27: one user cannot hold an unbounded number of sockets: of 64 opened at once, at most 32 open and the rest get 429 TOO_MANY_SOCKETS before anything opens upstream", async () => {
    const gina = await createTestAccount(gateway.dataDir, "gina", "user");
    const before = upstreamUpgrades();
    const results = await Promise.allSettled(Array.from({ length: 64 }, (_, i) => openSocket(`/ws?clientId=many${i}`, { authorization: `Bearer ${gina.token}` })));
    const opened = results.filter((r): r is PromiseFulfilledResult<Socket> => r.status === "fulfilled").map((r) => r.value);
    try {
      expect(opened.length).toBeGreaterThan(0);
      expect(opened.length).toBeLessThanOrEqual(32);
      expect(results.filter((r) => r.status === "rejected").length).toBe(64 - opened.length);
      // The refused ones never reached ComfyUI.
      expect(upstreamUpgrades() - before).toBeLessThanOrEqual(opened.length);
      // What a refused upgrade is answered (the client's WebSocket only sees an error).
      const t = tag();
      const refused = await upgradeAttempt("/ws?clientId=one-more", { authorization: `Bearer ${gina.token}`, "x-check": t });
      expect(refused.status).toBe(429);
      expect(await json(refused)).toMatchObject({ code: "TOO_MANY_SOCKETS" });
      expect(upstreamUpgrades() - before).toBeLessThanOrEqual(opened.length);
      // Another user is not affected.
      const other = await openSocket("/ws?clientId=not-gina", { authorization: `Bearer ${B.token}` });
      other.socket.close();
    } finally {
      for (const socket of opened) socket.socket.close();
    }
  });

  // ComfyUI reads one message from a client; more than 200 a second is a flood (websocket-bridge.ts).
  test("27: a client flooding small frames is cut off by a message rate limit", async () => {
    const socket = await openSocket("/ws?clientId=flood1", { authorization: `Bearer ${B.token}` });
    for (let i = 0; i < 20_000; i++) socket.socket.send(`{"type":"noise","data":{"i":${i}}}`);
    const closed = await closedWithin(socket, 3000);
    expect([1008, 1013]).toContain(closed?.code ?? 0);
  }, 15_000);

  test("28: PATCH /internal/logs/subscribe (admins only) subscribes one of the caller's own sockets by its upstream sid; another user's or an unknown clientId gets 400 CLIENT_ID_UNKNOWN and nothing reaches ComfyUI", async () => {
    const mine = await openSocketWithSid("/ws?clientId=adam-logs", admin);
    const theirs = await openSocketWithSid("/ws?clientId=bob-logs", B);
    const messages: string[] = [];
    mine.socket.addEventListener("message", (event) => {
      if (typeof event.data === "string") messages.push(event.data);
    });
    try {
      const subscribe = (clientId: unknown, who: TestAccount = admin, t = tag()) => call(who, "/internal/logs/subscribe", { method: "PATCH", body: JSON.stringify({ clientId, enabled: true }) }, t);
      // Below admin: refused by the policy.
      const t0 = tag();
      const forbidden = await subscribe("bob-logs", B, t0);
      expect(forbidden.status).toBe(403);
      expect(await json(forbidden)).toMatchObject({ code: "ADMIN_ONLY" });
      expect(upstreamOf(t0)).toEqual([]);
      // The admin's own clientId: ComfyUI sees the sid the gateway minted for that socket.
      const t1 = tag();
      expect((await subscribe("adam-logs", admin, t1)).status).toBe(200);
      const sent = upstreamOf(t1);
      expect(sent.map((r) => r.method)).toEqual(["PATCH"]);
      expect(JSON.parse(sent[0]!.body!)).toEqual({ clientId: mine.upstreamSid, enabled: true });
      expect(mine.upstreamSid).not.toBe("adam-logs");
      // ... and log lines now reach that socket.
      await queue(A);
      await runAll();
      for (let i = 0; i < 100 && !messages.some((m) => m.includes('"type": "logs"') || m.includes('"type":"logs"')); i++) await Bun.sleep(10);
      expect(messages.some((m) => (JSON.parse(m) as { type: string }).type === "logs")).toBe(true);
      // Another user's clientId, the upstream sid itself, an unknown id or none: not the caller's sockets.
      for (const clientId of ["bob-logs", theirs.upstreamSid, mine.upstreamSid, "nobody", undefined, 42]) {
        const t = tag();
        const response = await subscribe(clientId, admin, t);
        expect(response.status, String(clientId)).toBe(400);
        expect(await json(response)).toMatchObject({ code: "CLIENT_ID_UNKNOWN" });
        expect(upstreamOf(t)).toEqual([]);
      }
    } finally {
      mine.socket.close();
      theirs.socket.close();
    }
  });

  // A binding outlives its socket (a reconnect gets the same sid), but a log subscription needs the socket open.
  test("28: a clientId whose socket has closed gets 400 CLIENT_ID_UNKNOWN and nothing reaches ComfyUI", async () => {
    const mine = await openSocketWithSid("/ws?clientId=adam-closed", admin);
    mine.socket.close();
    await mine.closed;
    // The relay ends when ComfyUI's side has closed too, a moment after the client's.
    const t = tag();
    let stale = await call(admin, "/internal/logs/subscribe", { method: "PATCH", body: JSON.stringify({ clientId: "adam-closed", enabled: false }) }, tag());
    for (let i = 0; i < 50 && stale.status !== 400; i++) {
      await Bun.sleep(20);
      stale = await call(admin, "/internal/logs/subscribe", { method: "PATCH", body: JSON.stringify({ clientId: "adam-closed", enabled: false }) }, tag());
    }
    stale = await call(admin, "/internal/logs/subscribe", { method: "PATCH", body: JSON.stringify({ clientId: "adam-closed", enabled: true }) }, t);
    expect(stale.status).toBe(400);
    expect(await json(stale)).toMatchObject({ code: "CLIENT_ID_UNKNOWN" });
    expect(upstreamOf(t)).toEqual([]);
  });
});

// =============================================================================================
// 5.7 Per-user isolation (BOLA/IDOR)

describe("5.7 per-user isolation", () => {
  test("52: a role given can_view_all_comfyui_items sees everyone's queue and history (the explicit exception); without it, only its own", async () => {
    const a1 = await queue(A);
    const queued = async (who: TestAccount) => {
      const body = await json(await call(who, "/api/queue"));
      return [...(body.queue_running as unknown[][]), ...(body.queue_pending as unknown[][])].map((item) => item[1]);
    };
    expect(await queued(C)).not.toContain(a1);
    expect((await setGroups({ power: { can_view_all_comfyui_items: true } })).status).toBe(200);
    try {
      expect(await queued(C)).toContain(a1);
      expect((await call(C, `/api/jobs/${a1}`)).status).toBe(200);
      expect(await queued(B)).not.toContain(a1);
    } finally {
      expect((await setGroups({ power: { can_view_all_comfyui_items: false } })).status).toBe(200);
    }
    expect(await queued(C)).not.toContain(a1);
    await runAll();
    expect(Object.keys(await json(await call(C, `/api/history/${a1}`)))).toEqual([]);
  });

  test("54: an interrupt without prompt_id stops A's running prompt only when the owner sends it (the admins' exception), not when B does", async () => {
    const a1 = await queue(A);
    await fake.step();
    expect(fake.summary().running).toEqual([a1]);
    const t = tag();
    expect((await post(B, "/api/interrupt", {}, t)).status).toBe(200);
    expect(upstreamOf(t).filter((r) => r.method === "POST")).toEqual([]);
    expect(fake.summary().interrupt_requested).toBe(false);
    expect((await post(owner, "/interrupt", {})).status).toBe(200);
    await runAll();
    const entry = (await json(await call(A, `/api/history/${a1}`)))[a1] as { status: { status_str: string } };
    expect(entry.status.status_str).toBe("error");
  });

  test("55: `front: true` or a negative `number` from a role that does not see everything is dropped before ComfyUI and does not jump the queue; the owner and a role with can_view_all_comfyui_items keep them", async () => {
    const sentBody = (t: string) => JSON.parse(upstreamOf(t).find((r) => r.method === "POST")!.body!) as Record<string, unknown>;
    const submit = async (who: TestAccount, extra: Record<string, unknown>) => {
      const t = tag();
      const response = await post(who, "/api/prompt", { prompt: saveGraph(), ...extra }, t);
      const body = await json(response);
      expect(response.status, JSON.stringify(body)).toBe(200);
      return { id: body.prompt_id as string, sent: sentBody(t) };
    };
    const a1 = await queue(A);
    await fake.step(); // a1 runs
    const a2 = await queue(A);
    const b1 = await submit(B, { front: true });
    const b2 = await submit(B, { number: -1000 });
    const b3 = await submit(B, { front: true, number: -5 });
    for (const { sent } of [b1, b2, b3]) {
      expect(sent).not.toHaveProperty("front");
      expect(sent).not.toHaveProperty("number");
    }
    // ComfyUI runs the pending item with the lowest number first.
    const numbers = async () => new Map(((await json(await call(owner, "/api/queue"))).queue_pending as Array<[number, string]>).map(([number, id]) => [id, number]));
    let numberOf = await numbers();
    expect(fake.summary().running).toEqual([a1]);
    for (const b of [b1, b2, b3]) expect(numberOf.get(b.id)!).toBeGreaterThan(numberOf.get(a2)!);
    // The owner (admins' exception) keeps them, and goes first.
    const o1 = await submit(owner, { front: true });
    expect(o1.sent.front).toBe(true);
    numberOf = await numbers();
    expect(numberOf.get(o1.id)!).toBeLessThan(numberOf.get(a2)!);
    // So does a role given can_view_all_comfyui_items.
    expect((await setGroups({ power: { can_view_all_comfyui_items: true } })).status).toBe(200);
    try {
      const c1 = await submit(C, { number: -1000 });
      expect(c1.sent.number).toBe(-1000);
    } finally {
      expect((await setGroups({ power: { can_view_all_comfyui_items: false } })).status).toBe(200);
    }
    await runAll();
  });

  test("56: A's outputs are not B's by preview=webp, channel=a, annotation or another type", async () => {
    const a1 = await queue(A);
    await runAll();
    const image = ((await json(await call(A, `/api/history/${a1}`)))[a1] as { outputs: Record<string, { images: Array<{ filename: string; subfolder: string }> }> }).outputs["9"]!.images[0]!;
    const base = `filename=${encodeURIComponent(image.filename)}&subfolder=${image.subfolder}&type=output`;
    expect((await call(A, `/api/view?${base}&preview=webp;90`)).status).toBe(200);
    for (const query of [`${base}&preview=webp;90`, `${base}&preview=jpeg;80&channel=rgb`, `${base}&channel=a`, `filename=${encodeURIComponent(`${image.filename} [output]`)}&subfolder=${image.subfolder}&type=temp&preview=webp`]) {
      const t = tag();
      expect((await call(B, `/api/view?${query}`, {}, t)).status).toBe(404);
      expect(upstreamOf(t)).toEqual([]);
    }
  });

  test("56: B's /view?filename=blake3:<hash of A's upload> answers 404 from the gateway and is not forwarded (any type, annotated too); the owner's is forwarded", async () => {
    const uploaded = await json(await upload(A, "hashed.png", {}, new Uint8Array([...PNG, 56])));
    const hash = (uploaded.asset as { asset_hash: string }).asset_hash;
    expect(hash).toStartWith("blake3:");
    for (const query of [`filename=${encodeURIComponent(hash)}&type=input`, `filename=${encodeURIComponent(hash)}`, `filename=${encodeURIComponent(`${hash} [input]`)}`, `filename=${encodeURIComponent(hash)}&type=input&subfolder=u-${B.userId}`]) {
      const t = tag();
      const response = await call(B, `/api/view?${query}`, {}, t);
      expect(response.status, query).toBe(404);
      expect((await response.arrayBuffer()).byteLength).toBe(0);
      expect(upstreamOf(t)).toEqual([]);
    }
    // Someone who sees everything is not refused by the gateway (what ComfyUI answers is its own).
    const t = tag();
    await call(owner, `/api/view?filename=${encodeURIComponent(hash)}&type=input`, {}, t);
    expect(upstreamOf(t).map((r) => r.method)).toEqual(["GET"]);
  });

  test("58: B cannot list, read, write or move A's workflows through /userdata, /v2/userdata or a move's source or destination", async () => {
    const aId = await comfyUserOf(A);
    expect((await call(A, "/api/userdata/workflows%2Fsecret.json", { method: "POST", body: '{"secret": 1}' })).status).toBe(200);
    const aTree = () => [...fake.state.userdata.tree(aId).files.keys()].sort();
    const aFiles = aTree();
    expect(aFiles).toContain("workflows/secret.json");

    // Listings: B's own root only; climbing to A's is refused upstream (403/400), never A's names.
    for (const path of ["/api/userdata?dir=workflows&recurse=true", `/api/userdata?dir=..%2F${aId}%2Fworkflows`, `/api/userdata?dir=../${aId}/workflows&recurse=true`, `/userdata?dir=..%2F..%2Fdefault`, "/api/v2/userdata?path=workflows", `/api/v2/userdata?path=../${aId}`, `/api/v2/userdata?path=..%2F${aId}%2Fworkflows`]) {
      const response = await call(B, path);
      const text = await response.text();
      expect(text).not.toContain("secret");
      if (path.includes("..")) expect([400, 403, 404]).toContain(response.status);
    }
    // A's file by its own name is B's own (missing) file; by a climbing name the gateway refuses it.
    expect((await call(B, "/api/userdata/workflows%2Fsecret.json")).status).toBe(404);
    expect((await call(B, `/userdata/workflows%2Fsecret.json`, { method: "DELETE" })).status).toBe(404);
    const climbing = [`..%2F${aId}%2Fworkflows%2Fsecret.json`, `..%252F${aId}%252Fworkflows%252Fsecret.json`, `workflows%2F..%2F..%2F${aId}%2Fworkflows%2Fsecret.json`, `%2E%2E%2F${aId}%2Fworkflows%2Fsecret.json`];
    expect((await call(B, "/api/userdata/workflows%2Fmine.json", { method: "POST", body: "{}" })).status).toBe(200);
    for (const name of climbing) {
      for (const [method, path] of [
        ["GET", `/api/userdata/${name}`],
        ["POST", `/api/userdata/${name}`],
        ["DELETE", `/api/userdata/${name}`],
        ["POST", `/api/userdata/workflows%2Fmine.json/move/${name}`],
        ["POST", `/api/userdata/${name}/move/workflows%2Fstolen.json`],
        ["POST", `/userdata/${name}/move/workflows%2Fstolen.json?overwrite=true`],
      ] as const) {
        const t = tag();
        const response = await call(B, path, { method, body: method === "POST" ? "{}" : undefined }, t);
        expect([400, 403, 404]).toContain(response.status);
        expect(upstreamOf(t)).toEqual([]);
      }
    }
    expect(aTree()).toEqual(aFiles);
    expect(await (await call(A, "/api/userdata/workflows%2Fsecret.json")).text()).toBe('{"secret": 1}');
  });

  test("59: a file-referencing input of any node that names another user's file is refused before ComfyUI (loaders, mask and video loaders; annotated, backslash and dot-segment forms)", async () => {
    const uploaded = await json(await upload(A, "private.png"));
    expect(uploaded.subfolder).toBe(`u-${A.userId}`);
    const own = `u-${A.userId}`;
    const references = [`${own}/private.png`, `${own}/private.png [input]`, `${own}\\private.png`, `./${own}/private.png`, `x/../${own}/private.png`, `${own}/../${own}/private.png`, `${own}/private.png [output]`, `${own}/out_00001_.png [temp]`];
    const nodes: Array<[string, string]> = [["LoadImage", "image"], ["LoadImageMask", "image"], ["VHS_LoadVideo", "video"], ["LoadImageOutput", "image"]];
    const leaked: string[] = [];
    for (const [classType, input] of nodes) {
      for (const reference of references) {
        const t = tag();
        const response = await post(B, "/api/prompt", { prompt: { "1": { class_type: classType, inputs: { [input]: reference } }, "2": { class_type: "PreviewImage", inputs: { images: ["1", 0] } } } }, t);
        const body = await json(response);
        if (response.status !== 403 || body.code !== "FILE_NOT_ALLOWED" || upstreamOf(t).some((r) => r.method === "POST")) leaked.push(`${classType}.${input}=${reference}: ${response.status} ${JSON.stringify(body)}`);
      }
    }
    expect(leaked).toEqual([]);
    // A may use it.
    const mine = await post(A, "/api/prompt", { prompt: { "1": { class_type: "LoadImage", inputs: { image: `${own}/private.png` } }, "2": { class_type: "PreviewImage", inputs: { images: ["1", 0] } } } });
    expect(mine.status).toBe(200);
    await runAll();
  });

  test("60: SaveImage prefixes that climb, are absolute or name another user's folder are forced into the caller's folder; a linked prefix is refused", async () => {
    const prefixes = ["../../escape", "/abs/escape", `u-${A.userId}/steal`, "..\\..\\win", "./../u-x/../../up", ""];
    const ids: string[] = [];
    for (const prefix of prefixes) {
      const t = tag();
      const response = await post(B, "/api/prompt", { prompt: saveGraph(prefix) }, t);
      expect(response.status).toBe(200);
      ids.push((await json(response)).prompt_id as string);
      const sent = JSON.parse(upstreamOf(t).find((r) => r.method === "POST")!.body!) as { prompt: Record<string, { inputs: { filename_prefix?: string } }> };
      const forwarded = sent.prompt["9"]!.inputs.filename_prefix!;
      expect(forwarded).toStartWith(`u-${B.userId}/`);
      expect(forwarded.split(/[\\/]/)).not.toContain("..");
    }
    await runAll();
    for (const id of ids) {
      const entry = (await json(await call(B, `/api/history/${id}`)))[id] as { outputs: Record<string, { images: Array<{ subfolder: string }> }> };
      expect(entry.outputs["9"]!.images[0]!.subfolder.split("/")[0]).toBe(`u-${B.userId}`);
    }
    const linked = await post(B, "/api/prompt", { prompt: { ...saveGraph(), "3": { class_type: "PrimitiveString", inputs: { value: "escape" } }, "9": { class_type: "SaveImage", inputs: { images: ["1", 0], filename_prefix: ["3", 0] } } } });
    expect(linked.status).toBe(400);
    expect(await json(linked)).toMatchObject({ code: "FILENAME_PREFIX_LINKED" });
  });
});

// =============================================================================================
// 5.8 Path traversal and uploads

describe("5.8 path traversal and uploads", () => {
  test("61: /view traversal gets no file: subfolder traversal (raw, encoded, backslashes) is refused by the gateway itself; a NUL in the name finds nothing", async () => {
    await upload(A, "target.png");
    for (const query of ["filename=target.png&type=input&subfolder=..", "filename=target.png&type=input&subfolder=..%2F..", "filename=target.png&type=input&subfolder=..%5C..%5C", `filename=target.png&type=input&subfolder=x/../../u-${A.userId}`, `filename=target.png&type=input&subfolder=x%2F..%2F..%2Finput%2Fu-${A.userId}`, "filename=passwd&type=output&subfolder=../../../../etc"]) {
      const t = tag();
      const response = await call(B, `/api/view?${query}`, {}, t);
      expect(response.status).toBe(404);
      expect(upstreamOf(t)).toEqual([]);
    }
    // A NUL name in the shared input folder is ComfyUI's to answer (no such file).
    for (const query of ["filename=target.png%00.txt&type=input", `filename=target.png%00.txt&type=input&subfolder=u-${A.userId}`]) {
      const response = await call(B, `/api/view?${query}`);
      expect([400, 403, 404]).toContain(response.status);
      expect(new Uint8Array(await response.arrayBuffer()).slice(0, 4)).not.toEqual(PNG.slice(0, 4));
    }
  });

  test("61: /view filename traversal (`..` anywhere, a leading `/`; raw, encoded, backslashed or annotated) is refused by the gateway itself with 400 BAD_FILENAME, not only by ComfyUI", async () => {
    await upload(A, "target.png");
    for (const who of [A, B]) {
      for (const query of [
        "filename=../../etc/passwd&type=input",
        "filename=..%2F..%2Fetc%2Fpasswd&type=input",
        "filename=/etc/passwd&type=input",
        "filename=%2Fetc%2Fpasswd",
        "filename=..%5C..%5Cwin.ini&type=input",
        `filename=../u-${A.userId}/target.png&type=input`,
        `filename=${encodeURIComponent(`../u-${A.userId}/target.png [input]`)}`,
        `filename=x/../target.png&type=input&subfolder=u-${A.userId}`,
      ]) {
        const t = tag();
        const response = await call(who, `/api/view?${query}`, {}, t);
        expect(response.status, query).toBe(400);
        expect(await json(response)).toMatchObject({ code: "BAD_FILENAME" });
        expect(upstreamOf(t)).toEqual([]);
      }
    }
  });

  test("62: userdata names that climb, are absolute, carry a drive letter, a UNC prefix, backslashes or NUL are refused before ComfyUI", async () => {
    for (const name of ["..%2Fx.json", "..%252Fx.json", "%2Fetc%2Fpasswd", "%252Fetc%252Fpasswd", "C:%2Fx.json", "c:x.json", "%5C%5Chost%5Cshare%5Cx.json", "workflows%5Cx.json", "x%00.json", "workflows%2F.%2Fx.json", "workflows%2F%2Fx.json"]) {
      const t = tag();
      const response = await call(B, `/api/userdata/${name}`, { method: "POST", body: "{}" }, t);
      expect(response.status).toBe(400);
      expect(upstreamOf(t)).toEqual([]);
    }
  });

  // Refused for everyone (comfy-isolation.ts isPortablePath): on a Windows host ComfyUI would
  // resolve them to devices or other files.
  test("62: userdata names that are Windows device names (CON, NUL, AUX, COM1) or end in dots or spaces are refused", async () => {
    for (const name of ["CON", "workflows%2FNUL.json", "aux", "COM1.json", "workflows%2Fx.json.", "workflows%2Fx.json%20", "workflows.%2Fx.json"]) {
      const t = tag();
      expect((await call(B, `/api/userdata/${name}`, { method: "POST", body: "{}" }, t)).status).toBe(400);
      expect(upstreamOf(t)).toEqual([]);
    }
  });

  test("63: an upload's subfolder, type and overwrite cannot reach another user's folder; only the caller's own file is replaced", async () => {
    const first = await json(await upload(A, "shared-name.png", {}, new Uint8Array([...PNG, 1])));
    expect(first).toMatchObject({ name: "shared-name.png", subfolder: `u-${A.userId}`, type: "input" });
    for (const fields of [{ subfolder: `u-${A.userId}`, overwrite: "true" }, { subfolder: `../u-${A.userId}`, overwrite: "1" }, { subfolder: `u-${B.userId}/../u-${A.userId}`, overwrite: "true" }]) {
      const answer = await json(await upload(B, "shared-name.png", fields, new Uint8Array([...PNG, 2])));
      expect(answer.subfolder).toBe(`u-${B.userId}`);
    }
    const output = await json(await upload(B, "out.png", { type: "output", subfolder: `u-${A.userId}`, overwrite: "true" }));
    expect(output).toMatchObject({ subfolder: `u-${B.userId}`, type: "output" });
    expect(fileBytes(fake.state.files.get("input", `u-${A.userId}/shared-name.png`)!).at(-1)).toBe(1);
    expect(fake.state.files.exists("output", `u-${A.userId}/out.png`)).toBe(false);
  });

  // Decision: file names are sanitised, not refused. multipart-guard.ts rewrites every part's
  // Content-Disposition to the base name (uploadMask: safeUploadName), so a climbing name lands
  // under its last segment in the uploader's own folder.
  test("63: an upload file name that climbs out of the caller's folder (`../u-<A>/x.png`, backslashes, absolute, filename*) reaches ComfyUI as its base name and lands in the uploader's folder; A's file is untouched", async () => {
    await upload(A, "victim.png", {}, new Uint8Array([...PNG, 1]));
    const mineBefore = await json(await upload(B, "b-original.png", {}, new Uint8Array([...PNG, 7])));
    expect(mineBefore.subfolder).toBe(`u-${B.userId}`);
    const disposition = (body: string) => [...body.matchAll(/Content-Disposition: [^\r\n]*filename[^\r\n]*/gi)].map((m) => m[0]);
    for (const [path, climbing] of [
      ["/api/upload/image", `../u-${A.userId}/victim.png`],
      // Backslashes as a browser on Windows might send them (escaped inside the quoted name).
      ["/api/upload/image", `..\\\\u-${A.userId}\\\\victim.png`],
      ["/upload/image", `/input/u-${A.userId}/victim.png`],
    ] as const) {
      const form = multipart([
        { name: "image", filename: climbing, type: "image/png", data: new Uint8Array([...PNG, 9]) },
        { name: "overwrite", value: "true" },
      ]);
      const t = tag();
      const response = await call(B, path, { method: "POST", body: form.body, headers: { "content-type": form.contentType } }, t);
      const body = await json(response);
      expect(response.status, `${path} ${climbing}: ${JSON.stringify(body)}`).toBe(200);
      expect(body).toMatchObject({ name: "victim.png", subfolder: `u-${B.userId}`, type: "input" });
      const sent = upstreamOf(t).filter((r) => r.method === "POST");
      expect(sent.length).toBe(1);
      const names = disposition(sent[0]!.body!);
      expect(names.length).toBe(1);
      expect(names[0]).toBe('Content-Disposition: form-data; name="image"; filename="victim.png"');
    }
    // A mask's file name is rewritten the same way (safeUploadName) before ComfyUI sees it.
    // (That the mask upload itself then succeeds is the todo below.)
    const mask = multipart([
      { name: "image", filename: `../u-${A.userId}/victim.png`, type: "image/png", data: new Uint8Array([...PNG, 9]) },
      { name: "overwrite", value: "true" },
      { name: "original_ref", value: JSON.stringify({ filename: "b-original.png", subfolder: `u-${B.userId}`, type: "input" }) },
    ]);
    const tm = tag();
    await call(B, "/api/upload/mask", { method: "POST", body: mask.body, headers: { "content-type": mask.contentType } }, tm);
    const maskSent = upstreamOf(tm).filter((r) => r.method === "POST");
    expect(maskSent.length).toBe(1);
    expect(disposition(maskSent[0]!.body!)).toEqual(['Content-Disposition: form-data; name="image"; filename="victim.png"']);
    // An RFC 5987 `filename*` (which aiohttp prefers) is rewritten too.
    const boundary = "----checkext";
    const raw = new TextEncoder().encode(
      `--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="harmless.png"; filename*=UTF-8''..%2Fu-${A.userId}%2Fvictim.png\r\nContent-Type: image/png\r\n\r\n${"x".repeat(8)}\r\n--${boundary}\r\nContent-Disposition: form-data; name="overwrite"\r\n\r\ntrue\r\n--${boundary}--\r\n`,
    );
    const t = tag();
    const extended = await call(B, "/api/upload/image", { method: "POST", body: raw, headers: { "content-type": `multipart/form-data; boundary=${boundary}` } }, t);
    expect(extended.status).toBe(200);
    expect(await json(extended)).toMatchObject({ name: "victim.png", subfolder: `u-${B.userId}` });
    for (const line of disposition(upstreamOf(t)[0]!.body!)) expect(line).not.toContain("..");
    // A's file is A's as before; B's copy is in B's folder.
    expect(fileBytes(fake.state.files.get("input", `u-${A.userId}/victim.png`)!).at(-1)).toBe(1);
    expect(fake.state.files.exists("input", `u-${B.userId}/victim.png`)).toBe(true);
    expect(fake.state.files.exists("input", "victim.png")).toBe(false);
  });

  // (Once broken: the re-encoded form's Content-Type must be read before its body in Bun.)
  test("63: a mask upload (own original_ref) succeeds through the gateway and lands in the uploader's folder, climbing file name or not", async () => {
    const original = await json(await upload(B, "mask-original.png", {}, new Uint8Array([...PNG, 3])));
    for (const filename of ["mask.png", `../u-${A.userId}/mask-victim.png`]) {
      const form = multipart([
        { name: "image", filename, type: "image/png", data: new Uint8Array([...PNG, 4]) },
        { name: "original_ref", value: JSON.stringify({ filename: original.name, subfolder: original.subfolder, type: "input" }) },
      ]);
      const t = tag();
      const response = await call(B, "/api/upload/mask", { method: "POST", body: form.body, headers: { "content-type": form.contentType } }, t);
      expect(response.status).toBe(200);
      const answer = await json(response);
      expect(answer).toMatchObject({ subfolder: `u-${B.userId}`, type: "input" });
      expect(String(answer.name)).not.toContain("/");
      const sent = upstreamOf(t).find((r) => r.method === "POST")!;
      const boundary = /boundary=(\S+)/.exec(sent.headers["content-type"]!)![1]!;
      expect(sent.body!.startsWith(`--${boundary}\r\n`)).toBe(true);
    }
    expect(fake.state.files.exists("input", `u-${A.userId}/mask-victim.png`)).toBe(false);
  });

  // Decision: SVG and HTML uploads are not refused; every answer of a user-file route carries
  // `Content-Security-Policy: sandbox` and `X-Content-Type-Options: nosniff` (pipeline.ts
  // USER_FILE_ROUTES), so such a file opened as a page runs no script on the gateway's origin.
  test("63: an SVG or HTML upload with script is served under `Content-Security-Policy: sandbox` and nosniff (view as the owner, userdata), so it runs no script on the gateway's origin", async () => {
    const svg = new TextEncoder().encode('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>');
    const sandboxed = (response: Response) => {
      expect(response.headers.get("content-security-policy")).toBe("sandbox");
      expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    };
    for (const [filename, data, type] of [
      ["evil.svg", svg, "image/svg+xml"],
      ["evil.html", new TextEncoder().encode("<script>alert(1)</script>"), "text/html"],
      ["evil.png", svg, "image/png"],
    ] as const) {
      const uploaded = await upload(B, filename, {}, data, type);
      expect(uploaded.status).toBe(200);
      const stored = await json(uploaded);
      expect(stored).toMatchObject({ name: filename, subfolder: `u-${B.userId}` });
      const query = `filename=${filename}&subfolder=u-${B.userId}&type=input`;
      // The owner opens it as a page (navigation, not <img>): what an attacker would send them.
      for (const who of [owner, B]) {
        const t = tag();
        const page = await call(who, `/api/view?${query}`, { headers: { "sec-fetch-dest": "document", "sec-fetch-mode": "navigate" } }, t);
        if (who === B && filename !== "evil.html") {
          // B is checked by the NSFW guard: an SVG (which can embed any picture) cannot be classified, so it is blocked for B.
          expect([page.status, page.headers.get("x-mss-nsfw")]).toEqual([403, "blocked"]);
          expect(await page.text()).toContain("NSFW_BLOCKED");
          continue;
        }
        expect(page.status).toBe(200);
        sandboxed(page);
        expect(await page.text()).toContain("<script>");
        expect(upstreamOf(t).map((r) => r.method)).toEqual(["GET"]);
      }
    }
    // Another user-file route: a workflow file under /userdata.
    expect((await call(B, "/api/userdata/evil.html", { method: "POST", body: "<script>alert(2)</script>", headers: { "content-type": "text/html" } })).status).toBe(200);
    const read = await call(B, "/api/userdata/evil.html");
    expect(read.status).toBe(200);
    sandboxed(read);
    // An admin's file listing too (internal.files).
    const listing = await call(admin, "/internal/files/input");
    expect(listing.status).toBe(200);
    sandboxed(listing);
  });

  // Not implemented: the gateway does not inspect image headers; pixel-count limits are left to
  // ComfyUI (PIL's MAX_IMAGE_PIXELS). Planned with the upload checks of issue 6.
  test("63: decompression bombs: an upload whose header declares a huge pixel count is refused before ComfyUI stores or decodes it (image and mask uploads, any role)", async () => {
    // A PNG of 100 000 x 100 000 pixels, declared in a few dozen bytes.
    const bomb = concatBytes([PNG_SIGNATURE, pngChunk("IHDR", pngIhdr(100_000, 100_000)), new Uint8Array(2048)]);
    for (const who of [B, owner]) {
      const form = multipart([{ name: "image", filename: "bomb.png", type: "image/png", data: bomb }]);
      const t = tag();
      const refused = await call(who, "/api/upload/image", { method: "POST", body: form.body, headers: { "content-type": form.contentType } }, t);
      expect(refused.status).toBe(400);
      expect(await refused.json()).toMatchObject({ code: "TOO_MANY_PIXELS" });
      // ComfyUI stored nothing: the refused stream aborts the upstream request before the file's bytes.
      expect(fake.state.files.exists("input", `u-${who.userId}/bomb.png`)).toBe(false);
      expect(upstreamOf(t).every((request) => request.bodyBytes === null || request.bodyBytes < 1024)).toBe(true);
    }
    const mask = multipart([
      { name: "image", filename: "mask.png", type: "image/png", data: bomb },
      { name: "original_ref", value: JSON.stringify({ filename: "b-original.png", subfolder: `u-${B.userId}`, type: "input" }) },
    ]);
    const tm = tag();
    const maskRefused = await call(B, "/api/upload/mask", { method: "POST", body: mask.body, headers: { "content-type": mask.contentType } }, tm);
    expect([maskRefused.status, ((await maskRefused.json()) as { code: string }).code]).toEqual([400, "TOO_MANY_PIXELS"]);
    expect(upstreamOf(tm)).toEqual([]);
    // An ordinary picture of a sensible size still goes through.
    const fine = multipart([{ name: "image", filename: "fine.png", type: "image/png", data: await safeImage("png", 96) }]);
    expect((await call(B, "/api/upload/image", { method: "POST", body: fine.body, headers: { "content-type": fine.contentType } })).status).toBe(200);
  });

  test("63 / 5.11: the NSFW check runs on uploads of a checked user: classified when stored, refused on view once judged NSFW", async () => {
    const form = multipart([{ name: "image", filename: "upload-check.png", type: "image/png", data: await safeImage("png", 128, "drawing") }]);
    const stored = (await (await call(B, "/api/upload/image", { method: "POST", body: form.body, headers: { "content-type": form.contentType } })).json()) as { name: string; subfolder: string };
    const file = { type: "input", subfolder: stored.subfolder, filename: stored.name };
    // The upload was queued for classification as it was stored; a checked user's view also waits for a verdict.
    expect((await call(B, `/api/view?${new URLSearchParams(file)}`)).status).toBe(200);
    const check = (await (await call(B, `/mss-login/api/nsfw/check?${new URLSearchParams({ ...file, fast: "1" })}`)).json()) as { enforced: boolean; verdict: { nsfw: boolean; format: string } };
    expect(check).toMatchObject({ enforced: true, verdict: { nsfw: false, format: "png" } });
    expect((await call(admin, "/mss-login/api/nsfw/tag", { method: "PUT", body: JSON.stringify({ ...file, is_nsfw: true }), headers: { "content-type": "application/json" } })).status).toBe(200);
    expect((await call(B, `/api/view?${new URLSearchParams(file)}`)).status).toBe(403);
    expect((await call(admin, `/api/view?${new URLSearchParams(file)}`)).status).toBe(200);
  });

  test("§10.8.12: an upload over the limit gets 413 through the upload interceptor, declared or streamed, and ComfyUI never receives a byte more than the limit", async () => {
    const big = new Uint8Array(UPLOAD_LIMIT + 64 * 1024).fill(7);
    const declared = multipart([{ name: "image", filename: "big.png", type: "image/png", data: big }]);
    const t1 = tag();
    const refused = await call(B, "/api/upload/image", { method: "POST", body: declared.body, headers: { "content-type": declared.contentType } }, t1);
    expect(refused.status).toBe(413);
    expect(upstreamOf(t1)).toEqual([]);
    // Streamed (chunked): cut off once it passes the limit.
    const chunks = [declared.body.slice(0, 256 * 1024), declared.body.slice(256 * 1024, 768 * 1024), declared.body.slice(768 * 1024)];
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const next = chunks.shift();
        if (next === undefined) controller.close();
        else {
          await Bun.sleep(5);
          controller.enqueue(next);
        }
      },
    });
    const t2 = tag();
    const streamed = await call(B, "/api/upload/image", { method: "POST", body: stream, headers: { "content-type": declared.contentType } }, t2).catch(() => null);
    if (streamed !== null) expect(streamed.status).toBe(413);
    for (const r of upstreamOf(t2)) expect(r.bodyBytes ?? 0).toBeLessThanOrEqual(UPLOAD_LIMIT + 1024);
    expect(fake.state.files.exists("input", `u-${B.userId}/big.png`)).toBe(false);
  });

  // 64 (model downloads land only in ComfyUI's folders, with safe names) is tested where the
  // downloads are: tests/integration/downloads-binary.test.ts and tests/unit/downloads.test.ts.
});

// =============================================================================================
// comfyui-api.md §10.8 scenarios not covered elsewhere

describe("comfyui-api.md §10.8", () => {
  test("§10.8.10: a browser session's POST with the gateway's Origin, and its WebSocket upgrade, reach the loopback ComfyUI without its origin 403", async () => {
    const cookie = await login("bob");
    const t = tag();
    const response = await call(null, "/api/prompt", { method: "POST", body: JSON.stringify({ prompt: saveGraph() }), headers: { cookie, origin: gateway.url, "content-type": "application/json", "sec-fetch-site": "same-origin" } }, t);
    expect(response.status).toBe(200);
    const seen = upstreamOf(t).find((r) => r.method === "POST")!;
    expect(seen.headers.origin).toBe(fake.url);
    expect(seen.headers.host).toBe(`127.0.0.1:${fake.port}`);
    const socket = await openSocket("/ws?clientId=origin1", { cookie, origin: gateway.url });
    socket.socket.close();
    await runAll();
  });

  test("§10.8.11: the gateway's state, styles and early script go into ComfyUI's page once, first in <head>, and its extension is appended to /api/extensions (details: comfy-page-ui.test.ts)", async () => {
    const page = await call(B, "/", { headers: { accept: "text/html" } });
    const html = await page.text();
    expect(html.split('id="mss-login-state"').length - 1).toBe(1);
    expect(html.split("/mss-login/ui/comfy-early.js").length - 1).toBe(1);
    const length = page.headers.get("content-length");
    if (length !== null) expect(Number(length)).toBe(new TextEncoder().encode(html).byteLength);
    const list = (await (await call(B, "/api/extensions")).json()) as string[];
    expect(list.filter((url) => url === "/mss-login/ui/comfy-extension.js")).toHaveLength(1);
  });
});
