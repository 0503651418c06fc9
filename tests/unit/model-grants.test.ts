/**
 * Model grants (src/models): the store (defaults, wildcards, user vs role, validation, cache),
 * the answer filters of every shape ComfyUI sends, and the prompt check for each loader family.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { applyMigrations, openDatabase, type OpenDatabase } from "../../src/db/index.ts";
import {
  embeddingReferences,
  filterEmbeddings,
  filterExperimentModels,
  filterModelNames,
  filterObjectInfo,
  findUngrantedModel,
  MODEL_INPUTS,
  normaliseModelName,
  type ModelPredicate,
} from "../../src/models/filters.ts";
import { createModelGrantStore, ModelGrantError, parseItemName, type ModelGrantStore } from "../../src/models/grants.ts";
import { modelGrants } from "../../src/models/tables.ts";

const ALICE = "0b7c6a2e-0000-4000-8000-00000000000a";
const BOB = "0b7c6a2e-0000-4000-8000-00000000000b";
const alice = { userId: ALICE, role: "user", seesAll: false };
const bob = { userId: BOB, role: "user", seesAll: false };
const admin = { userId: "admin-id", role: "admin", seesAll: true };
const by = { userId: "owner-id", role: "owner" };

let dir: string;
let database: OpenDatabase;
let store: ModelGrantStore;
let clock: number;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "mss-models-"));
  database = openDatabase(dir);
  applyMigrations(database.sqlite);
  clock = 1_700_000_000_000;
  store = createModelGrantStore(database.db, { now: () => clock });
});
afterEach(() => {
  database.close();
  rmSync(dir, { recursive: true, force: true });
});

const removeRoleDefault = (role = "user") => expect(store.revoke({ kind: "role", role }, "*", "*")).toBe(true);

describe("the grants store", () => {
  test("a fresh database grants everything to power, user and guest (the migration's defaults)", () => {
    for (const role of ["power", "user", "guest"]) {
      expect(store.listFor({ kind: "role", role })).toMatchObject([{ grantee: `role:${role}`, folder: "*", itemName: "*", grantedBy: null }]);
    }
    const visible = store.visibleTo(alice);
    expect(visible.everything).toBe(true);
    expect(visible("checkpoints", "anything.safetensors")).toBe(true);
  });

  test("without the role's default a user sees only their own grants; another user none", () => {
    removeRoleDefault();
    store.grant({ grantee: { kind: "user", userId: ALICE }, folder: "checkpoints", itemName: "sd15.safetensors", grantedBy: by });
    const a = store.visibleTo(alice);
    expect(a.everything).toBe(false);
    expect(a("checkpoints", "sd15.safetensors")).toBe(true);
    expect(a("checkpoints", "sdxl.safetensors")).toBe(false);
    expect(a("loras", "sd15.safetensors")).toBe(false);
    expect(a("checkpoints", "*")).toBe(false);
    expect(store.visibleTo(bob)("checkpoints", "sd15.safetensors")).toBe(false);
    // A guest keeps the guest role's default.
    expect(store.visibleTo({ userId: "g", role: "guest", seesAll: false }).everything).toBe(true);
  });

  test("wildcards: every model of a folder; one name in every folder; everything", () => {
    removeRoleDefault();
    store.grant({ grantee: { kind: "role", role: "user" }, folder: "loras", itemName: "*", grantedBy: by });
    store.grant({ grantee: { kind: "user", userId: ALICE }, folder: "*", itemName: "shared.safetensors", grantedBy: by });
    const a = store.visibleTo(alice);
    expect(a("loras", "sub/any.safetensors")).toBe(true);
    expect(a("loras", "*")).toBe(true);
    expect(a("vae", "shared.safetensors")).toBe(true);
    expect(a("vae", "other.safetensors")).toBe(false);
    expect(a("vae", "*")).toBe(false);
    const b = store.visibleTo(bob);
    expect([b("loras", "x.pt"), b("vae", "shared.safetensors")]).toEqual([true, false]);
    store.grant({ grantee: { kind: "user", userId: BOB }, folder: "*", itemName: "*", grantedBy: by });
    expect(store.visibleTo(bob).everything).toBe(true);
  });

  test("role grants apply to the viewer's role only; seesAll is never filtered", () => {
    removeRoleDefault("user");
    expect(store.visibleTo({ userId: "p", role: "power", seesAll: false }).everything).toBe(true);
    expect(store.visibleTo(alice)("checkpoints", "x")).toBe(false);
    expect(store.visibleTo(admin).everything).toBe(true);
    expect(store.visibleTo({ ...alice, seesAll: true }).everything).toBe(true);
  });

  test("a change is seen at once (the cache is dropped), and a revoke too", () => {
    removeRoleDefault();
    expect(store.visibleTo(alice)("vae", "v.safetensors")).toBe(false);
    store.grant({ grantee: { kind: "user", userId: ALICE }, folder: "vae", itemName: "v.safetensors", grantedBy: by });
    expect(store.visibleTo(alice)("vae", "v.safetensors")).toBe(true);
    expect(store.revoke({ kind: "user", userId: ALICE }, "vae", "v.safetensors")).toBe(true);
    expect(store.visibleTo(alice)("vae", "v.safetensors")).toBe(false);
    expect(store.revoke({ kind: "user", userId: ALICE }, "vae", "v.safetensors")).toBe(false);
  });

  test("another process's change is seen after the cache's few seconds (or a reload)", () => {
    removeRoleDefault();
    expect(store.visibleTo(alice)("vae", "v.safetensors")).toBe(false);
    database.db.insert(modelGrants).values({ grantee: `user:${ALICE}`, folder: "vae", itemName: "v.safetensors", grantedBy: null, grantedByRole: null, createdAt: clock }).run();
    expect(store.visibleTo(alice)("vae", "v.safetensors")).toBe(false);
    clock += 6_000;
    expect(store.visibleTo(alice)("vae", "v.safetensors")).toBe(true);
    database.db.delete(modelGrants).run();
    store.reload();
    expect(store.visibleTo(alice)("vae", "v.safetensors")).toBe(false);
  });

  test("a grant records who gave it and when; a second identical grant is refused", () => {
    const grant = store.grant({ grantee: { kind: "user", userId: ALICE }, folder: "loras", itemName: "a\\b.safetensors", grantedBy: by });
    expect(grant).toEqual({ grantee: `user:${ALICE}`, folder: "loras", itemName: "a/b.safetensors", grantedBy: "owner-id", grantedByRole: "owner", createdAt: clock });
    expect(() => store.grant({ grantee: { kind: "user", userId: ALICE }, folder: "loras", itemName: "a/b.safetensors", grantedBy: by })).toThrow(ModelGrantError);
    expect(store.listFor({ kind: "user", userId: ALICE })).toHaveLength(1);
  });

  test("unsafe or malformed names and folders are refused and nothing is stored", () => {
    const bad: [unknown, unknown, string][] = [
      ["checkpoints", "../secret.safetensors", "ITEM_NAME_UNSAFE"],
      ["checkpoints", "a/../../b", "ITEM_NAME_UNSAFE"],
      ["checkpoints", "/etc/passwd", "ITEM_NAME_UNSAFE"],
      ["checkpoints", "\\\\server\\share", "ITEM_NAME_UNSAFE"],
      ["checkpoints", "C:/models/x.ckpt", "ITEM_NAME_UNSAFE"],
      ["checkpoints", "a//b", "ITEM_NAME_UNSAFE"],
      ["checkpoints", "./x", "ITEM_NAME_UNSAFE"],
      ["checkpoints", "", "ITEM_NAME_INVALID"],
      ["checkpoints", "x\u0000.ckpt", "ITEM_NAME_INVALID"],
      ["checkpoints", 42, "ITEM_NAME_INVALID"],
      ["checkpoints", "x".repeat(513), "ITEM_NAME_INVALID"],
      ["../checkpoints", "x", "FOLDER_INVALID"],
      ["..", "x", "FOLDER_INVALID"],
      ["check points", "x", "FOLDER_INVALID"],
      ["", "x", "FOLDER_INVALID"],
      [null, "x", "FOLDER_INVALID"],
    ];
    for (const [folder, itemName, code] of bad) {
      let caught: unknown;
      try {
        store.grant({ grantee: { kind: "user", userId: ALICE }, folder, itemName, grantedBy: by });
      } catch (error) {
        caught = error;
      }
      expect(caught, `${String(folder)} / ${String(itemName)}`).toBeInstanceOf(ModelGrantError);
      expect((caught as ModelGrantError).code).toBe(code);
    }
    expect(store.listFor({ kind: "user", userId: ALICE })).toEqual([]);
    expect(parseItemName("sub dir/model v1.2.safetensors")).toBe("sub dir/model v1.2.safetensors");
  });
});

// ---- filters --------------------------------------------------------------------------

/** Sees `checkpoints/ok.safetensors`, `loras/*`, `embeddings/good.pt`, `vae/sub/v.safetensors`. */
const sees: ModelPredicate = (folder, name) =>
  (folder === "checkpoints" && name === "ok.safetensors") || folder === "loras" || (folder === "embeddings" && name === "good.pt") || (folder === "vae" && name === "sub/v.safetensors");

