/**
 * JSON calls to the gateway's own API. Every write is sent as `application/json` (the gateway
 * refuses cookie-authenticated writes in the content types a cross-site form could send).
 * An admin write the gateway wants re-confirmed (`STEP_UP_REQUIRED`) asks for the password
 * once, confirms it, and repeats the call.
 */
import { askPassword } from "./ui.ts";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly body: Record<string, unknown> = {},
  ) {
    super(message);
  }
  /** The field the server named as wrong, if any. */
  get field(): string | undefined {
    return typeof this.body.field === "string" ? this.body.field : undefined;
  }
}

async function send(method: string, path: string, body: unknown): Promise<Response> {
  const init: RequestInit = { method, credentials: "same-origin", headers: { accept: "application/json" } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { accept: "application/json", "content-type": "application/json" };
  }
  return fetch(path, init);
}

async function parse<T>(response: Response): Promise<T> {
  const text = await response.text();
  let data: unknown = undefined;
  try {
    data = text === "" ? {} : JSON.parse(text);
  } catch {
    data = undefined;
  }
  if (!response.ok) {
    const fields = (data && typeof data === "object" ? data : {}) as Record<string, unknown>;
    const code = typeof fields.code === "string" ? fields.code : `HTTP_${response.status}`;
    const message = typeof fields.error === "string" ? fields.error : typeof fields.message === "string" ? fields.message : `The gateway answered ${response.status}.`;
    throw new ApiError(response.status, code, message, fields);
  }
  if (data === undefined) throw new ApiError(response.status, "BAD_RESPONSE", "The gateway's answer was not JSON.");
  return data as T;
}

/** Confirms the signed-in user's password for admin writes (valid a few minutes). */
export async function stepUp(password: string): Promise<void> {
  await parse(await send("POST", "/mss-login/api/step-up", { password }));
}

export async function api<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await send(method, path, body);
  if (response.status === 403 || response.status === 401) {
    const copy = response.clone();
    const data = (await copy.json().catch(() => ({}))) as { code?: string };
    if (data.code === "STEP_UP_REQUIRED") {
      let wrongOnce = false;
      for (;;) {
        const password = await askPassword("Confirm your password", wrongOnce ? "That was not your current password. Try again." : "Changes to accounts and settings need your password again (it stays confirmed for a few minutes).");
        if (password === null) throw new ApiError(403, "STEP_UP_REQUIRED", "Not confirmed: nothing was changed.");
        try {
          await stepUp(password);
          break;
        } catch (error) {
          // Only a wrong password is worth asking again; anything else (signed out, too many
          // tries, the gateway down) ends here with its own message.
          if (!(error instanceof ApiError && error.code === "PASSWORD_REQUIRED")) throw error;
          wrongOnce = true;
        }
      }
      return parse<T>(await send(method, path, body));
    }
  }
  return parse<T>(response);
}

export interface Me {
  username: string;
  role: string;
  is_admin?: boolean;
  permissions?: Record<string, boolean>;
  [key: string]: unknown;
}

export function loadMe(): Promise<Me> {
  return api<Me>("GET", "/mss-login/api/me");
}

export function errorText(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}
