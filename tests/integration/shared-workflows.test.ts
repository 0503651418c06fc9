/**
 * Shared workflows through the real gateway and the fake ComfyUI (multi-user), as scenarios:
 * A saves a workflow; the owner lists A's workflows and promotes one (`user-env`); B then sees
 * `workflows/shared/<name>` in the front end's own listing queries and opens it, but neither B
 * nor A (nor the owner, through userdata) can overwrite, delete or move it; a guest still may
 * not save their own; unsharing removes it for everyone. Bad input changes nothing.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startFakeComfyUI, type FakeComfyUI } from "../fake-comfyui/server.ts";
import { createTestAccount, startTestGateway, type TestAccount, type TestGateway } from "../support/gateway.ts";

let fake: FakeComfyUI;
/** `tester` (role user) is A. */
let gateway: TestGateway;
let b: TestAccount;
let guest: TestAccount;
let owner: TestAccount;
let admin: TestAccount;

beforeAll(async () => {
  fake = await startFakeComfyUI({ multiUser: true });
  gateway = await startTestGateway(fake.url);
  b = await createTestAccount(gateway.dataDir, "bob", "user");
  guest = await createTestAccount(gateway.dataDir, "gus", "guest");
  owner = await createTestAccount(gateway.dataDir, "olga", "owner");
  admin = await createTestAccount(gateway.dataDir, "adam", "admin");
});
afterAll(async () => {
  await gateway.stop();
  await fake.stop();
});

