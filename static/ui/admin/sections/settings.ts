/**
 * Settings: the gateway settings an administrator may change at run time
 * (`GET /mss-login/api/settings`), as a form grouped like the server groups them. Values set by
 * an environment variable or a command-line flag are shown locked; owner-only ones are locked for
 * admins. Changed values collect until one Save (`PUT /mss-login/api/settings {values}` with only
 * the changed keys); "Reset to default" drops a stored value (`{reset: [key]}`). A refusal that
 * names a field is shown under that field.
 */
import { api, ApiError } from "../../lib/api.ts";
import { h, replace, uid } from "../../lib/dom.ts";
import { confirmAction, notify } from "../../lib/ui.ts";
import { badge, type BadgeKind, loadFirst, outcomeLine, plural, setFieldError } from "../parts.ts";
import type { AdminContext, AdminSection } from "../section.ts";
import type { SettingView } from "../../../../src/settings/service.ts";

/** One setting as `GET /mss-login/api/settings` describes it. */
type SettingItem = SettingView;

const SOURCE_BADGE: Record<SettingItem["source"], { text: string; kind: BadgeKind }> = {
  default: { text: "default", kind: undefined },
  config: { text: "from config.json", kind: undefined },
  admin: { text: "changed here", kind: "info" },
  env: { text: "environment variable", kind: "warn" },
  flag: { text: "command-line flag", kind: "warn" },
};

export const settingsSection: AdminSection = {
  id: "settings",
  label: "Settings",
  order: 40,
  render: (container, context) => renderSettings(container, context),
};

/** The form's text for a value. */
function asText(value: unknown): string {
  return value === null || value === undefined ? "" : String(value);
}

function withUnit(value: unknown, unit: string | undefined): string {
  if (typeof value === "boolean") return value ? "on" : "off";
  const text = asText(value);
  if (text === "") return "(empty)";
  return unit ? `${text} ${unit}` : text;
}

/** Checks an entry like the server's schema does; returns the value to send or the problem. */
function parse(setting: SettingItem, raw: string | boolean): { ok: true; value: unknown } | { ok: false; problem: string } {
  if (setting.type === "boolean") return { ok: true, value: raw === true };
  const text = String(raw).trim();
  if (setting.type === "integer") {
    if (!/^-?\d+$/.test(text)) return { ok: false, problem: "Enter a whole number." };
    const number = Number(text);
    const unit = setting.unit ? ` ${setting.unit}` : "";
    const range = setting.min !== undefined && setting.max !== undefined ? `Use ${setting.min} to ${setting.max}${unit}.` : null;
    if (setting.min !== undefined && number < setting.min) return { ok: false, problem: range ?? `Use at least ${setting.min}${unit}.` };
    if (setting.max !== undefined && number > setting.max) return { ok: false, problem: range ?? `Use at most ${setting.max}${unit}.` };
    return { ok: true, value: number };
  }
  if (setting.options && !setting.options.includes(text)) return { ok: false, problem: `Choose one of ${setting.options.join(", ")}.` };
  return { ok: true, value: text };
}

