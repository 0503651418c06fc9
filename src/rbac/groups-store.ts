/**
 * The stored permission matrix: defaults seeded once (never overwriting a stored value),
 * changes validated as a whole and written in one transaction, effective rows cached until
 * the next change. The owner's row is computed (permissions.ts), never stored.
 */
import type { Db } from "../db/index.ts";
import {
  defaultMatrix,
  effectiveRow,
  GROUP_NAME_PATTERN,
  MAX_KEYS_PER_ROLE,
  MAX_ROLES,
  ownerRow,
  PERMISSION_KEY_PATTERN,
  roleAllows,
  type PermissionMatrix,
  type PermissionRow,
} from "./permissions.ts";
import { rolePermissions } from "./tables.ts";

export class GroupsError extends Error {
  constructor(
    readonly status: 400 | 403,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "GroupsError";
  }
}

export interface GroupsStore {
  /** The stored rows (no owner row). */
  matrix(): PermissionMatrix;
  /** What `GET /mss-login/api/groups` shows: stored rows with defaults merged, and the owner's computed row. */
  view(): PermissionMatrix;
  /** Whether `role` holds `key` now. Cheap: effective rows are cached. */
  allows(role: string, key: string): boolean;
  /** A role's effective row (every known and stored key). */
  effective(role: string): PermissionRow;
  /**
   * Merge `{role: {key: value}}` into the matrix: all or nothing. Owner entries are ignored
   * (the owner's row is computed); the admin row changes only when `callerIsOwner`.
   * Returns the number of values written.
   */
  update(changes: unknown, options: { callerIsOwner: boolean; now?: number }): number;
  /** Forget cached rows (tests; another process wrote the table). */
  reload(): void;
}

/** Accept what a groups file or an admin page sends for yes/no; anything else is an error. */
function toBoolean(value: unknown): boolean | undefined {
  if (typeof value === "boolean") return value;
  if (value === 1 || value === "true" || value === "1") return true;
  if (value === 0 || value === "false" || value === "0") return false;
  return undefined;
}

/** Validate a `{role: {key: value}}` document into typed changes, or throw a GroupsError naming the first problem. */
export function parseMatrix(changes: unknown): PermissionMatrix {
  if (typeof changes !== "object" || changes === null || Array.isArray(changes)) {
    throw new GroupsError(400, "GROUPS_INVALID", "Expected an object of roles, each an object of permission keys and true/false.");
  }
  const entries = Object.entries(changes as Record<string, unknown>);
  if (entries.length > MAX_ROLES) throw new GroupsError(400, "GROUPS_INVALID", `At most ${MAX_ROLES} roles.`);
  const parsed: PermissionMatrix = {};
  for (const [role, row] of entries) {
    if (!GROUP_NAME_PATTERN.test(role)) throw new GroupsError(400, "GROUPS_INVALID", `Role names are 1-64 letters, digits, '_' or '-' (got ${JSON.stringify(role.slice(0, 70))}).`);
    if (typeof row !== "object" || row === null || Array.isArray(row)) throw new GroupsError(400, "GROUPS_INVALID", `Role ${role}: expected an object of permission keys.`);
    const values = Object.entries(row as Record<string, unknown>);
    if (values.length > MAX_KEYS_PER_ROLE) throw new GroupsError(400, "GROUPS_INVALID", `Role ${role}: at most ${MAX_KEYS_PER_ROLE} keys.`);
    const parsedRow: PermissionRow = {};
    for (const [key, value] of values) {
      if (!PERMISSION_KEY_PATTERN.test(key)) throw new GroupsError(400, "GROUPS_INVALID", `Role ${role}: permission keys are 1-128 letters, digits or '_.:-' (got ${JSON.stringify(key.slice(0, 130))}).`);
      const allowed = toBoolean(value);
      if (allowed === undefined) throw new GroupsError(400, "GROUPS_INVALID", `Role ${role}, key ${key}: expected true or false.`);
      parsedRow[key] = allowed;
    }
    parsed[role.toLowerCase()] = { ...parsed[role.toLowerCase()], ...parsedRow };
  }
  return parsed;
}

export function createGroupsStore(db: Db): GroupsStore {
  let stored: PermissionMatrix | null = null;
  const rows = new Map<string, PermissionRow>();

  function load(): PermissionMatrix {
    if (stored !== null) return stored;
    const matrix: PermissionMatrix = {};
    for (const row of db.select().from(rolePermissions).all()) (matrix[row.role] ??= {})[row.key] = row.allowed;
    stored = matrix;
    return matrix;
  }
  function invalidate(): void {
    stored = null;
    rows.clear();
  }
  function effective(role: string): PermissionRow {
    let row = rows.get(role);
    if (row === undefined) {
      row = effectiveRow(load(), role);
      rows.set(role, row);
    }
    return row;
  }

  // A new installation, or one missing some defaults (an older version, a new key): add what
  // is missing and never overwrite a stored value.
  const defaults = defaultMatrix();
  const existing = load();
  const missing: { role: string; key: string; allowed: boolean; updatedAt: number }[] = [];
  const now = Date.now();
  for (const [role, row] of Object.entries(defaults)) {
    if (role === "owner") continue;
    for (const [key, allowed] of Object.entries(row)) if (existing[role]?.[key] === undefined) missing.push({ role, key, allowed, updatedAt: now });
  }
  if (missing.length > 0) {
    db.transaction((tx) => {
      for (const value of missing) tx.insert(rolePermissions).values(value).onConflictDoNothing().run();
    });
    invalidate();
  }

  return {
    matrix: () => structuredClone(load()),
    view() {
      const matrix = structuredClone(load());
      for (const [role, row] of Object.entries(defaults)) if (role !== "owner") matrix[role] = { ...row, ...matrix[role] };
      return { owner: ownerRow(matrix), ...matrix };
    },
    allows(role, key) {
      const value = effective(role)[key];
      return value ?? roleAllows(load(), role, key);
    },
    effective: (role) => ({ ...effective(role) }),
    update(changes, { callerIsOwner, now = Date.now() }) {
      const parsed = parseMatrix(changes);
      delete parsed.owner;
      if (parsed.admin !== undefined && !callerIsOwner) throw new GroupsError(403, "OWNER_ONLY", "Only the owner may change the admin role's permissions.");
      const current = load();
      const roleCount = new Set([...Object.keys(current), ...Object.keys(parsed)]).size;
      if (roleCount > MAX_ROLES) throw new GroupsError(400, "GROUPS_INVALID", `At most ${MAX_ROLES} roles.`);
      for (const [role, row] of Object.entries(parsed)) {
        if (new Set([...Object.keys(current[role] ?? {}), ...Object.keys(row)]).size > MAX_KEYS_PER_ROLE) throw new GroupsError(400, "GROUPS_INVALID", `Role ${role}: at most ${MAX_KEYS_PER_ROLE} keys.`);
      }
      let written = 0;
      db.transaction((tx) => {
        for (const [role, row] of Object.entries(parsed)) {
          for (const [key, allowed] of Object.entries(row)) {
            tx.insert(rolePermissions)
              .values({ role, key, allowed, updatedAt: now })
              .onConflictDoUpdate({ target: [rolePermissions.role, rolePermissions.key], set: { allowed, updatedAt: now } })
              .run();
            written++;
          }
        }
      });
      invalidate();
      return written;
    },
    reload: invalidate,
  };
}