type As = "a" | "b" | "guest" | "owner" | "admin";
const tokenOf = (as: As) => ({ a: gateway.account.token, b: b.token, guest: guest.token, owner: owner.token, admin: admin.token })[as];
function call(as: As, path: string, init: { method?: string; body?: string; json?: unknown } = {}): Promise<Response> {
  const headers: Record<string, string> = { authorization: `Bearer ${tokenOf(as)}` };
  let body = init.body;
  if (init.json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(init.json);
  } else if (body !== undefined) headers["content-type"] = "text/plain;charset=UTF-8";
  return fetch(gateway.url + path, { method: init.method ?? "GET", headers, body });
}
const userEnv = (as: As, body: unknown, path = "/mss-login/api/user-env") => call(as, path, { method: "POST", json: body });
async function answer(response: Response): Promise<{ status: number; body: Record<string, unknown> }> {
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** The front end's own listing (spec §3.7), as paths. */
const FRONT_END_LISTING = "/api/userdata?dir=workflows&recurse=true&split=false&full_info=true";
async function listedPaths(as: As): Promise<string[]> {
  const response = await call(as, FRONT_END_LISTING);
  expect(response.status).toBe(200);
  return ((await response.json()) as { path: string }[]).map((entry) => entry.path);
}
/** The fake's files of one gateway user, to check what reached ComfyUI. */
function comfyFilesOf(as: As): string[] {
  const snapshot = fake.state.userdata.snapshot();
  const all = Object.entries(snapshot);
  const username = { a: gateway.account.username, b: b.username, guest: guest.username, owner: owner.username, admin: admin.username }[as];
  // ComfyUI's ids are the display name (the gateway's `mss_<username>`), "_" and a UUID.
  const found = all.find(([user]) => user.startsWith(`mss_${username}_`));
  return found === undefined ? [] : Object.keys(found[1]).sort();
}

const WORKFLOW_A = JSON.stringify({ nodes: [{ id: 1, type: "KSampler" }], links: [], version: 0.4, note: "élan" });
const WORKFLOW_SECRET = JSON.stringify({ nodes: [], note: "A keeps this one" });

describe("before anything is shared", () => {
  test("A saves workflows the way the front end does; B sees none of them", async () => {
    expect((await call("a", "/api/userdata/workflows%2Fa.json?overwrite=false&full_info=true", { method: "POST", body: WORKFLOW_A })).status).toBe(200);
    expect((await call("a", "/api/userdata/workflows%2Fsecret.json?overwrite=false&full_info=true", { method: "POST", body: WORKFLOW_SECRET })).status).toBe(200);
    expect((await call("a", "/api/userdata/workflows%2Fnot-json.json", { method: "POST", body: "{nope" })).status).toBe(200);
    expect(await listedPaths("a")).toEqual(["a.json", "not-json.json", "secret.json"]);
    // B has no workflows folder yet: ComfyUI's own 404.
    expect((await call("b", FRONT_END_LISTING)).status).toBe(404);
  });

  test("the owner lists A's workflows with A's ComfyUI user", async () => {
    expect(await answer(await userEnv("owner", { action: "list_workflows", user: "tester" }))).toEqual({
      status: 200,
      body: { user: "tester", workflows: ["a.json", "not-json.json", "secret.json"], count: 3 },
    });
    expect(await answer(await userEnv("owner", { action: "list_workflows", user: "bob" }))).toEqual({ status: 200, body: { user: "bob", workflows: [], count: 0 } });
  });
});

describe("bad input changes nothing", () => {
  test.each([
    ["an unknown user", { action: "promote_workflow", user: "nobody", workflow: "a.json" }, 404, "USER_NOT_FOUND"],
    ["a missing user", { action: "promote_workflow", workflow: "a.json" }, 400, "BAD_BODY"],
    ["a missing workflow", { action: "promote_workflow", user: "tester" }, 400, "WORKFLOW_NAME_INVALID"],
    ["a traversal", { action: "promote_workflow", user: "tester", workflow: "../x.json" }, 400, "WORKFLOW_NAME_INVALID"],
    ["an absolute path", { action: "promote_workflow", user: "tester", workflow: "/etc/passwd.json" }, 400, "WORKFLOW_NAME_INVALID"],
    ["a control character", { action: "promote_workflow", user: "tester", workflow: "a\u0001.json" }, 400, "WORKFLOW_NAME_INVALID"],
    ["a name not ending .json", { action: "promote_workflow", user: "tester", workflow: "a.txt" }, 400, "WORKFLOW_NAME_INVALID"],
    ["a workflow A does not have", { action: "promote_workflow", user: "tester", workflow: "missing.json" }, 404, "WORKFLOW_NOT_FOUND"],
    ["a file that is not JSON", { action: "promote_workflow", user: "tester", workflow: "not-json.json" }, 400, "WORKFLOW_NOT_JSON"],
    ["a bad delete_source", { action: "promote_workflow", user: "tester", workflow: "a.json", delete_source: "maybe" }, 400, "BAD_BODY"],
    ["no action", { user: "tester" }, 400, "BAD_BODY"],
    ["an unknown action", { action: "format_disk", user: "tester" }, 400, "ACTION_UNKNOWN"],
    ["the original's purge", { action: "purge", user: "tester" }, 400, "ACTION_UNSUPPORTED"],
    ["the original's delete_file", { action: "delete_file", user: "tester", file: "a.json" }, 400, "ACTION_UNSUPPORTED"],
    ["unsharing what is not shared", { action: "unshare", workflow: "a.json" }, 404, "WORKFLOW_NOT_FOUND"],
    ["unsharing with a folder", { action: "unshare", workflow: "sub/a.json" }, 400, "WORKFLOW_NAME_INVALID"],
  ])("%s", async (_label, body, status, code) => {
    const result = await answer(await userEnv("owner", body));
    expect(result.status).toBe(status);
    expect(result.body.code).toBe(code);
    expect(typeof result.body.error).toBe("string");
    expect(await answer(await userEnv("owner", { action: "list_shared" }))).toEqual({ status: 200, body: { workflows: [], count: 0 } });
    expect(comfyFilesOf("a")).toEqual(["workflows/a.json", "workflows/not-json.json", "workflows/secret.json"]);
  });

  test("a body that is not JSON, and callers who are not admins", async () => {
    const notJson = await call("owner", "/mss-login/api/user-env", { method: "POST", body: "action=list_shared" });
    expect(notJson.status).toBe(400);
    for (const as of ["a", "b", "guest"] as const) {
      expect(await answer(await userEnv(as, { action: "promote_workflow", user: "tester", workflow: "a.json" }))).toMatchObject({ status: 403, body: { code: "ADMIN_ONLY" } });
      expect(await answer(await userEnv(as, { action: "list_workflows", user: "tester" }))).toMatchObject({ status: 403, body: { code: "ADMIN_ONLY" } });
    }
    const anonymous = await fetch(`${gateway.url}/mss-login/api/user-env`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ action: "list_shared" }) });
    expect(anonymous.status).toBe(401);
    expect(await answer(await userEnv("owner", { action: "list_shared" }))).toEqual({ status: 200, body: { workflows: [], count: 0 } });
  });
});

