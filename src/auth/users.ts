// Accounts: small typed functions over the `users` table. Callers never see the table, and
// never see a password hash except through getUserCredentials (for the login check).
import { and, asc, count, eq, inArray, isNull, ne } from "drizzle-orm";
import type { Db } from "../db/index.ts";
import type { Role } from "../rbac/policy.ts";
import {
  checkPasswordPolicy,
  hashPassword,
  needsRehash,
  passwordHashKind,
  verifyDummyPassword,
  verifyPassword,
  type PasswordSettings,
} from "./passwords.ts";
import { apiTokens, sessions, users } from "./tables.ts";

export type { Role } from "../rbac/policy.ts";

export const ROLES: readonly Role[] = Object.freeze(["owner", "admin", "power", "user", "guest"] as const);

export const USERNAME_PATTERN = /^[A-Za-z0-9_]{3,64}$/;

/**
 * Names nobody may register (compared case-insensitively): the original's reserved names,
 * names that read as the system speaking, and ComfyUI's shared `default` user directory.
 * `guest` is kept for the system's own guest account (createUser with systemAccount).
 */
export const RESERVED_USERNAMES: ReadonlySet<string> = new Set([
  "guest",
  "default",
  "defaults",
  "admin",
  "administrator",
  "owner",
  "root",
  "system",
  "api",
  "anonymous",
  "mss_login",
  "msslogin",
  "comfyui",
  "nobody",
  "everyone",
  "setup",
]);

/** The system's guest account (the original keeps one), used by guest login when enabled. */
export const GUEST_USERNAME = "guest";

const GROUP_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_GROUPS = 64;

export interface User {
  readonly id: string;
  readonly username: string;
  readonly role: Role;
  /** Extra groups of the original groups file; the role is the main one. */
  readonly groups: readonly string[];
  readonly disabled: boolean;
  /** The NSFW check applies to this user's images. */
  readonly sfwCheck: boolean;
  /** Unix milliseconds, as every time below. */
  readonly createdAt: number;
  readonly lastLoginAt: number | null;
  readonly passwordChangedAt: number;
}

export type AccountErrorCode =
  | "USERNAME_INVALID"
  | "USERNAME_RESERVED"
  | "USERNAME_TAKEN"
  | "ROLE_INVALID"
  | "GROUPS_INVALID"
  | "OWNER_EXISTS"
  | "OWNER_CANNOT_BE_DISABLED"
  | "USER_NOT_FOUND"
  | "PASSWORD_HASH_INVALID"
  | "PASSWORD_TOO_SHORT"
  | "PASSWORD_TOO_LONG"
  | "PASSWORD_TOO_COMMON"
  | "PASSWORD_CONTAINS_USERNAME"
  | "OWNER_ONLY"
  | "OWNER_LOCKED"
  | "NOT_PERMITTED"
  | "SELF_CHANGE"
  | "GUEST_PROTECTED"
  | "LAST_ADMIN";

/** A refused account operation; `message` is fit to show to the person who asked. */
export class AccountError extends Error {
  override readonly name = "AccountError";
  constructor(
    readonly code: AccountErrorCode,
    message: string,
  ) {
    super(message);
  }
}

type UserRow = typeof users.$inferSelect;

function parseGroups(json: string): readonly string[] {
  try {
    const parsed: unknown = JSON.parse(json);
    return Array.isArray(parsed) ? Object.freeze(parsed.filter((g): g is string => typeof g === "string")) : [];
  } catch {
    return [];
  }
}

function toUser(row: UserRow): User {
  return Object.freeze({
    id: row.id,
    username: row.username,
    role: row.role,
    groups: parseGroups(row.groups),
    disabled: row.disabled,
    sfwCheck: row.sfwCheck,
    createdAt: row.createdAt,
    lastLoginAt: row.lastLoginAt,
    passwordChangedAt: row.passwordChangedAt,
  });
}

