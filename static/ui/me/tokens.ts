/**
 * API tokens for scripts and apps: the list (label, scopes, dates), a form to make one (shown
 * once, with a ready curl line), and revoking.
 */
import { h, field, formatTime, replace, uid } from "../lib/dom.ts";
import { api, ApiError } from "../lib/api.ts";
import { confirmAction, copyButton, notify } from "../lib/ui.ts";
import { busy, card, cell, failureText, loader, markInvalid, messageLine, type MeContext } from "./parts.ts";

interface TokenRow {
  id: string;
  label: string;
  scopes: string[];
  created_at_iso: string | null;
  expires_iso: string | null;
  last_used_at_iso: string | null;
  last_used_ip: string | null;
}

interface Created {
  jwt_token: string;
  id: string;
  scopes: string[];
  expires_in_hours: number | null;
}

const LIFETIMES: { hours: number; label: string }[] = [
  { hours: 24, label: "24 hours" },
  { hours: 168, label: "7 days" },
  { hours: 720, label: "30 days" },
  { hours: 2160, label: "90 days" },
  { hours: 8760, label: "1 year" },
];

const SCOPE_TEXT: Record<string, { label: string; hint: string }> = {
  read: { label: "Read", hint: "see the queue, history, outputs and models" },
  run: { label: "Run", hint: "queue prompts, upload images, make tickets" },
  admin: { label: "Admin", hint: "manage the gateway (users, settings) through its API" },
};

function scopeBadges(scopes: string[]): HTMLElement {
  return h("span", { class: "mss-row mss-me-badges" }, scopes.length === 0 ? "—" : scopes.map((s) => h("span", { class: s === "admin" ? "mss-badge mss-badge-warn" : "mss-badge" }, s)));
}

function expiryText(iso: string | null): HTMLElement | string {
  if (iso === null) return h("span", { class: "mss-badge mss-badge-warn" }, "never");
  return formatTime(iso);
}

