/**
 * The gateway forwards ComfyUI faithfully: a whole session (WebSocket events, settings, upload,
 * workflow save through `/api/userdata/workflows%2Fa.json`, a prompt run, history, the output
 * image) answers what a direct connection answers when the direct client makes the gateway's
 * per-user rewrites itself (the user's folder, the owner stamp): byte for byte, except that
 * JSON the gateway filters is compared parsed and ComfyUI's client ids are masked. Two identical fakes in
 * `--multi-user` mode, seeded alike and stepped by hand, stand for "the same ComfyUI twice".
 */
import { afterEach, expect, test } from "bun:test";
import { startFakeComfyUI, type FakeComfyUI, type FakeComfyUIOptions } from "../fake-comfyui/server.ts";
import { runComfySession, type RecordedExchange } from "../support/comfy-scenario.ts";
import { compiledGateway } from "../support/compiled-binary.ts";
import { spawnGateway, startTestGateway, type TestAccount, type TestGateway } from "../support/gateway.ts";

const running: Array<{ stop(): Promise<void> }> = [];
afterEach(async () => {
  for (const item of running.splice(0)) await item.stop();
});

/** A stopped clock: the twins must not differ by how often each happened to read the time. */
const twinOptions = (): FakeComfyUIOptions => ({ multiUser: true, seed: 7, execution: "manual", now: () => 1_796_044_000_000 });

async function twins(): Promise<{ direct: FakeComfyUI; behind: FakeComfyUI }> {
  const direct = await startFakeComfyUI(twinOptions());
  const behind = await startFakeComfyUI(twinOptions());
  running.push(direct, behind);
  return { direct, behind };
}

/**
 * An exchange as compared: JSON bodies parsed (the gateway re-serialises the per-user views it
 * filters), ComfyUI's `client_id` values masked (the gateway gives each socket an upstream sid of
 * its own), Content-Length left out with them; every other body byte for byte.
 */
/**
 * Headers the gateway adds on purpose: a sandbox on user files (`/view`, userdata), and no framing by
 * other sites on ComfyUI's pages. Checked where they belong, then set aside for the comparison.
 */
const GATEWAY_HEADERS: Record<string, Record<string, string>> = {
  view: { "content-security-policy": "sandbox", "x-content-type-options": "nosniff" },
  page: { "x-frame-options": "SAMEORIGIN", "content-security-policy": "frame-ancestors 'self'" },
};

function withoutGatewayHeaders(exchange: RecordedExchange): RecordedExchange {
  const kind = /^[A-Z]+ \/(api\/)?(view\?|userdata\/)/.test(exchange.request) ? "view" : (exchange.headers["content-type"] ?? "").startsWith("text/html") ? "page" : null;
  if (kind === null) return exchange;
  const headers = { ...exchange.headers };
  for (const [name, value] of Object.entries(GATEWAY_HEADERS[kind]!)) {
    expect(headers[name], `${exchange.request}: ${name}`).toBe(value);
    delete headers[name];
  }
  return { ...exchange, headers };
}

/** Validators and caching of the page and the extension list, which the gateway makes its own (they differ per user). */
const UI_VALIDATORS = ["etag", "last-modified", "cache-control", "vary", "content-length", "transfer-encoding"];

/**
 * The gateway's UI additions (comfy-page-ui.test.ts checks them): its state, styles and early
 * script first in the page's <head>, its extension last in /api/extensions. Taken out, the
 * answer must be ComfyUI's.
 */