describe("an admin's browser session", () => {
  test("reads without the step-up; promoting needs it, and without it nothing is shared", async () => {
    // Admins must enrol a second factor by default; this scenario is about the step-up.
    expect((await call("owner", "/mss-login/api/groups", { method: "PUT", json: { groups: { admin: { mfa_required: false } } } })).status).toBe(200);
    const signedIn = await fetch(`${gateway.url}/login`, {
      method: "POST",
      headers: { "content-type": "application/json", "sec-fetch-site": "same-origin" },
      body: JSON.stringify({ username: admin.username, password: admin.password }),
      redirect: "manual",
    });
    const cookie = signedIn.headers.getSetCookie().find((c) => c.startsWith("mss_session="))?.split(";")[0];
    if (cookie === undefined) throw new Error(`no session (HTTP ${signedIn.status})`);
    const asSession = (body: unknown) =>
      fetch(`${gateway.url}/mss-login/api/user-env`, { method: "POST", headers: { cookie, "content-type": "application/json", "sec-fetch-site": "same-origin" }, body: JSON.stringify(body) });
    expect(await answer(await asSession({ action: "list_workflows", user: "tester" }))).toMatchObject({ status: 200, body: { count: 3 } });
    expect(await answer(await asSession({ action: "promote_workflow", user: "tester", workflow: "a.json" }))).toMatchObject({ status: 403, body: { code: "STEP_UP_REQUIRED" } });
    expect(await answer(await asSession({ action: "unshare", workflow: "a.json" }))).toMatchObject({ status: 403, body: { code: "STEP_UP_REQUIRED" } });
    expect(await answer(await userEnv("owner", { action: "list_shared" }))).toEqual({ status: 200, body: { workflows: [], count: 0 } });
  });
});

