/**
 * IP rules: the allow list (one address or CIDR range per line), the deny list (a table with a
 * Remove button per entry and an "Add" row with a duration) and the locked devices, saved
 * together with one Save button (`GET`/`PUT /mss-login/api/ip-lists`, a full replace; the contract
 * is src/ipfilter/routes.ts). A refused set (400 `BAD_IP_RULE`) is shown with every problem; a set
 * that would refuse the admin's own address (409 `WOULD_LOCK_YOU_OUT`) with the server's message.
 * Deny entries that expire are sent back with their own end (expires_at), so saving never changes it.
 */
import { api, ApiError } from "../../lib/api.ts";
import { field, h, replace, uid } from "../../lib/dom.ts";
import { confirmAction, notify } from "../../lib/ui.ts";
import { badge, focusByKey, keepingFocus, loadFirst, outcomeLine, plural, setFieldError } from "../parts.ts";
import type { AdminContext, AdminSection } from "../section.ts";

/** One deny entry of `GET /mss-login/api/ip-lists`. */
interface DenyEntry {
  ip: string;
  permanent: boolean;
  /** Epoch seconds. */
  expires_at?: number;
  reason: string;
}

interface LockedDevice {
  device_id: string;
  permanent: boolean;
  expires_at?: number;
  reason: string;
}

interface IpLists {
  whitelist: string[];
  blacklist: DenyEntry[];
  locked_devices?: LockedDevice[];
  your_ip: string;
}

/** A deny entry as the section holds it: a stored one, or one added here (its hours count from saving). */
interface DraftDeny extends DenyEntry {
  key: string;
  added_hours?: number | null;
}

const PATH = "/mss-login/api/ip-lists";
const DURATIONS: { value: string; label: string; hours: number | null }[] = [
  { value: "permanent", label: "Permanent", hours: null },
  { value: "1", label: "1 hour", hours: 1 },
  { value: "24", label: "24 hours", hours: 24 },
  { value: "168", label: "7 days", hours: 168 },
];

export const ipRulesSection: AdminSection = {
  id: "ip-rules",
  label: "IP rules",
  order: 46,
  render: (container, context) => renderIpRules(container, context),
};

/** The allow list's lines that hold an entry, with their line numbers (1-based). */
function allowLines(text: string): { entry: string; line: number }[] {
  return text
    .split("\n")
    .map((raw, index) => ({ entry: raw.trim(), line: index + 1 }))
    .filter((item) => item.entry !== "");
}

const untilText = (seconds: number): string => new Date(seconds * 1000).toLocaleString();

