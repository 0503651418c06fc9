/**
 * The pure parts of per-user isolation: prompt submission rewriting (ids, owner stamp,
 * client_id binding, output folders, file references), file read rules, and the per-user
 * views of queue, history and jobs with paging after filtering.
 */
import { describe, expect, test } from "bun:test";
import { normaliseSubfolder, userFolder } from "../../src/isolation/ownership.ts";
import { mayReadFile, OWNER_KEY, parseFileReference, prefixIntoUserFolder, preparePromptSubmission, type PromptSubmissionDeps } from "../../src/isolation/prompt-submission.ts";
import { filterJobs, filterQueue, integerParam, ownIds, pageHistory, queueIds } from "../../src/isolation/queue-views.ts";

const ALICE = "11111111-1111-4111-8111-111111111111";
const BOB = "22222222-2222-4222-8222-222222222222";
const alice = { userId: ALICE, username: "alice", seesAll: false };

function deps(overrides: Partial<PromptSubmissionDeps> = {}): PromptSubmissionDeps {
  return {
    promptIdTaken: () => false,
    upstreamSidFor: (clientId) => (clientId === "alice-tab" ? "upstream-alice-tab" : null),
    latestSid: () => null,
    sinkSid: "sink",
    ownerOfFile: () => null,
    ...overrides,
  };
}

const graph = (inputs: Record<string, unknown>) => ({ prompt: { "9": { class_type: "SaveImage", inputs } } });

