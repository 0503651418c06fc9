import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ConfigError,
  ensureDataDir,
  loadConfig,
  redactedConfig,
  redactedSources,
  type LoadConfigOptions,
} from "../../src/config/index.ts";
import { boolean, integer, list } from "../../src/config/kinds.ts";

let cwd: string;
let dataDir: string;
let configFile: string;

beforeEach(() => {
  cwd = mkdtempSync(join(tmpdir(), "mss-config-"));
  dataDir = join(cwd, "data");
  mkdirSync(dataDir);
  configFile = join(dataDir, "config.json");
});
afterEach(() => rmSync(cwd, { recursive: true, force: true }));

function load(options: Partial<LoadConfigOptions> = {}) {
  return loadConfig({ argv: [], env: {}, cwd, ...options });
}

function writeConfig(value: unknown, path = configFile): void {
  writeFileSync(path, typeof value === "string" ? value : JSON.stringify(value));
}

/** The ConfigError message thrown by `run`, failing the test if none is thrown. */
function errorOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message;
  }
  throw new Error("expected a ConfigError");
}

const SECRET = "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t-42";

describe("defaults", () => {
  test("a bare start uses ./data under cwd and the embedded defaults", () => {
    const { config, configFile: file, sources } = load();
    expect(file).toBeNull();
    expect(config).toEqual({
      data_dir: dataDir,
      listen: { host: "0.0.0.0", port: 8189 },
      upstream: {
        url: "http://127.0.0.1:8188",
        connect_timeout_ms: 5000,
        response_timeout_ms: 120000,
        ws_open_timeout_ms: 10000,
      },
      queue: { max_pending: { owner: 0, admin: 0, power: 50, user: 20, guest: 2 } },
      limits: { max_upload_bytes: 104857600 },
      trusted_proxies: [],
      public_origins: [],
      gateway: { allowed_unknown_routes: [] },
      log: { level: "info" },
      ip_filter: { ban_after_failures: 10, ban_window_hours: 24, ban_hours: 24 },
      audit: { retention_days: 180 },
      nsfw: {
        load: "startup",
        workers: 0,
        porn_percent: 50,
        hentai_percent: 50,
        sexy_percent: 0,
        previews: "withhold",
        preview_rate_per_second: 2,
        view_wait_ms: 15000,
        max_image_bytes: 67108864,
        max_megapixels: 64,
      },
      client_ip_header: "x-forwarded-for",
      downloads: {
        models_dir: null,
        max_active: 5,
        max_civitai: 3,
        max_huggingface: 2,
        max_per_user: 20,
        max_bytes: 64 * 1024 ** 3,
        read_timeout_ms: 300000,
        allowed_hosts: ["civitai.com", "civitai.red", "*.civitai.com", "huggingface.co", "hf.co", "*.huggingface.co", "*.hf.co", "*.r2.cloudflarestorage.com", "*.backblazeb2.com"],
        test_sources: [],
      },
      password: { min_length: 12, argon2_memory_kib: 19456, argon2_time_cost: 2 },
      sessions: { idle_hours: 12, absolute_days: 7, remember_days: 30, admin_idle_minutes: 30, step_up_minutes: 5 },
      regulation: {
        profile: "default",
        account_max_failures: 3,
        account_window_seconds: 120,
        account_ban_seconds: 300,
        ip_attempts_per_minute: 5,
      },
      auth: { allow_guest: false, allow_query_token: false },
      secret_key: null,
    });
    expect(Object.values(sources).every((s) => s.kind === "default")).toBe(true);
  });

  test("Config is precisely typed and read-only (checked by tsc)", () => {
    const { config } = load();
    const level: "debug" | "info" | "warn" | "error" = config.log.level;
    const secret: string | null = config.secret_key;
    const proxies: readonly string[] = config.trusted_proxies;
    const port: number = config.listen.port;
    expect([level, secret, proxies, port]).toEqual(["info", null, [], 8189]);
    const neverCalled = () => {
      // @ts-expect-error the configuration is read-only
      config.listen.port = 1;
      // @ts-expect-error lists are read-only too
      config.trusted_proxies.push("10.0.0.1");
    };
    expect(neverCalled).toBeFunction();
  });

  test("the configuration is deeply frozen", () => {
    const { config } = load();
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.listen)).toBe(true);
    expect(Object.isFrozen(config.trusted_proxies)).toBe(true);
  });
});

