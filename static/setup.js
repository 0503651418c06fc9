// First-run form: the token comes from the link printed on the console.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const token = new URLSearchParams(location.search).get("token") || "";
  $("token").value = token;
  if (token === "") $("no-token").hidden = false;
  const form = $("setup");
  const error = $("error");
  const submit = $("submit");
  const username = $("username");
  const password = $("password");
  const repeat = $("password-repeat");

  function fail(text, input) {
    error.textContent = text;
    if (input) {
      input.setAttribute("aria-invalid", "true");
      input.focus();
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    for (const input of [username, password, repeat]) input.removeAttribute("aria-invalid");
    if (password.value !== repeat.value) {
      fail("The two passwords are not the same.", repeat);
      return;
    }
    submit.disabled = true;
    submit.setAttribute("aria-busy", "true");
    try {
      const fields = Object.fromEntries(new FormData(form));
      delete fields.password_repeat;
      const response = await fetch("/setup", { method: "POST", headers: { "content-type": "application/json", accept: "application/json" }, body: JSON.stringify(fields) });
      const answer = await response.json().catch(() => ({}));
      if (response.ok) {
        location.assign(answer.redirect_url || "/");
        return;
      }
      const code = String(answer.code || "");
      const target = code.startsWith("USERNAME") ? username : code.startsWith("PASSWORD") ? password : null;
      fail(answer.error || "Setup failed (the gateway answered " + response.status + ").", target);
    } catch (_) {
      fail("The gateway cannot be reached. Check that it is running and try again.", null);
    } finally {
      submit.removeAttribute("aria-busy");
    }
    submit.disabled = false;
  });
})();
