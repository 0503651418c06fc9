/**
 * Sessions and API tokens of every account the caller may manage
 * (`GET /mss-login/api/admin/sessions`, `GET /mss-login/api/admin/tokens`), each with a revoke
 * button (`POST .../revoke {id}`), a filter by user, and the caller's own session marked.
 */
import { api } from "../../lib/api.ts";
import { field, formatTime, h, replace } from "../../lib/dom.ts";
import { confirmAction, notify } from "../../lib/ui.ts";
import { badge, focusByKey, timeText, errorBox, keepingFocus, loadingBox, outcomeLine, plural, roleLabel } from "../parts.ts";
import type { AdminContext, AdminSection } from "../section.ts";
import type { AdminSessionItem, AdminTokenItem } from "../../../../src/auth/admin-credential-routes.ts";

type SessionItem = AdminSessionItem;
type TokenItem = AdminTokenItem;

export const sessionsSection: AdminSection = {
  id: "sessions",
  label: "Sessions and API tokens",
  order: 30,
  render: (container, context) => renderSessions(container, context),
};

/** "Firefox on Linux" from a user-agent string; the full string stays available as a tooltip. */
function browserOf(agent: string | null): string {
  if (!agent) return "unknown";
  const browser = /Edg\//.test(agent) ? "Edge" : /OPR\//.test(agent) ? "Opera" : /Firefox\//.test(agent) ? "Firefox" : /Chrome\/|Chromium\//.test(agent) ? "Chrome" : /Safari\//.test(agent) ? "Safari" : /curl\//i.test(agent) ? "curl" : null;
  const system = /Android/.test(agent) ? "Android" : /iPhone|iPad|iOS/.test(agent) ? "iOS" : /Windows/.test(agent) ? "Windows" : /Mac OS X|Macintosh/.test(agent) ? "macOS" : /Linux/.test(agent) ? "Linux" : null;
  if (browser && system) return `${browser} on ${system}`;
  return browser ?? system ?? (agent.length > 40 ? `${agent.slice(0, 40)}…` : agent);
}