describe("precedence: defaults < file < env < flags", () => {
  test("each layer overrides the one before, and the source is recorded", () => {
    writeConfig({ listen: { port: 1111, host: "127.0.0.1" }, upstream: { url: "http://10.1.2.3:8188" }, log: { level: "warn" } });
    const { config, sources, configFile: file } = load({
      env: { MSS_LOGIN_LISTEN__PORT: "2222", MSS_LOGIN_UPSTREAM__URL: "http://10.9.9.9:8188" },
      argv: ["--port", "3333"],
    });
    expect(file).toBe(configFile);
    expect(config.listen.port).toBe(3333);
    expect(sources["listen.port"]).toEqual({ kind: "flag", name: "--port" });
    expect(config.upstream.url).toBe("http://10.9.9.9:8188");
    expect(sources["upstream.url"]).toEqual({ kind: "env", name: "MSS_LOGIN_UPSTREAM__URL" });
    expect(config.listen.host).toBe("127.0.0.1");
    expect(sources["listen.host"]).toEqual({ kind: "file", path: configFile });
    expect(config.log.level).toBe("warn");
    expect(config.upstream.connect_timeout_ms).toBe(5000);
    expect(sources["upstream.connect_timeout_ms"]).toEqual({ kind: "default" });
  });

  test("flags accept --name=value and the last repetition wins", () => {
    const { config } = load({ argv: ["--port=4000", "--host", "::1", "--port", "4001", "--upstream=https://gpu.lan/comfy/"] });
    expect(config.listen.port).toBe(4001);
    expect(config.listen.host).toBe("::1");
    expect(config.upstream.url).toBe("https://gpu.lan/comfy");
  });

  test("data dir: flag > env > ./data, resolved against cwd; config.json is read from it", () => {
    mkdirSync(join(cwd, "from-env"));
    mkdirSync(join(cwd, "from-flag"));
    writeConfig({ listen: { port: 5001 } }, join(cwd, "from-env", "config.json"));
    writeConfig({ listen: { port: 5002 } }, join(cwd, "from-flag", "config.json"));
    const env = { MSS_LOGIN_DATA_DIR: "from-env" };
    expect(load({ env }).config.data_dir).toBe(join(cwd, "from-env"));
    expect(load({ env }).config.listen.port).toBe(5001);
    const flagged = load({ env, argv: ["--data-dir", "from-flag"] });
    expect(flagged.config.data_dir).toBe(join(cwd, "from-flag"));
    expect(flagged.config.listen.port).toBe(5002);
    expect(flagged.sources["data_dir"]).toEqual({ kind: "flag", name: "--data-dir" });
  });

  test("--config FILE (or MSS_LOGIN_CONFIG) replaces <data-dir>/config.json", () => {
    writeConfig({ listen: { port: 6000 } });
    writeConfig({ listen: { port: 6001 } }, join(cwd, "other.json"));
    writeConfig({ listen: { port: 6002 } }, join(cwd, "env.json"));
    expect(load({ argv: ["--config", "other.json"] }).config.listen.port).toBe(6001);
    expect(load({ env: { MSS_LOGIN_CONFIG: "env.json" } }).config.listen.port).toBe(6002);
    expect(load({ env: { MSS_LOGIN_CONFIG: "env.json" }, argv: ["--config", "other.json"] }).configFile).toBe(
      join(cwd, "other.json"),
    );
  });
});

