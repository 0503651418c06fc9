/**
 * Two users, A and B, through the real gateway against the fake ComfyUI (multi-user, v0.38
 * profile, manual execution): each sees only their own queue, history, jobs, outputs and
 * uploads; B's attempts on A's ids (history, delete, clear, interrupt, cancel, view, prompt_id
 * collision, comfy-user spoofing, A's upload in a prompt) fail and change nothing. Owners see
 * everything, labelled. Scenarios of comfyui-api.md §10.8 (1, 5, 6, 8, 9, 13) and the queue cap.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startFakeComfyUI, type FakeComfyUI } from "../fake-comfyui/server.ts";
import { createTestAccount, startTestGateway, type TestGateway } from "../support/gateway.ts";

let fake: FakeComfyUI;
let gateway: TestGateway;
let b: { token: string; userId: string };
let owner: { token: string; userId: string };
/** What the gateway wrote down (warnings): B's attempts on A's things must be there. */
const logLines: string[] = [];

beforeAll(async () => {
  fake = await startFakeComfyUI({ multiUser: true, profile: "v0.38", execution: "manual" });
  // Without the NSFW check: this file is about per-user isolation (its uploads are not real pictures); the guard (which withholds checked users' previews and re-labels or refuses their images) has its own tests (nsfw-*.test.ts).
  gateway = await startTestGateway(fake.url, [], { MSS_LOGIN_QUEUE__MAX_PENDING__USER: "4" }, "user", { logLines, sfwCheck: false });
  b = await createTestAccount(gateway.dataDir, "bob", "user", { sfwCheck: false });
  owner = await createTestAccount(gateway.dataDir, "olga", "owner");
});
afterAll(async () => {
  await gateway.stop();
  await fake.stop();
});

