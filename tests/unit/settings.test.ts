// The run-time settings: the catalogue against the config schema, the layering (defaults <
// config.json < stored < env < flags), and the service's all-or-nothing changes.
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createAuthentication } from "../../src/auth/index.ts";
import { DEFAULT_REGULATION, Regulator } from "../../src/auth/regulation.ts";
import { createUser } from "../../src/auth/users.ts";
import { createLogger } from "../../src/log.ts";
import { loadConfig, SETTINGS, type LoadedConfig } from "../../src/config/index.ts";
import type { OpenDatabase } from "../../src/db/index.ts";
import { EDITABLE_SETTINGS } from "../../src/settings/catalogue.ts";
import { layerSettings } from "../../src/settings/layers.ts";
import { createGatewaySettings } from "../../src/settings/service.ts";
import { useTempDataDir } from "../support/temp-database.ts";

const temp = useTempDataDir("mss-settings-");
const open = (): OpenDatabase => temp.open();

function load(options: { file?: Record<string, unknown>; env?: Record<string, string>; flags?: string[] } = {}): LoadedConfig {
  if (options.file !== undefined) writeFileSync(join(temp.dir(), "config.json"), JSON.stringify(options.file));
  return loadConfig({ argv: ["--data-dir", temp.dir(), ...(options.flags ?? [])], env: options.env ?? {}, cwd: temp.dir() });
}

const OWNER = { kind: "user", username: "olga", role: "owner" } as const;
const ADMIN = { kind: "user", username: "adam", role: "admin" } as const;

describe("catalogue", () => {
  test("every editable setting is a config key, not a secret, with the type of its kind", () => {
    const keys = new Set(SETTINGS.map((entry) => entry.key));
    for (const setting of EDITABLE_SETTINGS) {
      expect(keys.has(setting.key), setting.key).toBe(true);
      expect(setting.entry.setting.secret).toBe(false);
      const defaultType = typeof setting.entry.setting.defaultValue;
      expect(setting.type === "integer" ? "number" : setting.type).toBe(defaultType);
      if (setting.type === "integer") {
        expect(setting.entry.setting.kind.min, setting.key).toBeNumber();
        expect(setting.entry.setting.kind.max, setting.key).toBeNumber();
        expect(setting.unit, setting.key).toBeDefined();
      }
      expect(setting.description).not.toContain("\n");
    }
    expect(new Set(EDITABLE_SETTINGS.map((s) => s.key)).size).toBe(EDITABLE_SETTINGS.length);
  });

  test("what is covered, and what applies only at a restart or only for the owner", () => {
    const keys = EDITABLE_SETTINGS.map((s) => s.key);
    for (const key of ["auth.allow_guest", "sessions.idle_hours", "sessions.absolute_days", "regulation.account_max_failures", "regulation.ip_attempts_per_minute", "password.min_length", "queue.max_pending.user", "queue.max_pending.guest", "upstream.url"]) {
      expect(keys).toContain(key);
    }
    expect(EDITABLE_SETTINGS.filter((s) => s.applies === "restart").map((s) => s.key)).toEqual(["upstream.url"]);
    // Whatever protects accounts or sends traffic elsewhere is the owner's; admins set queue caps.
    expect(EDITABLE_SETTINGS.filter((s) => !s.ownerOnly).every((s) => s.key.startsWith("queue.max_pending."))).toBe(true);
    expect(EDITABLE_SETTINGS.filter((s) => !s.ownerOnly).length).toBe(5);
    for (const key of ["upstream.url", "auth.allow_guest", "password.min_length", "regulation.ip_attempts_per_minute", "sessions.step_up_minutes", "sessions.admin_idle_minutes"]) {
      expect(EDITABLE_SETTINGS.find((s) => s.key === key)!.ownerOnly).toBe(true);
    }
    expect(EDITABLE_SETTINGS.find((s) => s.key === "upstream.url")!.description).toContain("restart");
  });
});