describe("prompt submission", () => {
  test("the gateway mints the prompt_id and stamps the owner; a client's own owner key is replaced", () => {
    const prepared = preparePromptSubmission({ ...graph({ filename_prefix: "x" }), extra_data: { [OWNER_KEY]: { user_id: BOB }, extra_pnginfo: { a: 1 } } }, alice, deps());
    if (!prepared.ok) throw new Error(prepared.message);
    expect(prepared.promptId).toMatch(/^[0-9a-f-]{36}$/);
    expect(prepared.body.prompt_id).toBe(prepared.promptId);
    expect(prepared.body.extra_data).toEqual({ [OWNER_KEY]: { user_id: ALICE, username: "alice" }, extra_pnginfo: { a: 1 } });
  });

  test("a client-chosen prompt_id must be a new canonical UUID", () => {
    const id = "3333aaaa-3333-4333-8333-333333333333";
    expect(preparePromptSubmission({ ...graph({}), prompt_id: id }, alice, deps())).toMatchObject({ ok: true, promptId: id });
    expect(preparePromptSubmission({ ...graph({}), prompt_id: id }, alice, deps({ promptIdTaken: () => true }))).toMatchObject({ ok: false, code: "PROMPT_ID_TAKEN" });
    for (const bad of ["x", id.toUpperCase(), 42]) expect(preparePromptSubmission({ ...graph({}), prompt_id: bad }, alice, deps())).toMatchObject({ ok: false, code: "PROMPT_ID_INVALID" });
  });

  test("client_id: the caller's own socket, else their latest, else a sink (never broadcast)", () => {
    expect(preparePromptSubmission({ ...graph({}), client_id: "alice-tab" }, alice, deps())).toMatchObject({ upstreamClientId: "upstream-alice-tab" });
    expect(preparePromptSubmission({ ...graph({}), client_id: "bobs-tab" }, alice, deps({ latestSid: () => "latest" }))).toMatchObject({ upstreamClientId: "latest" });
    expect(preparePromptSubmission(graph({}), alice, deps())).toMatchObject({ upstreamClientId: "sink" });
  });

  test("outputs go into the caller's folder, whatever the prefix tries", () => {
    expect(prefixIntoUserFolder("ComfyUI", ALICE)).toBe(`u-${ALICE}/ComfyUI`);
    expect(prefixIntoUserFolder("../../etc/x", ALICE)).toBe(`u-${ALICE}/etc/x`);
    expect(prefixIntoUserFolder(`u-${BOB}/planted`, ALICE)).toBe(`u-${ALICE}/planted`);
    expect(prefixIntoUserFolder(`/u-${ALICE}/again`, ALICE)).toBe(`u-${ALICE}/again`);
    expect(prefixIntoUserFolder("..\\..\\", ALICE)).toBe(`u-${ALICE}/ComfyUI`);
    const prepared = preparePromptSubmission(graph({ filename_prefix: "portraits/me" }), alice, deps());
    expect(prepared.ok && (prepared.body.prompt as Record<string, { inputs: Record<string, unknown> }>)["9"]!.inputs.filename_prefix).toBe(`u-${ALICE}/portraits/me`);
  });

  test("a linked filename_prefix is refused (it would be computed beyond the gateway's reach)", () => {
    expect(preparePromptSubmission(graph({ filename_prefix: ["5", 0] }), alice, deps())).toMatchObject({ ok: false, code: "FILENAME_PREFIX_LINKED" });
  });

  test("another user's uploads and outputs cannot be used; shared inputs and one's own can", () => {
    const load = (image: string) => ({ prompt: { "1": { class_type: "LoadImage", inputs: { image } } } });
    expect(preparePromptSubmission(load(`u-${BOB}/secret.png`), alice, deps())).toMatchObject({ ok: false, code: "FILE_NOT_ALLOWED", status: 403 });
    expect(preparePromptSubmission(load(`u-${ALICE}/mine.png`), alice, deps())).toMatchObject({ ok: true });
    expect(preparePromptSubmission(load("shared.png"), alice, deps())).toMatchObject({ ok: true });
    expect(preparePromptSubmission(load("ComfyUI_00001_.png [output]"), alice, deps())).toMatchObject({ ok: false, code: "FILE_NOT_ALLOWED" });
    expect(preparePromptSubmission(load("ComfyUI_00001_.png [output]"), alice, deps({ ownerOfFile: () => ALICE }))).toMatchObject({ ok: true });
    expect(preparePromptSubmission(load(`u-${BOB}/secret.png`), { ...alice, seesAll: true }, deps())).toMatchObject({ ok: true });
  });

  test("only those who see everything may jump the queue (front, number)", () => {
    const jump = { ...graph({}), front: true, number: -1000 };
    const plain = preparePromptSubmission(jump, alice, deps());
    expect(plain.ok && [plain.body.front, plain.body.number]).toEqual([undefined, undefined]);
    const admin = preparePromptSubmission(jump, { ...alice, seesAll: true }, deps());
    expect(admin.ok && [admin.body.front, admin.body.number]).toEqual([true, -1000]);
  });

  test("malformed submissions are refused before anything is sent", () => {
    for (const body of [null, [], "x", { prompt: [] }, { prompt: {}, extra_data: [] }]) expect(preparePromptSubmission(body, alice, deps())).toMatchObject({ ok: false, status: 400 });
  });
});

describe("file rules", () => {
  test("subfolders resolve as ComfyUI resolves them", () => {
    expect(normaliseSubfolder("a/./b//c/")).toBe("a/b/c");
    expect(normaliseSubfolder(`x/../u-${BOB}`)).toBe(`u-${BOB}`);
    expect(normaliseSubfolder("../x")).toBeNull();
    expect(normaliseSubfolder("a\\..\\..\\b")).toBeNull();
  });

  test("own folder, recorded files and shared inputs only", () => {
    const nobody = () => null;
    expect(mayReadFile({ type: "output", subfolder: userFolder(ALICE), filename: "a.png" }, ALICE, nobody)).toBe(true);
    expect(mayReadFile({ type: "output", subfolder: `${userFolder(ALICE)}/../${userFolder(BOB)}`, filename: "a.png" }, ALICE, nobody)).toBe(false);
    expect(mayReadFile({ type: "temp", subfolder: "", filename: "ComfyUI_temp_x.png" }, ALICE, nobody)).toBe(false);
    expect(mayReadFile({ type: "temp", subfolder: "", filename: "ComfyUI_temp_x.png" }, ALICE, () => ALICE)).toBe(true);
    expect(mayReadFile({ type: "input", subfolder: "", filename: "shared.png" }, ALICE, nobody)).toBe(true);
    expect(mayReadFile({ type: "input", subfolder: userFolder(BOB), filename: "b.png" }, ALICE, () => ALICE)).toBe(false);
  });

  test("combo values name files the way ComfyUI annotates them", () => {
    expect(parseFileReference("a/b/c.png [output]")).toEqual({ type: "output", subfolder: "a/b", filename: "c.png" });
    expect(parseFileReference("c.png")).toEqual({ type: "input", subfolder: "", filename: "c.png" });
  });
});

