/**
 * ComfyUI's `users.json` and the way a request is mapped to a user (spec §5.1):
 * - single-user mode: everything is user `default`, the `comfy-user` header is ignored;
 * - multi-user mode: the header's value (or `default` without a header) must be a known id.
 * In v0.38 ids starting with `__` are reserved for system users and never resolve.
 */
import type { IdSource } from "./id-source.ts";
import type { Profile } from "./options.ts";

export const DEFAULT_USER = "default";
const SYSTEM_USER_PREFIX = "__";

export type CreateUserResult =
  | { ok: true; id: string }
  | { ok: false; kind: "duplicate" | "system-prefix" | "invalid" };

export class UserRegistry {
  private users = new Map<string, string>();
  /** Whether `users.json` exists: `GET /users` reports it as `migrated` in single-user mode. */
  private usersFileWritten = false;

  constructor(
    private readonly multiUser: boolean,
    private readonly profile: Profile,
    private readonly ids: IdSource,
    private readonly initialUsers: Record<string, string> | undefined,
  ) {
    this.reset();
  }

  reset(): void {
    this.users = new Map(Object.entries(this.initialUsers ?? {}));
    this.usersFileWritten = this.initialUsers !== undefined;
    if (!this.multiUser) this.users.set(DEFAULT_USER, DEFAULT_USER);
  }

  get isMultiUser(): boolean {
    return this.multiUser;
  }

  get migrated(): boolean {
    return this.usersFileWritten;
  }

  list(): Record<string, string> {
    return Object.fromEntries(this.users);
  }

  /** The user id for a request, or undefined when ComfyUI would raise "Unknown user". */
  resolve(comfyUserHeader: string | null): string | undefined {
    let user = DEFAULT_USER;
    if (this.multiUser && comfyUserHeader !== null) user = comfyUserHeader;
    if (this.profile === "v0.38" && user.startsWith(SYSTEM_USER_PREFIX)) return undefined;
    return this.users.has(user) ? user : undefined;
  }

  /** `POST /users`: the id is the sanitised name plus `_` and a uuid4. */
  create(username: unknown): CreateUserResult {
    if (typeof username !== "string" || username === "") return { ok: false, kind: "invalid" };
    if (this.profile === "v0.38" && username.startsWith(SYSTEM_USER_PREFIX)) {
      return { ok: false, kind: "system-prefix" };
    }
    if ([...this.users.values()].includes(username)) return { ok: false, kind: "duplicate" };
    const id = `${username.replace(/[^a-zA-Z0-9\-_]+/g, "-")}_${this.ids.uuid()}`;
    this.users.set(id, username);
    this.usersFileWritten = true;
    return { ok: true, id };
  }
}
