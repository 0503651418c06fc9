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

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    submit.disabled = true;
    const body = Object.fromEntries(new FormData(form));
    try {
      const response = await fetch("/login", { method: "POST", headers: { "content-type": "application/json", accept: "application/json" }, body: JSON.stringify(body) });
      const answer = await response.json().catch(() => ({}));
      if (response.ok) {
        location.assign(answer.redirect_url || "/");
        return;
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
