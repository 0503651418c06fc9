/**
 * Model grants through the real gateway and the fake ComfyUI (with a few installed models), as
 * scenarios: by default every user sees every model; once the owner removes the user role's
 * `*` grant and grants one checkpoint to A, A's model lists (`/models`, `/experiment/models`,
 * `/embeddings`, the loaders in `/object_info`) show only A's, B's show none, and B's prompt
 * with A's model is refused before it reaches ComfyUI. The sharing API's bad input and callers
 * without `can_manage_model_sharing` change nothing.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startFakeComfyUI, type FakeComfyUI } from "../fake-comfyui/server.ts";
import { createTestAccount, startTestGateway, type TestAccount, type TestGateway } from "../support/gateway.ts";

const CHECKPOINTS = ["alpha.safetensors", "beta.safetensors", "sub/gamma.safetensors"];

let fake: FakeComfyUI;
/** `tester` (role user) is A. */
let gateway: TestGateway;
let b: TestAccount;
let owner: TestAccount;
let admin: TestAccount;

beforeAll(async () => {
  fake = await startFakeComfyUI({
    multiUser: true,
    models: { checkpoints: CHECKPOINTS, loras: ["style.safetensors"], embeddings: ["easyneg.safetensors", "other.pt"] },
  });
  gateway = await startTestGateway(fake.url);
  b = await createTestAccount(gateway.dataDir, "bob", "user");
  owner = await createTestAccount(gateway.dataDir, "olga", "owner");
  admin = await createTestAccount(gateway.dataDir, "adam", "admin");
});
afterAll(async () => {
  await gateway.stop();
  await fake.stop();
});

type As = "a" | "b" | "owner" | "admin";
const tokenOf = (as: As) => (as === "a" ? gateway.account.token : as === "b" ? b.token : as === "owner" ? owner.token : admin.token);
function call(as: As, path: string, init: { method?: string; body?: unknown } = {}): Promise<Response> {
  const headers: Record<string, string> = { authorization: `Bearer ${tokenOf(as)}` };
  if (init.body !== undefined) headers["content-type"] = "application/json";
  return fetch(gateway.url + path, { method: init.method ?? "GET", headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) });
}
const get = async (as: As, path: string) => {
  const response = await call(as, path);
  expect(response.status, path).toBe(200);
  return (await response.json()) as unknown;
};
const USER_ITEMS = (username: string) => `/mss-login/api/users/${username}/shared-items`;
const ROLE_ITEMS = (role: string) => `/mss-login/api/roles/${role}/shared-items`;

/** What a user sees of the installed models, through every listing. */
async function seenBy(as: As) {
  const info = (await get(as, "/api/object_info")) as Record<string, { input: { required: Record<string, unknown[]> } }>;
  const one = (await get(as, "/api/object_info/CheckpointLoaderSimple")) as typeof info;
  return {
    models: await get(as, "/api/models/checkpoints"),
    bare: await get(as, "/models/checkpoints"),
    experiment: ((await get(as, "/api/experiment/models/checkpoints")) as { name: string }[]).map((entry) => entry.name),
    embeddings: await get(as, "/api/embeddings"),
    loader: info.CheckpointLoaderSimple!.input.required.ckpt_name![0],
    loaderAlone: one.CheckpointLoaderSimple!.input.required.ckpt_name![0],
    loras: info.LoraLoader!.input.required.lora_name![0],
  };
}

let seed = 0;
function promptWith(checkpoint: string) {
  seed++;
  return {
    prompt: {
      "1": { class_type: "EmptyImage", inputs: { width: 8, height: 8, batch_size: 1, color: seed } },
      "2": { class_type: "CheckpointLoaderSimple", inputs: { ckpt_name: checkpoint } },
      "9": { class_type: "SaveImage", inputs: { images: ["1", 0], filename_prefix: "grants" } },
    },
  };
}

describe("by default", () => {
  test("a user sees every installed model (the role's seeded */* grant)", async () => {
    const seen = await seenBy("a");
    expect(seen).toEqual({
      models: CHECKPOINTS,
      bare: CHECKPOINTS,
      experiment: CHECKPOINTS,
      embeddings: ["easyneg", "other"],
      loader: CHECKPOINTS,
      loaderAlone: CHECKPOINTS,
      loras: ["style.safetensors"],
    });
    expect((await get("owner", ROLE_ITEMS("user"))) as unknown).toMatchObject({ role: "user", items: [{ folder: "*", item_name: "*", source_backend: "local", granted_by_user_id: null }] });
  });
});

