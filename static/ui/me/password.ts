/** Change password: the current one, the new one twice. The server's policy decides, and says why. */
import { h, field } from "../lib/dom.ts";
import { api, ApiError } from "../lib/api.ts";
import { notify } from "../lib/ui.ts";
import { busy, card, failureText, markInvalid, messageLine, type MeContext, usernameForPasswordManagers } from "./parts.ts";

export function passwordCard(me: MeContext): HTMLElement {
  if (me.role === "guest") {
    return card("Password", "The shared guest account has no password of its own, so there is nothing to change here.").section;
  }
  const { section, body } = card("Change password", "Choose a long passphrase you do not use anywhere else. Your other devices are signed out when it changes.");

  const current = h("input", { type: "password", name: "current_password", autocomplete: "current-password", required: true, maxlength: 1024 });
  const next = h("input", { type: "password", name: "new_password", autocomplete: "new-password", required: true, maxlength: 1024 });
  const repeat = h("input", { type: "password", name: "new_password_repeat", autocomplete: "new-password", required: true, maxlength: 1024 });
  const submit = h("button", { type: "submit", class: "mss-btn mss-primary" }, "Change password");
  const message = messageLine();

  const form = h(
    "form",
    { class: "mss-me-form", novalidate: true },
    // For password managers: which account this new password belongs to.
    usernameForPasswordManagers(me.username),
    field("Current password", current),
    field("New password", next, "The gateway refuses short and common passwords and tells you why."),
    field("New password again", repeat),
    message.element,
    h("div", { class: "mss-actions mss-me-actions-start" }, submit),
  );

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.clear();
    for (const control of [current, next, repeat]) markInvalid(control, false);
    if (current.value === "") {
      markInvalid(current, true);
      message.error("Enter your current password.");
      current.focus();
      return;
    }
    if (next.value === "") {
      markInvalid(next, true);
      message.error("Enter a new password.");
      next.focus();
      return;
    }
    if (next.value !== repeat.value) {
      markInvalid(repeat, true);
      message.error("The two new passwords are not the same.");
      repeat.focus();
      return;
    }
    try {
      const answer = await busy(submit, "Changing…", () => api<{ message?: string }>("POST", "/mss-login/api/me/password", { current_password: current.value, new_password: next.value }));
      form.reset();
      const text = answer.message ?? "Password changed; your other sessions were signed out.";
      message.ok(text);
      notify("Password changed.", "ok");
      me.sessionsChanged();
    } catch (error) {
      message.error(failureText(error));
      if (error instanceof ApiError && error.code === "PASSWORD_REQUIRED") {
        markInvalid(current, true);
        current.select();
        current.focus();
      } else if (error instanceof ApiError && error.status === 400) {
        markInvalid(next, true);
        next.focus();
      }
    }
  });

  body.append(form);
  return section;
}
