/**
 * From the audit log's events to notification events. Every security event of the gateway goes
 * through the audit log (src/app.ts `record`), so the notifier listens there: the named events
 * (login.success, login.failure, nsfw.blocked, settings.changed, ip.rules.replaced, ip.banned)
 * and the generic record of each write to the gateway's own API (`"<METHOD> <path>"`, only
 * successful ones count here).
 *
 * Account creation and role changes are recorded by route and status only, so the names come
 * from a snapshot of the accounts: the newest account that appeared since the last look is the
 * one a creation request made, and an account whose role differs from the last look had it
 * changed (a change of anything else, such as the NSFW check, sends nothing).
 */
import type { AuditEvent } from "../audit/log.ts";
import type { Db } from "../db/index.ts";
import { getUserByUsername, listUsers } from "../auth/users.ts";
import type { EventFacts, NotifyEventKey } from "./events.ts";

export type Emitted = { [K in NotifyEventKey]: { key: K; facts: EventFacts[K] } }[NotifyEventKey];

/** What the mapping needs to know about accounts. */
export interface AccountDirectory {
  /**
   * The account a creation request just made: the newest of those that appeared since the last
   * look (others, made meanwhile by the command line or another instance, are not its doing).
   */
  created(): string | null;
  /** The account's role before and now, when it changed since the last look. */
  roleChange(username: string): { from: string | null; to: string } | null;
  /** Whether an account of this name exists (a failed sign-in names only existing accounts). */
  exists(username: string): boolean;
}

interface Known {
  username: string;
  role: string;
  createdAt: number;
}

/** The directory over the users table; the first snapshot is taken now. */
export function createAccountDirectory(db: Db): AccountDirectory {
  const snapshot = (): Map<string, Known> => new Map(listUsers(db).map((user) => [user.id, { username: user.username, role: user.role, createdAt: user.createdAt }]));
  let known = snapshot();
  return {
    created() {
      const now = snapshot();
      const fresh = [...now.entries()].filter(([id]) => !known.has(id)).map(([, user]) => user);
      known = now;
      if (fresh.length === 0) return null;
      return fresh.reduce((newest, user) => (user.createdAt > newest.createdAt ? user : newest)).username;
    },
    roleChange(username) {
      const now = snapshot();
      const lower = username.toLowerCase();
      const after = [...now.entries()].find(([, user]) => user.username.toLowerCase() === lower);
      const before = after === undefined ? undefined : known.get(after[0]);
      known = now;
      if (after === undefined) return null;
      if (before !== undefined && before.role === after[1].role) return null;
      return { from: before?.role ?? null, to: after[1].role };
    },
    exists(username) {
      try {
        return username !== "" && getUserByUsername(db, username) !== null;
      } catch {
        return false;
      }
    },
  };
}

/** Gateway API paths as recorded (the `/api/mss-login/...` spelling is recorded as `/mss-login/...`). */
const USER_PATH = /^\/mss-login\/api\/users\/([^/]+)$/;
const MFA_RESET_PATH = /^\/mss-login\/api\/users\/([^/]+)\/mfa\/reset$/;

function decodeName(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

const detail = (event: AuditEvent, name: string): string | number | boolean | null | undefined => event.details?.[name];

/** The notification events one audit event stands for (usually none or one). */
export function fromAuditEvent(event: AuditEvent, accounts: AccountDirectory): Emitted[] {
  const ip = event.clientIp ?? null;
  const by = event.actorName ?? null;
  switch (event.action) {
    case "login.success":
      return [{ key: "user_login", facts: { username: event.actorName ?? event.target ?? "", ip } }];
    case "login.failure": {
      // What was typed as the name is echoed only when it is an account's name: people type
      // their password into the name field, and that must not leave the gateway.
      const tried = event.target ?? "";
      return [{ key: "login_failure", facts: { username: accounts.exists(tried) ? tried : null, ip } }];
    }
    case "nsfw.blocked":
      return [{ key: "nsfw_block", facts: { username: event.actorName ?? null, file: event.target ?? null, detail: typeof detail(event, "detail") === "string" ? (detail(event, "detail") as string) : null } }];
    case "settings.changed": {
      const keys = detail(event, "keys");
      return [{ key: "settings_changed", facts: { what: typeof keys === "string" && keys !== "" ? `Settings (${keys})` : "Settings", by, ip } }];
    }
    case "ip.rules.replaced":
      return [{ key: "settings_changed", facts: { what: "The IP rules", by, ip } }];
    case "ip.banned": {
      const failures = detail(event, "failures");
      const hours = detail(event, "hours");
      return [{ key: "ip_banned", facts: { ip: event.target ?? event.clientIp ?? "an address", failures: typeof failures === "number" ? failures : null, hours: typeof hours === "number" ? hours : null } }];
    }
  }
  if (event.outcome !== "success") return [];
  const space = event.action.indexOf(" ");
  if (space < 0) return [];
  const method = event.action.slice(0, space);
  const path = event.action.slice(space + 1);
  if (method === "POST") {
    switch (path) {
      case "/logout":
      case "/mss-login/logout":
        return [{ key: "user_logout", facts: { username: by, ip } }];
      case "/setup":
      case "/register":
      case "/mss-login/api/users": {
        const created = accounts.created();
        return created === null ? [] : [{ key: "user_created", facts: { username: created, by: path === "/setup" ? null : by, ip } }];
      }
      case "/generate_token":
      case "/mss-login/generate_token":
        return [{ key: "api_token_created", facts: { username: by, ip } }];
      case "/mss-login/api/mfa/verify-setup":
        return [{ key: "mfa_enabled", facts: { username: by, ip } }];
      case "/mss-login/api/mfa/disable":
        return [{ key: "mfa_disabled", facts: { username: by, by, ip } }];
    }
    const reset = MFA_RESET_PATH.exec(path);
    if (reset !== null) return [{ key: "mfa_disabled", facts: { username: decodeName(reset[1]!), by, ip } }];
    return [];
  }
  if (method === "PUT") {
    if (path === "/mss-login/api/groups") return [{ key: "settings_changed", facts: { what: "The role permissions", by, ip } }];
    if (path === "/mss-login/api/notifications") return [{ key: "settings_changed", facts: { what: "The notification settings", by, ip } }];
    const user = USER_PATH.exec(path);
    if (user !== null) {
      const username = decodeName(user[1]!);
      const change = accounts.roleChange(username);
      return change === null ? [] : [{ key: "user_role_changed", facts: { username, from: change.from, to: change.to, by, ip } }];
    }
    return [];
  }
  if (method === "DELETE") {
    const user = USER_PATH.exec(path);
    if (user !== null) {
      accounts.created(); // the snapshot forgets the account
      return [{ key: "user_deleted", facts: { username: decodeName(user[1]!), by, ip } }];
    }
  }
  return [];
}