describe("environment values are coerced", () => {
  test("integers, comma lists, JSON lists and secrets", () => {
    const { config } = load({
      env: {
        MSS_LOGIN_LIMITS__MAX_UPLOAD_BYTES: " 2048 ",
        MSS_LOGIN_TRUSTED_PROXIES: "10.0.0.0/8, 192.168.1.7 ,::1,",
        MSS_LOGIN_PUBLIC_ORIGINS: '["https://Comfy.Example.com:443", "http://lan.box:8189"]',
        MSS_LOGIN_GATEWAY__ALLOWED_UNKNOWN_ROUTES: "/my-node/,/other",
        MSS_LOGIN_SECRET_KEY: SECRET,
        MSS_LOGIN_LOG__LEVEL: "debug",
      },
    });
    expect(config.limits.max_upload_bytes).toBe(2048);
    expect(config.trusted_proxies).toEqual(["10.0.0.0/8", "192.168.1.7", "::1"]);
    expect(config.public_origins).toEqual(["https://comfy.example.com", "http://lan.box:8189"]);
    expect(config.gateway.allowed_unknown_routes).toEqual(["/my-node/", "/other"]);
    expect(config.secret_key).toBe(SECRET);
    expect(config.log.level).toBe("debug");
  });

  test("an empty variable counts as unset; variables without the prefix are ignored", () => {
    writeConfig({ listen: { port: 7000 } });
    const { config } = load({ env: { MSS_LOGIN_LISTEN__PORT: "", PORT: "1", HOME: "/root" } });
    expect(config.listen.port).toBe(7000);
  });

  test("'[]' empties a list set in the file", () => {
    writeConfig({ trusted_proxies: ["10.0.0.1"] });
    expect(load({ env: { MSS_LOGIN_TRUSTED_PROXIES: "[]" } }).config.trusted_proxies).toEqual([]);
  });
});

