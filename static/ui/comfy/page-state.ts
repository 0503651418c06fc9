/** What the gateway tells its scripts in ComfyUI's page (a JSON script element it injects). */
export interface PageState {
  username: string;
  role: string;
  isAdmin: boolean;
  permissions: Record<string, boolean>;
  /** The ComfyUI user the gateway uses for this account (multi-user ComfyUI), or null. */
  comfyUser: string | null;
}

export const PAGE_STATE_ID = "mss-login-state";

export function readPageState(): PageState | null {
  const cached = (window as unknown as { __MSS_LOGIN__?: PageState }).__MSS_LOGIN__;
  if (cached) return cached;
  const element = document.getElementById(PAGE_STATE_ID);
  if (!element?.textContent) return null;
  try {
    return JSON.parse(element.textContent) as PageState;
  } catch {
    return null;
  }
}
