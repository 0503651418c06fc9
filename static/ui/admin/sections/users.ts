/**
 * Users and roles: the account list with search, a form to create an account, and per account:
 * role, SFW check, disable/enable, a password reset link, second-factor reset, ending every
 * session, delete. The server decides who may do what (src/auth/users.ts: one owner, the last
 * admin kept, the guest account kept, admins cannot manage the owner or other admins); the
 * controls that obviously cannot apply are disabled here, and any refusal shows the server's
 * own message.
 */
import { api, ApiError, type Me } from "../../lib/api.ts";
import { field, formatTime, h, replace } from "../../lib/dom.ts";
import { confirmAction, copyButton, modal, notify } from "../../lib/ui.ts";
import { badge, checkboxField, focusByKey, keepingFocus, loadFirst, type Outcome, outcomeLine, plural, roleLabel, setFieldError, timeText } from "../parts.ts";
import type { AdminContext, AdminSection } from "../section.ts";

/** One account as `GET /mss-login/api/users` describes it (src/auth/user-admin-routes.ts). */
interface UserItem {
  username: string;
  role: string;
  groups: string[];
  is_admin: boolean;
  sfw_check: boolean;
  disabled: boolean;
  mfa_enabled: boolean;
  created_at_iso: string | null;
  last_login_at_iso: string | null;
}

const ROLES = ["owner", "admin", "power", "user", "guest"] as const;
const ADMINISH = new Set(["owner", "admin"]);

/** The same rule as users.ts mayManage: the owner manages everyone, an admin power users, users and guests. */
function mayManage(me: Me, target: UserItem): boolean {
  return me.role === "owner" || (me.role === "admin" && !ADMINISH.has(target.role));
}
function isSelf(me: Me, target: UserItem): boolean {
  return target.username.toLowerCase() === me.username.toLowerCase();
}
/** The system's guest account (it stays a guest and cannot be deleted). */
function isSystemGuest(target: UserItem): boolean {
  return target.username.toLowerCase() === "guest" && target.role === "guest";
}
/** Roles the caller may give: never owner through creation; admin only by the owner. */
function mayAssign(me: Me, role: string): boolean {
  return me.role === "owner" || !ADMINISH.has(role);
}
const userPath = (username: string) => `/mss-login/api/users/${encodeURIComponent(username)}`;

export const usersSection: AdminSection = {
  id: "users",
  label: "Users and roles",
  order: 10,
  render: (container, context) => renderUsers(container, context),
};

