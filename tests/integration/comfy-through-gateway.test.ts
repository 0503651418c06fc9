/**
 * The gateway forwards ComfyUI faithfully: a whole session (WebSocket events, settings, upload,
 * workflow save through `/api/userdata/workflows%2Fa.json`, a prompt run, history, the output
 * image) answers byte for byte what a direct connection answers. Two identical fakes in
 * `--multi-user` mode, seeded alike and stepped by hand, stand for "the same ComfyUI twice".
 */
import { afterEach, expect, test } from "bun:test";
import { startFakeComfyUI, type FakeComfyUI, type FakeComfyUIOptions } from "../fake-comfyui/server.ts";
import { runComfySession } from "../support/comfy-scenario.ts";
import { compiledGateway } from "../support/compiled-binary.ts";
import { spawnGateway, startTestGateway, type TestGateway } from "../support/gateway.ts";

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

async function expectFaithful(gatewayUrl: string, token: string, direct: FakeComfyUI, behind: FakeComfyUI): Promise<void> {
  // The gateway creates the signed-in account's ComfyUI user on first use; the direct client
  // creates the same one.
  const created = await fetch(`${direct.url}/api/users`, { method: "POST", body: JSON.stringify({ username: "mss_tester" }) });
  const comfyUser = (await created.json()) as string;

  const expected = await runComfySession(direct.url, direct, { "Comfy-User": comfyUser });
  const actual = await runComfySession(gatewayUrl, behind, { "Comfy-User": "mallory", authorization: `Bearer ${token}` });

  expect(actual.http.map((e) => `${e.request} ${e.status}`)).toEqual(expected.http.map((e) => `${e.request} ${e.status}`));
  for (let i = 0; i < expected.http.length; i++) expect(actual.http[i]).toEqual(expected.http[i]!);
  expect(actual.frames).toEqual(expected.frames);
  expect(expected.frames.some((f) => f.includes('"type": "executed"'))).toBe(true);

  // Every request the upstream saw carried the gateway's user, never the forged one.
  const upstreamUsers = new Set(behind.requests().filter((r) => r.target !== "/api/users").map((r) => r.headers["comfy-user"]));
  expect([...upstreamUsers]).toEqual([comfyUser]);
}

test("a full ComfyUI session through the gateway is byte-for-byte the direct one, and the gateway's comfy-user replaces the client's", async () => {
  const { direct, behind } = await twins();
  const gateway: TestGateway = await startTestGateway(behind.url);
  running.push(gateway);
  await expectFaithful(gateway.url, gateway.account.token, direct, behind);
});

test("the compiled x64 binary, started from a directory with nothing else in it, forwards the same session byte for byte", async () => {
  const { binary } = await compiledGateway();
  const { direct, behind } = await twins();
  const gateway = await spawnGateway(behind.url, { command: [binary] });
  running.push(gateway);
  await expectFaithful(gateway.url, gateway.account.token, direct, behind);
}, 60_000);