describe("layerSettings", () => {
  test("stored values beat config.json and defaults; env and flags beat stored values", () => {
    const loaded = load({ file: { sessions: { idle_hours: 10 } }, env: { MSS_LOGIN_PASSWORD__MIN_LENGTH: "14" }, flags: ["--upstream", "http://127.0.0.1:9000"] });
    const stored = [
      { key: "sessions.idle_hours", valueJson: "3" },
      { key: "sessions.absolute_days", valueJson: "2" },
      { key: "password.min_length", valueJson: "20" },
      { key: "upstream.url", valueJson: '"http://127.0.0.1:9999"' },
    ];
    const { config, sources, ignored } = layerSettings(loaded.config, loaded.sources, stored);
    expect(config.sessions.idle_hours).toBe(3);
    expect(config.sessions.absolute_days).toBe(2);
    expect(config.password.min_length).toBe(14);
    expect(config.upstream.url).toBe("http://127.0.0.1:9000");
    expect(sources).toMatchObject({ "sessions.idle_hours": "admin", "sessions.absolute_days": "admin", "password.min_length": "env", "upstream.url": "flag", "auth.allow_guest": "default" });
    expect(ignored).toEqual([]);
    // The loaded configuration is untouched, the result frozen.
    expect(loaded.config.sessions.idle_hours).toBe(10);
    expect(Object.isFrozen(config.sessions)).toBe(true);
    expect(config.data_dir).toBe(loaded.config.data_dir);
  });

  test("a stored value the schema refuses, or a key not editable, is ignored and said so", () => {
    const loaded = load();
    const { config, sources, ignored } = layerSettings(loaded.config, loaded.sources, [
      { key: "sessions.idle_hours", valueJson: "100000" },
      { key: "listen.port", valueJson: "1" },
      { key: "auth.allow_guest", valueJson: "not json" },
    ]);
    expect(config.sessions.idle_hours).toBe(12);
    expect(config.listen.port).toBe(8189);
    expect(sources["sessions.idle_hours"]).toBe("default");
    expect(ignored.map((i) => i.key)).toEqual(["sessions.idle_hours", "listen.port", "auth.allow_guest"]);
    expect(ignored[0]!.problem).toContain("must be an integer 1-720");
  });
});

describe("the settings service", () => {
  test("describes each setting with value, default, bounds, unit, source and lock", () => {
    const loaded = load({ file: { auth: { allow_guest: true } }, env: { MSS_LOGIN_SESSIONS__IDLE_HOURS: "6" } });
    const views = createGatewaySettings({ db: open().db, config: loaded.config }).describe();
    expect(views.find((v) => v.key === "auth.allow_guest")).toEqual({
      key: "auth.allow_guest",
      group: "Sign-in",
      label: "Guest sign-in",
      description: expect.any(String),
      type: "boolean",
      value: true,
      default: false,
      source: "config",
      locked: false,
      applies: "now",
      owner_only: true,
    });
    expect(views.find((v) => v.key === "sessions.idle_hours")).toMatchObject({ type: "integer", value: 6, default: 12, min: 1, max: 720, unit: "hours", source: "env", locked: true });
    expect(views.find((v) => v.key === "upstream.url")).toMatchObject({ type: "string", value: "http://127.0.0.1:8188", source: "default", locked: false, applies: "restart", owner_only: true });
  });

  test("a change is all or nothing; the first refusal names its field", () => {
    const settings = createGatewaySettings({ db: open().db, config: load({ env: { MSS_LOGIN_SESSIONS__IDLE_HOURS: "6" } }).config });
    const before = settings.current();
    expect(settings.change({ values: { "password.min_length": 16, "sessions.absolute_days": 0 } }, OWNER)).toMatchObject({ ok: false, status: 400, code: "INVALID_SETTING", field: "sessions.absolute_days" });
    expect(settings.change({ values: { "password.min_length": 16, "listen.port": 80 } }, OWNER)).toMatchObject({ ok: false, code: "UNKNOWN_SETTING", field: "listen.port" });
    expect(settings.change({ values: { "password.min_length": 16, "sessions.idle_hours": 3 } }, OWNER)).toMatchObject({ ok: false, code: "SETTING_LOCKED", field: "sessions.idle_hours" });
    expect(settings.change({ reset: ["sessions.idle_hours"] }, OWNER)).toMatchObject({ ok: false, code: "SETTING_LOCKED" });
    expect(settings.change({ values: { "queue.max_pending.user": 3, "upstream.url": "http://127.0.0.1:1" } }, ADMIN)).toMatchObject({ ok: false, status: 403, code: "OWNER_ONLY", field: "upstream.url" });
    expect(settings.change({ values: { "regulation.ip_attempts_per_minute": 1000 } }, ADMIN)).toMatchObject({ ok: false, status: 403, code: "OWNER_ONLY", field: "regulation.ip_attempts_per_minute" });
    expect(settings.change({ values: { "auth.allow_guest": "true" } }, OWNER)).toMatchObject({ ok: false, code: "INVALID_SETTING", field: "auth.allow_guest" });
    expect(settings.change({ values: { "upstream.url": "ftp://x" } }, OWNER)).toMatchObject({ ok: false, code: "INVALID_SETTING" });
    expect(settings.current()).toBe(before);
    expect(settings.describe().every((v) => v.source !== "admin")).toBe(true);

    expect(settings.change({ values: { "password.min_length": 16, "upstream.url": "http://LOCALHOST:8188/" } }, OWNER)).toEqual({ ok: true, changed: ["password.min_length", "upstream.url"] });
    expect(settings.current().password.min_length).toBe(16);
    // Normalised by the schema's own kind.
    expect(settings.current().upstream.url).toBe("http://localhost:8188");
  });

  test("a value equal to the one underneath drops the override; reset drops it too", () => {
    const database = open();
    const settings = createGatewaySettings({ db: database.db, config: load({ file: { password: { min_length: 14 } } }).config });
    settings.change({ values: { "password.min_length": 20 } }, OWNER);
    settings.change({ values: { "queue.max_pending.user": 3 } }, ADMIN);
    expect(database.sqlite.query("select key, updated_by from gateway_settings order by key").all()).toEqual([
      { key: "password.min_length", updated_by: "olga" },
      { key: "queue.max_pending.user", updated_by: "adam" },
    ]);
    settings.change({ values: { "password.min_length": 14 } }, OWNER);
    expect(settings.describe().find((v) => v.key === "password.min_length")).toMatchObject({ value: 14, source: "config" });
    settings.change({ reset: ["queue.max_pending.user"] }, ADMIN);
    expect(settings.current().queue.max_pending.user).toBe(20);
    expect(database.sqlite.query("select count(*) as n from gateway_settings").get()).toEqual({ n: 0 });
  });

  test("text values (the command line) are read like environment variables", () => {
    const settings = createGatewaySettings({ db: open().db, config: load().config });
    expect(settings.change({ values: { "auth.allow_guest": "yes", "sessions.idle_hours": " 8 " }, text: true }, { kind: "system" })).toMatchObject({ ok: true });
    expect(settings.current().auth.allow_guest).toBe(true);
    expect(settings.current().sessions.idle_hours).toBe(8);
    expect(settings.change({ values: { "sessions.idle_hours": "eight" }, text: true }, { kind: "system" })).toMatchObject({ ok: false, code: "INVALID_SETTING" });
  });

  test("another process's change is seen after the refresh interval", () => {
    let clock = 1_000_000;
    const config = load().config;
    const here = createGatewaySettings({ db: open().db, config, clock: () => clock, refreshMs: 5000 });
    const there = createGatewaySettings({ db: open().db, config, clock: () => clock });
    expect(here.current().auth.allow_guest).toBe(false);
    there.change({ values: { "auth.allow_guest": true } }, OWNER);
    clock += 4999;
    expect(here.current().auth.allow_guest).toBe(false);
    clock += 1;
    expect(here.current().auth.allow_guest).toBe(true);
  });
});

