/**
 * Two-factor authentication: turn it on (password → QR code and key → a code from the app →
 * recovery codes, shown once) or remove it (password and a current code).
 */
import { h, field, replace } from "../lib/dom.ts";
import { api, ApiError } from "../lib/api.ts";
import { copyButton, notify } from "../lib/ui.ts";
import { busy, card, failureText, markInvalid, messageLine, type MeContext, usernameForPasswordManagers } from "./parts.ts";

interface SetupAnswer {
  secret?: string;
  qr_svg?: string;
  provisioning_uri?: string;
}

/** The key in groups of four, easier to type into an app by hand. */
function groupKey(secret: string): string {
  return secret.replace(/(.{4})(?=.)/g, "$1 ");
}

/**
 * The server-drawn QR code as an image. An SVG in an `<img>` cannot run script or reach the
 * page, so the markup is never parsed into this document.
 */
function qrImage(svg: string): HTMLElement | null {
  if (!svg.trimStart().startsWith("<svg") && !svg.trimStart().startsWith("<?xml")) return null;
  return h("img", {
    class: "mss-me-qr",
    src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`,
    alt: "QR code to scan with your authenticator app. The same key is written out below for typing in by hand.",
    width: 208,
    height: 208,
  });
}

function codeInput(name = "code"): HTMLInputElement {
  return h("input", {
    type: "text",
    name,
    inputmode: "numeric",
    autocomplete: "one-time-code",
    autocapitalize: "none",
    spellcheck: "false",
    required: true,
    maxlength: 20,
    class: "mss-me-code",
  });
}

function passwordInput(): HTMLInputElement {
  return h("input", { type: "password", name: "password", autocomplete: "current-password", required: true, maxlength: 1024 });
}

export function mfaCard(me: MeContext): HTMLElement {
  const { section, body } = card("Two-factor authentication", null);
  const required = me.permissions.mfa_required === true;
  let enabled = me.mfaEnabled;

  if (me.role === "guest") {
    replace(body, h("p", { class: "mss-muted" }, "The shared guest account cannot use two-factor authentication."));
    return section;
  }

  function state(): HTMLElement {
    return h(
      "p",
      { class: "mss-me-state" },
      enabled ? h("span", { class: "mss-badge mss-badge-good" }, "On") : h("span", { class: required ? "mss-badge mss-badge-bad" : "mss-badge mss-badge-warn" }, "Off"),
      " ",
      enabled
        ? "Signing in asks for a code from your authenticator app."
        : required
          ? "Your role requires it: you will be asked to set it up when you next sign in."
          : "Add a code from an authenticator app to your password, so a stolen password alone is not enough.",
    );
  }

  /** The card at rest: state and the one action that fits it. */
  function overview(): void {
    // A role that requires the second factor cannot remove it (the gateway refuses): no button then.
    const action = enabled
      ? required
        ? null
        : h("button", { type: "button", class: "mss-btn", onclick: () => removeForm() }, "Remove two-factor authentication")
      : h("button", { type: "button", class: "mss-btn mss-primary", onclick: () => startForm() }, "Set up two-factor authentication");
    replace(
      body,
      state(),
      required && enabled ? h("p", { class: "mss-hint" }, "Your role requires two-factor authentication, so it cannot be removed. Lost your app? Sign in with a recovery code, or ask an administrator to reset it.") : null,
      action ? h("div", { class: "mss-actions mss-me-actions-start" }, action) : null,
    );
  }

  function cancelButton(): HTMLButtonElement {
    return h("button", { type: "button", class: "mss-btn", onclick: () => overview() }, "Cancel");
  }

  /** Step 1: the password again. */
  function startForm(): void {
    const password = passwordInput();
    const submit = h("button", { type: "submit", class: "mss-btn mss-primary" }, "Continue");
    const message = messageLine();
    const form = h(
      "form",
      { class: "mss-me-form", novalidate: true },
      h("p", {}, "You need an authenticator app on your phone or computer (for example Aegis, 2FAS, Google Authenticator, 1Password or Bitwarden)."),
      usernameForPasswordManagers(me.username),
      field("Your password", password, "Confirms that it is you before anything changes."),
      message.element,
      h("div", { class: "mss-actions mss-me-actions-start" }, submit, cancelButton()),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      message.clear();
      markInvalid(password, false);
      if (password.value === "") {
        markInvalid(password, true);
        message.error("Enter your password.");
        password.focus();
        return;
      }
      try {
        const answer = await busy(submit, "Checking…", () => api<SetupAnswer>("POST", "/mss-login/api/mfa/setup", { password: password.value }));
        scanStep(answer);
      } catch (error) {
        if (error instanceof ApiError && error.code === "ALREADY_ENABLED") {
          enabled = true;
          overview();
          notify("Two-factor authentication is already on.", "info");
          return;
        }
        message.error(failureText(error));
        if (error instanceof ApiError && error.code === "PASSWORD_REQUIRED") {
          markInvalid(password, true);
          password.select();
          password.focus();
        }
      }
    });
    replace(body, state(), form);
    password.focus();
  }

  /** Step 2: scan (or type) the key, then prove it with a code. */
  function scanStep(answer: SetupAnswer): void {
    const secret = typeof answer.secret === "string" ? answer.secret : "";
    const qr = typeof answer.qr_svg === "string" ? qrImage(answer.qr_svg) : null;
    const code = codeInput();
    const submit = h("button", { type: "submit", class: "mss-btn mss-primary" }, "Turn on");
    const message = messageLine();
    const form = h(
      "form",
      { class: "mss-me-form", novalidate: true },
      field("6-digit code from the app", code, "Codes change every 30 seconds; if one is refused, wait for the next."),
      message.element,
      h("div", { class: "mss-actions mss-me-actions-start" }, submit, cancelButton()),
    );
    const enrol = h(
      "div",
      { class: "mss-me-enrol" },
      h("h3", {}, "1. Scan the code"),
      h(
        "div",
        { class: "mss-me-enrol-grid" },
        qr ? h("div", { class: "mss-me-qr-frame" }, qr) : h("p", { class: "mss-muted" }, "The QR code could not be shown; type the key instead."),
        h(
          "div",
          {},
          h("p", {}, "Scan it with your authenticator app. If you cannot scan, add an account by hand with this key (time-based, 6 digits, 30 seconds):"),
          h("code", { class: "mss-secret mss-me-key" }, groupKey(secret)),
          h("div", { class: "mss-row mss-me-copy" }, copyButton(secret, "Copy key")),
        ),
      ),
      h("h3", {}, "2. Enter the code the app shows"),
      form,
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      message.clear();
      markInvalid(code, false);
      const value = code.value.replace(/\s+/g, "");
      if (value === "") {
        markInvalid(code, true);
        message.error("Enter the code your app shows.");
        code.focus();
        return;
      }
      try {
        const confirmed = await busy(submit, "Checking…", () => api<{ recovery_codes?: string[] }>("POST", "/mss-login/api/mfa/verify-setup", { code: value }));
        enabled = true;
        me.mfaEnabled = true;
        recoveryStep(Array.isArray(confirmed.recovery_codes) ? confirmed.recovery_codes.filter((c) => typeof c === "string") : []);
        me.sessionsChanged();
      } catch (error) {
        message.error(failureText(error));
        markInvalid(code, true);
        code.select();
        code.focus();
      }
    });
    replace(body, enrol);
    code.focus();
  }

  /** Step 3: the recovery codes, shown once. */
  function recoveryStep(codes: string[]): void {
    const text = codes.join("\n");
    const heading = h("h3", { tabindex: -1 }, "Save your recovery codes now");
    replace(
      body,
      h("p", { class: "mss-me-state" }, h("span", { class: "mss-badge mss-badge-good" }, "On"), " Two-factor authentication is on. Your other sessions were signed out."),
      h(
        "div",
        { class: "mss-me-once", role: "region", "aria-label": "Recovery codes" },
        heading,
        h("p", {}, "Each code signs you in once if you lose your authenticator app. ", h("strong", {}, "They are shown only now:"), " copy them into a password manager or print them, and keep them private."),
        codes.length > 0 ? h("pre", { class: "mss-secret mss-me-codes" }, text) : h("p", { class: "mss-muted" }, "The server sent no recovery codes."),
        h(
          "div",
          { class: "mss-actions mss-me-actions-start" },
          codes.length > 0 ? copyButton(text, "Copy recovery codes") : null,
          h("button", { type: "button", class: "mss-btn mss-primary", onclick: () => overview() }, "I have saved them"),
        ),
      ),
    );
    heading.focus();
  }

  /** Removing takes the password and a current code (or a recovery code). */
  function removeForm(): void {
    const password = passwordInput();
    const code = codeInput();
    const submit = h("button", { type: "submit", class: "mss-btn mss-danger" }, "Remove");
    const message = messageLine();
    const form = h(
      "form",
      { class: "mss-me-form", novalidate: true },
      required
        ? h("p", { class: "mss-me-warning" }, "Your role requires two-factor authentication. If you remove it, you will have to set it up again the next time you sign in.")
        : h("p", {}, "Without it, your password alone signs you in. Your other sessions are signed out."),
      usernameForPasswordManagers(me.username),
      field("Your password", password),
      field("Code from your app, or a recovery code", code),
      message.element,
      h("div", { class: "mss-actions mss-me-actions-start" }, submit, cancelButton()),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      message.clear();
      markInvalid(password, false);
      markInvalid(code, false);
      if (password.value === "" || code.value.trim() === "") {
        const missing = password.value === "" ? password : code;
        markInvalid(missing, true);
        message.error(missing === password ? "Enter your password." : "Enter a code from your app.");
        missing.focus();
        return;
      }
      try {
        await busy(submit, "Removing…", () => api("POST", "/mss-login/api/mfa/disable", { password: password.value, code: code.value.trim() }));
        enabled = false;
        me.mfaEnabled = false;
        overview();
        notify("Two-factor authentication removed.", "ok");
        me.sessionsChanged();
        (body.querySelector("button") as HTMLButtonElement | null)?.focus();
      } catch (error) {
        if (error instanceof ApiError && error.status === 403 && required && error.code !== "CONFIRMATION_REQUIRED") {
          message.error(`Your role requires two-factor authentication, so it cannot be removed. (${error.message})`);
          return;
        }
        message.error(failureText(error));
        password.focus();
      }
    });
    replace(body, state(), form);
    password.focus();
  }

  overview();
  return section;
}
