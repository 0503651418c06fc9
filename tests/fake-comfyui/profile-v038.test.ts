/**
 * The v0.38 profile (spec §10.1): jobs API, server-set create_time, UUID prompt ids, newer
 * feature flags, node_replacements, the asset list, Sec-Fetch-Site, millisecond userdata times.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startFakeComfyUI, type FakeComfyUI } from "./server.ts";
import { postPrompt, saveGraph, waitFor } from "./test-support.ts";

let fake: FakeComfyUI;
let alice: string;

beforeAll(async () => {
  fake = await startFakeComfyUI({ profile: "v0.38", multiUser: true });
  const created = await fetch(`${fake.url}/api/users`, { method: "POST", body: JSON.stringify({ username: "alice" }) });
  alice = (await created.json()) as string;
});

afterAll(async () => {
  await fake.stop();
});

async function getJson(path: string, init: RequestInit = {}): Promise<{ status: number; body: any }> {
  const response = await fetch(`${fake.url}${path}`, init);
  return { status: response.status, body: await response.json() };
}

describe("prompts", () => {
  test("create_time is set by the server and prompt_id must be a canonical UUID", async () => {
    const before = Date.now();
    const ok = await postPrompt(fake.url, {
      prompt: saveGraph("v38"),
      extra_data: { create_time: 1, auth_token_comfy_org: "secret", extra_pnginfo: { workflow: { id: "wf-9" } } },
    });
    expect(ok.status).toBe(200);
    await fake.waitForIdle();
    const entry = fake.state.history.get(ok.json.prompt_id as string);
    const extra = entry?.prompt[3] as Record<string, unknown>;
    expect(extra.create_time).toBeGreaterThanOrEqual(before);
    expect(extra.auth_token_comfy_org).toBeUndefined();

    const bad = await postPrompt(fake.url, { prompt: saveGraph(), prompt_id: "my-custom-id" });
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ error: { type: "invalid_prompt_id" }, node_errors: {} });
    const upper = await postPrompt(fake.url, { prompt: saveGraph(), prompt_id: "A6641DC4-4566-4799-961C-924C945D652A" });
    expect(upper.status).toBe(400);
    const good = await postPrompt(fake.url, { prompt: saveGraph("v38b"), prompt_id: "a6641dc4-4566-4799-961c-924c945d652a" });
    expect(good.json.prompt_id).toBe("a6641dc4-4566-4799-961c-924c945d652a");
    await fake.waitForIdle();
  });

  test("features and the WebSocket flags reply carry the newer flags", async () => {
    const { body } = await getJson("/api/features");
    expect(body).toMatchObject({ supports_preview_metadata: true, extension: { manager: { supports_v4: true } }, node_replacements: true });
    expect((await getJson("/api/node_replacements")).body).toEqual({});
    expect((await getJson("/node_replacements")).body).toEqual({});
  });
});

describe("jobs API", () => {
  test("exists at /api/jobs and /api/api/jobs but not /jobs", async () => {
    expect((await fetch(`${fake.url}/api/jobs`)).status).toBe(200);
    expect((await fetch(`${fake.url}/api/api/jobs`)).status).toBe(200);
    const plain = await fetch(`${fake.url}/jobs`);
    expect(plain.status).toBe(404);
    expect(plain.headers.get("content-type")).toBe("application/octet-stream");
  });

  test("lists, filters, pages and details jobs", async () => {
    fake.pause();
    const pending = await postPrompt(fake.url, { prompt: saveGraph("pend", 5), extra_data: { extra_pnginfo: { workflow: { id: "wf-pend" } } } });
    const list = await getJson("/api/jobs?status=pending&limit=10&offset=0");
    expect(list.body.jobs).toEqual([
      { id: pending.json.prompt_id, status: "pending", priority: pending.json.number, create_time: expect.any(Number), workflow_id: "wf-pend" },
    ]);
    expect(list.body.pagination).toEqual({ offset: 0, limit: 10, total: 1, has_more: false });
    fake.resume();
    await fake.waitForIdle();

    const completed = await getJson("/api/jobs?status=completed,failed,cancelled&sort_order=asc");
    expect(completed.body.jobs.every((job: { status: string }) => job.status === "completed")).toBe(true);
    const job = completed.body.jobs.find((j: { id: string }) => j.id === pending.json.prompt_id);
    expect(job).toMatchObject({
      status: "completed",
      outputs_count: 1,
      previewable_outputs_count: 1,
      preview_output: { filename: "pend_00001_.png", subfolder: "", type: "output", nodeId: "9", mediaType: "images" },
      workflow_id: "wf-pend",
    });
    expect(job.execution_end_time).toBeGreaterThanOrEqual(job.execution_start_time);

    const page = await getJson("/api/jobs?limit=1&offset=1");
    expect(page.body.jobs).toHaveLength(1);
    expect(page.body.pagination).toMatchObject({ offset: 1, limit: 1, has_more: page.body.pagination.total > 2 });

    const detail = await getJson(`/api/jobs/${pending.json.prompt_id}`);
    expect(detail.body).toMatchObject({
      id: pending.json.prompt_id,
      outputs: { "9": { images: [{ filename: "pend_00001_.png" }] } },
      execution_status: { status_str: "success", completed: true },
      workflow: { prompt: saveGraph("pend", 5), extra_data: { extra_pnginfo: { workflow: { id: "wf-pend" } } } },
    });
    expect((await getJson("/api/jobs/00000000-0000-4000-8000-000000000000")).status).toBe(404);
    expect((await getJson("/api/jobs/nope")).body).toEqual({ error: "Job not found" });
  });

  test("rejects bad parameters with 400 {error}", async () => {
    for (const query of ["status=done", "sort_by=name", "sort_order=up", "limit=0", "offset=-1"]) {
      const { status, body } = await getJson(`/api/jobs?${query}`);
      expect(status).toBe(400);
      expect(body.error).toBeString();
    }
  });

  test("cancel dequeues a pending job, interrupts a running one, and validates bulk ids", async () => {
    fake.setExecutionMode("manual");
    const running = await postPrompt(fake.url, { prompt: saveGraph("run", 6) });
    await waitFor(() => fake.summary().running.length === 1, "the first prompt to run");
    const waiting = await postPrompt(fake.url, { prompt: saveGraph("wait", 7) });
    const cancelPending = await getJson(`/api/jobs/${waiting.json.prompt_id}/cancel`, { method: "POST" });
    expect(cancelPending.body).toEqual({ cancelled: true });
    expect(fake.summary().pending).toEqual([]);
    const cancelRunning = await getJson(`/api/jobs/cancel`, { method: "POST", body: JSON.stringify({ job_ids: [running.json.prompt_id] }) });
    expect(cancelRunning.body).toEqual({ cancelled: true });
    fake.setExecutionMode("auto");
    await fake.waitForIdle();
    const job = await getJson(`/api/jobs/${running.json.prompt_id}`);
    expect(job.body.status).toBe("cancelled");
    expect((await getJson(`/api/jobs/${running.json.prompt_id}/cancel`, { method: "POST" })).body).toEqual({ cancelled: false });

    const invalid = await getJson(`/api/jobs/cancel`, { method: "POST", body: JSON.stringify({ job_ids: ["x", running.json.prompt_id] }) });
    expect(invalid.status).toBe(400);
    expect(invalid.body.invalid_ids).toEqual(["x"]);
  });
});

describe("other v0.38 differences", () => {
  test("the asset list shows every file with a /api/view preview URL (no /api mirror)", async () => {
    const form = new FormData();
    form.append("image", new Blob(["abc"], { type: "text/plain" }), "note.txt");
    const upload = await getJson("/api/upload/image", { method: "POST", body: form });
    expect(upload.body.asset).toMatchObject({ name: "note.txt", size: 3, mime_type: "text/plain", tags: ["input"] });
    const { body } = await getJson("/api/assets?limit=500");
    const names = body.assets.map((a: { name: string }) => a.name);
    expect(names).toContain("note.txt");
    expect(names).toContain("example.png");
    expect(body.assets.find((a: { name: string }) => a.name === "note.txt").preview_url).toBe("/api/view?filename=note.txt&type=input&subfolder=");
    expect((await fetch(`${fake.url}/api/api/assets`)).status).toBe(404);
  });

  test("Sec-Fetch-Site: cross-site is refused", async () => {
    const response = await fetch(`${fake.url}/api/queue`, { headers: { "Sec-Fetch-Site": "cross-site" } });
    expect(response.status).toBe(403);
    expect(await response.text()).toBe("");
  });

  test("userdata full_info uses int milliseconds; v2 keeps float seconds; files download as attachments", async () => {
    const headers = { "Comfy-User": alice };
    const saved = await getJson("/api/userdata/workflows%2Fa.json?full_info=true", { method: "POST", headers, body: "{}" });
    expect(Number.isInteger(saved.body.modified)).toBe(true);
    expect(saved.body.modified).toBeGreaterThan(1e12);
    const v2 = await getJson("/api/v2/userdata?path=workflows", { headers });
    expect(v2.body[0].modified).toBeLessThan(1e11);
    const file = await fetch(`${fake.url}/api/userdata/workflows%2Fa.json`, { headers });
    expect(file.headers.get("content-disposition")).toBe('attachment; filename="a.json"');
  });

  test("system users (`__` prefix) cannot be created or used", async () => {
    const created = await getJson("/api/users", { method: "POST", body: JSON.stringify({ username: "__system" }) });
    expect(created).toEqual({ status: 400, body: { error: "System User prefix not allowed" } });
    const users = new Map(Object.entries(fake.state.users.list()));
    expect([...users.keys()].some((id) => id.startsWith("__"))).toBe(false);
  });

  test("the page is served with no-store", async () => {
    const page = await fetch(`${fake.url}/`);
    expect(page.headers.get("cache-control")).toBe("no-store, must-revalidate");
  });
});