/** The key uniqueness and look-ups use (usernames are ASCII, so lower-casing is exact). */
export function usernameKey(username: string): string {
  return username.toLowerCase();
}

/** Throws AccountError when `username` may not be registered. */
export function validateUsername(username: string, options: { systemAccount?: boolean } = {}): void {
  if (!USERNAME_PATTERN.test(username)) {
    throw new AccountError(
      "USERNAME_INVALID",
      "Use 3 to 64 characters for the username: letters A-Z, digits and underscores.",
    );
  }
  if (RESERVED_USERNAMES.has(usernameKey(username)) && options.systemAccount !== true) {
    throw new AccountError("USERNAME_RESERVED", `The username "${username}" is reserved; choose another.`);
  }
}

function validateRole(role: string): Role {
  if (!(ROLES as readonly string[]).includes(role)) {
    throw new AccountError("ROLE_INVALID", `The role must be one of ${ROLES.join(", ")}.`);
  }
  return role as Role;
}

function validateGroups(groups: readonly string[]): string[] {
  const unique = [...new Set(groups)];
  if (unique.length > MAX_GROUPS || unique.some((group) => !GROUP_NAME_PATTERN.test(group))) {
    throw new AccountError(
      "GROUPS_INVALID",
      `Use at most ${MAX_GROUPS} groups, each 1 to 64 letters, digits, underscores or hyphens.`,
    );
  }
  return unique;
}

function validatePassword(password: string, username: string, settings: PasswordSettings): void {
  const problem = checkPasswordPolicy(password, { username, minLength: settings.minLength });
  if (problem !== null) throw new AccountError(problem.code, problem.message);
}

function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && code.startsWith("SQLITE_CONSTRAINT");
}

export interface NewUser {
  readonly username: string;
  readonly role: Role;
  readonly groups?: readonly string[];
  /** Default true: the NSFW check applies. */
  readonly sfwCheck?: boolean;
  /** The system creating its own account (the `guest` user): reserved names allowed. */
  readonly systemAccount?: boolean;
}

/**
 * Creates an account after checking username, role, groups and password policy. Refuses a
 * username taken in any letter case, and a second owner (ownership transfer is separate).
 */
export async function createUser(
  db: Db,
  account: NewUser & { readonly password: string },
  settings: PasswordSettings,
  now: number = Date.now(),
): Promise<User> {
  validateNewUser(account);
  validatePassword(account.password, account.username, settings);
  // Cheap refusal before the expensive hash; insertUser checks again inside its transaction.
  refuseConflicts(db, account);
  return insertUser(db, account, await hashPassword(account.password, settings), now);
}

/**
 * Creates an account from an existing hash (argon2id, or bcrypt from the original), for
 * imports; the password policy cannot be checked and bcrypt is re-hashed at first login.
 */
export function createUserWithPasswordHash(
  db: Db,
  account: NewUser & { readonly passwordHash: string },
  now: number = Date.now(),
): User {
  validateNewUser(account);
  if (passwordHashKind(account.passwordHash) === "unknown") {
    throw new AccountError("PASSWORD_HASH_INVALID", "The password hash must be argon2id or bcrypt.");
  }
  return insertUser(db, account, account.passwordHash, now);
}

function validateNewUser(account: NewUser): void {
  validateUsername(account.username, { systemAccount: account.systemAccount ?? false });
  validateRole(account.role);
  validateGroups(account.groups ?? []);
}

function refuseConflicts(db: Pick<Db, "select">, account: NewUser): void {
  const key = usernameKey(account.username);
  const taken = db.select({ id: users.id }).from(users).where(eq(users.usernameKey, key)).get();
  if (taken !== undefined) {
    throw new AccountError("USERNAME_TAKEN", `The username "${account.username}" is already taken.`);
  }
  if (account.role === "owner") {
    const owner = db.select({ id: users.id }).from(users).where(eq(users.role, "owner")).get();
    if (owner !== undefined) {
      throw new AccountError("OWNER_EXISTS", "There is already an owner; an installation has exactly one.");
    }
  }
}

