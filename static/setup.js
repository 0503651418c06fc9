// First-run form: the token comes from the link printed on the console.
(function () {
  document.getElementById("token").value = new URLSearchParams(location.search).get("token") || "";
  const form = document.getElementById("setup");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = document.getElementById("error");
    error.textContent = "";
    const response = await fetch("/setup", { method: "POST", headers: { "content-type": "application/json", accept: "application/json" }, body: JSON.stringify(Object.fromEntries(new FormData(form))) });
    const answer = await response.json().catch(() => ({}));
    if (response.ok) location.assign(answer.redirect_url || "/");
    else error.textContent = answer.error || "Setup failed.";
  });
})();
