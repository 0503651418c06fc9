/**
 * The permission matrix: the original's defaults and missing-key rules, the computed owner
 * row, the stored matrix (seeding never overwrites, updates all or nothing), and the account
 * rules that go with roles (who manages whom, ownership transfer, the last admin).
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultMatrix, effectiveRow, KNOWN_KEYS, missingKeyDefault, ownerRow, roleAllows } from "../../src/rbac/permissions.ts";
import { createGroupsStore, GroupsError, parseMatrix } from "../../src/rbac/groups-store.ts";
import { rolePermissions } from "../../src/rbac/tables.ts";
import { AccountError, changeRole, createUser, deleteUser, getUserByUsername, mayAssignRole, mayManage, setSfwCheck, type AccountActor } from "../../src/auth/users.ts";
import { applyMigrations, openDatabase, type OpenDatabase } from "../../src/db/index.ts";

describe("defaults (reference §2.4)", () => {
  const matrix = defaultMatrix();
  const column = (key: string) => ["owner", "admin", "power", "user", "guest"].map((role) => matrix[role]![key]);

  test("the documented columns", () => {
    expect(column("can_run")).toEqual([true, true, true, true, true]);
    expect(column("can_upload")).toEqual([true, true, true, true, false]);
    expect(column("can_access_manager")).toEqual([true, true, true, false, false]);
    expect(column("can_have_api_tokens")).toEqual([true, true, true, false, false]);
    expect(column("can_have_non_expiring_jwt")).toEqual([true, false, false, false, false]);
    expect(column("can_view_console")).toEqual([true, false, false, false, false]);
    expect(column("mfa_required")).toEqual([true, true, false, false, false]);
    expect(column("can_view_all_comfyui_items")).toEqual([true, true, false, false, false]);
    expect(column("ui_queue_button")).toEqual([true, true, true, false, true]);
    expect(column("ui_side_queue")).toEqual([true, true, true, true, false]);
    expect(column("ui_menu_save")).toEqual([true, true, true, true, false]);
    expect(column("settings_about")).toEqual([true, true, true, true, true]);
    expect(column("settings_crystools")).toEqual([true, true, true, false, false]);
  });

  test("every known key has a value for every role, and the owner's are all true", () => {
    for (const role of Object.keys(matrix)) expect(Object.keys(matrix[role]!).sort()).toEqual([...KNOWN_KEYS].sort());
    expect(Object.values(matrix.owner!).every(Boolean)).toBe(true);
  });
});

describe("missing keys", () => {
  test("can_run, can_upload and can_access_api are open unless refused", () => {
    for (const role of ["admin", "power", "user", "guest", "custom"]) for (const key of ["can_run", "can_upload", "can_access_api"]) expect(missingKeyDefault(role, key)).toBe(true);
  });
  test("workflow, manager and extension keys: everyone but guests", () => {
    for (const key of ["can_modify_workflows", "can_access_manager", "can_manage_extensions"]) {
      expect([missingKeyDefault("user", key), missingKeyDefault("guest", key)]).toEqual([true, false]);
    }
  });
  test("model downloads and updates: owner and admin; model sharing: owner; other backend keys: nobody else", () => {
    expect(["owner", "admin", "power"].map((r) => missingKeyDefault(r, "can_download_models"))).toEqual([true, true, false]);
    expect(["owner", "admin"].map((r) => missingKeyDefault(r, "can_manage_model_sharing"))).toEqual([true, false]);
    expect(missingKeyDefault("admin", "can_view_console")).toBe(false);
  });
  test("UI and custom keys: everyone but guests", () => {
    expect([missingKeyDefault("user", "ui_side_history"), missingKeyDefault("guest", "ui_side_history")]).toEqual([true, false]);
    expect([missingKeyDefault("power", "my_tab"), missingKeyDefault("guest", "my_tab")]).toEqual([true, false]);
  });
});

describe("owner row and admin always-keys", () => {
  test("the owner has every known key, and a custom key wherever anyone has it", () => {
    const row = ownerRow({ user: { custom_on: true, custom_off: false }, guest: { custom_off: false } });
    expect(row.custom_on).toBe(true);
    expect(row.custom_off).toBe(false);
    for (const key of KNOWN_KEYS) expect(row[key]).toBe(true);
  });
  test("admins keep workflow, manager, extension and token rights whatever their row says", () => {
    const matrix = { admin: { can_modify_workflows: false, can_access_manager: false, can_have_api_tokens: false, can_view_console: false } };
    expect(["can_modify_workflows", "can_access_manager", "can_have_api_tokens"].every((key) => roleAllows(matrix, "admin", key))).toBe(true);
    expect(roleAllows(matrix, "admin", "can_view_console")).toBe(false);
  });
  test("an effective row resolves every key", () => {
    const row = effectiveRow({ user: { extra: false } }, "guest");
    expect(row.extra).toBe(false);
    expect(row.can_run).toBe(true);
    expect(row.can_upload).toBe(true); // missing for guest in this matrix: open unless refused
  });
});

let dataDir: string;
let database: OpenDatabase;
beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), "mss-perm-"));
  database = openDatabase(dataDir);
  applyMigrations(database.sqlite);
});
afterEach(() => {
  database.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("stored matrix", () => {
  test("seeded with the defaults once; a stored value is never overwritten by seeding", () => {
    const store = createGroupsStore(database.db);
    expect(store.allows("user", "can_access_manager")).toBe(false);
    store.update({ user: { can_access_manager: true } }, { callerIsOwner: true });
    const again = createGroupsStore(database.db);
    expect(again.allows("user", "can_access_manager")).toBe(true);
    expect(database.db.select().from(rolePermissions).all().some((row) => row.role === "owner")).toBe(false);
  });

  test("an update is all or nothing; bad names and values are refused with a reason", () => {
    const store = createGroupsStore(database.db);
    const before = JSON.stringify(store.matrix());
    for (const bad of [[], "x", { user: [] }, { user: { can_run: "maybe" } }, { "bad role!": { a: true } }, { user: { "bad key!": true } }, { user: { can_run: false, can_upload: null } }]) {
      expect(() => store.update(bad, { callerIsOwner: true })).toThrow(GroupsError);
    }
    expect(JSON.stringify(store.matrix())).toBe(before);
  });

  test("only the owner changes the admin row; owner entries are ignored; values are coerced from 0/1 and strings", () => {
    const store = createGroupsStore(database.db);
    expect(() => store.update({ admin: { can_view_console: true } }, { callerIsOwner: false })).toThrow(expect.objectContaining({ code: "OWNER_ONLY", status: 403 }));
    expect(store.update({ owner: { can_run: false }, power: { can_run: 0, custom: "true" } }, { callerIsOwner: false })).toBe(2);
    expect(store.allows("owner", "can_run")).toBe(true);
    expect(store.allows("power", "can_run")).toBe(false);
    expect(store.view().owner!.custom).toBe(true);
  });

  test("role names are case-insensitive on the way in (the original lower-cases them)", () => {
    expect(parseMatrix({ User: { a: true }, user: { b: false } })).toEqual({ user: { a: true, b: false } });
  });
});

describe("account rules that go with roles", () => {
  const settings = { minLength: 12, argon2MemoryKib: 64, argon2TimeCost: 1 };
  const PASSWORD = "pale window kettle 88";
  async function make(username: string, role: "owner" | "admin" | "power" | "user" | "guest") {
    return createUser(database.db, { username, password: PASSWORD, role }, settings);
  }

  test("who manages whom, and which roles each may hand out", async () => {
    const owner = await make("olga", "owner");
    const admin = await make("adam", "admin");
    const asAdmin: AccountActor = { kind: "user", userId: admin.id, role: "admin" };
    expect(mayManage(asAdmin, { role: "user" })).toBe(true);
    expect(mayManage(asAdmin, { role: "admin" })).toBe(false);
    expect(mayManage(asAdmin, { role: "owner" })).toBe(false);
    expect(mayManage({ kind: "user", userId: owner.id, role: "owner" }, { role: "admin" })).toBe(true);
    expect(["admin", "power", "user", "guest", "owner"].map((r) => mayAssignRole(asAdmin, r as "user"))).toEqual([false, true, true, true, false]);
    expect(mayAssignRole({ kind: "system" }, "admin")).toBe(true);
    expect(mayAssignRole({ kind: "system" }, "owner")).toBe(false);
  });

  test("ownership transfer keeps exactly one owner; the owner's role changes only that way", async () => {
    const owner = await make("olga", "owner");
    const admin = await make("adam", "admin");
    const asOwner: AccountActor = { kind: "user", userId: owner.id, role: "owner" };
    expect(() => changeRole(database.db, { kind: "user", userId: admin.id, role: "admin" }, owner.id, "user")).toThrow(expect.objectContaining({ code: "OWNER_LOCKED" }));
    expect(() => changeRole(database.db, { kind: "user", userId: admin.id, role: "admin" }, admin.id, "owner")).toThrow(expect.objectContaining({ code: "SELF_CHANGE" }));
    changeRole(database.db, asOwner, admin.id, "owner");
    expect([getUserByUsername(database.db, "adam")!.role, getUserByUsername(database.db, "olga")!.role]).toEqual(["owner", "admin"]);
  });

  test("the last admin cannot be deleted; the owner and the system guest account never", async () => {
    const admin = await make("adam", "admin");
    const other = await make("anna", "admin");
    const guest = await createUser(database.db, { username: "guest", password: PASSWORD, role: "guest", systemAccount: true }, settings);
    const system: AccountActor = { kind: "system" };
    deleteUser(database.db, system, other.id);
    expect(() => deleteUser(database.db, system, admin.id)).toThrow(expect.objectContaining({ code: "LAST_ADMIN" }));
    expect(() => deleteUser(database.db, system, guest.id)).toThrow(expect.objectContaining({ code: "GUEST_PROTECTED" }));
    const owner = await make("olga", "owner");
    expect(() => deleteUser(database.db, system, owner.id)).toThrow(AccountError);
    deleteUser(database.db, system, admin.id); // the owner is an admin too: no longer the last
    expect(getUserByUsername(database.db, "adam")).toBeNull();
  });

  test("an admin cannot change an admin's sfw flag; the owner can", async () => {
    const owner = await make("olga", "owner");
    const admin = await make("adam", "admin");
    const anna = await make("anna", "admin");
    expect(() => setSfwCheck(database.db, { kind: "user", userId: admin.id, role: "admin" }, anna.id, false)).toThrow(expect.objectContaining({ code: "OWNER_ONLY" }));
    expect(setSfwCheck(database.db, { kind: "user", userId: owner.id, role: "owner" }, anna.id, false).sfwCheck).toBe(false);
  });
});