describe("errors name the key and where it came from", () => {
  test("unknown key in the file, with a suggestion", () => {
    writeConfig({ listen: { prot: 1 } });
    expect(errorOf(() => load())).toBe(`${configFile}: unknown key "listen.prot" (did you mean "listen.port"?)`);
    writeConfig({ port: 1 });
    expect(errorOf(() => load())).toBe(`${configFile}: unknown key "port" (did you mean "listen.port"?)`);
    writeConfig({ completely_unrelated: true });
    expect(errorOf(() => load())).toBe(`${configFile}: unknown key "completely_unrelated"`);
  });

  test("prototype keys are unknown keys, not a way in", () => {
    writeConfig('{"__proto__": {"x": 1}}');
    expect(errorOf(() => load())).toBe(`${configFile}: unknown key "__proto__"`);
  });

  test("data_dir is not a config.json key", () => {
    writeConfig({ data_dir: "/elsewhere" });
    expect(errorOf(() => load())).toBe(
      `${configFile}: data_dir cannot be set in config.json (use --data-dir or MSS_LOGIN_DATA_DIR)`,
    );
  });

  test("wrong type in the file (no coercion there)", () => {
    writeConfig({ listen: { port: "abc" } });
    expect(errorOf(() => load())).toBe(`${configFile}: listen.port must be an integer 0-65535 (got "abc")`);
    writeConfig({ listen: { port: "8189" } });
    expect(errorOf(() => load())).toBe(`${configFile}: listen.port must be an integer 0-65535 (got "8189")`);
    writeConfig({ listen: 5 });
    expect(errorOf(() => load())).toBe(`${configFile}: listen must be an object (got 5)`);
    writeConfig({ trusted_proxies: "10.0.0.1" });
    expect(errorOf(() => load())).toBe(
      `${configFile}: trusted_proxies must be a list of IP addresses or CIDR ranges (got "10.0.0.1")`,
    );
  });

  test("bad values in the file", () => {
    writeConfig({ listen: { port: 70000 } });
    expect(errorOf(() => load())).toBe(`${configFile}: listen.port must be an integer 0-65535 (got 70000)`);
    writeConfig({ log: { level: "verbose" } });
    expect(errorOf(() => load())).toBe(`${configFile}: log.level must be one of debug, info, warn, error (got "verbose")`);
    writeConfig({ trusted_proxies: ["10.0.0.0/8", "10.0.0.999"] });
    expect(errorOf(() => load())).toBe(
      `${configFile}: trusted_proxies[1] must be an IP address or CIDR range (got "10.0.0.999")`,
    );
    writeConfig({ upstream: { response_timeout_ms: 0 } });
    expect(errorOf(() => load())).toBe(
      `${configFile}: upstream.response_timeout_ms must be an integer 1-86400000 (milliseconds) (got 0)`,
    );
  });

  test("file that is not JSON, or not an object", () => {
    writeConfig("{ listen: ");
    expect(errorOf(() => load())).toBe(`${configFile}: not valid JSON (check quotes, commas and braces)`);
    // The parser's own message would quote the bad token, which can be a secret.
    writeConfig('{"secret_key": SuperSecretValue0123456789abcdefghij}');
    expect(errorOf(() => load())).not.toContain("SuperSecret");
    writeConfig("[1, 2]");
    expect(errorOf(() => load())).toBe(`${configFile}: must contain a JSON object (got [1,2])`);
  });

  test("file that cannot be read", () => {
    mkdirSync(configFile); // reading a directory fails even for root
    expect(errorOf(() => load())).toBe(`${configFile}: cannot read config file: is a directory (EISDIR)`);
  });

  test("an explicit --config file must exist; the default one may be absent", () => {
    const missing = join(cwd, "missing.json");
    expect(errorOf(() => load({ argv: ["--config", missing] }))).toBe(
      `${missing}: cannot read config file: no such file (ENOENT)`,
    );
    expect(load().configFile).toBeNull();
  });

  test("environment variable: bad value and unknown name", () => {
    expect(errorOf(() => load({ env: { MSS_LOGIN_LISTEN__PORT: "abc" } }))).toBe(
      `env MSS_LOGIN_LISTEN__PORT: listen.port must be an integer 0-65535 (got "abc")`,
    );
    expect(errorOf(() => load({ env: { MSS_LOGIN_LISTEN__PORT: "80.5" } }))).toBe(
      `env MSS_LOGIN_LISTEN__PORT: listen.port must be an integer 0-65535 (got "80.5")`,
    );
    expect(errorOf(() => load({ env: { MSS_LOGIN_LISTEN__PROT: "1" } }))).toBe(
      `env MSS_LOGIN_LISTEN__PROT: not a known setting (did you mean MSS_LOGIN_LISTEN__PORT?)`,
    );
    expect(errorOf(() => load({ env: { MSS_LOGIN_TRUSTED_PROXIES: "[1," } }))).toBe(
      `env MSS_LOGIN_TRUSTED_PROXIES: trusted_proxies must be a JSON array or a comma-separated list (got "[1,")`,
    );
  });

  test("command-line flag: bad value, unknown flag, missing value, stray argument", () => {
    expect(errorOf(() => load({ argv: ["--port", "abc"] }))).toBe(
      `flag --port: listen.port must be an integer 0-65535 (got "abc")`,
    );
    expect(errorOf(() => load({ argv: ["--prot", "1"] }))).toBe(`command line: unknown flag --prot (did you mean --port?)`);
    expect(errorOf(() => load({ argv: ["--port"] }))).toBe(`command line: flag --port needs a value`);
    expect(errorOf(() => load({ argv: ["--host", "--port", "1"] }))).toBe(`command line: flag --host needs a value`);
    expect(errorOf(() => load({ argv: ["extra"] }))).toBe(`command line: unexpected argument "extra"`);
    // A URL with credentials is never echoed: the password would land in the log.
    expect(errorOf(() => load({ argv: ["--upstream", "http://u:p@host"] }))).toBe(
      `flag --upstream: upstream.url must not contain a user name or password (got 15 characters)`,
    );
  });

  test("the error carries the key", () => {
    try {
      load({ env: { MSS_LOGIN_LISTEN__PORT: "-1" } });
      throw new Error("expected a ConfigError");
    } catch (error) {
      expect((error as ConfigError).key).toBe("listen.port");
      expect((error as ConfigError).source).toBe("env MSS_LOGIN_LISTEN__PORT");
    }
  });

  test("a bad secret is described, never echoed", () => {
    writeConfig({ secret_key: "hunter2-short" });
    const message = errorOf(() => load());
    expect(message).toBe(`${configFile}: secret_key must be at least 32 characters (got 13 characters)`);
    expect(message).not.toContain("hunter2");
    const envMessage = errorOf(() => load({ env: { MSS_LOGIN_SECRET_KEY: "hunter2-short" } }));
    expect(envMessage).not.toContain("hunter2");
    writeConfig({ secret_key: 12345 });
    expect(errorOf(() => load())).toBe(`${configFile}: secret_key must be a string of at least 32 characters (got a number)`);
  });
});