async function renderSettings(container: HTMLElement, context: AdminContext): Promise<void> {
  const loaded = await loadFirst<SettingItem[]>(container, { loading: "Loading settings…", failed: "Could not load the settings" }, async () => (await api<{ settings: SettingItem[] }>("GET", "/mss-login/api/settings")).settings, () => void renderSettings(container, context));
  if (loaded === null) return;
  let settings: SettingItem[] = loaded;
  const isOwner = context.me.role === "owner";
  /** Entries that differ from the stored value (raw: what the control holds). */
  const draft = new Map<string, string | boolean>();
  const controls = new Map<string, HTMLInputElement | HTMLSelectElement>();
  const outcome = outcomeLine();
  const form = h("form", { class: "mss-settings-form", novalidate: true });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void save();
  });

  const editable = (setting: SettingItem) => !setting.locked && (isOwner || !setting.owner_only);

  // ----- the save bar -----
  const counter = h("p", { class: "mss-savebar-count", "aria-live": "polite", tabindex: "-1" });
  const saveButton = h("button", { type: "submit", class: "mss-btn mss-primary" }, "Save");
  const discardButton = h("button", { type: "button", class: "mss-btn" }, "Discard");
  discardButton.addEventListener("click", () => void discard());

  function updateBar(): void {
    const count = draft.size;
    counter.textContent = count === 0 ? "No unsaved changes" : plural(count, "unsaved change");
    counter.classList.toggle("mss-savebar-dirty", count > 0);
    saveButton.disabled = count === 0;
    discardButton.disabled = count === 0;
    context.setUnsaved(count === 0 ? null : plural(count, "unsaved setting change"));
  }

  function noteEntry(setting: SettingItem, raw: string | boolean, showProblem: boolean): void {
    const control = controls.get(setting.key);
    if (control === undefined) return;
    const same = setting.type === "boolean" ? raw === setting.value : String(raw).trim() === asText(setting.value);
    if (same) draft.delete(setting.key);
    else draft.set(setting.key, raw);
    control.closest(".mss-setting")?.classList.toggle("mss-changed", !same);
    const checked = parse(setting, raw);
    if (checked.ok) setFieldError(control, null);
    else if (showProblem) setFieldError(control, checked.problem);
    updateBar();
  }

  function settingControl(setting: SettingItem): HTMLElement {
    const id = uid("mss-setting");
    const hintId = `${id}-hint`;
    const allowed = editable(setting);
    const raw = draft.get(setting.key);
    let control: HTMLInputElement | HTMLSelectElement;
    if (setting.type === "boolean") {
      control = h("input", { type: "checkbox", id, checked: raw === undefined ? setting.value === true : raw === true, disabled: !allowed, "aria-describedby": hintId, "data-focus-key": setting.key });
      control.addEventListener("change", () => noteEntry(setting, (control as HTMLInputElement).checked, true));
    } else if (setting.options && setting.options.length > 0) {
      const current = raw === undefined ? asText(setting.value) : String(raw);
      control = h("select", { id, disabled: !allowed, "aria-describedby": hintId, "data-focus-key": setting.key }, setting.options.map((option) => h("option", { value: option, selected: option === current }, option)));
      control.addEventListener("change", () => noteEntry(setting, control.value, true));
    } else {
      const integer = setting.type === "integer";
      control = h("input", {
        id,
        type: integer ? "number" : "text",
        inputmode: integer ? "numeric" : null,
        step: integer ? 1 : null,
        min: integer ? (setting.min ?? null) : null,
        max: integer ? (setting.max ?? null) : null,
        value: raw === undefined ? asText(setting.value) : String(raw),
        disabled: !allowed,
        spellcheck: "false",
        autocomplete: "off",
        class: integer ? "mss-input-number" : null,
        "aria-describedby": hintId,
        "data-focus-key": setting.key,
      });
      control.addEventListener("input", () => noteEntry(setting, control.value, false));
      control.addEventListener("change", () => noteEntry(setting, control.value, true));
    }
    controls.set(setting.key, control);

    const source = SOURCE_BADGE[setting.source];
    const notes = [
      setting.locked ? h("p", { class: "mss-setting-lock" }, setting.source === "env" ? "Set by an environment variable: cannot be changed here." : "Set by a command-line flag: cannot be changed here.") : null,
      !setting.locked && setting.owner_only && !isOwner ? h("p", { class: "mss-setting-lock" }, "Only the owner can change this.") : null,
    ];
    const reset =
      setting.source === "admin" && allowed
        ? h("button", { type: "button", class: "mss-btn mss-btn-sm", "aria-label": `Reset to default: ${setting.label}`, "data-focus-key": `${setting.key}:reset`, onclick: () => void resetOne(setting) }, "Reset to default")
        : null;
    const labelText = setting.unit && setting.type !== "boolean" ? `${setting.label} (${setting.unit})` : setting.label;
    const label = h("label", { for: id, class: "mss-setting-label" }, labelText);
    const controlLine =
      setting.type === "boolean"
        ? h("div", { class: "mss-check-line" }, control, label)
        : h("div", {}, label, h("div", { class: "mss-setting-input" }, control, setting.unit ? h("span", { class: "mss-muted", "aria-hidden": "true" }, setting.unit) : null));
    return h(
      "div",
      { class: `mss-field mss-setting${draft.has(setting.key) ? " mss-changed" : ""}`, "data-setting": setting.key },
      controlLine,
      h("p", { class: "mss-hint", id: hintId }, setting.description),
      h(
        "div",
        { class: "mss-setting-meta" },
        badge(source.text, source.kind),
        setting.applies === "restart" ? badge("applies at restart", "warn") : null,
        setting.owner_only ? badge("owner only") : null,
        h("span", { class: "mss-muted" }, `Default: ${withUnit(setting.default, setting.unit)}`),
        reset,
      ),
      notes,
    );
  }

  function draw(): void {
    controls.clear();
    const groups = new Map<string, SettingItem[]>();
    for (const setting of settings) {
      const list = groups.get(setting.group) ?? [];
      list.push(setting);
      groups.set(setting.group, list);
    }
    const active = document.activeElement instanceof HTMLElement ? document.activeElement.dataset.focusKey : undefined;
    replace(
      form,
      [...groups].map(([group, list]) => h("fieldset", { class: "mss-card mss-settings-group" }, h("legend", {}, group), list.map(settingControl))),
      h("div", { class: "mss-savebar" }, outcome.element, counter, h("div", { class: "mss-row" }, discardButton, saveButton)),
    );
    for (const [key, raw] of draft) {
      const setting = settings.find((candidate) => candidate.key === key);
      const control = controls.get(key);
      if (setting && control) {
        const checked = parse(setting, raw);
        if (!checked.ok) setFieldError(control, checked.problem);
      }
    }
    if (active) form.querySelector<HTMLElement>(`[data-focus-key="${CSS.escape(active)}"]`)?.focus();
    updateBar();
  }

  async function discard(): Promise<void> {
    if (!(await confirmAction("Discard the changes?", `${plural(draft.size, "unsaved change")} will be lost.`, "Discard", true))) return;
    draft.clear();
    outcome.clear();
    draw();
    counter.focus();
  }

  /** A refusal naming a setting goes under that setting; every refusal goes to the outcome line too. */
  function showRefusal(context: string, error: unknown): void {
    outcome.error(context, error);
    const key = error instanceof ApiError ? error.field : undefined;
    const control = key === undefined ? undefined : controls.get(key);
    if (control !== undefined && error instanceof ApiError) {
      setFieldError(control, error.message);
      control.focus();
    }
  }

  async function save(): Promise<void> {
    if (draft.size === 0) return;
    outcome.clear();
    const values: Record<string, unknown> = {};
    let firstBad: HTMLElement | null = null;
    for (const setting of settings) {
      const raw = draft.get(setting.key);
      if (raw === undefined) continue;
      const checked = parse(setting, raw);
      const control = controls.get(setting.key);
      if (!checked.ok) {
        if (control) setFieldError(control, checked.problem);
        firstBad ??= control ?? null;
        continue;
      }
      values[setting.key] = checked.value;
    }
    if (firstBad !== null) {
      outcome.error("Nothing was saved", new Error("Correct the values marked below."));
      firstBad.focus();
      return;
    }
    saveButton.disabled = true;
    try {
      const answer = await api<{ settings: SettingItem[] }>("PUT", "/mss-login/api/settings", { values });
      const restart = settings.some((setting) => setting.key in values && setting.applies === "restart");
      settings = answer.settings;
      draft.clear();
      draw();
      notify(`Settings saved (${plural(Object.keys(values).length, "value")}).`, "ok");
      outcome.ok(restart ? "Saved. Some changes apply when the gateway restarts." : "Saved. The changes apply now.");
      counter.focus();
    } catch (error) {
      showRefusal("Nothing was saved", error);
      saveButton.disabled = false;
    }
  }

  async function resetOne(setting: SettingItem): Promise<void> {
    outcome.clear();
    try {
      const answer = await api<{ settings: SettingItem[] }>("PUT", "/mss-login/api/settings", { reset: [setting.key] });
      settings = answer.settings;
      draft.delete(setting.key);
      draw();
      const now = settings.find((candidate) => candidate.key === setting.key);
      notify(`${setting.label} is back to ${withUnit(now?.value, now?.unit)}.`, "ok");
      controls.get(setting.key)?.focus();
    } catch (error) {
      showRefusal(`Could not reset ${setting.label}`, error);
    }
  }

  replace(
    container,
    h("p", { class: "mss-muted mss-section-intro" }, "Settings stored here override config.json; environment variables and command-line flags override both."),
    form,
  );
  draw();
}
