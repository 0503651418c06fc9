// Sign-in form: posts JSON so that errors (wrong password, too many attempts with a countdown)
// show in place; without JavaScript the form still posts and the server redirects.
(function () {
  const form = document.getElementById("login");
  const error = document.getElementById("error");
  const submit = document.getElementById("submit");
  const params = new URLSearchParams(location.search);
  document.getElementById("next").value = params.get("next") || "/";
  if (params.get("error")) error.textContent = "Wrong username or password.";

  function countdown(seconds) {
    submit.disabled = true;
    const tick = () => {
      if (seconds <= 0) {
        submit.disabled = false;
        error.textContent = "";
        return;
      }
      error.textContent = "Too many attempts. Try again in " + seconds + " s.";
      seconds -= 1;
      setTimeout(tick, 1000);
    };
    tick();
  }

  // After a correct password, an enrolled user gets a one-time token for the code step.
  let mfaToken = null;

  // A role that requires a second factor, for a user without one: enrol before the session starts.
  async function startEnrolment(token, loginBody) {
    const post = (url, extra) =>
      fetch(url, { method: "POST", headers: { "content-type": "application/json", accept: "application/json" }, body: JSON.stringify(Object.assign({ mfa_temp_token: token }, extra)) });
    const response = await post("/mss-login/api/mfa/setup", {});
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) {
      error.textContent = answer.error || "Two-factor setup failed; sign in again.";
      submit.disabled = false;
      return;
    }
    form.hidden = true;
    document.getElementById("enrol").hidden = false;
    // The SVG comes from our own server (drawn from the secret), not from user input.
    document.getElementById("qr").innerHTML = answer.qr_svg || "";
    document.getElementById("secret").textContent = answer.secret || "";
    const enrolForm = document.getElementById("enrol-form");
    const enrolError = document.getElementById("enrol-error");
    document.getElementById("enrol-code").focus();
    enrolForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      enrolError.textContent = "";
      const code = document.getElementById("enrol-code").value;
      const confirmed = await post("/mss-login/api/mfa/verify-setup", { code, remember_me: loginBody.remember_me, next: loginBody.next });
      const result = await confirmed.json().catch(() => ({}));
      if (!confirmed.ok) {
        enrolError.textContent = result.error || "That code did not work.";
        return;
      }
      document.getElementById("enrol").hidden = true;
      document.getElementById("recovery").hidden = false;
      document.getElementById("recovery-codes").textContent = (result.recovery_codes || []).join("\n");
      document.getElementById("continue").addEventListener("click", () => location.assign(result.redirect_url || "/"));
    });
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    submit.disabled = true;
    const body = Object.fromEntries(new FormData(form));
    const url = mfaToken ? "/mss-login/api/mfa/verify" : "/login";
    if (mfaToken) body.mfa_temp_token = mfaToken;
    try {
      const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json", accept: "application/json" }, body: JSON.stringify(body) });
      const answer = await response.json().catch(() => ({}));
      if (response.ok && answer.mfa_setup_required) {
        await startEnrolment(answer.mfa_temp_token, body);
        return;
      }
      if (response.ok && answer.mfa_required) {
        mfaToken = answer.mfa_temp_token;
        document.getElementById("mfa").hidden = false;
        document.getElementById("username").readOnly = true;
        document.getElementById("password").readOnly = true;
        document.getElementById("code").focus();
        submit.disabled = false;
        return;
      }
      if (response.ok) {
        location.assign(answer.redirect_url || "/");
        return;
      }
      if (mfaToken) {
        // The one-time token is spent: start again from the password.
        mfaToken = null;
        document.getElementById("mfa").hidden = true;
        document.getElementById("username").readOnly = false;
        document.getElementById("password").readOnly = false;
        document.getElementById("code").value = "";
      }
      if (response.status === 429) {
        countdown(Number(response.headers.get("retry-after")) || 60);
        return;
      }
      error.textContent = answer.error || "Sign-in failed.";
    } catch {
      error.textContent = "The gateway cannot be reached.";
    }
    submit.disabled = false;
  });
})();