describe("after the owner promotes A's a.json", () => {
  let promotedAt = 0;
  beforeAll(async () => {
    const before = Date.now();
    const promoted = await answer(await userEnv("owner", { action: "promote_workflow", user: "tester", workflow: "a.json" }, "/api/mss-login/api/user-env"));
    promotedAt = before;
    expect(promoted).toEqual({ status: 200, body: { status: "ok", global_path: "workflows/shared/a.json", deleted_source: false, replaced: false } });
  });

  test("list_shared shows it with who promoted it", async () => {
    const listed = await answer(await userEnv("owner", { action: "list_shared" }));
    expect(listed.status).toBe(200);
    const [entry] = listed.body.workflows as Record<string, unknown>[];
    expect(listed.body.count).toBe(1);
    expect(entry).toMatchObject({ name: "a.json", path: "workflows/shared/a.json", size: new TextEncoder().encode(WORKFLOW_A).byteLength, promoted_by: "olga", promoted_by_user_id: owner.userId });
    expect(Date.parse(entry!.promoted_at_iso as string)).toBeGreaterThanOrEqual(promotedAt - 1000);
  });

  test("B sees it in the front end's listing (even without a workflows folder) and opens it", async () => {
    const response = await call("b", FRONT_END_LISTING);
    expect(response.status).toBe(200);
    const listed = (await response.json()) as { path: string; size: number; modified: number; created: number }[];
    expect(listed).toHaveLength(1);
    expect(listed[0]!.path).toBe("shared/a.json");
    expect(listed[0]!.size).toBe(new TextEncoder().encode(WORKFLOW_A).byteLength);
    // 0.3.64 answers in float seconds.
    expect(listed[0]!.modified).toBeGreaterThan(1e9);
    expect(listed[0]!.modified).toBeLessThan(1e11);
    expect(Object.keys(listed[0]!)).toEqual(["path", "size", "modified", "created"]);

    const opened = await call("b", "/api/userdata/workflows%2Fshared%2Fa.json");
    expect(opened.status).toBe(200);
    expect(opened.headers.get("content-type")).toBe("application/json");
    expect(await opened.text()).toBe(WORKFLOW_A);
    // The same through the plain spelling and a double-encoded slash.
    expect(await (await call("b", "/userdata/workflows%252Fshared%252Fa.json")).text()).toBe(WORKFLOW_A);
  });

  test("every listing shape shows it; other folders and non-recursive listings do not", async () => {
    const get = async (path: string) => {
      const response = await call("a", path);
      expect(response.status, path).toBe(200);
      return (await response.json()) as unknown;
    };
    expect(await get("/api/userdata?dir=workflows&recurse=true")).toEqual(["a.json", "not-json.json", "secret.json", "shared/a.json"]);
    expect(await get("/api/userdata?dir=workflows%2F&recurse=true&split=true")).toEqual([
      ["a.json", "a.json"],
      ["not-json.json", "not-json.json"],
      ["secret.json", "secret.json"],
      ["shared/a.json", "shared", "a.json"],
    ]);
    expect(await get("/api/userdata?dir=workflows")).toEqual(["a.json", "not-json.json", "secret.json"]);
    expect(await get("/api/userdata?dir=workflows/shared")).toEqual(["a.json"]);
    expect((await call("a", "/api/userdata?dir=subgraphs%2F&recurse=true&split=false&full_info=true")).status).toBe(404);

    const v2 = (await get("/api/v2/userdata?path=workflows")) as Record<string, unknown>[];
    expect(v2.map((entry) => [entry.type, entry.path])).toEqual([
      ["directory", "workflows/shared"],
      ["file", "workflows/a.json"],
      ["file", "workflows/shared/a.json"],
      ["file", "workflows/not-json.json"],
      ["file", "workflows/secret.json"],
    ]);
    expect(v2[2]).toMatchObject({ name: "a.json", size: new TextEncoder().encode(WORKFLOW_A).byteLength });
    expect(Object.keys(v2[2]!)).toEqual(["name", "path", "type", "size", "modified"]);
    const bV2 = (await (await call("b", "/v2/userdata?path=workflows")).json()) as Record<string, unknown>[];
    expect(bV2.map((entry) => entry.path)).toEqual(["workflows/shared", "workflows/shared/a.json"]);
  });

  test("a file of B's own at the same place (written before sharing existed) gives way to the shared one", async () => {
    const bComfyUser = Object.keys(fake.state.userdata.snapshot()).find((user) => user.startsWith(`mss_${b.username}_`));
    if (bComfyUser === undefined) throw new Error("B has no ComfyUI user yet");
    fake.state.userdata.tree(bComfyUser).write("workflows/shared/a.json", new TextEncoder().encode('{"own":true}'), Date.now());
    expect(await listedPaths("b")).toEqual(["shared/a.json"]);
    expect(await (await call("b", "/api/userdata/workflows%2Fshared%2Fa.json")).text()).toBe(WORKFLOW_A);
    fake.state.userdata.tree(bComfyUser).delete("workflows/shared/a.json");
  });

  test("B cannot see A's other workflows", async () => {
    expect(await listedPaths("b")).toEqual(["shared/a.json"]);
    expect((await call("b", "/api/userdata/workflows%2Fsecret.json")).status).toBe(404);
  });

  test("nobody writes, deletes or moves it through userdata: B, A, and the owner too", async () => {
    for (const as of ["b", "a", "owner"] as const) {
      const attempts = [
        call(as, "/api/userdata/workflows%2Fshared%2Fa.json?overwrite=true&full_info=true", { method: "POST", body: "{}" }),
        call(as, "/api/userdata/workflows%2Fshared%2Fnew.json?overwrite=false&full_info=true", { method: "POST", body: "{}" }),
        call(as, "/api/userdata/Workflows%2FShared%2Fa.json", { method: "POST", body: "{}" }),
        call(as, "/api/userdata/workflows%2Fshared%2Fa.json", { method: "DELETE" }),
        call(as, "/api/userdata/workflows%2Fshared%2Fa.json/move/workflows%2Fmine.json", { method: "POST" }),
        call(as, "/api/userdata/workflows%2Fa.json/move/workflows%2Fshared%2Fa.json?overwrite=true", { method: "POST" }),
      ];
      for (const response of await Promise.all(attempts)) {
        expect(await answer(response)).toMatchObject({ status: 403, body: { code: "WORKFLOW_SHARED_READ_ONLY" } });
      }
    }
    expect(await (await call("b", "/api/userdata/workflows%2Fshared%2Fa.json")).text()).toBe(WORKFLOW_A);
    expect(comfyFilesOf("a")).toEqual(["workflows/a.json", "workflows/not-json.json", "workflows/secret.json"]);
    expect(comfyFilesOf("b").filter((path) => path.startsWith("workflows/"))).toEqual([]);
  });

  test("a guest sees it but still may not save its own workflows (WORKFLOW_DENIED)", async () => {
    expect(await listedPaths("guest")).toEqual(["shared/a.json"]);
    expect(await answer(await call("guest", "/api/userdata/workflows%2Fmine.json?overwrite=false&full_info=true", { method: "POST", body: "{}" }))).toMatchObject({
      status: 403,
      body: { code: "WORKFLOW_DENIED" },
    });
    expect(await answer(await call("guest", "/api/userdata/workflows%2Fshared%2Fa.json", { method: "DELETE" }))).toMatchObject({ status: 403, body: { code: "WORKFLOW_DENIED" } });
  });

  test("A still has its own copy and keeps saving its own workflows", async () => {
    expect(await (await call("a", "/api/userdata/workflows%2Fa.json")).text()).toBe(WORKFLOW_A);
    expect((await call("a", "/api/userdata/workflows%2Fb.json?overwrite=false&full_info=true", { method: "POST", body: "{}" })).status).toBe(200);
    expect((await call("a", "/api/userdata/workflows%2Fb.json", { method: "DELETE" })).status).toBe(204);
  });
});