function insertUser(db: Db, account: NewUser, passwordHash: string, now: number): User {
  const row: UserRow = {
    id: crypto.randomUUID(),
    username: account.username,
    usernameKey: usernameKey(account.username),
    passwordHash,
    role: account.role,
    groups: JSON.stringify(validateGroups(account.groups ?? [])),
    disabled: false,
    sfwCheck: account.sfwCheck ?? true,
    createdAt: now,
    lastLoginAt: null,
    passwordChangedAt: now,
  };
  try {
    // IMMEDIATE: the check and the insert hold the write lock together, so two processes
    // cannot both see "no owner yet".
    db.transaction(
      (tx) => {
        refuseConflicts(tx, account);
        tx.insert(users).values(row).run();
      },
      { behavior: "immediate" },
    );
  } catch (error) {
    if (error instanceof AccountError) throw error;
    if (isUniqueViolation(error)) {
      throw new AccountError("USERNAME_TAKEN", `The username "${account.username}" is already taken.`);
    }
    throw error;
  }
  return toUser(row);
}

export function getUserById(db: Db, id: string): User | null {
  const row = db.select().from(users).where(eq(users.id, id)).get();
  return row === undefined ? null : toUser(row);
}

/** Look-up ignoring letter case. */
export function getUserByUsername(db: Db, username: string): User | null {
  const row = db.select().from(users).where(eq(users.usernameKey, usernameKey(username))).get();
  return row === undefined ? null : toUser(row);
}

/** The user and their password hash: for the login check only (see checkUserPassword). */
export function getUserCredentials(db: Db, username: string): { user: User; passwordHash: string } | null {
  const row = db.select().from(users).where(eq(users.usernameKey, usernameKey(username))).get();
  return row === undefined ? null : { user: toUser(row), passwordHash: row.passwordHash };
}

/** Every account, by username (ignoring case). */
export function listUsers(db: Db): User[] {
  return db.select().from(users).orderBy(asc(users.usernameKey)).all().map(toUser);
}

export function countUsers(db: Db): number {
  return db.select({ n: count() }).from(users).get()?.n ?? 0;
}

/** True when the installation has its owner (first-run setup is over). */
export function ownerExists(db: Db): boolean {
  return db.select({ id: users.id }).from(users).where(eq(users.role, "owner")).get() !== undefined;
}

function requireUser(db: Pick<Db, "select">, id: string): UserRow {
  const row = db.select().from(users).where(eq(users.id, id)).get();
  if (row === undefined) throw new AccountError("USER_NOT_FOUND", "No such user.");
  return row;
}

/** Ends every session of a user (the command line's way; the gateway notices within a second). */
export function endSessions(db: Db, userId: string, now: number = Date.now()): void {
  revokeSessions(db, userId, now);
}

/** Ends a user's sessions (all, or all but one), in the caller's transaction. */
function revokeSessions(tx: Pick<Db, "update">, userId: string, now: number, keepJti?: string): void {
  const open = and(eq(sessions.userId, userId), isNull(sessions.revokedAt));
  tx.update(sessions)
    .set({ revokedAt: now })
    .where(keepJti === undefined ? open : and(open, ne(sessions.jti, keepJti)))
    .run();
}

/**
 * Sets a new password after checking the policy, and ends the user's sessions (except
 * `keepSessionJti`, the session of a user changing their own password).
 */
export async function setPassword(
  db: Db,
  userId: string,
  password: string,
  settings: PasswordSettings,
  options: { readonly keepSessionJti?: string; readonly now?: number } = {},
): Promise<void> {
  const { username } = requireUser(db, userId);
  validatePassword(password, username, settings);
  const passwordHash = await hashPassword(password, settings);
  const now = options.now ?? Date.now();
  db.transaction((tx) => {
    requireUser(tx, userId);
    tx.update(users).set({ passwordHash, passwordChangedAt: now }).where(eq(users.id, userId)).run();
    revokeSessions(tx, userId, now, options.keepSessionJti);
  });
}