describe("after the owner narrows the user role", () => {
  beforeAll(async () => {
    const removed = await call("owner", ROLE_ITEMS("user"), { method: "DELETE", body: { folder: "*", item_name: "*" } });
    expect(removed.status).toBe(200);
    expect(await removed.json()).toEqual({ status: "ok" });
    const granted = await call("owner", USER_ITEMS("tester"), { method: "POST", body: { folder: "checkpoints", item_name: "beta.safetensors" } });
    expect(granted.status).toBe(200);
    expect(await granted.json()).toEqual({ status: "ok", folder: "checkpoints", item_name: "beta.safetensors", source_backend: "local" });
    expect((await call("owner", USER_ITEMS("tester"), { method: "POST", body: { folder: "embeddings", item_name: "easyneg.safetensors" } })).status).toBe(200);
  });

  test("A's lists show only A's models; B's show none", async () => {
    expect(await seenBy("a")).toEqual({
      models: ["beta.safetensors"],
      bare: ["beta.safetensors"],
      experiment: ["beta.safetensors"],
      embeddings: ["easyneg"],
      loader: ["beta.safetensors"],
      loaderAlone: ["beta.safetensors"],
      loras: [],
    });
    expect(await seenBy("b")).toEqual({ models: [], bare: [], experiment: [], embeddings: [], loader: [], loaderAlone: [], loras: [] });
  });

  test("the owner still sees everything", async () => {
    const seen = await seenBy("owner");
    expect([seen.models, seen.loader, seen.embeddings]).toEqual([CHECKPOINTS, CHECKPOINTS, ["easyneg", "other"]]);
  });

  test("B's prompt with A's model is refused, naming the node, and never reaches ComfyUI", async () => {
    fake.clearRequests();
    const refused = await call("b", "/api/prompt", { method: "POST", body: promptWith("beta.safetensors") });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toEqual({ error: "Model not allowed: checkpoints/beta.safetensors", code: "MODEL_NOT_ALLOWED", node_id: "2", class_type: "CheckpointLoaderSimple" });
    // A path that resolves to the same file is the same model.
    const sneaky = await call("b", "/prompt", { method: "POST", body: promptWith("sub/../beta.safetensors") });
    expect(sneaky.status).toBe(403);
    const linked = promptWith("beta.safetensors");
    (linked.prompt["2"].inputs as Record<string, unknown>).ckpt_name = ["1", 0];
    expect((await call("b", "/api/prompt", { method: "POST", body: linked })).status).toBe(403);
    expect(fake.requests().filter((r) => r.method === "POST" && r.target.endsWith("/prompt"))).toEqual([]);
  });

  test("A's prompt with A's model, and the owner's with any, are queued", async () => {
    const mine = await call("a", "/api/prompt", { method: "POST", body: promptWith("beta.safetensors") });
    expect(mine.status, await mine.clone().text()).toBe(200);
    expect((await call("a", "/api/prompt", { method: "POST", body: promptWith("alpha.safetensors") })).status).toBe(403);
    expect((await call("owner", "/api/prompt", { method: "POST", body: promptWith("alpha.safetensors") })).status).toBe(200);
  });

  test("a model preview of an ungranted model is not found, without asking ComfyUI", async () => {
    fake.clearRequests();
    expect((await call("a", "/api/experiment/models/preview/checkpoints/0/alpha.safetensors")).status).toBe(404);
    expect(fake.requests().some((r) => r.target.includes("/experiment/models/preview/"))).toBe(false);
  });

  test("the grants list says who granted what", async () => {
    const listed = (await get("owner", USER_ITEMS("tester"))) as { username: string; items: Record<string, unknown>[] };
    expect(listed.username).toBe("tester");
    expect(listed.items).toEqual([
      { folder: "checkpoints", item_name: "beta.safetensors", source_backend: "local", granted_by_user_id: owner.userId, granted_by_role: "owner", created_at: expect.any(String) },
      { folder: "embeddings", item_name: "easyneg.safetensors", source_backend: "local", granted_by_user_id: owner.userId, granted_by_role: "owner", created_at: expect.any(String) },
    ]);
    expect(await get("owner", ROLE_ITEMS("user"))).toEqual({ role: "user", items: [] });
    // Both spellings.
    expect(await get("owner", `/api${USER_ITEMS("bob")}`)).toEqual({ username: "bob", items: [] });
  });

  test("a role grant opens a folder to every user of the role; removing it closes it again", async () => {
    expect((await call("owner", ROLE_ITEMS("user"), { method: "POST", body: { folder: "loras", item_name: "*" } })).status).toBe(200);
    expect(await get("b", "/api/models/loras")).toEqual(["style.safetensors"]);
    expect((await call("owner", `${ROLE_ITEMS("user")}?folder=loras&item_name=*`, { method: "DELETE" })).status).toBe(200);
    expect(await get("b", "/api/models/loras")).toEqual([]);
  });
});

