/**
 * The Python client for custom nodes (clients/python/mss_login_nsfw.py), run by python3 against
 * the gateway in this process and the fake ComfyUI: every function of the original's API,
 * mapped onto the NSFW guard's HTTP API, and failing closed when it cannot ask.
 *
 * Python runs asynchronously (Bun.spawn): the gateway and the fake answer from this process, so
 * a synchronous spawn would wait for answers that never come.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startFakeComfyUI, type FakeComfyUI } from "../fake-comfyui/server.ts";
import { createTestAccount, startTestGateway, type TestAccount, type TestGateway } from "../support/gateway.ts";
import { safeImage } from "../support/nsfw-images.ts";
import { until } from "../support/until.ts";

const CLIENT_DIR = join(import.meta.dir, "../../clients/python");
/** Where the scripts say ComfyUI's output folder is (the files themselves live in the fake). */
const OUTPUT_DIR = "/comfy/output";

let fake: FakeComfyUI;
let gateway: TestGateway;
let kid: TestAccount; // a user with the check (the default)
let carol: TestAccount; // a user without the check
let boss: TestAccount; // an admin
let scratch: string;
/** Whether this python3 has Pillow and numpy (the two in-memory checks need them). */
let hasPillow = false;

type FileRef = { filename: string; subfolder: string; type: string };
type Json = Record<string, any>;