describe("queue, history and jobs views", () => {
  const mine = (id: string) => id.startsWith("a");
  test("queue items are kept only for the caller; ids are read in order", () => {
    const queue = { queue_running: [[1, "a1", {}, {}, []]], queue_pending: [[2, "b1", {}, {}, []], [3, "a2", {}, {}, []], "junk"] };
    expect(filterQueue(queue, mine)).toEqual({ queue_running: [[1, "a1", {}, {}, []]], queue_pending: [[3, "a2", {}, {}, []]] });
    expect(queueIds(queue)).toEqual({ running: ["a1"], pending: ["b1", "a2"] });
    expect(ownIds(["a1", "b1", 3, "a9"], mine)).toEqual(["a1", "a9"]);
  });

  test("history pages after filtering, with ComfyUI's semantics", () => {
    const entries = ["a1", "a2", "a3", "a4"].map((id) => [id, id] as const);
    expect(Object.keys(pageHistory(entries, null, null))).toEqual(["a1", "a2", "a3", "a4"]);
    expect(Object.keys(pageHistory(entries, 2, null))).toEqual(["a3", "a4"]);
    expect(Object.keys(pageHistory(entries, 2, 1))).toEqual(["a2", "a3"]);
    expect(Object.keys(pageHistory(entries, 10, null))).toEqual(["a1", "a2", "a3", "a4"]);
    expect([integerParam(null), integerParam("12"), integerParam("x")]).toEqual([null, 12, Number.NaN]);
  });

  test("jobs are re-paged after filtering", () => {
    const body = { jobs: ["a1", "b1", "a2", "a3", "b2"].map((id) => ({ id })), pagination: { offset: 0, limit: null, total: 5, has_more: false } };
    expect(filterJobs(body, mine, 2, 0)).toEqual({ jobs: [{ id: "a1" }, { id: "a2" }], pagination: { offset: 0, limit: 2, total: 3, has_more: true } });
    expect(filterJobs(body, mine, 2, 2)).toEqual({ jobs: [{ id: "a3" }], pagination: { offset: 2, limit: 2, total: 3, has_more: false } });
  });
});