function withoutGatewayUi(exchange: RecordedExchange, isDirect: boolean): RecordedExchange {
  const page = /^GET \/ /.test(exchange.request + " ");
  const extensions = exchange.request.startsWith("GET /api/extensions");
  if (!page && !extensions) return exchange;
  const headers = { ...exchange.headers };
  for (const name of UI_VALIDATORS) delete headers[name];
  let text = Buffer.from(exchange.body, "base64").toString();
  if (!isDirect && page) {
    const injected = /<script type="application\/json" id="mss-login-state">.*?<script src="\/mss-login\/ui\/comfy-early\.js"><\/script>/s;
    expect(text).toMatch(injected);
    expect(exchange.headers.etag).toStartWith('W/"mss-');
    text = text.replace(injected, "");
  }
  if (!isDirect && extensions) {
    const list = JSON.parse(text) as string[];
    expect(list.at(-1)).toBe("/mss-login/ui/comfy-extension.js");
    text = JSON.stringify(list.slice(0, -1));
  }
  if (extensions) text = JSON.stringify(JSON.parse(text));
  return { ...exchange, headers, body: Buffer.from(text).toString("base64") };
}

function comparable(exchange: RecordedExchange) {
  const { "content-length": _length, ...headers } = exchange.headers;
  if (!(exchange.headers["content-type"] ?? "").includes("application/json")) return { ...exchange, headers: exchange.headers };
  const text = Buffer.from(exchange.body, "base64").toString();
  const masked = text.length === 0 ? null : (JSON.parse(text, (key, value) => (key === "client_id" ? "<sid>" : value)) as unknown);
  return { request: exchange.request, status: exchange.status, headers, body: masked };
}

async function expectFaithful(gatewayUrl: string, account: TestAccount, direct: FakeComfyUI, behind: FakeComfyUI): Promise<void> {
  // The gateway creates the signed-in account's ComfyUI user on first use; the direct client
  // creates the same one.
  const created = await fetch(`${direct.url}/api/users`, { method: "POST", body: JSON.stringify({ username: "mss_tester" }) });
  const comfyUser = (await created.json()) as string;
  const user = { folder: `u-${account.userId}`, promptId: crypto.randomUUID() };

  const expected = await runComfySession(direct.url, direct, { "Comfy-User": comfyUser }, { ...user, emulateGateway: { owner: { user_id: account.userId, username: account.username } } });
  const actual = await runComfySession(gatewayUrl, behind, { "Comfy-User": "mallory", authorization: `Bearer ${account.token}` }, user);

  expect(actual.http.map((e) => `${e.request} ${e.status}`)).toEqual(expected.http.map((e) => `${e.request} ${e.status}`));
  for (let i = 0; i < expected.http.length; i++) {
    expect(comparable(withoutGatewayUi(withoutGatewayHeaders(actual.http[i]!), false))).toEqual(comparable(withoutGatewayUi(expected.http[i]!, true)));
  }
  expect(actual.frames).toEqual(expected.frames);
  expect(expected.frames.some((f) => f.includes('"type": "executed"'))).toBe(true);

  // Every request the upstream saw carried the gateway's user, never the forged one.
  const upstreamUsers = new Set(behind.requests().filter((r) => r.target !== "/api/users").map((r) => r.headers["comfy-user"]));
  expect([...upstreamUsers]).toEqual([comfyUser]);
}

test("a full ComfyUI session through the gateway is the direct one as that user would make it, and the gateway's comfy-user replaces the client's", async () => {
  const { direct, behind } = await twins();
  // Without the NSFW check: this file is about faithful forwarding; the guard (which withholds checked users' previews and re-labels or refuses their images) has its own tests (nsfw-*.test.ts).
  const gateway: TestGateway = await startTestGateway(behind.url, [], {}, "user", { sfwCheck: false });
  running.push(gateway);
  await expectFaithful(gateway.url, gateway.account, direct, behind);
});

test("the compiled x64 binary, started from a directory with nothing else in it, forwards the same session", async () => {
  const { binary } = await compiledGateway();
  const { direct, behind } = await twins();
  const gateway = await spawnGateway(behind.url, { command: [binary], sfwCheck: false });
  running.push(gateway);
  await expectFaithful(gateway.url, gateway.account, direct, behind);
}, 60_000);
