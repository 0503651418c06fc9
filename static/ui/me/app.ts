/**
 * The user's own page (/mss-login/me): who is signed in, and cards to change the password, set
 * up or remove two-factor authentication, manage API tokens, sign out sessions and (where the
 * role may) download models into ComfyUI's model folders. Everything
 * goes through the gateway's JSON API, which checks the caller on every call.
 */
import { h, replace } from "../lib/dom.ts";
import { loadMe, type Me } from "../lib/api.ts";
import { failedView, loadingView, type MeContext } from "./parts.ts";
import { passwordCard } from "./password.ts";
import { mfaCard } from "./mfa.ts";
import { tokensCard } from "./tokens.ts";
import { sessionsCard } from "./sessions.ts";
import { downloadsCard } from "./downloads.ts";

interface MeAnswer extends Me {
  username: string;
  mfa_enabled?: boolean;
}

const ROLE_NAMES: Record<string, string> = { owner: "Owner", admin: "Administrator", power: "Power user", user: "User", guest: "Guest" };

function header(me: MeContext): HTMLElement {
  return h(
    "header",
    { class: "mss-page-header mss-me-header" },
    h(
      "div",
      { class: "mss-me-who" },
      h("a", { class: "mss-brand", href: "/" }, "MSS-Login"),
      h("span", { class: "mss-me-identity" }, h("span", { class: "mss-visually-hidden" }, "Signed in as "), h("strong", {}, me.username), " ", h("span", { class: "mss-badge" }, ROLE_NAMES[me.role] ?? me.role)),
    ),
    h(
      "nav",
      { class: "mss-me-nav", "aria-label": "Account" },
      h("a", { class: "mss-btn", href: "/" }, "Back to ComfyUI"),
      me.isAdmin ? h("a", { class: "mss-btn", href: "/mss-login/admin" }, "Admin") : null,
      h("form", { method: "post", action: "/logout", class: "mss-me-inline-form" }, h("button", { type: "submit", class: "mss-btn" }, "Sign out")),
    ),
  );
}

export async function mountMe(container: HTMLElement): Promise<void> {
  replace(container, h("main", { class: "mss-page-main" }, loadingView("Loading your account…")));
  let answer: MeAnswer;
  try {
    answer = (await loadMe()) as MeAnswer;
  } catch (error) {
    replace(container, h("main", { class: "mss-page-main" }, h("h1", {}, "My account"), h("div", { class: "mss-card" }, failedView("Could not load your account", error, () => void mountMe(container)))));
    return;
  }
  if (!answer.username) {
    // Signed out in the meantime (the page itself needs a session, but it may have ended).
    replace(
      container,
      h("main", { class: "mss-page-main" }, h("h1", {}, "My account"), h("div", { class: "mss-card" }, h("p", {}, "You are not signed in."), h("a", { class: "mss-btn mss-primary", href: `/login?next=${encodeURIComponent("/mss-login/me")}` }, "Sign in"))),
    );
    return;
  }

  let reloadSessions: () => Promise<void> = async () => {};
  const me: MeContext = {
    username: answer.username,
    role: answer.role,
    isAdmin: answer.is_admin === true,
    mfaEnabled: answer.mfa_enabled === true,
    permissions: answer.permissions && typeof answer.permissions === "object" ? answer.permissions : {},
    sessionsChanged: () => void reloadSessions(),
  };

  const sessions = sessionsCard(me);
  reloadSessions = sessions.reload;
  replace(
    container,
    header(me),
    h(
      "main",
      { class: "mss-page-main mss-me-main" },
      h("h1", {}, "My account"),
      h("div", { class: "mss-me-grid" }, passwordCard(me), mfaCard(me), h("div", { class: "mss-me-wide" }, tokensCard(me)), h("div", { class: "mss-me-wide" }, sessions.section), downloadsCard(me)),
    ),
  );
}
