// Sign-in form: posts JSON so that errors (wrong password, too many attempts with a live
// countdown) show in place; without JavaScript the form still posts and the server redirects.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const form = $("login");
  const error = $("error");
  const submit = $("submit");
  const username = $("username");
  const password = $("password");
  const code = $("code");
  const restart = $("restart");
  const title = $("title");
  const WAIT_KEY = "mss-login-wait-until";
  const params = new URLSearchParams(location.search);
  $("next").value = params.get("next") || "/";
  if (params.get("error")) showError("Wrong username or password.", null);
  if (params.get("created") === "owner") {
    // Straight from first-run setup: the owner's role asks for a second factor at this sign-in.
    const note = document.createElement("p");
    note.className = "ok";
    note.setAttribute("role", "status");
    note.textContent = "The owner account is created. Sign in with it; you will then set up two-factor authentication.";
    form.before(note);
  }

  /** Says what went wrong (read out by screen readers) and puts the cursor where it helps. */
  function showError(text, focusOn) {
    error.textContent = text;
    if (focusOn) {
      focusOn.setAttribute("aria-invalid", "true");
      focusOn.focus();
      if (typeof focusOn.select === "function") focusOn.select();
    }
  }

  function clearError() {
    error.textContent = "";
    for (const input of [username, password, code]) input.removeAttribute("aria-invalid");
  }

  // ---- Too many attempts: a live countdown; the button stays off until it ends. ----
  let waitTimer = null;

  function mmss(seconds) {
    const m = Math.floor(seconds / 60);
    const s = seconds % 60;
    return m + ":" + String(s).padStart(2, "0");
  }

  function countdown(until) {
    clearTimeout(waitTimer);
    try {
      sessionStorage.setItem(WAIT_KEY, String(until));
    } catch (_) {
      // Storage refused (private mode): the countdown still runs on this page.
    }
    submit.disabled = true;
    // The sentence is announced once; the ticking clock inside it is not (aria-live="off").
    const clock = document.createElement("span");
    clock.className = "countdown";
    clock.setAttribute("aria-live", "off");
    error.replaceChildren("Too many attempts. Try again in ", clock, ".");
    const tick = () => {
      const left = Math.ceil((until - Date.now()) / 1000);
      if (left <= 0) {
        try {
          sessionStorage.removeItem(WAIT_KEY);
        } catch (_) {
          // Nothing stored.
        }
        submit.disabled = false;
        error.textContent = "You can try again now.";
        return;
      }
      clock.textContent = mmss(left);
      // Next tick when the shown second changes.
      waitTimer = setTimeout(tick, ((until - Date.now()) % 1000 || 1000) + 5);
    };
    tick();
  }

  /** Seconds to wait, from the Retry-After header, else from the message, else a minute. */
  function retryAfter(response, answer) {
    const header = Number(response.headers.get("retry-after"));
    if (Number.isFinite(header) && header > 0) return Math.min(header, 24 * 3600);
    const inMessage = /(\d+)\s*s/.exec(String(answer.error || ""));
    return inMessage ? Number(inMessage[1]) : 60;
  }

  // A wait from before a reload still holds.
  try {
    const stored = Number(sessionStorage.getItem(WAIT_KEY));
    if (stored > Date.now()) countdown(stored);
  } catch (_) {
    // No storage: nothing to resume.
  }

  // ---- The second step: a code for an enrolled account. ----
  // After a correct password, an enrolled user gets a one-time token for the code step.
  let mfaToken = null;

  function showCodeStep(token) {
    mfaToken = token;
    $("mfa-user").textContent = username.value.trim();
    $("credentials").hidden = true;
    $("mfa").hidden = false;
    code.required = true;
    code.value = "";
    restart.hidden = false;
    title.textContent = "Enter your code";
    submit.textContent = "Verify and sign in";
    code.focus();
  }

  function leaveCodeStep() {
    mfaToken = null;
    $("credentials").hidden = false;
    $("mfa").hidden = true;
    code.required = false;
    code.value = "";
    restart.hidden = true;
    title.textContent = "Sign in to ComfyUI";
    submit.textContent = "Sign in";
  }

  restart.addEventListener("click", () => {
    leaveCodeStep();
    clearError();
    password.value = "";
    username.focus();
    username.select();
  });

  // ---- Forced enrolment: a role that requires a second factor, for a user without one. ----
  const SVG_ELEMENTS = new Set(["svg", "path", "rect", "g", "title", "desc"]);

  /**
   * The QR code the server drew (from the secret, never from user input) as a node of this
   * page: parsed as SVG, reduced to shapes (no script, links, styles or event handlers).
   */
  function qrNode(markup) {
    if (typeof markup !== "string" || markup === "") return null;
    const parsed = new DOMParser().parseFromString(markup, "image/svg+xml");
    const root = parsed.documentElement;
    if (!root || root.localName !== "svg" || parsed.getElementsByTagName("parsererror").length > 0) return null;
    for (const element of Array.from(root.querySelectorAll("*")).concat(root)) {
      if (!SVG_ELEMENTS.has(element.localName)) {
        element.remove();
        continue;
      }
      for (const attribute of Array.from(element.attributes)) {
        const name = attribute.name.toLowerCase();
        if (name.startsWith("on") || name.includes("href") || name === "style") element.removeAttribute(attribute.name);
      }
    }
    const node = document.importNode(root, true);
    node.setAttribute("role", "img");
    node.setAttribute("aria-label", "QR code to scan with your authenticator app");
    node.setAttribute("focusable", "false");
    return node;
  }

  function groupKey(secret) {
    return String(secret).replace(/(.{4})(?=.)/g, "$1 ");
  }

  async function postJson(url, body) {
    const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json", accept: "application/json" }, body: JSON.stringify(body) });
    const answer = await response.json().catch(() => ({}));
    return { response, answer };
  }

  async function startEnrolment(token, loginBody) {
    const { response, answer } = await postJson("/mss-login/api/mfa/setup", { mfa_temp_token: token });
    if (!response.ok) {
      showError(answer.error || "Two-factor setup could not start; sign in again.", password);
      submit.disabled = false;
      return;
    }
    form.hidden = true;
    const guest = document.querySelector("form[action='/login']:not(#login)");
    if (guest) guest.hidden = true;
    title.textContent = "One more step";
    $("enrol").hidden = false;
    const qr = qrNode(answer.qr_svg);
    if (qr) $("qr").replaceChildren(qr);
    else $("qr").replaceChildren("The QR code could not be shown; type the key below instead.");
    $("secret").textContent = groupKey(answer.secret || "");
    const enrolForm = $("enrol-form");
    const enrolCode = $("enrol-code");
    const enrolError = $("enrol-error");
    const enrolSubmit = $("enrol-submit");
    enrolCode.focus();
    enrolForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      enrolError.textContent = "";
      enrolCode.removeAttribute("aria-invalid");
      const value = enrolCode.value.replace(/\s+/g, "");
      if (value === "") {
        enrolError.textContent = "Enter the code your app shows.";
        enrolCode.focus();
        return;
      }
      enrolSubmit.disabled = true;
      try {
        const { response: confirmed, answer: result } = await postJson("/mss-login/api/mfa/verify-setup", { mfa_temp_token: token, code: value, remember_me: loginBody.remember_me, next: loginBody.next });
        if (!confirmed.ok) {
          if (confirmed.status === 401) {
            enrolError.textContent = (result.error || "This sign-in has expired.") + " Reload the page and sign in again.";
          } else {
            enrolError.textContent = result.error || "That code did not work; wait for the next one and try again.";
            enrolCode.setAttribute("aria-invalid", "true");
            enrolCode.select();
            enrolCode.focus();
          }
          return;
        }
        showRecovery(result);
      } catch (_) {
        enrolError.textContent = "The gateway cannot be reached. Check the connection and try again.";
      } finally {
        enrolSubmit.disabled = false;
      }
    });
  }

  function showRecovery(result) {
    $("enrol").hidden = true;
    title.textContent = "Two-factor authentication is on";
    $("recovery").hidden = false;
    const text = (result.recovery_codes || []).join("\n");
    $("recovery-codes").textContent = text;
    $("recovery-title").focus();
    $("copy-codes").addEventListener("click", async () => {
      const status = $("copy-status");
      try {
        await navigator.clipboard.writeText(text);
        status.textContent = "Copied.";
      } catch (_) {
        // No clipboard (plain HTTP): select the codes so that the user can copy them.
        const range = document.createRange();
        range.selectNodeContents($("recovery-codes"));
        const selection = getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        status.textContent = "Selected: copy them with Ctrl+C (or ⌘C).";
      }
    });
    $("continue").addEventListener("click", () => location.assign(result.redirect_url || "/"));
  }

  // ---- The sign-in itself ----
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (submit.disabled) return;
    clearError();
    if (!mfaToken && (username.value.trim() === "" || password.value === "")) {
      showError(username.value.trim() === "" ? "Enter your username." : "Enter your password.", username.value.trim() === "" ? username : password);
      return;
    }
    if (mfaToken && code.value.trim() === "") {
      showError("Enter the code from your authenticator app.", code);
      return;
    }
    submit.disabled = true;
    submit.setAttribute("aria-busy", "true");
    const body = Object.fromEntries(new FormData(form));
    const url = mfaToken ? "/mss-login/api/mfa/verify" : "/login";
    if (mfaToken) {
      body.mfa_temp_token = mfaToken;
      body.code = String(body.code || "").replace(/\s+/g, "");
    }
    try {
      const { response, answer } = await postJson(url, body);
      if (response.ok && answer.mfa_setup_required) {
        await startEnrolment(answer.mfa_temp_token, body);
        return;
      }
      if (response.ok && answer.mfa_required) {
        showCodeStep(answer.mfa_temp_token);
        submit.disabled = false;
        return;
      }
      if (response.ok) {
        try {
          sessionStorage.removeItem(WAIT_KEY);
        } catch (_) {
          // Nothing stored.
        }
        location.assign(answer.redirect_url || "/");
        return;
      }
      const wasCodeStep = mfaToken !== null;
      if (wasCodeStep) leaveCodeStep(); // The one-time token is spent: start again from the password.
      if (response.status === 429) {
        countdown(Date.now() + retryAfter(response, answer) * 1000);
        return;
      }
      if (answer.code === "INVALID_CREDENTIALS" || response.status === 401) {
        if (wasCodeStep) showError("That code was not accepted. Sign in again with your password, then enter a new code.", password);
        else showError("Wrong username or password.", password);
      } else {
        showError(answer.error || "Sign-in failed (the gateway answered " + response.status + ").", null);
      }
    } catch (_) {
      showError("The gateway cannot be reached. Check the connection and try again.", null);
    } finally {
      submit.removeAttribute("aria-busy");
    }
    submit.disabled = false;
  });
})();