/** Disables (ending every session) or re-enables an account. The owner cannot be disabled. */
export function setDisabled(db: Db, userId: string, disabled: boolean, now: number = Date.now()): User {
  return db.transaction((tx) => {
    const row = requireUser(tx, userId);
    if (disabled && row.role === "owner") {
      throw new AccountError("OWNER_CANNOT_BE_DISABLED", "The owner account cannot be disabled.");
    }
    tx.update(users).set({ disabled }).where(eq(users.id, userId)).run();
    if (disabled) revokeSessions(tx, userId, now);
    return toUser({ ...row, disabled });
  });
}

/** Records a completed login (after any second factor). */
export function recordLogin(db: Db, userId: string, at: number = Date.now()): void {
  db.update(users).set({ lastLoginAt: at }).where(eq(users.id, userId)).run();
}

export type PasswordCheck =
  | { readonly ok: true; readonly user: User }
  | { readonly ok: false; readonly reason: "unknown_user" | "wrong_password" | "disabled" };

/**
 * The password step of a login. Unknown users cost one dummy verification, so the time taken
 * does not tell whether an account exists (callers still pad the answer to a floor). A correct
 * password for a disabled account answers "disabled": whether to say so is the caller's
 * choice. A verified hash that is bcrypt or has old parameters is replaced.
 */
export async function checkUserPassword(
  db: Db,
  username: string,
  password: string,
  settings: PasswordSettings,
): Promise<PasswordCheck> {
  const credentials = USERNAME_PATTERN.test(username) ? getUserCredentials(db, username) : null;
  if (credentials === null) {
    await verifyDummyPassword(password, settings);
    return { ok: false, reason: "unknown_user" };
  }
  const { user, passwordHash } = credentials;
  if (!(await verifyPassword(password, passwordHash))) return { ok: false, reason: "wrong_password" };
  if (user.disabled) return { ok: false, reason: "disabled" };
  if (needsRehash(passwordHash, settings)) {
    const fresh = await hashPassword(password, settings);
    // Only if nobody changed the password meanwhile; password_changed_at stays (same password).
    db.update(users)
      .set({ passwordHash: fresh })
      .where(and(eq(users.id, user.id), eq(users.passwordHash, passwordHash)))
      .run();
  }
  return { ok: true, user };
}

/**
 * Who asks for an account change: a signed-in owner or admin, or the operator at the command
 * line (`system`, the owner's powers). The rules live here so HTTP and CLI share them.
 */
export type AccountActor = { readonly kind: "system" } | { readonly kind: "user"; readonly userId: string; readonly role: Role };

const ADMINISH: readonly Role[] = ["owner", "admin"];

/**
 * Whether `actor` may act on `target` (role, sessions, MFA, password, disable, delete):
 * the owner and the operator on everyone, an admin on power users, users and guests only.
 */
export function mayManage(actor: AccountActor, target: Pick<User, "role">): boolean {
  if (actor.kind === "system" || actor.role === "owner") return true;
  return actor.role === "admin" && !ADMINISH.includes(target.role);
}

/** Throws NOT_PERMITTED (or OWNER_ONLY where only the owner could) when `actor` may not act on `target`. */
export function requireMayManage(actor: AccountActor, target: Pick<User, "role" | "username">): void {
  if (mayManage(actor, target)) return;
  throw new AccountError("OWNER_ONLY", `Only the owner may change the ${target.role} account "${target.username}".`);
}

/** Roles an actor may hand out when creating an account: the owner any but owner; an admin power, user, guest. */
export function mayAssignRole(actor: AccountActor, role: Role): boolean {
  if (role === "owner") return false;
  if (actor.kind === "system" || actor.role === "owner") return true;
  return actor.role === "admin" && !ADMINISH.includes(role);
}