export function tokensCard(me: MeContext): HTMLElement {
  const { section, body } = card("API tokens", "For scripts and apps that call ComfyUI through the gateway: send the token as an “Authorization: Bearer” header.");
  const mayCreate = me.role !== "guest" && me.permissions.can_have_api_tokens !== false;
  const mayNeverExpire = me.permissions.can_have_non_expiring_jwt === true;

  const listArea = h("div", { class: "mss-me-list" });
  const listHeading = h("h3", { class: "mss-me-first", tabindex: -1 }, "Your tokens");
  const createdArea = h("div", {});
  const reload = loader(listArea, "API tokens", () => api<{ tokens: TokenRow[] }>("GET", "/mss-login/api/tokens"), ({ tokens }) => renderList(Array.isArray(tokens) ? tokens : []));

  function renderList(tokens: TokenRow[]): HTMLElement {
    if (tokens.length === 0) return h("p", { class: "mss-muted" }, mayCreate ? "You have no API tokens yet." : "You have no API tokens.");
    return h(
      "div",
      { class: "mss-table-wrap" },
      h(
        "table",
        { class: "mss-table mss-me-stack" },
        h("caption", { class: "mss-visually-hidden" }, "Your API tokens"),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Label"), h("th", { scope: "col" }, "Scopes"), h("th", { scope: "col" }, "Created"), h("th", { scope: "col" }, "Expires"), h("th", { scope: "col" }, "Last used"), h("th", { scope: "col" }, h("span", { class: "mss-visually-hidden" }, "Actions")))),
        h(
          "tbody",
          {},
          tokens.map((token) =>
            h(
              "tr",
              {},
              cell("Label", h("strong", {}, token.label)),
              cell("Scopes", scopeBadges(Array.isArray(token.scopes) ? token.scopes : [])),
              cell("Created", formatTime(token.created_at_iso)),
              cell("Expires", expiryText(token.expires_iso)),
              cell("Last used", token.last_used_at_iso ? `${formatTime(token.last_used_at_iso)}${token.last_used_ip ? ` from ${token.last_used_ip}` : ""}` : "never"),
              cell("", h("button", { type: "button", class: "mss-btn mss-danger", "aria-label": `Revoke token “${token.label}”`, onclick: (event: Event) => void revoke(token, event.currentTarget as HTMLButtonElement) }, "Revoke")),
            ),
          ),
        ),
      ),
    );
  }

  async function revoke(token: TokenRow, button: HTMLButtonElement): Promise<void> {
    const sure = await confirmAction("Revoke this token?", `Scripts using “${token.label}” stop working at once. This cannot be undone.`, "Revoke", true);
    if (!sure) {
      button.focus();
      return;
    }
    try {
      await busy(button, "Revoking…", () => api("DELETE", "/mss-login/api/tokens", { id: token.id }));
      notify(`Token “${token.label}” revoked.`, "ok");
    } catch (error) {
      notify(`Could not revoke “${token.label}”: ${failureText(error)}`, "error");
    }
    await reload();
    (listArea.querySelector("button.mss-danger") as HTMLButtonElement | null ?? listHeading).focus();
  }

  function showCreated(created: Created, label: string): void {
    const origin = location.origin;
    const curl = `curl -H "Authorization: Bearer ${created.jwt_token}" ${origin}/api/queue`;
    const heading = h("h3", { tabindex: -1 }, `New token “${label}”`);
    const tokenId = uid("me-token");
    replace(
      createdArea,
      h(
        "div",
        { class: "mss-me-once", role: "region", "aria-label": "New API token" },
        heading,
        h("p", {}, h("strong", {}, "Copy it now: it will not be shown again."), " Store it like a password; anyone holding it acts as you within its scopes."),
        h("code", { class: "mss-secret", id: tokenId }, created.jwt_token),
        h("div", { class: "mss-row mss-me-copy" }, copyButton(created.jwt_token, "Copy token")),
        h("p", { class: "mss-me-subhead" }, "Try it:"),
        h("code", { class: "mss-secret" }, curl),
        h("div", { class: "mss-row mss-me-copy" }, copyButton(curl, "Copy curl command")),
        h(
          "p",
          { class: "mss-muted" },
          `Scopes: ${created.scopes.join(", ")}. `,
          created.expires_in_hours === null ? "It never expires." : `It expires in ${created.expires_in_hours} hours.`,
        ),
        h("div", { class: "mss-actions mss-me-actions-start" }, h("button", { type: "button", class: "mss-btn", onclick: () => { replace(createdArea); (section.querySelector("input") as HTMLInputElement | null)?.focus(); } }, "Done, hide it")),
      ),
    );
    heading.focus();
  }

  function createForm(): HTMLElement {
    const label = h("input", { type: "text", name: "label", required: true, maxlength: 100, autocomplete: "off", placeholder: "e.g. laptop script" });
    const lifetime = h(
      "select",
      { name: "expire_hours" },
      LIFETIMES.map((option) => h("option", { value: option.hours, selected: option.hours === 720 }, option.label)),
      mayNeverExpire ? h("option", { value: 0 }, "Never (not recommended)") : null,
    );
    const scopeNames = me.isAdmin ? ["read", "run", "admin"] : ["read", "run"];
    const boxes = scopeNames.map((scope) => {
      const id = uid("me-scope");
      const box = h("input", { type: "checkbox", id, name: "scopes", value: scope, checked: scope !== "admin" });
      const text = SCOPE_TEXT[scope]!;
      return { box, row: h("div", { class: "mss-me-check" }, box, h("label", { for: id }, h("strong", {}, text.label), h("span", { class: "mss-muted" }, ` — ${text.hint}`))) };
    });
    const scopesSet = h("fieldset", { class: "mss-me-fieldset" }, h("legend", {}, "Scopes"), boxes.map((b) => b.row));
    const submit = h("button", { type: "submit", class: "mss-btn mss-primary" }, "Create token");
    const message = messageLine();
    const form = h(
      "form",
      { class: "mss-me-form", novalidate: true },
      h("h3", {}, "New token"),
      h("div", { class: "mss-me-form-row" }, field("Label", label, "What uses it, so you know what to revoke later."), field("Expires after", lifetime)),
      scopesSet,
      message.element,
      h("div", { class: "mss-actions mss-me-actions-start" }, submit),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      message.clear();
      markInvalid(label, false);
      const name = label.value.trim();
      const scopes = boxes.filter((b) => b.box.checked).map((b) => b.box.value);
      if (name === "") {
        markInvalid(label, true);
        message.error("Give the token a label.");
        label.focus();
        return;
      }
      if (scopes.length === 0) {
        message.error("Choose at least one scope.");
        boxes[0]?.box.focus();
        return;
      }
      try {
        const created = await busy(submit, "Creating…", () => api<Created>("POST", "/mss-login/generate_token", { label: name, expire_hours: lifetime.value, scopes: scopes.join(" ") }));
        form.reset();
        showCreated(created, name);
        void reload();
      } catch (error) {
        if (error instanceof ApiError && error.code === "TOKENS_NOT_ALLOWED") {
          message.error("Your role cannot have API tokens. Ask an administrator if you need one.");
          return;
        }
        message.error(failureText(error));
        if (error instanceof ApiError && error.code === "BAD_LABEL") label.focus();
      }
    });
    return form;
  }

  body.append(
    createdArea,
    listHeading,
    listArea,
    mayCreate ? createForm() : h("p", { class: "mss-me-note" }, me.role === "guest" ? "Guests cannot have API tokens." : "Your role cannot have API tokens. Ask an administrator if you need one."),
  );
  void reload();
  return section;
}
