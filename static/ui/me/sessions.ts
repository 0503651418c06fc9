/** Signed-in sessions: where and since when, this one marked, and signing out the others. */
import { h, formatTime } from "../lib/dom.ts";
import { api } from "../lib/api.ts";
import { confirmAction, notify } from "../lib/ui.ts";
import { busy, card, cell, describeAgent, failureText, loader, type MeContext } from "./parts.ts";

interface SessionRow {
  jti: string;
  created_at_iso: string | null;
  last_used_at_iso: string | null;
  exp_at_iso: string | null;
  client_ip: string | null;
  user_agent: string | null;
  is_current: boolean;
}

export function sessionsCard(_me: MeContext): { section: HTMLElement; reload: () => Promise<void> } {
  const { section, body } = card("Sessions", "Browsers and devices signed in to your account. Sign out any you do not recognise, then change your password.");
  const listArea = h("div", { class: "mss-me-list" });
  const heading = section.querySelector("h2") as HTMLElement;
  heading.setAttribute("tabindex", "-1");
  let current: SessionRow[] = [];

  const reload = loader(listArea, "Sessions", () => api<{ sessions: SessionRow[] }>("GET", "/mss-login/me/sessions"), ({ sessions }) => {
    current = Array.isArray(sessions) ? [...sessions].sort((a, b) => Number(b.is_current) - Number(a.is_current)) : [];
    return render(current);
  });

  function render(sessions: SessionRow[]): HTMLElement {
    if (sessions.length === 0) return h("p", { class: "mss-muted" }, "No sessions are open (this page was opened with another kind of credential).");
    const others = sessions.filter((s) => !s.is_current);
    return h(
      "div",
      {},
      h(
        "div",
        { class: "mss-table-wrap" },
        h(
          "table",
          { class: "mss-table mss-me-stack" },
          h("caption", { class: "mss-visually-hidden" }, "Your sessions"),
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Device"), h("th", { scope: "col" }, "Address"), h("th", { scope: "col" }, "Signed in"), h("th", { scope: "col" }, "Last active"), h("th", { scope: "col" }, "Expires"), h("th", { scope: "col" }, h("span", { class: "mss-visually-hidden" }, "Actions")))),
          h(
            "tbody",
            {},
            sessions.map((session) =>
              h(
                "tr",
                { class: session.is_current ? "mss-me-current" : null },
                cell("Device", h("span", { title: session.user_agent ?? "" }, describeAgent(session.user_agent)), session.is_current ? [" ", h("span", { class: "mss-badge mss-badge-good" }, "This session")] : null),
                cell("Address", session.client_ip ?? "—"),
                cell("Signed in", formatTime(session.created_at_iso)),
                cell("Last active", formatTime(session.last_used_at_iso)),
                cell("Expires", formatTime(session.exp_at_iso)),
                cell(
                  "",
                  session.is_current
                    ? h("form", { method: "post", action: "/logout", class: "mss-me-inline-form" }, h("button", { type: "submit", class: "mss-btn" }, "Sign out"))
                    : h("button", { type: "button", class: "mss-btn mss-danger", "aria-label": `Sign out ${describeAgent(session.user_agent)} from ${session.client_ip ?? "an unknown address"}`, onclick: (event: Event) => void revoke(session, event.currentTarget as HTMLButtonElement) }, "Sign out"),
                ),
              ),
            ),
          ),
        ),
      ),
      others.length > 1
        ? h("div", { class: "mss-actions mss-me-actions-start" }, h("button", { type: "button", class: "mss-btn", onclick: (event: Event) => void revokeOthers(event.currentTarget as HTMLButtonElement) }, `Sign out the ${others.length} other sessions`))
        : null,
    );
  }

  async function revoke(session: SessionRow, button: HTMLButtonElement): Promise<void> {
    try {
      await busy(button, "Signing out…", () => api("POST", "/mss-login/me/sessions/revoke", { jti: session.jti }));
      notify(`Signed out ${describeAgent(session.user_agent)}.`, "ok");
    } catch (error) {
      notify(`Could not sign out that session: ${failureText(error)}`, "error");
    }
    await reload();
    heading.focus();
  }

  async function revokeOthers(button: HTMLButtonElement): Promise<void> {
    const others = current.filter((s) => !s.is_current);
    const sure = await confirmAction("Sign out other sessions?", `${others.length} other browsers or devices will have to sign in again.`, "Sign them out", true);
    if (!sure) {
      button.focus();
      return;
    }
    let failed = 0;
    await busy(button, "Signing out…", async () => {
      for (const session of others) {
        try {
          await api("POST", "/mss-login/me/sessions/revoke", { jti: session.jti });
        } catch {
          failed += 1;
        }
      }
    });
    notify(failed === 0 ? "Every other session is signed out." : `${failed} sessions could not be signed out (they may have ended already).`, failed === 0 ? "ok" : "error");
    await reload();
    heading.focus();
  }

  body.append(listArea);
  void reload();
  return { section, reload };
}