async function renderSessions(container: HTMLElement, context: AdminContext): Promise<void> {
  replace(container, loadingBox("Loading sessions and tokens…"));
  let sessions: SessionItem[];
  let tokens: TokenItem[];
  const load = async () => {
    const [s, t] = await Promise.all([api<{ sessions: SessionItem[] }>("GET", "/mss-login/api/admin/sessions"), api<{ tokens: TokenItem[] }>("GET", "/mss-login/api/admin/tokens")]);
    sessions = s.sessions;
    tokens = t.tokens;
  };
  try {
    await load();
  } catch (error) {
    replace(container, errorBox("Could not load sessions and tokens", error, () => void renderSessions(container, context)));
    return;
  }
  const outcome = outcomeLine();
  let who = "";

  const userFilter = h("select", { "data-focus-key": "filter" });
  userFilter.addEventListener("change", () => {
    who = userFilter.value;
    draw();
  });
  const refresh = h("button", { type: "button", class: "mss-btn", "data-focus-key": "refresh" }, "Refresh");
  refresh.addEventListener("click", async () => {
    refresh.disabled = true;
    outcome.clear();
    try {
      await load();
      draw();
    } catch (error) {
      outcome.error("Could not reload", error);
    } finally {
      refresh.disabled = false;
    }
  });
  const sessionsWrap = h("div", { class: "mss-table-wrap" });
  const tokensWrap = h("div", { class: "mss-table-wrap" });
  const sessionsCount = h("p", { class: "mss-muted" });
  const tokensCount = h("p", { class: "mss-muted" });

  function fillFilter(): void {
    const names = [...new Set([...sessions.map((s) => s.username), ...tokens.map((t) => t.username)])].sort((a, b) => a.localeCompare(b));
    if (who !== "" && !names.includes(who)) names.push(who);
    replace(userFilter, h("option", { value: "" }, "All users"), names.map((name) => h("option", { value: name, selected: name === who }, name)));
  }

  async function revoke(kind: "session" | "token", id: string, what: string, button: HTMLButtonElement): Promise<void> {
    const title = kind === "session" ? "End this session?" : "Revoke this API token?";
    const text = kind === "session" ? `${what} is signed out on that device at once.` : `${what} stops working at once. This cannot be undone.`;
    if (!(await confirmAction(title, text, kind === "session" ? "End session" : "Revoke token", true))) return;
    button.disabled = true;
    const key = button.dataset.focusKey;
    outcome.clear();
    try {
      await api("POST", kind === "session" ? "/mss-login/api/admin/sessions/revoke" : "/mss-login/api/admin/tokens/revoke", { id });
      if (kind === "session") sessions = sessions.filter((s) => s.id !== id);
      else tokens = tokens.filter((t) => t.id !== id);
      notify(kind === "session" ? "Session ended." : "API token revoked.", "ok");
    } catch (error) {
      outcome.error(kind === "session" ? "Could not end the session" : "Could not revoke the token", error);
      try {
        await load();
      } catch {
        // The list stays as it was; the error above says what failed.
      }
    }
    draw();
    focusByKey(container, key, refresh);
  }

  function sessionsTable(list: SessionItem[]): HTMLElement {
    if (list.length === 0) return h("p", { class: "mss-muted" }, who === "" ? "No live sessions." : `No live sessions of ${who}.`);
    return h(
      "table",
      { class: "mss-table mss-table-cards" },
      h("caption", { class: "mss-visually-hidden" }, "Live sessions"),
      h(
        "thead",
        {},
        h("tr", {}, ["User", "Signed in", "Last seen", "Ends", "Address", "Browser", "Actions"].map((title) => h("th", { scope: "col" }, title))),
      ),
      h(
        "tbody",
        {},
        list.map((s) => {
          const label = `the session of ${s.username} signed in ${formatTime(s.created_at)}`;
          return h(
            "tr",
            { "data-session": s.id, class: s.current ? "mss-row-current" : null },
            h("th", { scope: "row" }, h("span", { class: "mss-username" }, s.username), h("div", { class: "mss-badges" }, badge(roleLabel(s.role)), s.current ? badge("this session", "info") : null, s.remember ? badge("remember me") : null)),
            h("td", { class: "mss-nowrap", "data-label": "Signed in" }, timeText(s.created_at)),
            h("td", { class: "mss-nowrap", "data-label": "Last seen" }, timeText(s.last_seen_at)),
            h("td", { class: "mss-nowrap", "data-label": "Ends" }, timeText(s.expires_at)),
            h("td", { class: "mss-nowrap", "data-label": "Address" }, s.ip ? h("code", {}, s.ip) : "—"),
            h("td", { title: s.user_agent ?? "", "data-label": "Browser" }, browserOf(s.user_agent)),
            h(
              "td",
              { class: "mss-cell-wide" },
              s.current
                ? h("span", { class: "mss-muted" }, "Sign out to end it")
                : (() => {
                    const button = h("button", { type: "button", class: "mss-btn mss-btn-sm mss-danger", "aria-label": `End ${label}`, "data-focus-key": `session:${s.id}` }, "End");
                    button.addEventListener("click", () => void revoke("session", s.id, `The session of ${s.username}`, button));
                    return button;
                  })(),
            ),
          );
        }),
      ),
    );
  }

  function tokensTable(list: TokenItem[]): HTMLElement {
    if (list.length === 0) return h("p", { class: "mss-muted" }, who === "" ? "No live API tokens." : `No live API tokens of ${who}.`);
    return h(
      "table",
      { class: "mss-table mss-table-cards" },
      h("caption", { class: "mss-visually-hidden" }, "Live API tokens"),
      h(
        "thead",
        {},
        h("tr", {}, ["User", "Label", "Scopes", "Created", "Expires", "Last used", "Actions"].map((title) => h("th", { scope: "col" }, title))),
      ),
      h(
        "tbody",
        {},
        list.map((t) => {
          const button = h("button", { type: "button", class: "mss-btn mss-btn-sm mss-danger", "aria-label": `Revoke the token "${t.label}" of ${t.username}`, "data-focus-key": `token:${t.id}` }, "Revoke");
          button.addEventListener("click", () => void revoke("token", t.id, `The token "${t.label}" of ${t.username}`, button));
          return h(
            "tr",
            { "data-token": t.id },
            h("th", { scope: "row" }, h("span", { class: "mss-username" }, t.username)),
            h("td", { "data-label": "Label" }, t.label || h("span", { class: "mss-muted" }, "(no label)")),
            h("td", { "data-label": "Scopes" }, h("div", { class: "mss-badges" }, t.scopes.map((scope) => badge(scope, scope === "admin" ? "warn" : undefined)))),
            h("td", { class: "mss-nowrap", "data-label": "Created" }, timeText(t.created_at)),
            h("td", { class: "mss-nowrap", "data-label": "Expires" }, t.expires_at ? timeText(t.expires_at) : badge("never", "warn")),
            h("td", { class: "mss-nowrap", "data-label": "Last used" }, t.last_used_at ? [timeText(t.last_used_at), t.last_used_ip ? [h("br", {}), h("span", { class: "mss-hint" }, "from ", h("code", {}, t.last_used_ip))] : null] : h("span", { class: "mss-muted" }, "never")),
            h("td", { class: "mss-cell-wide" }, button),
          );
        }),
      ),
    );
  }

  function draw(): void {
    fillFilter();
    const shownSessions = who === "" ? sessions : sessions.filter((s) => s.username === who);
    const shownTokens = who === "" ? tokens : tokens.filter((t) => t.username === who);
    sessionsCount.textContent = plural(shownSessions.length, "live session");
    tokensCount.textContent = plural(shownTokens.length, "live API token");
    keepingFocus(container, () => {
      replace(sessionsWrap, sessionsTable(shownSessions));
      replace(tokensWrap, tokensTable(shownTokens));
    });
  }

  replace(
    container,
    h(
      "p",
      { class: "mss-muted mss-section-intro" },
      context.me.role === "owner" ? "Every live session and API token." : "Live sessions and API tokens of power users, users and guests, and your own.",
    ),
    h("div", { class: "mss-toolbar" }, field("Show sessions and tokens of", userFilter), refresh),
    outcome.element,
    h("div", { class: "mss-card" }, h("h3", { class: "mss-card-title" }, "Sessions"), sessionsCount, sessionsWrap),
    h("div", { class: "mss-card" }, h("h3", { class: "mss-card-title" }, "API tokens"), tokensCount, tokensWrap),
  );
  draw();
}