beforeAll(async () => {
  fake = await startFakeComfyUI({ multiUser: true, stepDelayMs: 5 });
  // The product's default (the model loads at start), so outputs are classified as they appear.
  gateway = await startTestGateway(fake.url, [], { MSS_LOGIN_NSFW__WORKERS: "1", MSS_LOGIN_NSFW__LOAD: "startup" });
  kid = gateway.account;
  carol = await createTestAccount(gateway.dataDir, "carol", "user", { sfwCheck: false });
  boss = await createTestAccount(gateway.dataDir, "boss", "admin");
  scratch = mkdtempSync(join(tmpdir(), "mss-pyclient-"));
  hasPillow = (await run(["python3", "-c", "import PIL, numpy"], {})).code === 0;
  await until("the classifier to be ready", async () => (await json(await call(boss, "/mss-login/api/nsfw/status"))).state === "ready", 60_000);
}, 120_000);
afterAll(async () => {
  await gateway?.stop();
  await fake?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

function call(who: TestAccount, path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${who.token}`);
  if (typeof init.body === "string") headers.set("content-type", "application/json");
  return fetch(gateway.url + path, { ...init, headers });
}
const json = async (response: Response) => (await response.json()) as Json;

async function run(command: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("MSS_LOGIN_") && !name.startsWith("COMFYUI_"))) as Record<string, string>;
  const child = Bun.spawn(command, { env: { ...inherited, PYTHONDONTWRITEBYTECODE: "1", ...env }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { code, stdout, stderr };
}

/**
 * Runs a Python snippet with the client imported as `g` and `json`, `os`, `sys` at hand, as
 * `who` (their API token in MSS_LOGIN_TOKEN); the snippet prints one JSON line with `out(...)`.
 */
async function py(who: TestAccount | null, script: string, env: Record<string, string> = {}): Promise<any> {
  const prelude = "import json, os, sys\nimport mss_login_nsfw as g\ndef out(value):\n    print(json.dumps(value))\n";
  const result = await run(["python3", "-c", prelude + script], {
    PYTHONPATH: CLIENT_DIR,
    MSS_LOGIN_URL: gateway.url,
    MSS_LOGIN_TOKEN: who?.token ?? "",
    COMFYUI_OUTPUT_DIR: OUTPUT_DIR,
    ...env,
  });
  if (result.code !== 0) throw new Error(`python3 exited ${result.code}:\n${result.stderr}`);
  // The client logs why it failed closed, never with the token in it.
  for (const account of [kid, carol, boss]) expect(result.stdout + result.stderr).not.toContain(account.token);
  const lines = result.stdout.trim().split("\n");
  return JSON.parse(lines[lines.length - 1]!);
}

/** Runs one SaveImage prompt for `who` and waits for its output in the history (which records the output as theirs). */
async function generate(who: TestAccount, seed: number): Promise<FileRef> {
  const prompt = { "1": { class_type: "FakeSampler", inputs: { steps: 2, seed, width: 64, height: 64 } }, "9": { class_type: "SaveImage", inputs: { images: ["1", 0], filename_prefix: "pyclient" } } };
  const answer = await json(await call(who, "/api/prompt", { method: "POST", body: JSON.stringify({ client_id: crypto.randomUUID(), prompt }) }));
  const id = answer.prompt_id as string;
  expect(typeof id).toBe("string");
  return until("the output in the history", async () => {
    const history = await json(await call(who, `/api/history/${id}`));
    return (history[id]?.outputs?.["9"]?.images?.[0] as FileRef | undefined) ?? null;
  });
}

/** The file's path as a custom node inside ComfyUI would see it. */
const pathOf = (file: FileRef): string => [OUTPUT_DIR, file.subfolder, file.filename].filter((part) => part !== "").join("/");
const py$ = (value: unknown): string => JSON.stringify(value);

describe("the Python client of the NSFW guard", () => {
  test("is_available and is_sfw_enforced_for_user: checked users, admins, unknown users; failing closed", async () => {
    expect(await py(kid, "out({'available': g.is_available(), 'self': g.is_sfw_enforced_for_user(), 'boss': g.is_sfw_enforced_for_user('boss')})")).toEqual({
      available: true,
      self: true,
      // A user's token may not ask about someone else: the answer fails closed.
      boss: true,
    });
    expect(await py(carol, "out(g.is_sfw_enforced_for_user())")).toBe(false);
    expect(await py(boss, `out([g.is_sfw_enforced_for_user(), g.is_sfw_enforced_for_user(${py$(kid.username)}), g.is_sfw_enforced_for_user('carol'), g.is_sfw_enforced_for_user('nobody-like-this')])`)).toEqual([false, true, false, true]);

    // A refused token and an unreachable gateway: not available, and everyone is checked.
    const failing = "out([g.is_available(), g.is_sfw_enforced_for_user(), g.check_image_path_nsfw('/comfy/output/x.png'), g.get_image_nsfw_tag('/comfy/output/x.png'), g.set_image_nsfw_tag('/comfy/output/x.png', True), g.clear_all_nsfw_tags()])";
    expect(await py(null, failing, { MSS_LOGIN_TOKEN: "mss_not-a-real-token" })).toEqual([false, true, true, null, false, 0]);
    expect(await py(boss, failing, { MSS_LOGIN_URL: "http://127.0.0.1:9" })).toEqual([false, true, true, null, false, 0]);
    // Callers who want exceptions get NsfwGuardError with the gateway's status and code, and no token in it.
    const raised = await py(kid, "g.configure(raise_errors=True)\ntry:\n    g.is_sfw_enforced_for_user('boss')\n    out(None)\nexcept g.NsfwGuardError as e:\n    out({'status': e.status, 'code': e.code, 'text': str(e) + repr(g._current_settings())})");
    expect(raised).toMatchObject({ status: 403, code: "ADMIN_ONLY" });
    expect(raised.text).not.toContain(kid.token);
  }, 60_000);

  test("check_image_path_nsfw on an output: shown before an admin tags it, blocked after; get/set/clear tag round trip", async () => {
    const file = await generate(kid, 11);
    const path = pathOf(file);
    expect(path.startsWith(`${OUTPUT_DIR}/u-${kid.userId}/`)).toBe(true);
    const checks = `out([g.check_image_path_nsfw(${py$(path)}), g.check_image_path_nsfw_fast(${py$(path)})])`;
    expect(await py(kid, checks)).toEqual([false, false]);
    const classified = await py(kid, `out(g.get_image_nsfw_tag(${py$(path)}))`);
    expect(classified).toMatchObject({ is_nsfw: false });
    expect(classified.label).not.toBe("manual");

    // score and label are accepted and ignored: the gateway records a person's "NSFW".
    expect(await py(boss, `out(g.set_image_nsfw_tag(${py$(path)}, True, score=0.3, label='porn'))`)).toBe(true);
    expect(await py(kid, `out(g.get_image_nsfw_tag(${py$(path)}))`)).toEqual({ is_nsfw: true, score: 1, label: "manual" });
    expect(await py(kid, checks)).toEqual([true, true]);
    // The admin is never checked; for others, the admin asks with their name.
    expect(await py(boss, `out([g.check_image_path_nsfw(${py$(path)}), g.check_image_path_nsfw(${py$(path)}, ${py$(kid.username)}), g.check_image_path_nsfw(${py$(path)}, 'carol'), g.check_image_path_nsfw_fast(${py$(path)}, 'someone-unknown')])`)).toEqual([false, true, false, true]);
    // ComfyUI's own names work too: (type, subfolder, filename), a mapping, or "output/sub/name".
    expect(await py(kid, `out([g.check_image_path_nsfw(tuple(${py$([file.type, file.subfolder, file.filename])})), g.check_image_path_nsfw(${py$(file)}), g.check_image_path_nsfw_fast(${py$(`output/${file.subfolder}/${file.filename}`)})])`, { COMFYUI_OUTPUT_DIR: "" })).toEqual([true, true, true]);

    // A checked user may not lift the block, nor clear it; the admin can.
    expect(await py(kid, `out([g.set_image_nsfw_tag(${py$(path)}, False), g.clear_image_nsfw_tag(${py$(path)})])`)).toEqual([false, false]);
    expect(await py(kid, `out(g.check_image_path_nsfw(${py$(path)}))`)).toBe(true);
    expect(await py(boss, `out(g.clear_image_nsfw_tag(${py$(path)}))`)).toBe(true);
    // Cleared: the file is classified again (in the background, or by the next full check).
    expect(await py(kid, `out(g.check_image_path_nsfw(${py$(path)}))`)).toBe(false);
    expect(await py(kid, `out(g.get_image_nsfw_tag(${py$(path)}))`)).toMatchObject({ is_nsfw: false });
    // A user without the check may mark an output of hers safe or NSFW.
    const hers = await generate(carol, 12);
    expect(await py(carol, `out([g.set_image_nsfw_tag(${py$(pathOf(hers))}, False), g.get_image_nsfw_tag(${py$(pathOf(hers))}), g.check_image_path_nsfw(${py$(pathOf(hers))})])`)).toEqual([true, { is_nsfw: false, score: 0, label: "manual" }, false]);
    // Someone else's file does not exist for a user: the check fails closed.
    expect(await py(kid, `out([g.check_image_path_nsfw(${py$(pathOf(hers))}), g.get_image_nsfw_tag(${py$(pathOf(hers))})])`)).toEqual([true, null]);
  }, 60_000);

  test("check_image_path_nsfw_fast: None for a file never classified; the full check classifies it", async () => {
    const subfolder = `u-${kid.userId}/by-hand`;
    // A file ComfyUI has but never reported: nothing classified it in the background.
    fake.createFile({ type: "output", subfolder, filename: "never.png", content: await safeImage("png", 96, "landscape") });
    const path = `${OUTPUT_DIR}/${subfolder}/never.png`;
    expect(await py(kid, `out([g.check_image_path_nsfw_fast(${py$(path)}), g.get_image_nsfw_tag(${py$(path)})])`)).toEqual([null, null]);
    expect(await py(kid, `out([g.check_image_path_nsfw(${py$(path)}), g.check_image_path_nsfw_fast(${py$(path)})])`)).toEqual([false, false]);
    // A file ComfyUI does not have: fails closed for a checked user, not for an admin.
    const missing = `${OUTPUT_DIR}/${subfolder}/missing.png`;
    expect(await py(kid, `out([g.check_image_path_nsfw(${py$(missing)}), g.check_image_path_nsfw_fast(${py$(missing)})])`)).toEqual([true, true]);
    expect(await py(boss, `out(g.check_image_path_nsfw(${py$(missing)}))`)).toBe(false);
  }, 60_000);

  test("a file outside ComfyUI's folders is read and classified; fast has no verdict for it", async () => {
    const picture = join(scratch, "holiday.png");
    writeFileSync(picture, await safeImage("png", 128, "drawing"));
    const notes = join(scratch, "notes.png");
    writeFileSync(notes, "not a picture at all");
    const script = `out([g.check_image_path_nsfw(${py$(picture)}), g.check_image_path_nsfw_fast(${py$(picture)}), g.check_image_path_nsfw(${py$(notes)}), g.check_image_path_nsfw(${py$(join(scratch, "gone.png"))}), g.set_image_nsfw_tag(${py$(picture)}, True)])`;
    // What the classifier cannot read, and a missing file, are blocked for a checked user only; tags need a file in ComfyUI's folders.
    expect(await py(kid, script)).toEqual([false, null, true, true, false]);
    expect(await py(carol, script)).toEqual([false, null, false, false, false]);
  }, 60_000);

  test("check_pil_image_nsfw and check_tensor_nsfw fail closed for checked users; with Pillow and numpy they classify", async () => {
    // Not an image, not a tensor, or (on a python3 without Pillow/numpy) no way to encode one:
    // blocked for a checked user, shown to one without the check.
    const broken = "out([g.check_pil_image_nsfw(object()), g.check_tensor_nsfw('not a tensor'), g.check_pil_image_nsfw(object(), threshold='x')])";
    expect(await py(kid, broken)).toEqual([true, true, true]);
    expect(await py(carol, broken)).toEqual([false, false, false]);
    if (!hasPillow) {
      // This python3 has no Pillow or numpy: a real tensor cannot be converted, so the check fails closed.
      expect(await py(kid, "out(g.check_tensor_nsfw([[[[0.2, 0.5, 0.8]]]]))")).toBe(true);
      expect(await py(carol, "out(g.check_tensor_nsfw([[[[0.2, 0.5, 0.8]]]]))")).toBe(false);
      return;
    }
    const images = [
      "from PIL import Image",
      "import numpy as np",
      "sky = Image.new('RGB', (96, 96), (90, 150, 235))",
      "batch = np.zeros((2, 64, 64, 3), dtype=np.float32); batch[0, :, :, 2] = 0.9; batch[0, 32:, :, 1] = 0.6",
    ].join("\n");
    // A threshold below any score shows that the threshold is applied (and only for checked users).
    const checks = `${images}\nout([g.check_pil_image_nsfw(sky), g.check_pil_image_nsfw(sky, threshold=-1), g.check_tensor_nsfw(batch), g.check_tensor_nsfw(batch, -1), g.check_tensor_nsfw(batch[:0])])`;
    expect(await py(kid, checks)).toEqual([false, true, false, true, false]);
    expect(await py(carol, checks)).toEqual([false, false, false, false, false]);
    // The admin's token checks for the user set in the context.
    expect(await py(boss, `${images}\ng.set_user_context('carol')\na = g.check_pil_image_nsfw(sky, -1)\ng.set_user_context(${py$(kid.username)})\nout([a, g.check_pil_image_nsfw(sky, -1), g.check_pil_image_nsfw(sky)])`)).toEqual([false, true, false]);
  }, 60_000);

  test("clear_all_nsfw_tags: admins only, the number of tags removed", async () => {
    const first = pathOf(await generate(kid, 21));
    const second = pathOf(await generate(kid, 22));
    expect(await py(boss, `out([g.set_image_nsfw_tag(${py$(first)}, True), g.set_image_nsfw_tag(${py$(second)}, True)])`)).toEqual([true, true]);
    const before = await json(await call(boss, "/mss-login/api/nsfw/verdicts?filter=tagged&limit=200"));
    const tagged = (before.items as unknown[]).length;
    expect(tagged).toBeGreaterThanOrEqual(2);
    expect(await py(kid, "out(g.clear_all_nsfw_tags())")).toBe(0);
    expect(await py(kid, `out(g.check_image_path_nsfw(${py$(first)}))`)).toBe(true);
    expect(await py(boss, "out([g.clear_all_nsfw_tags(), g.clear_all_nsfw_tags()])")).toEqual([tagged, 0]);
    expect(await py(kid, `out([g.check_image_path_nsfw(${py$(first)}), g.get_image_nsfw_tag(${py$(second)})['label'] != 'manual'])`)).toEqual([false, true]);
  }, 60_000);

  test("set_user_context and get_current_user: per thread and task; the context user is the one checked", async () => {
    const script = [
      "import asyncio, contextvars, threading",
      "seen = {}",
      "seen['start'] = g.get_current_user()",
      "g.set_user_context('alice')",
      "seen['set'] = g.get_current_user()",
      "t = threading.Thread(target=lambda: seen.__setitem__('thread', g.get_current_user())); t.start(); t.join()",
      "ctx = contextvars.copy_context()",
      "t = threading.Thread(target=lambda: seen.__setitem__('copied', ctx.run(g.get_current_user))); t.start(); t.join()",
      "async def task():\n    return g.get_current_user()",
      "seen['task'] = asyncio.run(task())",
      "with g.user_context('bob'):\n    seen['with'] = g.get_current_user()",
      "seen['after'] = g.get_current_user()",
      "g.set_user_context(None)",
      "seen['cleared'] = g.get_current_user()",
      "out(seen)",
    ].join("\n");
    expect(await py(kid, script)).toEqual({ start: null, set: "alice", thread: null, copied: "alice", task: "alice", with: "bob", after: "alice", cleared: null });

    const file = await generate(kid, 31);
    expect(await py(boss, `out(g.set_image_nsfw_tag(${py$(pathOf(file))}, True))`)).toBe(true);
    const asContext = (user: string) => `g.set_user_context(${py$(user)})\nout([g.is_sfw_enforced_for_user(), g.check_image_path_nsfw(${py$(pathOf(file))}), g.check_image_path_nsfw_fast(${py$(pathOf(file))})])`;
    expect(await py(boss, asContext(kid.username))).toEqual([true, true, true]);
    expect(await py(boss, asContext("carol"))).toEqual([false, false, false]);
    // An explicit username wins over the context.
    expect(await py(boss, `g.set_user_context('carol')\nout(g.check_image_path_nsfw(${py$(pathOf(file))}, ${py$(kid.username)}))`)).toBe(true);
  }, 60_000);
});
