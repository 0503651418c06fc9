/**
 * Model downloads through the compiled binary, against local fakes of CivitAI, Hugging Face and
 * their CDN (pointed at by the test-only `downloads.test_sources`) and the fake ComfyUI reading
 * a models directory on disk. Covers checklist 5.9 (SSRF through the download URL) and the
 * issue's "done when": downloads complete and appear in the user's model list, a tampered one is
 * rejected, nothing partial is left, a download resumes after a dropped connection and after a
 * gateway restart, and the audit chain still verifies.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startFakeComfyUI, type FakeComfyUI } from "../fake-comfyui/server.ts";
import { compiledGateway } from "../support/compiled-binary.ts";
import { createTestAccount, fetchAs, spawnGateway, type SpawnedGateway, type TestAccount } from "../support/gateway.ts";
import { modelBytes, sha256Hex, startFakeModelSources, type FakeModelSources } from "../support/fake-model-sources.ts";
import { decodeHeader, startFakeNtfy } from "../support/fake-ntfy.ts";
import { applyMigrations, openDatabase } from "../../src/db/index.ts";
import { createGroupsStore } from "../../src/rbac/groups-store.ts";
import { createModelGrantStore } from "../../src/models/grants.ts";

const MiB = 1024 * 1024;
let binary: string;
let fake: FakeComfyUI;
let sources: FakeModelSources;
let gateway: SpawnedGateway;
let modelsDir: string;
let dataDir: string;
let tester: TestAccount;
let other: TestAccount;
let owner: TestAccount;
let env: Record<string, string>;

const files = {
  civitai: modelBytes(3 * MiB + 17, 1),
  resumed: modelBytes(2 * MiB, 2),
  tampered: modelBytes(MiB, 3),
  hf: modelBytes(MiB + 5, 4),
  oversized: modelBytes(MiB, 5),
  restart: modelBytes(4 * MiB, 6),
  redirect: modelBytes(4096, 7),
};

beforeAll(async () => {
  ({ binary } = await compiledGateway());
  modelsDir = mkdtempSync(join(tmpdir(), "mss-models-"));
  mkdirSync(join(modelsDir, "checkpoints"));
  fake = await startFakeComfyUI({ multiUser: true, modelsDir, models: { checkpoints: ["preinstalled.safetensors"] } });
  sources = startFakeModelSources({
    civitai: {
      1: { name: "civitai-model.safetensors", file: { content: files.civitai } },
      2: { name: "tampered.safetensors", file: { content: files.tampered, publishedSha256: sha256Hex(files.civitai) } },
      3: { name: "dropped.safetensors", file: { content: files.resumed, dropAfterBytes: 700_000, drops: 1 } },
      4: { name: "redirected.safetensors", file: { content: files.redirect } },
    },
    huggingface: {
      "org/repo/sub/hf-model.safetensors": { content: files.hf },
      "org/repo/oversized.safetensors": { content: files.oversized, announcedSize: 1000 },
      "org/slow/slow.safetensors": { content: files.restart, bytesPer50Ms: 128 * 1024 },
    },
  });
  // The user role may download, and sees only the models granted to it (model isolation).
  dataDir = mkdtempSync(join(tmpdir(), "mss-test-"));
  tester = await createTestAccount(dataDir, "tester", "user");
  other = await createTestAccount(dataDir, "other", "user");
  owner = await createTestAccount(dataDir, "olga", "owner");
  const database = openDatabase(dataDir);
  applyMigrations(database.sqlite);
  createGroupsStore(database.db).update({ user: { can_download_models: true } }, { callerIsOwner: true });
  createModelGrantStore(database.db).revoke({ kind: "role", role: "user" }, "*", "*");
  database.close();
  env = {
    MSS_LOGIN_DOWNLOADS__MODELS_DIR: modelsDir,
    MSS_LOGIN_DOWNLOADS__TEST_SOURCES: sources.testSources,
    MSS_LOGIN_DOWNLOADS__MAX_BYTES: String(64 * MiB),
    MSS_LOGIN_DOWNLOADS__MAX_HUGGINGFACE: "1",
  };
  gateway = await spawnGateway(fake.url, { command: [binary], env, reuse: { dataDir, account: tester } });
}, 120_000);

afterAll(async () => {
  await gateway?.stop();
  await fake?.stop();
  sources?.stop();
  rmSync(modelsDir, { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true });
});

const asUser = (account: TestAccount) => (path: string, init: RequestInit = {}) => fetchAs(gateway.url, account, path, init);
const call = (path: string, init: RequestInit = {}) => asUser(tester)(path, init);
const post = (path: string, body: unknown) => call(path, { method: "POST", body: JSON.stringify(body) });
const API = "/mss-login/api/model-download";

type Job = Record<string, unknown> & { job_id: string; status: string };
async function finished(jobId: string, ms = 30_000): Promise<Job> {
  const deadline = Date.now() + ms;
  for (;;) {
    const { job } = (await (await call(`${API}/jobs/${jobId}`)).json()) as { job: Job };
    if (!["queued", "running"].includes(job.status)) return job;
    if (Date.now() > deadline) throw new Error(`job ${jobId} still ${job.status}`);
    await Bun.sleep(50);
  }
}
const leftovers = (folder: string) => (existsSync(join(modelsDir, folder)) ? readdirSync(join(modelsDir, folder)).filter((name) => name.startsWith(".")) : []);

describe("bad requests are refused before any network (checklist 5.9)", () => {
  test("a user without can_download_models is refused", async () => {
    const response = await asUser(await createTestAccount(dataDir, "noperm", "guest"))(`${API}/jobs`);
    expect(response.status).toBe(403);
    expect(((await response.json()) as { code: string }).code).toBe("DOWNLOAD_DENIED");
  });

  test.each([
    ["file:///etc/passwd", "URL_SCHEME"],
    ["gopher://civitai.com/models/1", "URL_SCHEME"],
    ["http://civitai.com/models/1", "URL_SCHEME"],
    ["https://127.0.0.1/models/1", "URL_HOST_NOT_ALLOWED"],
    ["https://[::1]/models/1", "URL_HOST_NOT_ALLOWED"],
    ["https://2130706433/models/1", "URL_HOST_NOT_ALLOWED"],
    ["https://0x7f.1/models/1", "URL_HOST_NOT_ALLOWED"],
    ["https://169.254.169.254/latest/meta-data", "URL_HOST_NOT_ALLOWED"],
    ["https://civitai.com@127.0.0.1/models/1", "URL_CREDENTIALS"],
    ["https://user:pass@civitai.com/models/1", "URL_CREDENTIALS"],
    ["https://civitai.com./models/1", "URL_HOST_NOT_ALLOWED"],
    ["https://civitai.com:8443/models/1", "URL_PORT"],
    ["https://evil.example/models/1", "URL_HOST_NOT_ALLOWED"],
    ["https://huggingface.co/org/repo", "FILENAME_REQUIRED"],
    ["https://huggingface.co/org/repo/blob/main/..%2F..%2Fetc%2Fpasswd.safetensors", "FILENAME_INVALID"],
    ["https://huggingface.co/org/repo/blob/main/%2e%2e/%2e%2e/x.safetensors", "FILENAME_REQUIRED"],
    ["https://huggingface.co/org/repo/blob/main/run.sh", "FILENAME_INVALID"],
    ["not a url", "URL_INVALID"],
  ])("%s → 400 %s, no job, no file", async (url, code) => {
    const response = await post(`${API}/download`, { url, folder_type: "checkpoints" });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { code: string; error: string };
    expect(body.code).toBe(code);
    expect(body.error.length).toBeGreaterThan(10);
    const { jobs } = (await (await call(`${API}/jobs`)).json()) as { jobs: Job[] };
    expect(jobs.filter((job) => JSON.stringify(job).includes(url))).toEqual([]);
  });

  test("a folder that is not one of ComfyUI's, or a path, is refused", async () => {
    for (const folder of ["../etc", "checkpoints/x", "nonexistent_folder"]) {
      const response = await post(`${API}/download`, { source: "huggingface", repo_id: "org/repo", filename: "a.safetensors", folder_type: folder });
      expect(response.status).toBe(400);
      expect(["FOLDER_INVALID"]).toContain(((await response.json()) as { code: string }).code);
    }
  });

  test("CivitAI needs the user's key; keys are write-only and never logged or audited", async () => {
    const refused = await post(`${API}/download`, { source: "civitai", model_version_id: 1, folder_type: "checkpoints" });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { code: string }).code).toBe("API_KEY_REQUIRED");
    const set = await call(`${API}/api-keys`, { method: "PUT", body: JSON.stringify({ source: "civitai", api_key: sources.civitaiKey }) });
    expect(set.status).toBe(200);
    const listed = await (await call(`${API}/api-keys`)).text();
    expect(listed).toBe(JSON.stringify({ sources_with_keys: ["civitai"] }));
    const bad = await call(`${API}/api-keys`, { method: "PUT", body: JSON.stringify({ source: "civitai", api_key: "has spaces in it" }) });
    expect(bad.status).toBe(400);
    expect(gateway.log()).not.toContain(sources.civitaiKey);
  });
});

describe("downloads complete, are verified and land in the user's model list", () => {
  test("a CivitAI version: the key goes to CivitAI only, the file is verified, granted and listed", async () => {
    const before = (await (await call("/api/models/checkpoints")).json()) as string[];
    expect(before).toEqual([]); // isolation: nothing granted to this user yet
    sources.requests.length = 0;
    const queued = await post(`${API}/download`, { source: "civitai", model_version_id: 1, folder_type: "checkpoints" });
    expect(queued.status).toBe(200);
    const { job_id } = (await queued.json()) as { job_id: string };
    const job = await finished(job_id);
    expect(job.status).toBe("completed");
    expect(job.destination).toBe("checkpoints/civitai-model.safetensors");
    expect(job.sha256).toBe(sha256Hex(files.civitai));
    expect(job.expected_sha256).toBe(sha256Hex(files.civitai));
    expect(job.bytes_done).toBe(files.civitai.length);
    expect(sha256Hex(readFileSync(join(modelsDir, "checkpoints", "civitai-model.safetensors")))).toBe(sha256Hex(files.civitai));
    // The key went to the API host and never to the CDN it redirected to.
    const download = sources.requests.find((request) => request.server === "civitai" && request.path.startsWith("/api/download/"));
    expect(download?.authorization).toBe(`Bearer ${sources.civitaiKey}`);
    expect(sources.requests.filter((request) => request.server === "cdn").every((request) => request.authorization === null && request.cookie === null)).toBe(true);
    // Granted to the user under model isolation: ComfyUI's list through the gateway shows it.
    expect((await (await call("/api/models/checkpoints")).json()) as string[]).toEqual(["civitai-model.safetensors"]);
    // Another user of the same role does not see it, nor the job.
    expect((await (await asUser(other)("/api/models/checkpoints")).json()) as string[]).toEqual([]);
    expect((await asUser(other)(`${API}/jobs/${job_id}`)).status).toBe(404);
    expect(leftovers("checkpoints")).toEqual([]);
  });

  test("a pasted CivitAI page URL and a pasted Hugging Face file URL", async () => {
    const civitai = (await (await post(`${API}/download`, { url: "https://civitai.com/models/1004?modelVersionId=4", folder_type: "loras" })).json()) as { job_id: string };
    const hf = (await (await post(`${API}/download`, { url: "https://huggingface.co/org/repo/blob/main/sub/hf-model.safetensors", folder_type: "vae" })).json()) as { job_id: string };
    expect((await finished(civitai.job_id)).status).toBe("completed");
    const hfJob = await finished(hf.job_id);
    expect(hfJob).toMatchObject({ status: "completed", destination: "vae/hf-model.safetensors", repo_id: "org/repo", expected_sha256: sha256Hex(files.hf), sha256: sha256Hex(files.hf) });
    expect(existsSync(join(modelsDir, "loras", "redirected.safetensors"))).toBe(true);
    expect((await (await call("/api/models/vae")).json()) as string[]).toEqual(["hf-model.safetensors"]);
  });

  test("a download whose connection drops resumes with Range and completes intact", async () => {
    sources.requests.length = 0;
    const { job_id } = (await (await post(`${API}/download`, { source: "civitai", model_version_id: 3, folder_type: "checkpoints" })).json()) as { job_id: string };
    const job = await finished(job_id);
    expect(job.status).toBe("completed");
    expect(job.sha256).toBe(sha256Hex(files.resumed));
    expect(sources.requests.filter((request) => request.server === "cdn").map((request) => request.range)).toEqual([null, "bytes=700000-"]);
  });
});

describe("look-ups before a download (the original's search routes)", () => {
  test("CivitAI search pages a query by cursor and browsing by page; models and versions are proxied with the user's key", async () => {
    sources.requests.length = 0;
    const found = (await (await call(`${API}/civitai/search?query=civitai&page=2&limit=5`)).json()) as { host: string; query: string; result: { items: { name: string }[] } };
    expect(found.host).toBe("civitai.com");
    expect(found.result.items.map((item) => item.name)).toEqual(["civitai-model"]);
    const searched = sources.requests.find((request) => request.path.startsWith("/api/v1/models?"))!;
    expect(searched.path).not.toContain("page=");
    expect(searched.authorization).toBe(`Bearer ${sources.civitaiKey}`);
    const browsed = await call(`${API}/civitai/search?page=2`);
    expect(browsed.status).toBe(200);
    expect(sources.requests.at(-1)!.path).toContain("page=2");
    const version = (await (await call(`${API}/civitai/model-versions/1`)).json()) as { model_version: { files: { name: string }[] } };
    expect(version.model_version.files.map((file) => file.name)).toContain("civitai-model.safetensors");
    expect(((await (await call(`${API}/civitai/models/1001`)).json()) as { model: { modelVersions: unknown[] } }).model.modelVersions).toEqual([{ id: 1 }]);
    const missing = await call(`${API}/civitai/models/999999`);
    expect(missing.status).toBe(404);
  });

  test("Hugging Face search answers public fields only; bad look-ups are refused before any request", async () => {
    const found = (await (await call(`${API}/huggingface/search?q=org/slow&limit=3`)).json()) as { items: Record<string, unknown>[] };
    expect(found.items).toEqual([{ id: "org/slow", repo_id: "org/slow", downloads: 42, likes: 3, tags: ["diffusers", "safetensors"], pipeline_tag: "text-to-image", private: false, has_safetensors: true }]);
    const before = sources.requests.length;
    for (const [path, code] of [
      ["/civitai/search?limit=1000", "BAD_LIMIT"],
      ["/civitai/search?civitai_host=evil.example", "BAD_CIVITAI_HOST"],
      ["/civitai/search?types=%0d%0aX-Injected:1", "BAD_FILTER"],
      ["/civitai/models/12abc", "BAD_ID"],
      ["/civitai/model-versions/0", "BAD_ID"],
      ["/huggingface/search", "BAD_QUERY"],
    ] as const) {
      const response = await call(`${API}${path}`);
      expect(response.status).toBe(400);
      expect(((await response.json()) as { code: string }).code).toBe(code);
    }
    expect(sources.requests.length).toBe(before);
  });
});

describe("tampered, oversized and misdirected downloads leave nothing behind", () => {
  test("a file whose SHA-256 differs from the published one is rejected and deleted", async () => {
    const { job_id } = (await (await post(`${API}/download`, { source: "civitai", model_version_id: 2, folder_type: "checkpoints" })).json()) as { job_id: string };
    const job = await finished(job_id);
    expect(job).toMatchObject({ status: "failed", error_code: "HASH_MISMATCH" });
    expect(existsSync(join(modelsDir, "checkpoints", "tampered.safetensors"))).toBe(false);
    expect(leftovers("checkpoints")).toEqual([]);
    expect((await (await call("/api/models/checkpoints")).json()) as string[]).not.toContain("tampered.safetensors");
  });

  test("a file larger than the source announced is refused", async () => {
    const { job_id } = (await (await post(`${API}/download`, { source: "huggingface", repo_id: "org/repo", filename: "oversized.safetensors", folder_type: "checkpoints" })).json()) as { job_id: string };
    expect(await finished(job_id)).toMatchObject({ status: "failed", error_code: "SIZE_MISMATCH" });
    expect(existsSync(join(modelsDir, "checkpoints", "oversized.safetensors"))).toBe(false);
    expect(leftovers("checkpoints")).toEqual([]);
  });

  test("a redirect to a host downloads may not reach is not followed", async () => {
    sources.redirectOverride = `http://localhost:${new URL(sources.cdnOrigin).port}/blobs/civitai-1`;
    try {
      const { job_id } = (await (await post(`${API}/download`, { source: "civitai", model_version_id: 4, folder_type: "checkpoints", preferred_filename: "elsewhere.safetensors" })).json()) as { job_id: string };
      expect(await finished(job_id)).toMatchObject({ status: "failed", error_code: "REDIRECT_NOT_ALLOWED" });
    } finally {
      sources.redirectOverride = null;
    }
    expect(existsSync(join(modelsDir, "checkpoints", "elsewhere.safetensors"))).toBe(false);
  });

  test("an existing model is never overwritten", async () => {
    const response = await post(`${API}/download`, { source: "civitai", model_version_id: 1, folder_type: "checkpoints", preferred_filename: "civitai-model.safetensors" });
    expect(response.status).toBe(409);
    expect(((await response.json()) as { code: string }).code).toBe("DESTINATION_EXISTS");
  });
});

describe("queue caps, cancel and restart", () => {
  test("Hugging Face runs one at a time here; a queued job can be cancelled; a running one resumes after a restart", async () => {
    const slow = (await (await post(`${API}/download`, { source: "huggingface", repo_id: "org/slow", filename: "slow.safetensors", folder_type: "checkpoints" })).json()) as { job_id: string };
    const second = (await (await post(`${API}/download`, { source: "huggingface", repo_id: "org/repo", filename: "sub/none.safetensors".split("/")[1]!, subfolder: "sub", folder_type: "checkpoints" })).json()) as { job_id: string; stats: Record<string, number> };
    expect(second.stats).toMatchObject({ active_huggingface: 1, pending_total: 1, limit_huggingface: 1 });
    expect(((await (await call(`${API}/jobs/${second.job_id}`)).json()) as { job: Job }).job.status).toBe("queued");
    expect((await post(`${API}/jobs/${second.job_id}/cancel`, {})).status).toBe(200);
    expect(((await (await call(`${API}/jobs/${second.job_id}`)).json()) as { job: Job }).job.status).toBe("cancelled");
    expect((await post(`${API}/jobs/${second.job_id}/cancel`, {})).status).toBe(400);

    // Let part of the slow file arrive, then stop the gateway.
    for (let progress = 0; progress < 600_000; ) {
      await Bun.sleep(50);
      progress = Number(((await (await call(`${API}/jobs/${slow.job_id}`)).json()) as { job: Job }).job.bytes_done);
    }
    await gateway.stop();
    const parts = leftovers("checkpoints");
    expect(parts.length).toBe(1);
    sources.requests.length = 0;
    gateway = await spawnGateway(fake.url, { command: [binary], env, reuse: { dataDir, account: tester } });
    const job = await finished(slow.job_id, 60_000);
    expect(job.status).toBe("completed");
    expect(job.sha256).toBe(sha256Hex(files.restart));
    const resumedFrom = sources.requests.find((request) => request.server === "cdn")?.range;
    expect(resumedFrom).toMatch(/^bytes=\d+-$/);
    expect(Number(/\d+/.exec(resumedFrom!)![0])).toBeGreaterThan(0);
    expect(leftovers("checkpoints")).toEqual([]);
  }, 90_000);
});

test("deleting an account stops its downloads and erases its keys", async () => {
  const leaver = await createTestAccount(dataDir, "leaver", "user");
  expect((await asUser(leaver)(`${API}/api-keys`, { method: "PUT", body: JSON.stringify({ source: "civitai", api_key: sources.civitaiKey }) })).status).toBe(200);
  const queued = (await (await asUser(leaver)(`${API}/download`, { method: "POST", body: JSON.stringify({ source: "huggingface", repo_id: "org/slow", filename: "slow.safetensors", folder_type: "loras", preferred_filename: "leaver.safetensors" }) })).json()) as { job_id: string };
  expect((await asUser(owner)("/mss-login/api/users/leaver", { method: "DELETE" })).status).toBe(200);
  const deadline = Date.now() + 10_000;
  let status = "";
  while (Date.now() < deadline && !["cancelled", "completed", "failed"].includes(status)) {
    status = (((await (await asUser(owner)(`${API}/jobs/${queued.job_id}`)).json()) as { job: Job }).job).status;
    await Bun.sleep(50);
  }
  expect(status).toBe("cancelled");
  const db = new Database(join(dataDir, "mss-login.db"), { readonly: true });
  const keys = db.query("select count(*) as n from download_api_keys where user_id = ?").get(leaver.userId) as { n: number };
  db.close();
  expect(keys.n).toBe(0);
  expect(existsSync(join(modelsDir, "loras", "leaver.safetensors"))).toBe(false);
  expect(leftovers("loras")).toEqual([]);
});

test("a finished and a failed download are announced over ntfy; its token never appears in the binary's log", async () => {
  const ntfy = await startFakeNtfy();
  const ntfyToken = "tk_downloads_test_token_123456";
  ntfy.requireToken(ntfyToken);
  try {
    const configured = await asUser(owner)("/mss-login/api/notifications", { method: "PUT", body: JSON.stringify({ enabled: true, server_url: ntfy.url, topic: "mss-downloads", token: ntfyToken }) });
    expect(configured.status).toBe(200);
    const good = (await (await post(`${API}/download`, { source: "huggingface", repo_id: "org/repo", filename: "hf-model.safetensors", subfolder: "sub", folder_type: "loras" })).json()) as { job_id: string };
    expect((await finished(good.job_id)).status).toBe("completed");
    const bad = (await (await post(`${API}/download`, { source: "civitai", model_version_id: 2, folder_type: "loras" })).json()) as { job_id: string };
    expect((await finished(bad.job_id)).status).toBe("failed");
    const pushes = await ntfy.waitFor(2, 10_000);
    const titles = pushes.map((push) => decodeHeader(push.headers.title));
    expect(titles.some((title) => /download/i.test(title))).toBe(true);
    expect(pushes.map((push) => push.text).join("\n")).toContain("hf-model.safetensors");
    expect(pushes.map((push) => push.text).join("\n")).toContain("HASH_MISMATCH");
    expect(pushes.every((push) => push.headers.authorization === `Bearer ${ntfyToken}`)).toBe(true);
    expect(gateway.log()).not.toContain(ntfyToken);
    expect((await asUser(owner)("/mss-login/api/notifications", { method: "PUT", body: JSON.stringify({ enabled: false }) })).status).toBe(200);
  } finally {
    await ntfy.stop();
  }
});

test("each ended download is in the audit log with URL, size, hash and requester, and the chain verifies", async () => {
  const admin = await createTestAccount(dataDir, "auditor", "admin");
  const events = (await (await asUser(admin)("/mss-login/api/audit?action=download.")).json()) as { items: { action: string; details: Record<string, unknown> }[] };
  const completed = events.items.find((event) => event.action === "download.completed" && event.details.filename === "civitai-model.safetensors");
  expect(completed?.details).toMatchObject({ source: "civitai", url: "https://civitai.com/api/download/models/1", bytes: files.civitai.length, sha256: sha256Hex(files.civitai), requested_by: "tester" });
  expect(events.items.some((event) => event.action === "download.failed" && event.details.failure === "HASH_MISMATCH")).toBe(true);
  const verify = (await (await asUser(admin)("/mss-login/api/audit/verify")).json()) as { intact: boolean };
  expect(verify.intact).toBe(true);
  expect(JSON.stringify(events)).not.toContain(sources.civitaiKey);
});