describe("the composition root's shortcut", () => {
  test("isolationConcerns names every route forRequest acts on (others skip building a caller)", async () => {
    const { mkdtempSync, rmSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { applyMigrations, openDatabase } = await import("../../src/db/index.ts");
    const { createOwnershipStore } = await import("../../src/isolation/ownership.ts");
    const { createIsolation, isolationConcerns } = await import("../../src/isolation/comfy-isolation.ts");
    const { createSharedWorkflowStore } = await import("../../src/isolation/shared-workflows.ts");
    const { createModelGrantStore } = await import("../../src/models/grants.ts");
    const { createLogger } = await import("../../src/log.ts");
    const { COMFY_ROUTES } = await import("../../src/gateway/comfy-routes.ts");
    const dir = mkdtempSync(join(tmpdir(), "mss-iso-"));
    const database = openDatabase(dir);
    try {
      applyMigrations(database.sqlite);
      const isolation = createIsolation({
        ownership: createOwnershipStore(database.db),
        sockets: { upstreamSidFor: () => null, openUpstreamSidFor: () => null, latestSidOf: () => null },
        sharedWorkflows: createSharedWorkflowStore(database.db),
        models: createModelGrantStore(database.db),
        maxJsonBytes: 1024,
        log: createLogger("error"),
      });
      const acting: string[] = [];
      for (const route of COMFY_ROUTES) {
        for (const method of [...route.methods, "HEAD"]) {
          for (const seesAll of [false, true]) {
            const caller = { userId: ALICE, username: "alice", role: seesAll ? "admin" : "guest", seesAll, maxPending: 0 } as Parameters<typeof isolation.forRequest>[0]["caller"];
            const request = new Request("http://gw/x", { method: method === "GET" || method === "HEAD" ? method : "POST" });
            const params = { id: "Comfy.Extension.Disabled", prompt_id: ALICE, job_id: ALICE, folder: "checkpoints", file: "workflows/a.json", dest: "workflows/b.json" };
            if (isolation.forRequest({ request, routeId: route.id, method, params, path: "/api/x", search: "?filename=x.png&subfolder=u-other", caller }) !== null) acting.push(`${route.id} ${method}`);
          }
        }
      }
      expect(acting).toEqual(expect.arrayContaining(["prompt POST", "queue GET", "view GET", "userdata.v2 GET", "object_info GET"]));
      expect([...new Set(acting)].filter((pair) => !isolationConcerns(pair.split(" ")[0]!, pair.split(" ")[1]!))).toEqual([]);
    } finally {
      database.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("portable userdata names", () => {
  test("Windows device names and trailing dots or spaces are refused; ordinary names pass", async () => {
    const { isPortablePath } = await import("../../src/isolation/comfy-isolation.ts");
    for (const bad of ["CON", "workflows/nul.json", "aux", "COM1", "lpt9.txt", "workflows/x.json.", "workflows/x ", "a./b.json"]) expect(isPortablePath(bad), bad).toBe(false);
    for (const good of ["workflows/console.json", "workflows/a.json", "comfy.settings.json", "con_figs/x.json", ".hidden/x"]) expect(isPortablePath(good), good).toBe(true);
  });
});

describe("names read exactly as ComfyUI reads them (review findings)", () => {
  test("a folder tag counts with any one character before it, as folder_paths.annotated_filepath cuts it", async () => {
    const { splitAnnotation } = await import("../../src/isolation/ownership.ts");
    expect(splitAnnotation("x.png [output]")).toEqual({ name: "x.png", type: "output" });
    expect(splitAnnotation("x.pngX[output]")).toEqual({ name: "x.png", type: "output" });
    expect(splitAnnotation("x.png_[temp]")).toEqual({ name: "x.png", type: "temp" });
    expect(splitAnnotation("x.png.[input]")).toEqual({ name: "x.png", type: "input" });
    expect(splitAnnotation("x.png")).toEqual({ name: "x.png", type: null });
  });

  test("absolute subfolders and drives are nobody's folder", () => {
    for (const bad of ["/srv/ComfyUI/output/u-x", "\\\\server\\share", "C:/ComfyUI/output", "c:relative"]) expect(normaliseSubfolder(bad), bad).toBeNull();
    expect(mayReadFile({ type: "input", subfolder: `/srv/ComfyUI/input/u-${BOB}`, filename: "b.png" }, ALICE, () => null)).toBe(false);
  });

  test("prompts cannot name another's file by an untagged-looking tag or an absolute path; text that starts with / is still text", () => {
    const load = (image: string) => ({ prompt: { "1": { class_type: "LoadImage", inputs: { image } } } });
    expect(preparePromptSubmission(load("ComfyUI_temp_abcde_00001_.pngX[temp]"), alice, deps())).toMatchObject({ ok: false, code: "FILE_NOT_ALLOWED" });
    expect(preparePromptSubmission(load(`/srv/ComfyUI/output/u-${BOB}/secret_00001_.png`), alice, deps())).toMatchObject({ ok: false, code: "FILE_NOT_ALLOWED" });
    expect(preparePromptSubmission(load("/etc/x.png"), alice, deps())).toMatchObject({ ok: false, code: "FILE_NOT_ALLOWED" });
    expect(preparePromptSubmission(load("C:\\ComfyUI\\output\\x.png"), alice, deps())).toMatchObject({ ok: false, code: "FILE_NOT_ALLOWED" });
    const text = { prompt: { "2": { class_type: "CLIPTextEncode", inputs: { text: "/imagine a cat, 35mm / f1.8" } } } };
    expect(preparePromptSubmission(text, alice, deps())).toMatchObject({ ok: true });
  });
});