async function renderUsers(container: HTMLElement, context: AdminContext): Promise<void> {
  const loaded = await loadFirst<UserItem[]>(container, { loading: "Loading accounts…", failed: "Could not load the accounts" }, async () => (await api<{ users: UserItem[] }>("GET", "/mss-login/api/users")).users, () => void renderUsers(container, context));
  if (loaded === null) return;
  let users: UserItem[] = loaded;
  const { me } = context;
  const outcome = outcomeLine();
  let filter = "";

  const search = h("input", {
    type: "search",
    autocomplete: "off",
    spellcheck: "false",
    "data-focus-key": "search",
    oninput: () => {
      filter = search.value.trim().toLowerCase();
      renderTable();
    },
  });
  const count = h("p", { class: "mss-muted", "aria-live": "polite" });
  const tableWrap = h("div", { class: "mss-table-wrap" });

  function visibleUsers(): UserItem[] {
    if (filter === "") return users;
    return users.filter((user) => user.username.toLowerCase().includes(filter) || user.role.includes(filter) || roleLabel(user.role).toLowerCase().includes(filter));
  }

  function replaceUser(updated: UserItem): void {
    users = users.map((user) => (user.username.toLowerCase() === updated.username.toLowerCase() ? updated : user));
  }

  /** Runs one account change: the control is disabled meanwhile; refusals go to the outcome line. */
  async function act(what: string, control: HTMLElement | null, change: () => Promise<void>): Promise<void> {
    outcome.clear();
    // The control is disabled meanwhile (which drops its focus): focus comes back to it, or to
    // the search box when its row is gone.
    const key = control?.dataset.focusKey;
    control?.setAttribute("disabled", "");
    try {
      await change();
    } catch (error) {
      outcome.error(what, error);
      if (error instanceof ApiError && error.status === 404) await reloadList();
    } finally {
      control?.removeAttribute("disabled");
      renderTable();
      if (container.isConnected) focusByKey(tableWrap, key, search);
    }
  }

  async function reloadList(): Promise<void> {
    try {
      users = (await api<{ users: UserItem[] }>("GET", "/mss-login/api/users")).users;
    } catch (error) {
      outcome.error("Could not reload the accounts", error);
    }
  }

  function roleCell(user: UserItem): HTMLElement {
    // Your own role, the owner's (it moves only by a hand-over), the guest account's, and the
    // roles of accounts you may not manage cannot change here.
    const locked = isSelf(me, user) || user.role === "owner" || isSystemGuest(user) || !mayManage(me, user);
    const select = h(
      "select",
      { "aria-label": `Role of ${user.username}`, "data-focus-key": `${user.username}:role`, disabled: locked, class: "mss-select-compact" },
      ROLES.map((role) =>
        h(
          "option",
          { value: role, selected: role === user.role, disabled: role !== user.role && !mayAssign(me, role) },
          role === "owner" && user.role === "owner" ? "Owner (locked)" : roleLabel(role),
        ),
      ),
    );
    select.addEventListener("change", () => void changeRole(user, select));
    return h("td", { "data-label": "Role" }, select);
  }

  async function changeRole(user: UserItem, select: HTMLSelectElement): Promise<void> {
    const role = select.value;
    const handover = role === "owner";
    const confirmed = handover
      ? await confirmAction(
          "Hand over ownership?",
          `${user.username} becomes the owner and you become an admin. Only the new owner can give ownership back. ${user.username} signs in again.`,
          "Make them the owner",
          true,
        )
      : await confirmAction(
          `Change the role of ${user.username}?`,
          `${roleLabel(user.role)} → ${roleLabel(role)}. Their sessions end and they sign in again under the new role${role === "admin" ? "; their API tokens are revoked" : ""}.`,
          "Change role",
        );
    if (!confirmed) {
      select.value = user.role;
      return;
    }
    await act(`Could not change the role of ${user.username}`, select, async () => {
      const answer = await api<{ user: UserItem }>("PUT", userPath(user.username), { role });
      replaceUser(answer.user);
      notify(`${user.username} is now ${roleLabel(answer.user.role).toLowerCase()}.`, "ok");
      if (handover) await context.reload();
    });
  }

  function sfwCell(user: UserItem): HTMLElement {
    const box = h("input", { type: "checkbox", checked: user.sfw_check, disabled: !mayManage(me, user), "aria-label": `SFW check for ${user.username}`, "data-focus-key": `${user.username}:sfw` });
    box.addEventListener("change", () => {
      const wanted = box.checked;
      void act(`Could not change the SFW check of ${user.username}`, box, async () => {
        const answer = await api<{ user: UserItem }>("PUT", userPath(user.username), { sfw_check: wanted });
        replaceUser(answer.user);
        notify(`SFW check ${answer.user.sfw_check ? "on" : "off"} for ${user.username}.`, "ok");
      });
    });
    return h("td", { class: "mss-cell-center", "data-label": "SFW check" }, box);
  }

  function statusCell(user: UserItem): HTMLElement {
    return h(
      "td",
      { "data-label": "Status" },
      h(
        "div",
        { class: "mss-badges" },
        user.disabled ? badge("Disabled", "bad") : badge("Active", "good"),
        user.mfa_enabled ? badge("2FA on", "good") : badge("no 2FA"),
      ),
    );
  }

  function actionButton(label: string, accessibleName: string, key: string, enabled: boolean, onclick: (button: HTMLButtonElement) => void, danger = false): HTMLButtonElement {
    const button = h("button", { type: "button", class: `mss-btn mss-btn-sm${danger ? " mss-btn-danger-quiet" : ""}`, "aria-label": accessibleName, "data-focus-key": key, disabled: !enabled }, label);
    button.addEventListener("click", () => onclick(button));
    return button;
  }

  function actionsCell(user: UserItem): HTMLElement {
    if (isSelf(me, user)) return h("td", { class: "mss-cell-wide" }, h("span", { class: "mss-muted" }, "Your own account: see My account."));
    if (!mayManage(me, user)) return h("td", { class: "mss-cell-wide" }, h("span", { class: "mss-muted" }, "Only the owner manages this account."));
    const name = user.username;
    return h(
      "td",
      { class: "mss-cell-wide" },
      h(
        "div",
        { class: "mss-row mss-row-tight mss-user-actions" },
        actionButton(user.disabled ? "Enable" : "Disable", `${user.disabled ? "Enable" : "Disable"} ${name}`, `${name}:disable`, user.role !== "owner", (button) => void toggleDisabled(user, button)),
        actionButton("Reset password", `Reset password of ${name}`, `${name}:reset`, true, (button) => void resetPassword(user, button)),
        actionButton("Reset 2FA", `Reset 2FA of ${name}`, `${name}:mfa`, user.mfa_enabled, (button) => void resetMfa(user, button)),
        actionButton("Sign out", `Sign out ${name} everywhere`, `${name}:sessions`, true, (button) => void endSessions(user, button)),
        actionButton("Delete", `Delete ${name}`, `${name}:delete`, user.role !== "owner" && !isSystemGuest(user), (button) => void deleteAccount(user, button), true),
      ),
    );
  }

  async function toggleDisabled(user: UserItem, button: HTMLButtonElement): Promise<void> {
    const disabling = !user.disabled;
    if (disabling && !(await confirmAction(`Disable ${user.username}?`, "They are signed out everywhere and cannot sign in until the account is enabled again.", "Disable account", true))) return;
    await act(`Could not ${disabling ? "disable" : "enable"} ${user.username}`, button, async () => {
      const answer = await api<{ user: UserItem }>("PUT", userPath(user.username), { disabled: disabling });
      replaceUser(answer.user);
      notify(`${user.username} ${answer.user.disabled ? "disabled" : "enabled"}.`, "ok");
    });
  }

  async function resetPassword(user: UserItem, button: HTMLButtonElement): Promise<void> {
    if (!(await confirmAction(`Password reset link for ${user.username}`, "A single-use link lets them choose a new password (an earlier link stops working). Their current password keeps working until they use it.", "Make the link"))) return;
    await act(`Could not make a reset link for ${user.username}`, button, async () => {
      const answer = await api<{ reset_path: string; expires_at_iso: string; valid_hours: number }>("POST", `${userPath(user.username)}/password-reset`, {});
      const link = new URL(answer.reset_path, location.origin).href;
      await modal<boolean>(`Reset link for ${user.username}`, (close) => [
        h("p", {}, `Give this link to ${user.username}. It works once, until ${formatTime(answer.expires_at_iso)} (${answer.valid_hours} hours). It is shown only now.`),
        h("p", { class: "mss-muted" }, user.mfa_enabled ? "They will need their second factor (or a recovery code) to use it." : "Anyone with the link can set the password: hand it over privately."),
        h("code", { class: "mss-secret" }, link),
        h("div", { class: "mss-actions" }, copyButton(link, "Copy link"), h("button", { type: "button", class: "mss-btn mss-primary", onclick: () => close(true) }, "Done")),
      ]);
    });
  }

  async function resetMfa(user: UserItem, button: HTMLButtonElement): Promise<void> {
    if (!(await confirmAction(`Reset the second factor of ${user.username}?`, "Their authenticator and recovery codes stop working and their sessions end. If their role requires two-factor sign-in, they set it up again at their next sign-in.", "Reset second factor", true))) return;
    await act(`Could not reset the second factor of ${user.username}`, button, async () => {
      await api("POST", `${userPath(user.username)}/mfa/reset`, {});
      replaceUser({ ...user, mfa_enabled: false });
      notify(`Second factor of ${user.username} removed.`, "ok");
    });
  }

  async function endSessions(user: UserItem, button: HTMLButtonElement): Promise<void> {
    const tokens = h("input", { type: "checkbox" });
    const confirmed = await modal<boolean>(`Sign ${user.username} out everywhere?`, (close) => [
      h("p", {}, "Every session of this account ends now; open ComfyUI pages lose their connection."),
      checkboxField("Also revoke their API tokens", tokens),
      h(
        "div",
        { class: "mss-actions" },
        h("button", { type: "button", class: "mss-btn", onclick: () => close(false) }, "Cancel"),
        h("button", { type: "button", class: "mss-btn mss-danger", onclick: () => close(true) }, "End sessions"),
      ),
    ]);
    if (confirmed !== true) return;
    await act(`Could not end the sessions of ${user.username}`, button, async () => {
      const answer = await api<{ sessions_revoked: number; tokens_revoked: number }>("POST", `${userPath(user.username)}/sessions/revoke`, { tokens: tokens.checked });
      notify(`${plural(answer.sessions_revoked, "session")} ended${tokens.checked ? `, ${plural(answer.tokens_revoked, "API token")} revoked` : ""} for ${user.username}.`, "ok");
    });
  }

  async function deleteAccount(user: UserItem, button: HTMLButtonElement): Promise<void> {
    if (!(await confirmAction(`Delete ${user.username}?`, "The account, its sessions, API tokens and second factor are deleted. This cannot be undone.", "Delete account", true))) return;
    await act(`Could not delete ${user.username}`, button, async () => {
      await api("DELETE", userPath(user.username));
      users = users.filter((candidate) => candidate.username !== user.username);
      notify(`${user.username} deleted.`, "ok");
    });
  }

  function userRow(user: UserItem): HTMLTableRowElement {
    return h(
      "tr",
      { "data-user": user.username },
      h(
        "th",
        { scope: "row" },
        h("span", { class: "mss-username" }, user.username),
        isSelf(me, user) ? [" ", badge("you", "info")] : null,
        isSystemGuest(user) ? [" ", badge("system")] : null,
        h("span", { class: "mss-hint mss-user-sub" }, "Last sign-in: ", timeText(user.last_login_at_iso, "never")),
      ),
      roleCell(user),
      sfwCell(user),
      statusCell(user),
      actionsCell(user),
    );
  }

  function renderTable(): void {
    const shown = visibleUsers();
    count.textContent = filter === "" ? plural(users.length, "account") : `${shown.length} of ${plural(users.length, "account")} match`;
    keepingFocus(tableWrap, () =>
      replace(
        tableWrap,
        h(
          "table",
          { class: "mss-table mss-table-cards mss-users-table" },
          h("caption", { class: "mss-visually-hidden" }, "Accounts"),
          h(
            "thead",
            {},
            h("tr", {}, h("th", { scope: "col" }, "User"), h("th", { scope: "col" }, "Role"), h("th", { scope: "col" }, "SFW check"), h("th", { scope: "col" }, "Status"), h("th", { scope: "col" }, "Actions")),
          ),
          h(
            "tbody",
            {},
            shown.length === 0 ? h("tr", {}, h("td", { colspan: 5, class: "mss-muted" }, filter === "" ? "No accounts." : `No account matches "${search.value.trim()}".`)) : shown.map(userRow),
          ),
        ),
      ),
    );
  }

  replace(
    container,
    h("p", { class: "mss-muted mss-section-intro" }, "Roles decide what each account may do (see Permissions). Role changes, disabling and second-factor resets end the account's sessions."),
    createForm(me, outcome, async (created) => {
      await reloadList();
      renderTable();
      notify(`Account ${created} created.`, "ok");
    }),
    h(
      "div",
      { class: "mss-card" },
      h("h3", { class: "mss-card-title" }, "Accounts"),
      h("div", { class: "mss-toolbar" }, field("Search users", search), count),
      outcome.element,
      tableWrap,
    ),
  );
  renderTable();
}