describe("consumers that follow a change", () => {
  test("a regulator given a function reads it on every decision", () => {
    let capacity = 1;
    const regulator = new Regulator(open().db, () => ({ ...DEFAULT_REGULATION, ipAttemptsPerMinute: capacity }), { pruneEvery: 0 });
    const t = 1_700_000_000_000;
    expect(regulator.takeAttempt("10.0.0.1", t).allowed).toBe(true);
    expect(regulator.takeAttempt("10.0.0.1", t).allowed).toBe(false);
    capacity = 0; // off
    expect(regulator.takeAttempt("10.0.0.1", t).allowed).toBe(true);
    expect(regulator.settings.ipAttemptsPerMinute).toBe(0);
  });

  test("sessions and the password minimum from createAuthentication follow the live settings", async () => {
    const database = open();
    const loaded = load({ env: { MSS_LOGIN_PASSWORD__ARGON2_MEMORY_KIB: "7168", MSS_LOGIN_PASSWORD__ARGON2_TIME_COST: "1" } });
    const settings = createGatewaySettings({ db: database.db, config: loaded.config });
    const auth = await createAuthentication(loaded.config, database, createLogger("error"), settings.current);
    const user = await createUser(database.db, { username: "uma", password: "granite willow 88", role: "user" }, auth.passwordSettings);
    const t0 = Date.now();
    const issued = await auth.sessions.issue({ userId: user.id, rememberMe: false, clientIp: null, userAgent: null, now: t0 });
    expect(issued.expiresAt).toBe(t0 + 7 * 86_400_000);
    const twoHoursLater = t0 + 2 * 3600_000;
    expect((await auth.sessions.check(issued.token, twoHoursLater)).ok).toBe(true);

    settings.change({ values: { "sessions.idle_hours": 1, "sessions.absolute_days": 2, "password.min_length": 30 } }, OWNER);
    // A session unused for two hours is idle under the new one-hour limit; a new one ends sooner.
    const fresh = await auth.sessions.issue({ userId: user.id, rememberMe: false, clientIp: null, userAgent: null, now: t0 });
    expect(fresh.expiresAt).toBe(t0 + 2 * 86_400_000);
    expect(await auth.sessions.check(fresh.token, twoHoursLater)).toEqual({ ok: false, reason: "idle" });
    expect(auth.passwordSettings.minLength).toBe(30);
    expect(auth.regulator.settings.accountMaxFailures).toBe(3);
    settings.change({ values: { "regulation.account_max_failures": 7 } }, OWNER);
    expect(auth.regulator.settings.accountMaxFailures).toBe(7);
  });
});