describe("value kinds", () => {
  const proxies = (value: string) => load({ env: { MSS_LOGIN_TRUSTED_PROXIES: value } }).config.trusted_proxies;
  const proxyError = (value: string) => errorOf(() => proxies(value));

  test("IPs and CIDRs, v4 and v6", () => {
    const good = ["0.0.0.0/0", "10.0.0.0/8", "192.168.1.1", "::/0", "::1", "fe80::/10", "2001:db8::/32",
      "2001:DB8:0:0:0:0:0:1/128", "::ffff:10.0.0.1", "::ffff:10.0.0.0/120", "1:2:3:4:5:6:7:8"];
    expect(proxies(JSON.stringify(good))).toEqual(good);
    for (const bad of ["10.0.0", "10.0.0.256", "010.0.0.1", "10.0.0.1/33", "10.0.0.0/", "10.0.0.0/08", "::1/129",
      "1:2:3:4:5:6:7:8:9", "1::2::3", "fe80::1%eth0", "12345::", "host.lan", "1:2:3:4:5:6:7::8"]) {
      expect(proxyError(bad)).toStartWith(`env MSS_LOGIN_TRUSTED_PROXIES: trusted_proxies[0] `);
    }
  });

  test("a CIDR with host bits set is refused with the network to use", () => {
    expect(proxyError("10.1.2.3/8")).toBe(
      `env MSS_LOGIN_TRUSTED_PROXIES: trusted_proxies[0] has host bits set; did you mean 10.0.0.0/8? (got "10.1.2.3/8")`,
    );
    expect(proxyError("2001:db8::1/32")).toContain("did you mean 2001:db8::/32?");
  });

  test("upstream URL: http(s), optional base path, normalised", () => {
    const url = (value: string) => load({ argv: ["--upstream", value] }).config.upstream.url;
    expect(url("http://127.0.0.1:8188/")).toBe("http://127.0.0.1:8188");
    expect(url("HTTPS://GPU.lan:443/comfy/")).toBe("https://gpu.lan/comfy");
    expect(url("http://[::1]:8188")).toBe("http://[::1]:8188");
    for (const [value, problem] of [
      ["127.0.0.1:8188", "must be an http:// or https:// URL"],
      ["ws://127.0.0.1:8188", "must be an http:// or https:// URL"],
      ["http://127.0.0.1:8188/?x=1", "must not have a query or fragment"],
      ["http://127.0.0.1:8188/#top", "must not have a query or fragment"],
    ] as const) {
      expect(errorOf(() => url(value))).toBe(`flag --upstream: upstream.url ${problem} (got ${JSON.stringify(value)})`);
    }
  });

  test("public origins are origins only", () => {
    const origins = (value: string[]) => {
      writeConfig({ public_origins: value });
      return load().config.public_origins;
    };
    expect(origins(["https://Comfy.Example.com/", "http://10.0.0.5:8189"])).toEqual([
      "https://comfy.example.com",
      "http://10.0.0.5:8189",
    ]);
    for (const bad of ["comfy.example.com", "https://comfy.example.com/app", "https://a.com?x", "*", "ftp://a.com"]) {
      expect(errorOf(() => origins([bad]))).toStartWith(`${configFile}: public_origins[0] must be `);
    }
  });

  test("allowed unknown routes are path prefixes", () => {
    const routes = (value: string[]) => {
      writeConfig({ gateway: { allowed_unknown_routes: value } });
      return load().config.gateway.allowed_unknown_routes;
    };
    expect(routes(["/my-node/", "/api/other"])).toEqual(["/my-node/", "/api/other"]);
    const problem = (value: string) => errorOf(() => routes(["/ok", value]));
    expect(problem("my-node")).toBe(`${configFile}: gateway.allowed_unknown_routes[1] must start with / (got "my-node")`);
    expect(problem("/")).toContain("must not be / alone");
    expect(problem("/a/../admin")).toContain("must not contain . or .. segments");
    expect(problem("/a b")).toContain("must not contain spaces");
    expect(problem("/a?b")).toContain("must not contain spaces, control characters, ?, # or \\");
    expect(problem("//evil")).toContain("must not contain //");
  });

  test("text from env/flags is coerced; JSON from the file is not", () => {
    const flag = boolean();
    expect(["true", "YES", "1", "on"].map((t) => flag.fromText(t))).toEqual(Array(4).fill({ ok: true, value: true }));
    expect(["false", "No", "0", "off"].map((t) => flag.fromText(t))).toEqual(Array(4).fill({ ok: true, value: false }));
    expect(flag.fromText("maybe")).toEqual({ ok: false, problem: "must be true or false", got: "maybe" });
    expect(flag.fromJson("true")).toEqual({ ok: false, problem: "must be true or false", got: "true" });
    const numbers = list(integer(1, 9), "digits");
    expect(numbers.fromText("1, 2,3")).toEqual({ ok: true, value: [1, 2, 3] });
    expect(numbers.fromText("[4, 5]")).toEqual({ ok: true, value: [4, 5] });
    expect(numbers.fromText('["4"]')).toEqual({ ok: false, problem: "must be an integer 1-9", got: "4", at: "[0]" });
  });

  test("listen host: IP, bracketed IPv6 or host name", () => {
    const host = (value: string) => load({ argv: ["--host", value] }).config.listen.host;
    expect(host("[::]")).toBe("::");
    expect(host("LocalHost")).toBe("localhost");
    expect(errorOf(() => host("bad host"))).toBe(`flag --host: listen.host must be an IP address or host name (got "bad host")`);
  });
});