describe("promoting with delete_source, replacing, and unsharing", () => {
  test("an admin (admin-scope token, no step-up) promotes secret.json and removes A's copy", async () => {
    expect(await answer(await userEnv("admin", { action: "promote_workflow", user: "tester", workflow: "secret.json", delete_source: true }))).toEqual({
      status: 200,
      body: { status: "ok", global_path: "workflows/shared/secret.json", deleted_source: true, replaced: false },
    });
    expect(comfyFilesOf("a")).toEqual(["workflows/a.json", "workflows/not-json.json"]);
    expect(await listedPaths("b")).toEqual(["shared/a.json", "shared/secret.json"]);
    expect(await listedPaths("a")).toEqual(["a.json", "not-json.json", "shared/a.json", "shared/secret.json"]);
    expect(await (await call("a", "/api/userdata/workflows%2Fshared%2Fsecret.json")).text()).toBe(WORKFLOW_SECRET);
  });

  test("an admin may not remove files of the owner's account; promoting again replaces", async () => {
    expect((await call("owner", "/api/userdata/workflows%2Fo.json", { method: "POST", body: '{"v":1}' })).status).toBe(200);
    expect(await answer(await userEnv("admin", { action: "promote_workflow", user: "olga", workflow: "o.json", delete_source: true }))).toMatchObject({ status: 403, body: { code: "OWNER_ONLY" } });
    expect(await answer(await userEnv("admin", { action: "promote_workflow", user: "olga", workflow: "o.json" }))).toMatchObject({ status: 200, body: { replaced: false } });
    expect((await call("owner", "/api/userdata/workflows%2Fo.json", { method: "POST", body: '{"v":2}' })).status).toBe(200);
    expect(await answer(await userEnv("owner", { action: "promote_workflow", user: "olga", workflow: "o.json" }))).toMatchObject({ status: 200, body: { replaced: true } });
    expect(await (await call("b", "/api/userdata/workflows%2Fshared%2Fo.json")).text()).toBe('{"v":2}');
  });

  test("unshare removes it for everyone", async () => {
    expect(await answer(await userEnv("owner", { action: "unshare", workflow: "workflows/shared/a.json" }))).toEqual({ status: 200, body: { status: "ok", removed: "workflows/shared/a.json" } });
    expect(await answer(await userEnv("owner", { action: "unshare", workflow: "o.json" }))).toMatchObject({ status: 200 });
    expect(await listedPaths("b")).toEqual(["shared/secret.json"]);
    expect((await call("b", "/api/userdata/workflows%2Fshared%2Fa.json")).status).toBe(404);
    expect(await answer(await userEnv("owner", { action: "unshare", workflow: "secret.json" }))).toMatchObject({ status: 200 });
    // Nothing shared: ComfyUI's own answer again (B's folder exists since B's read of workflows/secret.json: ComfyUI creates parents).
    expect(await listedPaths("b")).toEqual([]);
    expect(await listedPaths("a")).toEqual(["a.json", "not-json.json"]);
    expect(await answer(await userEnv("owner", { action: "list_shared" }))).toEqual({ status: 200, body: { workflows: [], count: 0 } });
  });
});

describe("with a newer ComfyUI (full_info in milliseconds)", () => {
  let newerFake: FakeComfyUI;
  let newerGateway: TestGateway;
  let newerOwner: TestAccount;
  beforeAll(async () => {
    newerFake = await startFakeComfyUI({ multiUser: true, profile: "v0.38" });
    newerGateway = await startTestGateway(newerFake.url);
    newerOwner = await createTestAccount(newerGateway.dataDir, "olga", "owner");
  });
  afterAll(async () => {
    await newerGateway.stop();
    await newerFake.stop();
  });

  test("the shared entry's times are in the same unit as the user's own", async () => {
    expect((await newerGateway.fetch("/api/userdata/workflows%2Fmine.json", { method: "POST", body: "{}" })).status).toBe(200);
    const promoted = await fetch(`${newerGateway.url}/mss-login/api/user-env`, {
      method: "POST",
      headers: { authorization: `Bearer ${newerOwner.token}`, "content-type": "application/json" },
      body: JSON.stringify({ action: "promote_workflow", user: "tester", workflow: "mine.json" }),
    });
    expect(promoted.status).toBe(200);
    const listed = (await (await newerGateway.fetch(FRONT_END_LISTING)).json()) as { path: string; modified: number }[];
    expect(listed.map((entry) => entry.path)).toEqual(["mine.json", "shared/mine.json"]);
    for (const entry of listed) {
      expect(Number.isInteger(entry.modified)).toBe(true);
      expect(entry.modified).toBeGreaterThan(1e11);
    }
  });
});