/** "Create an account": username, password, role, SFW check; the server's refusal next to its field. */
function createForm(me: Me, outcome: Outcome, created: (username: string) => Promise<void>): HTMLElement {
  const username = h("input", { type: "text", autocomplete: "off", autocapitalize: "none", spellcheck: "false", required: true, maxlength: 64 });
  const password = h("input", { type: "password", autocomplete: "new-password", required: true, maxlength: 1024 });
  const role = h(
    "select",
    {},
    ROLES.filter((candidate) => candidate !== "owner" && mayAssign(me, candidate)).map((candidate) => h("option", { value: candidate, selected: candidate === "user" }, roleLabel(candidate))),
  );
  const sfw = h("input", { type: "checkbox", checked: true });
  const show = h("input", { type: "checkbox" });
  show.addEventListener("change", () => (password.type = show.checked ? "text" : "password"));
  const submit = h("button", { type: "submit", class: "mss-btn mss-primary" }, "Create account");
  const formOutcome = outcomeLine();

  const form = h(
    "form",
    { novalidate: true, class: "mss-create-user" },
    h(
      "div",
      { class: "mss-form-grid" },
      field("Username", username, "3 to 64 letters, digits or underscores."),
      field("Password", password, "They can change it on their account page, or you send them a reset link."),
      field("Role", role, me.role === "owner" ? undefined : "Only the owner creates administrators."),
    ),
    checkboxField("Show the password", show),
    checkboxField("SFW check", sfw, "Their images are checked for NSFW content."),
    formOutcome.element,
    h("div", { class: "mss-actions mss-actions-start" }, submit),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    outcome.clear();
    formOutcome.clear();
    setFieldError(username, null);
    setFieldError(password, null);
    setFieldError(role, null);
    const name = username.value.trim();
    if (name === "") {
      setFieldError(username, "Enter a username.");
      username.focus();
      return;
    }
    if (password.value === "") {
      setFieldError(password, "Enter a password.");
      password.focus();
      return;
    }
    submit.disabled = true;
    try {
      const answer = await api<{ username: string }>("POST", "/mss-login/api/users", { username: name, password: password.value, role: role.value, sfw_check: sfw.checked });
      form.reset();
      password.type = "password";
      await created(answer.username);
      username.focus();
    } catch (error) {
      const code = error instanceof ApiError ? error.code : "";
      const target = code.startsWith("USERNAME") ? username : code.startsWith("PASSWORD") ? password : code.startsWith("ROLE") || code.startsWith("OWNER") ? role : null;
      if (target !== null && error instanceof ApiError) {
        setFieldError(target, error.message);
        target.focus();
      } else formOutcome.error("Could not create the account", error);
    } finally {
      submit.disabled = false;
    }
  });
  return h("details", { class: "mss-card mss-disclosure" }, h("summary", {}, h("span", { class: "mss-card-title" }, "Create an account")), form);
}