describe("the sharing API refuses bad input and changes nothing", () => {
  const grantsOf = async (username: string) => ((await get("owner", USER_ITEMS(username))) as { items: unknown[] }).items;

  test("unknown users and roles, unsafe names, missing fields, duplicates", async () => {
    const before = await grantsOf("bob");
    const cases: [string, string, unknown, number, string][] = [
      ["POST", USER_ITEMS("nobody"), { folder: "checkpoints", item_name: "alpha.safetensors" }, 404, "USER_NOT_FOUND"],
      ["GET", USER_ITEMS("nobody"), undefined, 404, "USER_NOT_FOUND"],
      ["POST", USER_ITEMS("bob"), { folder: "checkpoints", item_name: "../secret.safetensors" }, 400, "ITEM_NAME_UNSAFE"],
      ["POST", USER_ITEMS("bob"), { folder: "checkpoints", item_name: "sub/../../x.ckpt" }, 400, "ITEM_NAME_UNSAFE"],
      ["POST", USER_ITEMS("bob"), { folder: "checkpoints", item_name: "/etc/passwd" }, 400, "ITEM_NAME_UNSAFE"],
      ["POST", USER_ITEMS("bob"), { folder: "checkpoints", item_name: "\\windows\\x" }, 400, "ITEM_NAME_UNSAFE"],
      ["POST", USER_ITEMS("bob"), { folder: "../models", item_name: "x.ckpt" }, 400, "FOLDER_INVALID"],
      ["POST", USER_ITEMS("bob"), { folder: "checkpoints" }, 400, "BAD_BODY"],
      ["POST", USER_ITEMS("bob"), { item_name: "x.ckpt" }, 400, "BAD_BODY"],
      ["POST", USER_ITEMS("bob"), { folder: "checkpoints", item_name: 5 }, 400, "ITEM_NAME_INVALID"],
      ["POST", USER_ITEMS("bob"), { folder: "checkpoints", item_name: "x.ckpt", source_backend: "s3" }, 400, "SOURCE_BACKEND_UNSUPPORTED"],
      ["POST", USER_ITEMS("tester"), { folder: "checkpoints", item_name: "beta.safetensors" }, 400, "ALREADY_GRANTED"],
      ["DELETE", USER_ITEMS("bob"), { folder: "checkpoints", item_name: "alpha.safetensors" }, 404, "GRANT_NOT_FOUND"],
      ["DELETE", USER_ITEMS("bob"), {}, 400, "BAD_BODY"],
      ["POST", ROLE_ITEMS("wizard"), { folder: "checkpoints", item_name: "x.ckpt" }, 404, "ROLE_INVALID"],
      ["POST", ROLE_ITEMS("admin"), { folder: "checkpoints", item_name: "x.ckpt" }, 400, "ROLE_INVALID"],
    ];
    for (const [method, path, body, status, code] of cases) {
      const response = await call("owner", path, { method, body });
      const answer = (await response.json()) as { code: string; error: string };
      expect([response.status, answer.code], `${method} ${path} ${JSON.stringify(body)}`).toEqual([status, code]);
      expect(answer.error.length).toBeGreaterThan(10);
    }
    expect(await grantsOf("bob")).toEqual(before);
    expect((await grantsOf("tester")).length).toBe(2);
  });

  test("a user, and an admin without can_manage_model_sharing, are refused; the owner can give admins the key", async () => {
    const grant = { folder: "checkpoints", item_name: "alpha.safetensors" };
    const asUser = await call("a", USER_ITEMS("tester"), { method: "POST", body: grant });
    expect(asUser.status).toBe(403);
    expect((await call("a", USER_ITEMS("tester"))).status).toBe(403);
    const asAdmin = await call("admin", USER_ITEMS("bob"), { method: "POST", body: grant });
    expect(asAdmin.status).toBe(403);
    expect(((await asAdmin.json()) as { code: string }).code).toBe("MODEL_SHARING_DENIED");
    expect((await call("admin", ROLE_ITEMS("user"), { method: "DELETE", body: { folder: "checkpoints", item_name: "beta.safetensors" } })).status).toBe(403);
    expect(await grantsOf("bob")).toEqual([]);
    expect(await get("a", "/api/models/checkpoints")).toEqual(["beta.safetensors"]);

    const matrix = await call("owner", "/mss-login/api/groups", { method: "PUT", body: { groups: { admin: { can_manage_model_sharing: true } } } });
    expect(matrix.status).toBe(200);
    expect((await call("admin", USER_ITEMS("bob"), { method: "POST", body: grant })).status).toBe(200);
    expect(await get("b", "/api/models/checkpoints")).toEqual(["alpha.safetensors"]);
  });
});

describe("what ComfyUI has, for choosing", () => {
  test("folders and one folder's models, for admins only", async () => {
    const folders = (await get("admin", "/mss-login/api/available-model-folders")) as { folders: string[] };
    expect(folders.folders).toContain("checkpoints");
    expect(folders.folders).not.toContain("custom_nodes");
    expect(folders.folders).not.toContain("configs");
    expect(await get("owner", "/api/mss-login/api/available-models/checkpoints")).toEqual({ folder: "checkpoints", items: CHECKPOINTS });
    const unknown = await call("owner", "/mss-login/api/available-models/nothing_here");
    expect([unknown.status, ((await unknown.json()) as { code: string }).code]).toEqual([404, "FOLDER_NOT_FOUND"]);
    expect((await call("a", "/mss-login/api/available-model-folders")).status).toBe(403);
    expect((await call("b", "/mss-login/api/available-models/checkpoints")).status).toBe(403);
  });
});