type As = "a" | "b" | "owner";
function call(as: As, path: string, init: RequestInit = {}): Promise<Response> {
  const token = as === "a" ? gateway.account.token : as === "b" ? b.token : owner.token;
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${token}`);
  if (init.body !== undefined && !headers.has("content-type") && typeof init.body === "string") headers.set("content-type", "application/json");
  return fetch(gateway.url + path, { ...init, headers });
}
const post = (as: As, path: string, body: unknown) => call(as, path, { method: "POST", body: JSON.stringify(body) });
const json = async (response: Response) => (await response.json()) as Record<string, unknown>;

let seed = 0;
/** A graph that saves one image; a new colour each time so ComfyUI does not serve it from cache. */
function graph(prefix = "iso") {
  seed++;
  return {
    "1": { class_type: "EmptyImage", inputs: { width: 8, height: 8, batch_size: 1, color: seed } },
    "9": { class_type: "SaveImage", inputs: { images: ["1", 0], filename_prefix: prefix } },
  };
}
async function queuePrompt(as: As, extra: Record<string, unknown> = {}): Promise<string> {
  const response = await post(as, "/api/prompt", { prompt: graph(), ...extra });
  const body = await json(response);
  expect(response.status, JSON.stringify(body)).toBe(200);
  return body.prompt_id as string;
}
async function runAll(): Promise<void> {
  for (let i = 0; i < 500 && fake.summary().queue_remaining > 0; i++) await fake.step();
  await fake.waitForIdle(5000);
}
const queueIdsOf = async (as: As) => {
  const queue = await json(await call(as, "/api/queue"));
  return [...(queue.queue_running as unknown[][]), ...(queue.queue_pending as unknown[][])].map((item) => item[1] as string);
};

describe("prompts, queue and history", () => {
  test("each user sees only their own queue and history; the owner sees both, labelled", async () => {
    const a1 = await queuePrompt("a");
    const b1 = await queuePrompt("b");
    expect(a1).toMatch(/^[0-9a-f-]{36}$/);
    expect(await queueIdsOf("a")).toEqual([a1]);
    expect(await queueIdsOf("b")).toEqual([b1]);
    const all = await json(await call("owner", "/api/queue"));
    const items = [...(all.queue_running as unknown[][]), ...(all.queue_pending as unknown[][])];
    expect(items.map((item) => item[1]).sort()).toEqual([a1, b1].sort());
    expect(items.find((item) => item[1] === a1)![3]).toMatchObject({ x_mss_owner: { user_id: gateway.account.userId, username: "tester" } });

    await runAll();
    expect(Object.keys(await json(await call("a", "/api/history")))).toEqual([a1]);
    expect(Object.keys(await json(await call("b", "/api/history")))).toEqual([b1]);
    expect(await json(await call("b", `/api/history/${a1}`))).toEqual({});
    expect(Object.keys(await json(await call("a", `/api/history/${a1}`)))).toEqual([a1]);
    expect(Object.keys(await json(await call("owner", "/history"))).sort()).toEqual([a1, b1].sort());
  });

  test("history paging counts only the caller's entries", async () => {
    const ids = [await queuePrompt("a"), await queuePrompt("b"), await queuePrompt("a"), await queuePrompt("a")];
    await runAll();
    const mine = Object.keys(await json(await call("a", "/api/history")));
    expect(mine.length).toBe(4);
    expect(Object.keys(await json(await call("a", "/api/history?max_items=2")))).toEqual(mine.slice(2));
    expect(Object.keys(await json(await call("a", "/api/history?max_items=1&offset=1")))).toEqual([mine[1]!]);
    expect(mine).not.toContain(ids[1]);
    expect((await call("a", "/api/history?max_items=lots")).status).toBe(400);
  });

  test("B cannot delete, clear or interrupt A's prompts; B's own go", async () => {
    const a1 = await queuePrompt("a");
    const a2 = await queuePrompt("a");
    const b1 = await queuePrompt("b");
    await fake.step(); // a1 starts running
    expect(fake.summary().running).toEqual([a1]);

    expect((await post("b", "/api/queue", { delete: [a2] })).status).toBe(200);
    expect((await post("b", "/api/queue", { clear: true })).status).toBe(200);
    expect(fake.summary().pending).toEqual([a2]);
    expect((await post("b", "/api/interrupt", {})).status).toBe(200);
    expect((await post("b", "/api/interrupt", { prompt_id: a1 })).status).toBe(200);
    await runAll();
    const statusOf = async (id: string) => ((await json(await call("a", `/api/history/${id}`)))[id] as { status: { status_str: string } }).status.status_str;
    expect(await statusOf(a1)).toBe("success");
    expect(fake.summary().history).not.toContain(b1); // B's own clear took it

    // A's own interrupt without an id stops A's running prompt.
    const a3 = await queuePrompt("a");
    await fake.step();
    expect(fake.summary().running).toEqual([a3]);
    expect((await post("a", "/api/interrupt", {})).status).toBe(200);
    await runAll();
    expect(await statusOf(a3)).toBe("error");
    expect((await post("b", "/api/history", { clear: true })).status).toBe(200);
    expect(Object.keys(await json(await call("a", "/api/history")))).toContain(a1);
    expect(Object.keys(await json(await call("b", "/api/history")))).toEqual([]);
    expect((await post("b", "/api/history", { delete: [a1, a2] })).status).toBe(200);
    expect(Object.keys(await json(await call("a", "/api/history")))).toContain(a2);
  });

  test("prompt_id: a client may choose a new UUID, never one already used (A's)", async () => {
    const a1 = await queuePrompt("a");
    const taken = await post("b", "/api/prompt", { prompt: graph(), prompt_id: a1 });
    expect(taken.status).toBe(400);
    expect(await json(taken)).toMatchObject({ code: "PROMPT_ID_TAKEN" });
    const chosen = crypto.randomUUID();
    expect(await queuePrompt("b", { prompt_id: chosen })).toBe(chosen);
    await runAll();
    expect(await json(await call("b", `/api/history/${a1}`))).toEqual({});
  });

  test("a prompt body the gateway cannot read is refused, not passed on", async () => {
    fake.clearRequests();
    const response = await call("a", "/api/prompt", { method: "POST", body: '{"prompt": {"1": {"class_type": "EmptyImage", "inputs": {"width": NaN}}}}' });
    expect(response.status).toBe(400);
    expect(await json(response)).toMatchObject({ code: "JSON_INVALID" });
    expect(fake.requests().some((r) => r.target === "/api/prompt")).toBe(false);
  });

  test("the per-role pending limit answers 429 with a clear message", async () => {
    // One runs (manual execution holds it), four wait: the fifth waiting one is refused.
    for (let i = 0; i < 5; i++) await queuePrompt("b");
    expect(fake.summary().pending.length).toBe(4);
    const refused = await post("b", "/api/prompt", { prompt: graph() });
    expect(refused.status).toBe(429);
    expect(await json(refused)).toMatchObject({ code: "QUEUE_LIMIT" });
    expect(fake.summary().pending.length).toBe(4);
    // A is not limited by B's queue.
    await queuePrompt("a");
    await runAll();
    await queuePrompt("b");
    await runAll();
  });
});

describe("jobs (v0.38)", () => {
  test("lists, details and cancels only the caller's jobs, paged after filtering", async () => {
    const a1 = await queuePrompt("a");
    const b1 = await queuePrompt("b");
    const listed = await json(await call("b", "/api/jobs?limit=2&offset=0"));
    const ids = (listed.jobs as Array<{ id: string }>).map((job) => job.id);
    expect(ids).not.toContain(a1);
    expect(ids).toContain(b1);
    expect(listed.pagination).toMatchObject({ offset: 0, limit: 2 });
    const total = (listed.pagination as { total: number }).total;
    const everything = await json(await call("owner", "/api/jobs"));
    expect((everything.pagination as { total: number }).total).toBeGreaterThan(total);

    expect((await call("b", `/api/jobs/${a1}`)).status).toBe(404);
    expect((await call("a", `/api/jobs/${a1}`)).status).toBe(200);
    expect(await json(await post("b", `/api/jobs/${a1}/cancel`, {}))).toEqual({ cancelled: false });
    expect(await json(await post("b", "/api/jobs/cancel", { job_ids: [a1] }))).toEqual({ cancelled: false });
    const queued = () => [...fake.summary().running, ...fake.summary().pending];
    expect(queued()).toContain(a1);
    expect(await json(await post("b", "/api/jobs/cancel", { job_ids: [a1, b1] }))).toEqual({ cancelled: true });
    expect(queued()).toContain(a1);
    expect(fake.summary().interrupt_requested).toBe(false);
    expect(queued()).not.toContain(b1);
    await runAll();
  });
});

describe("files", () => {
  test("outputs land in the owner's folder and only the owner (and admins) can view them", async () => {
    const a1 = await queuePrompt("a");
    await runAll();
    const entry = (await json(await call("a", `/api/history/${a1}`)))[a1] as { outputs: Record<string, { images: Array<{ filename: string; subfolder: string; type: string }> }> };
    const image = entry.outputs["9"]!.images[0]!;
    expect(image.subfolder).toBe(`u-${gateway.account.userId}`);
    const path = `/api/view?filename=${image.filename}&subfolder=${image.subfolder}&type=output`;
    expect((await call("a", path)).status).toBe(200);
    expect((await call("owner", path)).status).toBe(200);
    expect((await call("b", path)).status).toBe(404);
    // The same file by other spellings of the path.
    for (const variant of [`/view?filename=${image.filename}&subfolder=x/../${image.subfolder}&type=output`, `/api/view?filename=${image.subfolder}/${image.filename}&type=output`, `/api/view?filename=${image.filename} [output]&subfolder=${image.subfolder}&type=input`]) {
      expect((await call("b", variant)).status).toBe(404);
    }
  });

  test("names are read as ComfyUI reads them: a folder tag after any character, an absolute subfolder (review findings)", async () => {
    const a1 = await queuePrompt("a");
    await runAll();
    const entry = (await json(await call("a", `/api/history/${a1}`)))[a1] as { outputs: Record<string, { images: Array<{ filename: string; subfolder: string }> }> };
    const image = entry.outputs["9"]!.images[0]!;
    const absolute = encodeURIComponent(`/srv/ComfyUI/output/${image.subfolder}`);
    fake.clearRequests();
    for (const path of [
      `/view?filename=${encodeURIComponent(`${image.filename}X[output]`)}&type=input&subfolder=${image.subfolder}`,
      `/view?filename=${image.filename}&type=output&subfolder=${absolute}`,
      `/view?filename=${encodeURIComponent(`${image.filename}X[output]`)}&type=input&subfolder=${absolute}&preview=webp;50`,
      `/api/view?filename=${image.filename}&type=input&subfolder=${encodeURIComponent(`C:\\ComfyUI\\output\\${image.subfolder}`)}`,
    ]) {
      expect((await call("b", path)).status, path).toBe(404);
    }
    expect(fake.requests().filter((r) => r.target.includes("view")).length).toBe(0);
    const mask = new FormData();
    mask.append("image", new Blob([new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10])], { type: "image/png" }), "m.png");
    mask.append("original_ref", JSON.stringify({ filename: `${image.filename}X[output]`, subfolder: `/srv/ComfyUI/output/${image.subfolder}`, type: "input" }));
    expect((await call("b", "/api/upload/mask", { method: "POST", body: mask })).status).toBe(403);
    const load = (value: string) => post("b", "/api/prompt", { prompt: { "1": { class_type: "LoadImage", inputs: { image: value } }, "2": { class_type: "PreviewImage", inputs: { images: ["1", 0] } } } });
    expect((await load(`/srv/ComfyUI/output/${image.subfolder}/${image.filename}`)).status).toBe(403);
    expect((await load(`${image.filename}X[output]`)).status).toBe(403);
    // A's own file by the tagged spelling still works for A.
    expect((await call("a", `/view?filename=${encodeURIComponent(`${image.filename} [output]`)}&subfolder=${image.subfolder}`)).status).toBe(200);
  });

  test("PreviewImage temp files are the prompt owner's", async () => {
    const response = await post("a", "/api/prompt", { prompt: { "1": { class_type: "EmptyImage", inputs: { width: 8, height: 8, batch_size: 1, color: 4242 } }, "2": { class_type: "PreviewImage", inputs: { images: ["1", 0] } } } });
    const { prompt_id } = (await json(response)) as { prompt_id: string };
    await runAll();
    const entry = (await json(await call("a", `/api/history/${prompt_id}`)))[prompt_id] as { outputs: Record<string, { images: Array<{ filename: string; subfolder: string }> }> };
    const temp = entry.outputs["2"]!.images[0]!;
    const path = `/api/view?filename=${temp.filename}&subfolder=${temp.subfolder}&type=temp`;
    expect((await call("a", path)).status).toBe(200);
    expect((await call("b", path)).status).toBe(404);
  });

  test("uploads go to the uploader's folder, show in their LoadImage list only, and others cannot use them", async () => {
    const form = new FormData();
    form.append("image", new Blob([new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10])], { type: "image/png" }), "mine.png");
    form.append("subfolder", `u-${b.userId}`); // trying to write into B's folder
    const uploaded = await call("a", "/api/upload/image", { method: "POST", body: form });
    const answer = await json(uploaded);
    expect(answer).toMatchObject({ name: "mine.png", subfolder: `u-${gateway.account.userId}`, type: "input" });
    const reference = `u-${gateway.account.userId}/mine.png`;

    const optionsOf = async (as: As) => {
      const info = await json(await call(as, "/api/object_info/LoadImage"));
      return ((info.LoadImage as { input: { required: { image: [string[]] } } }).input.required.image[0]) as string[];
    };
    expect(await optionsOf("a")).toContain(reference);
    expect(await optionsOf("b")).not.toContain(reference);

    const view = `/api/view?filename=mine.png&subfolder=u-${gateway.account.userId}&type=input`;
    expect((await call("a", view)).status).toBe(200);
    expect((await call("b", view)).status).toBe(404);
    const stolen = await post("b", "/api/prompt", { prompt: { "1": { class_type: "LoadImage", inputs: { image: reference } }, "2": { class_type: "PreviewImage", inputs: { images: ["1", 0] } } } });
    expect(stolen.status).toBe(403);
    expect(await json(stolen)).toMatchObject({ code: "FILE_NOT_ALLOWED" });

    // A file name with a path cannot reach into A's folder, even with overwrite (checklist 5.8.63).
    const sneaky = new FormData();
    sneaky.append("image", new Blob([new Uint8Array([1, 2, 3])], { type: "image/png" }), `../u-${gateway.account.userId}/mine.png`);
    sneaky.append("overwrite", "true");
    const planted = await json(await call("b", "/api/upload/image", { method: "POST", body: sneaky }));
    expect(planted).toMatchObject({ name: "mine.png", subfolder: `u-${b.userId}` });
    expect(new Uint8Array(await (await call("a", view)).arrayBuffer()).slice(0, 4)).toEqual(new Uint8Array([137, 80, 78, 71]));
    const broken = await call("b", "/api/upload/image", { method: "POST", body: "not multipart at all", headers: { "content-type": "multipart/form-data; boundary=xyz" } });
    expect(broken.status).toBe(400);
    expect(await json(broken)).toMatchObject({ code: "MULTIPART_INVALID" });

    // A mask over someone else's image is refused too.
    const mask = new FormData();
    mask.append("image", new Blob([new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10])], { type: "image/png" }), "mask.png");
    mask.append("original_ref", JSON.stringify({ filename: "mine.png", subfolder: `u-${gateway.account.userId}`, type: "input" }));
    expect((await call("b", "/api/upload/mask", { method: "POST", body: mask })).status).toBe(403);
  });
});

describe("identity headers and users", () => {
  test("B's forged comfy-user never reaches ComfyUI; /users shows only the caller; POST /users is refused", async () => {
    const users = await json(await call("a", "/api/users"));
    const aComfyUser = Object.keys(users.users as Record<string, string>)[0]!;
    fake.clearRequests();
    await call("b", "/api/settings", { headers: { "comfy-user": aComfyUser } });
    const seen = fake.requests().filter((r) => r.target === "/api/settings").at(-1)!;
    expect(seen.headers["comfy-user"]).not.toBe(aComfyUser);
    expect(Object.keys((await json(await call("b", "/api/users"))).users as object)).not.toContain(aComfyUser);
    expect((await post("b", "/api/users", { username: "x" })).status).toBe(403);
  });

  test("a settings write cannot switch off the gateway's own extension", async () => {
    // Plain users may not touch extension settings at all (can_manage_extensions); the owner may, within limits.
    expect((await post("a", "/api/settings/Comfy.Extension.Disabled", ["Other.Extension"])).status).toBe(403);
    expect((await post("owner", "/api/settings/Comfy.Extension.Disabled", ["mss-login.Gateway", "Other.Extension"])).status).toBe(200);
    expect(await json(await call("owner", "/api/settings"))).toMatchObject({ "Comfy.Extension.Disabled": ["Other.Extension"] });
    expect((await post("owner", "/api/settings", { "Comfy.Extension.Disabled": ["mss-login.Settings"], "Comfy.UseNewMenu": "Top" })).status).toBe(200);
    expect(await json(await call("owner", "/api/settings"))).toMatchObject({ "Comfy.Extension.Disabled": [], "Comfy.UseNewMenu": "Top" });
  });
});

describe("attempts are recorded", () => {
  test("B's reaches for A's prompts, files and identity are each written down, naming B", () => {
    const refusals = logLines.filter((line) => line.includes("isolation: refused") && line.includes("user=bob"));
    for (const action of ["history item", "queue delete", "interrupt", "job", "jobs cancel", "view", "prompt", "mask upload", "comfy-user header"]) {
      expect(refusals.some((line) => line.includes(`action="${action}"`) || line.includes(`action=${action}`))).toBe(true);
    }
  });
});