/**
 * Changes a user's role. Giving `owner` to someone transfers ownership (the previous owner
 * becomes admin), only by the owner or the operator; granting or removing `admin` is the
 * owner's too. The owner's own role changes only by a transfer. Sessions stay: the role is
 * read on every request.
 */
export function changeRole(db: Db, actor: AccountActor, targetId: string, role: string, now: number = Date.now()): User {
  const newRole = validateRole(role);
  return db.transaction(
    (tx) => {
      const target = toUser(requireUser(tx, targetId));
      if (target.role === newRole) return target;
      if (actor.kind === "user" && actor.userId === target.id) throw new AccountError("SELF_CHANGE", "You cannot change your own role.");
      if (target.role === "owner") throw new AccountError("OWNER_LOCKED", "The owner's role changes only by handing ownership to someone else.");
      if (target.username.toLowerCase() === GUEST_USERNAME && target.role === "guest") throw new AccountError("GUEST_PROTECTED", "The system guest account stays a guest.");
      if (newRole === "owner" || newRole === "admin" || target.role === "admin") {
        if (actor.kind === "user" && actor.role !== "owner") throw new AccountError("OWNER_ONLY", "Only the owner may grant or remove the admin and owner roles.");
      } else {
        requireMayManage(actor, target);
      }
      if (target.disabled && newRole === "owner") throw new AccountError("OWNER_CANNOT_BE_DISABLED", "Enable the account before handing it ownership.");
      if (newRole === "owner") tx.update(users).set({ role: "admin" }).where(eq(users.role, "owner")).run();
      tx.update(users).set({ role: newRole }).where(eq(users.id, target.id)).run();
      // A new role starts with a new sign-in, where that role's rules apply (a second factor for
      // admins, their shorter idle time). Tokens made under a lesser role do not become admin tokens.
      revokeSessions(tx, target.id, now);
      if (newRole === "owner" || newRole === "admin") {
        tx.update(apiTokens).set({ revokedAt: now }).where(and(eq(apiTokens.userId, target.id), isNull(apiTokens.revokedAt))).run();
      }
      return { ...target, role: newRole };
    },
    { behavior: "immediate" },
  );
}

/** Turns the NSFW check of a user's images on or off. */
export function setSfwCheck(db: Db, actor: AccountActor, targetId: string, sfwCheck: boolean): User {
  return db.transaction((tx) => {
    const target = toUser(requireUser(tx, targetId));
    requireMayManage(actor, target);
    tx.update(users).set({ sfwCheck }).where(eq(users.id, target.id)).run();
    return { ...target, sfwCheck };
  });
}

/**
 * Deletes an account and (by cascade) its sessions, API tokens, tickets and second factor.
 * Never the owner, the system guest account, oneself, or the last owner/admin.
 */
export function deleteUser(db: Db, actor: AccountActor, targetId: string): User {
  return db.transaction(
    (tx) => {
      const target = toUser(requireUser(tx, targetId));
      if (actor.kind === "user" && actor.userId === target.id) throw new AccountError("SELF_CHANGE", "You cannot delete your own account.");
      if (target.role === "owner") throw new AccountError("OWNER_LOCKED", "The owner cannot be deleted; hand ownership to someone else first.");
      if (target.username.toLowerCase() === GUEST_USERNAME && target.role === "guest") throw new AccountError("GUEST_PROTECTED", "The system guest account cannot be deleted (disable guest access instead).");
      requireMayManage(actor, target);
      if (target.role === "admin") {
        const admins = tx.select({ n: count() }).from(users).where(and(inArray(users.role, ["owner", "admin"]), eq(users.disabled, false))).get()?.n ?? 0;
        if (admins <= 1) throw new AccountError("LAST_ADMIN", "Cannot delete the last admin.");
      }
      tx.delete(users).where(eq(users.id, target.id)).run();
      return target;
    },
    { behavior: "immediate" },
  );
}