describe("config print", () => {
  test("secrets are redacted when set and null when unset", () => {
    writeConfig({ secret_key: SECRET });
    chmodSync(configFile, 0o600);
    const shown = JSON.stringify(redactedConfig(load().config));
    expect(shown).not.toContain(SECRET);
    expect(JSON.parse(shown).secret_key).toBe("<redacted>");
    rmSync(configFile);
    expect(redactedConfig(load().config).secret_key).toBeNull();
  });

  test("with sources, each value says where it came from", () => {
    writeConfig({ listen: { host: "127.0.0.1" } });
    const report = redactedSources(
      load({ env: { MSS_LOGIN_SECRET_KEY: SECRET }, argv: ["--port", "9000"] }),
    );
    expect(report["listen.host"]).toEqual({ value: "127.0.0.1", source: configFile });
    expect(report["listen.port"]).toEqual({ value: 9000, source: "flag --port" });
    expect(report["secret_key"]).toEqual({ value: "<redacted>", source: "env MSS_LOGIN_SECRET_KEY" });
    expect(report["data_dir"]).toEqual({ value: dataDir, source: "default" });
    expect(JSON.stringify(report)).not.toContain(SECRET);
  });
});

describe("warnings and the data directory", () => {
  test("a secret in a file others can read is a warning", () => {
    writeConfig({ secret_key: SECRET });
    chmodSync(configFile, 0o644);
    expect(load().warnings).toEqual([
      `${configFile} holds secret_key but other users may read it (mode 0644); chmod 600 it`,
    ]);
    chmodSync(configFile, 0o600);
    expect(load().warnings).toEqual([]);
  });

  test("ensureDataDir creates missing directories owner-only", () => {
    const dir = join(cwd, "new", "nested");
    expect(ensureDataDir(dir).warnings).toEqual([]);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(ensureDataDir(dir).warnings).toEqual([]); // idempotent
  });

  test("ensureDataDir warns about an open directory and refuses a file", () => {
    chmodSync(dataDir, 0o755);
    expect(ensureDataDir(dataDir).warnings).toEqual([
      `data directory ${dataDir} is open to other users (mode 0755); chmod 700 it`,
    ]);
    const file = join(cwd, "plain-file");
    writeFileSync(file, "");
    expect(errorOf(() => ensureDataDir(file))).toStartWith(`${file}: `);
  });
});