describe("normalising names as ComfyUI resolves them", () => {
  test("separators, dot segments and leading slashes", () => {
    expect(normaliseModelName("sub\\v.safetensors")).toBe("sub/v.safetensors");
    expect(normaliseModelName("x/../ok.safetensors")).toBe("ok.safetensors");
    expect(normaliseModelName("../../ok.safetensors")).toBe("ok.safetensors");
    expect(normaliseModelName("/./ok.safetensors")).toBe("ok.safetensors");
    expect(normaliseModelName("..")).toBeNull();
    expect(normaliseModelName("")).toBeNull();
    expect(normaliseModelName("a\nb")).toBeNull();
  });
});

describe("answer filters", () => {
  test("/models/{folder}: names", () => {
    expect(filterModelNames(["ok.safetensors", "secret.safetensors", 7], "checkpoints", sees)).toEqual(["ok.safetensors"]);
    expect(filterModelNames(["a.pt", "sub/b.pt"], "loras", sees)).toEqual(["a.pt", "sub/b.pt"]);
    expect(filterModelNames(["sub\\v.safetensors", "v.safetensors"], "vae", sees)).toEqual(["sub\\v.safetensors"]);
    expect(filterModelNames({ error: "x" }, "checkpoints", sees)).toEqual({ error: "x" });
  });

  test("/experiment/models/{folder}: objects with a name", () => {
    const entry = (name: unknown) => ({ name, pathIndex: 0, modified: 1, created: 1, size: 2 });
    expect(filterExperimentModels([entry("ok.safetensors"), entry("secret.safetensors"), entry(3), null], "checkpoints", sees)).toEqual([entry("ok.safetensors")]);
  });

  test("/embeddings: names without extension match a granted file", () => {
    expect(filterEmbeddings(["good", "bad", "good.pt"], sees)).toEqual(["good", "good.pt"]);
  });

  test("/object_info: the lists of known loaders only, both combo shapes; uploads untouched", () => {
    const body = {
      CheckpointLoaderSimple: { input: { required: { ckpt_name: [["ok.safetensors", "secret.safetensors"], { tooltip: "t" }] } } },
      DualCLIPLoader: { input: { required: { clip_name1: [["t5.safetensors"]], clip_name2: [["l.safetensors"]], type: [["flux", "sd3"]] } } },
      LoraLoader: { input: { required: { lora_name: ["COMBO", { options: ["a.pt", "b.pt"] }] } } },
      VAELoader: { input: { required: { vae_name: [["sub/v.safetensors", "other.safetensors", "taesd", "pixel_space"]] } } },
      LoadImage: { input: { required: { image: [["secret.safetensors"], { image_upload: true }] } } },
      SomethingElse: { input: { required: { ckpt_name: [["secret.safetensors"]] } } },
      Broken: null,
    };
    filterObjectInfo(body, sees);
    expect(body.CheckpointLoaderSimple.input.required.ckpt_name).toEqual([["ok.safetensors"], { tooltip: "t" }]);
    expect(body.DualCLIPLoader.input.required).toEqual({ clip_name1: [[]], clip_name2: [[]], type: [["flux", "sd3"]] });
    expect(body.LoraLoader.input.required.lora_name).toEqual(["COMBO", { options: ["a.pt", "b.pt"] }]);
    expect(body.VAELoader.input.required.vae_name).toEqual([["sub/v.safetensors", "taesd", "pixel_space"]]);
    expect(body.LoadImage.input.required.image[0]).toEqual(["secret.safetensors"]);
    expect(body.SomethingElse.input.required.ckpt_name[0]).toEqual(["secret.safetensors"]);
  });
});