async function renderIpRules(container: HTMLElement, context: AdminContext): Promise<void> {
  const loaded = await loadFirst<IpLists>(container, { loading: "Loading the IP rules…", failed: "Could not load the IP rules" }, () => api<IpLists>("GET", PATH), () => void renderIpRules(container, context));
  if (loaded === null) return;
  let lists: IpLists = loaded;
  let keyCounter = 0;
  const nextKey = () => `deny-${++keyCounter}`;
  /** What is stored: the draft is compared with it for the unsaved-changes marker. */
  let saved = { allow: lists.whitelist.slice(), deny: lists.blacklist.map((entry) => ({ ...entry, key: nextKey() }) as DraftDeny), devices: (lists.locked_devices ?? []).slice() };
  let deny: DraftDeny[] = saved.deny.slice();
  let devices: LockedDevice[] = saved.devices.slice();
  const outcome = outcomeLine();

  // ----- the allow list -----
  const allowArea = h("textarea", { rows: 6, spellcheck: "false", autocomplete: "off", class: "mss-ip-allow", "data-focus-key": "allow" });
  allowArea.value = lists.whitelist.join("\n");
  allowArea.addEventListener("input", () => updateBar());

  // ----- the deny list -----
  const denyBody = h("div", { class: "mss-table-wrap" });
  const addInput = h("input", { type: "text", spellcheck: "false", autocomplete: "off", placeholder: "203.0.113.7 or 203.0.113.0/24", class: "mss-ip-address", "data-focus-key": "add-ip" });
  const addDuration = h(
    "select",
    { "data-focus-key": "add-duration" },
    DURATIONS.map((option) => h("option", { value: option.value }, option.label)),
  );
  const addButton = h("button", { type: "submit", class: "mss-btn" }, "Add");
  const addForm = h(
    "form",
    { class: "mss-ip-add", novalidate: true, "aria-label": "Add a deny entry" },
    field("Address or CIDR range", addInput),
    field("Duration", addDuration),
    h("div", { class: "mss-ip-add-button" }, addButton),
  );
  addForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const ip = addInput.value.trim();
    if (ip === "") {
      setFieldError(addInput, "Type an address or a CIDR range.");
      addInput.focus();
      return;
    }
    if (deny.some((entry) => entry.ip === ip)) {
      setFieldError(addInput, `${ip} is already in the deny list.`);
      addInput.focus();
      return;
    }
    setFieldError(addInput, null);
    const hours = DURATIONS.find((option) => option.value === addDuration.value)?.hours ?? null;
    deny.push({ ip, permanent: hours === null, reason: "manual", key: nextKey(), added_hours: hours });
    addInput.value = "";
    drawDeny();
    updateBar();
    addInput.focus();
  });

  function whenText(entry: DraftDeny): Node | string {
    if (entry.added_hours !== undefined) {
      const chosen = DURATIONS.find((option) => option.hours === entry.added_hours);
      return h("span", {}, badge("new", "info"), " ", entry.added_hours === null ? "Permanent" : `For ${chosen?.label ?? `${entry.added_hours} hours`} from saving`);
    }
    return entry.permanent || entry.expires_at === undefined ? "Permanent" : `Until ${untilText(entry.expires_at)}`;
  }

  function drawDeny(): void {
    keepingFocus(denyBody, () =>
      replace(
        denyBody,
        deny.length === 0
          ? h("p", { class: "mss-muted" }, "No address is denied.")
          : h(
              "table",
              { class: "mss-table mss-table-cards mss-ip-deny" },
              h("caption", { class: "mss-visually-hidden" }, "Deny list"),
              h("thead", {}, h("tr", {}, ["Address", "Ends", "Reason", "Actions"].map((title) => h("th", { scope: "col" }, title)))),
              h(
                "tbody",
                {},
                deny.map((entry) => {
                  const remove = h("button", { type: "button", class: "mss-btn mss-btn-sm", "aria-label": `Remove ${entry.ip} from the deny list`, "data-focus-key": `remove:${entry.key}` }, "Remove");
                  remove.addEventListener("click", () => {
                    const index = deny.indexOf(entry);
                    deny = deny.filter((candidate) => candidate !== entry);
                    drawDeny();
                    updateBar();
                    const after = deny[index] ?? deny[index - 1];
                    focusByKey(denyBody, after ? `remove:${after.key}` : undefined, addInput);
                  });
                  return h(
                    "tr",
                    { "data-ip": entry.ip },
                    h("th", { scope: "row" }, h("code", {}, entry.ip)),
                    h("td", { "data-label": "Ends" }, whenText(entry)),
                    h("td", { "data-label": "Reason" }, entry.reason),
                    h("td", { class: "mss-cell-wide" }, remove),
                  );
                }),
              ),
            ),
      ),
    );
  }

  // ----- locked devices -----
  const devicesCard = h("div", { class: "mss-card" });
  function drawDevices(): void {
    devicesCard.hidden = saved.devices.length === 0;
    keepingFocus(devicesCard, () =>
      replace(
        devicesCard,
        h("h3", { class: "mss-card-title" }, "Locked devices"),
        devices.length === 0
          ? h("p", { class: "mss-muted" }, "No device is locked.")
          : h(
              "ul",
              { class: "mss-ip-devices" },
              devices.map((device) => {
                const remove = h("button", { type: "button", class: "mss-btn mss-btn-sm", "aria-label": `Remove the lock on device ${device.device_id}`, "data-focus-key": `device:${device.device_id}` }, "Remove");
                remove.addEventListener("click", () => {
                  devices = devices.filter((candidate) => candidate !== device);
                  drawDevices();
                  updateBar();
                  focusByKey(devicesCard, devices[0] ? `device:${devices[0].device_id}` : undefined, saveButton);
                });
                return h(
                  "li",
                  { "data-device": device.device_id },
                  h("code", {}, device.device_id),
                  h("span", { class: "mss-muted" }, ` ${device.permanent || device.expires_at === undefined ? "permanent" : `until ${untilText(device.expires_at)}`} · ${device.reason}`),
                  remove,
                );
              }),
            ),
      ),
    );
  }

  // ----- the save bar -----
  const counter = h("p", { class: "mss-savebar-count", "aria-live": "polite", tabindex: "-1" });
  const saveButton = h("button", { type: "button", class: "mss-btn mss-primary" }, "Save");
  const discardButton = h("button", { type: "button", class: "mss-btn" }, "Discard");
  saveButton.addEventListener("click", () => void save());
  discardButton.addEventListener("click", () => void discard());

  function changeCount(): number {
    const allowNow = new Set(allowLines(allowArea.value).map((item) => item.entry));
    const allowThen = new Set(saved.allow);
    let count = 0;
    for (const entry of allowNow) if (!allowThen.has(entry)) count += 1;
    for (const entry of allowThen) if (!allowNow.has(entry)) count += 1;
    count += deny.filter((entry) => !saved.deny.includes(entry)).length + saved.deny.filter((entry) => !deny.includes(entry)).length;
    count += saved.devices.length - devices.length;
    return count;
  }

  function updateBar(): void {
    const count = changeCount();
    counter.textContent = count === 0 ? "No unsaved changes" : plural(count, "unsaved change");
    counter.classList.toggle("mss-savebar-dirty", count > 0);
    saveButton.disabled = count === 0;
    discardButton.disabled = count === 0;
    context.setUnsaved(count === 0 ? null : plural(count, "unsaved IP rule change"));
  }

  /** The server's problems in words: `whitelist[2]` is line 3 of the allow list, `blacklist[0]` the deny entry it names. */
  function problemText(problem: string, sentAllow: { entry: string; line: number }[], sentDeny: DraftDeny[]): string {
    return problem
      .replace(/^whitelist\[(\d+)\]:?/, (_, index: string) => `Allow list, line ${sentAllow[Number(index)]?.line ?? Number(index) + 1}:`)
      .replace(/^blacklist\[(\d+)\](?: \([^)]*\))?(\.expires_(?:in_hours|at))?:?/, (_, index: string, hours?: string) => `Deny list, ${sentDeny[Number(index)]?.ip ?? `entry ${Number(index) + 1}`}${hours ? " (duration)" : ""}:`);
  }

  function showProblems(title: string, problems: string[]): void {
    outcome.element.replaceChildren(h("div", { class: "mss-alert", role: "alert" }, h("p", {}, h("strong", {}, title)), h("ul", { class: "mss-ip-problems" }, problems.map((problem) => h("li", {}, problem)))));
  }

  async function save(): Promise<void> {
    outcome.clear();
    setFieldError(allowArea, null);
    const sentAllow = allowLines(allowArea.value);
    const sentDeny = deny.slice();
    const nowSeconds = Date.now() / 1000;
    const body: Record<string, unknown> = {
      whitelist: sentAllow.map((item) => item.entry),
      blacklist: sentDeny.map((entry) => {
        if (entry.added_hours !== undefined) return entry.added_hours === null ? { ip: entry.ip, permanent: true, reason: entry.reason } : { ip: entry.ip, permanent: false, expires_in_hours: entry.added_hours, reason: entry.reason };
        if (entry.permanent || entry.expires_at === undefined) return { ip: entry.ip, permanent: true, reason: entry.reason };
        // The ban's own end, unchanged by saving.
        return { ip: entry.ip, permanent: false, expires_at: entry.expires_at, reason: entry.reason };
      }),
    };
    // Device locks are sent only when one was removed (each keeps its own end).
    if (devices.length !== saved.devices.length) body.locked_devices = devices.map((device) => (device.permanent || device.expires_at === undefined ? device.device_id : { device_id: device.device_id, expires_at: device.expires_at }));
    saveButton.disabled = true;
    saveButton.textContent = "Saving…";
    try {
      await api("PUT", PATH, body);
    } catch (error) {
      saveButton.textContent = "Save";
      updateBar();
      if (error instanceof ApiError && error.code === "BAD_IP_RULE" && Array.isArray(error.body.problems)) {
        const problems = (error.body.problems as unknown[]).map((problem) => problemText(String(problem), sentAllow, sentDeny));
        showProblems(`Nothing was saved: ${plural(problems.length, "problem")}`, problems);
        const allowProblems = problems.filter((problem) => problem.startsWith("Allow list"));
        if (allowProblems.length > 0) {
          setFieldError(allowArea, allowProblems.join(" "));
          allowArea.focus();
        }
      } else {
        outcome.error("Nothing was saved", error);
      }
      return;
    }
    saveButton.textContent = "Save";
    notify("The IP rules are saved.", "ok");
    await reload();
    outcome.ok("The IP rules are saved and apply at once.");
    counter.focus();
  }

  async function reload(): Promise<void> {
    try {
      lists = await api<IpLists>("GET", PATH);
    } catch (error) {
      outcome.error("Saved, but could not read the lists again", error);
      return;
    }
    saved = { allow: lists.whitelist.slice(), deny: lists.blacklist.map((entry) => ({ ...entry, key: nextKey() }) as DraftDeny), devices: (lists.locked_devices ?? []).slice() };
    deny = saved.deny.slice();
    devices = saved.devices.slice();
    allowArea.value = lists.whitelist.join("\n");
    yourIp.textContent = lists.your_ip;
    drawDeny();
    drawDevices();
    updateBar();
  }

  async function discard(): Promise<void> {
    if (!(await confirmAction("Discard the changes?", `${plural(changeCount(), "unsaved change")} will be lost.`, "Discard", true))) return;
    outcome.clear();
    setFieldError(allowArea, null);
    setFieldError(addInput, null);
    deny = saved.deny.slice();
    devices = saved.devices.slice();
    allowArea.value = saved.allow.join("\n");
    drawDeny();
    drawDevices();
    updateBar();
    counter.focus();
  }

  const yourIp = h("code", { "data-your-ip": "" }, lists.your_ip);
  const allowId = uid("mss-ip-allow");
  allowArea.id = allowId;
  replace(
    container,
    h(
      "div",
      { class: "mss-section-intro" },
      h(
        "p",
        { class: "mss-muted" },
        "An address on the allow list is always let in. Otherwise an address on the deny list is refused. As soon as the allow list holds any entry, every address not on it is refused. The machine itself (127.0.0.1 and ::1) is never refused. Changes apply at once when saved.",
      ),
      h("p", {}, "Your address: ", yourIp),
    ),
    h(
      "div",
      { class: "mss-card" },
      h("h3", { class: "mss-card-title" }, "Allow list"),
      field("Allowed addresses and ranges", allowArea, "One IPv4 or IPv6 address or CIDR range per line, e.g. 192.168.1.0/24. Empty: no allow list."),
    ),
    h(
      "div",
      { class: "mss-card" },
      h("h3", { class: "mss-card-title" }, "Deny list"),
      denyBody,
      h("h4", { class: "mss-ip-add-title" }, "Add a deny entry"),
      addForm,
    ),
    devicesCard,
    h("div", { class: "mss-savebar" }, outcome.element, counter, h("div", { class: "mss-row" }, discardButton, saveButton)),
  );
  drawDeny();
  drawDevices();
  updateBar();
}