describe("the prompt check", () => {
  const one = (classType: string, inputs: Record<string, unknown>) => ({ "1": { class_type: "EmptyImage", inputs: { width: 8 } }, "7": { class_type: classType, inputs } });

  test("each known loader input is checked against its folder", () => {
    for (const [classType, inputs] of Object.entries(MODEL_INPUTS)) {
      for (const [input, folder] of Object.entries(inputs)) {
        const refused = findUngrantedModel(one(classType, { [input]: "secret.bin" }), () => false);
        expect(refused, `${classType}.${input}`).toEqual({ nodeId: "7", classType, input, folder, name: "secret.bin" });
      }
    }
    expect(findUngrantedModel(one("CheckpointLoaderSimple", { ckpt_name: "ok.safetensors" }), sees)).toBeNull();
    expect(findUngrantedModel(one("CheckpointLoaderSimple", { ckpt_name: "sub/../ok.safetensors" }), sees)).toBeNull();
    expect(findUngrantedModel(one("LoraLoader", { lora_name: "any/thing.pt", model: ["1", 0] }), sees)).toBeNull();
    expect(findUngrantedModel(one("VAELoader", { vae_name: "taesd" }), sees)).toBeNull();
    expect(findUngrantedModel(one("VAELoader", { vae_name: "sub\\v.safetensors" }), sees)).toBeNull();
    // The same input name on an unknown node is not a model reference.
    expect(findUngrantedModel(one("SomeCustomNode", { ckpt_name: "secret.safetensors" }), sees)).toBeNull();
  });

  test("a linked model input passes only when the whole folder is visible", () => {
    expect(findUngrantedModel(one("CheckpointLoaderSimple", { ckpt_name: ["1", 0] }), sees)).toEqual({ nodeId: "7", classType: "CheckpointLoaderSimple", input: "ckpt_name", folder: "checkpoints", name: null });
    expect(findUngrantedModel(one("LoraLoader", { lora_name: ["1", 0] }), sees)).toBeNull();
  });

  test("non-string values are left to ComfyUI (not in its list); malformed graphs pass to its validation", () => {
    for (const value of [5, null, true, { a: 1 }, ["1"], []]) expect(findUngrantedModel(one("CheckpointLoaderSimple", { ckpt_name: value }), sees)).toBeNull();
    for (const graph of [null, [], "x", { "1": null }, { "1": { class_type: 3, inputs: {} } }, { "1": { class_type: "CheckpointLoaderSimple" } }]) {
      expect(findUngrantedModel(graph, sees)).toBeNull();
    }
  });

  test("embeddings named in text, with or without extension, weights and commas", () => {
    expect(embeddingReferences("a photo, embedding:good (embedding:bad:1.2) ((embedding:x)), embedding:y,")).toEqual(["good", "bad", "x", "y"]);
    expect(embeddingReferences("noembedding:z and a,embedding:w")).toEqual([]);
    const text = (t: string) => one("CLIPTextEncode", { text: t, clip: ["1", 0] });
    expect(findUngrantedModel(text("embedding:good, a cat"), sees)).toBeNull();
    expect(findUngrantedModel(text("embedding:good.pt a cat"), sees)).toBeNull();
    expect(findUngrantedModel(text("a cat (embedding:bad:0.8)"), sees)).toEqual({ nodeId: "7", classType: "CLIPTextEncode", input: "text", folder: "embeddings", name: "bad" });
  });
});
