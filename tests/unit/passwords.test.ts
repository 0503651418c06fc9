import { describe, expect, test } from "bun:test";
import { commonPasswordCount, isCommonPassword } from "../../src/auth/common-passwords.ts";
import {
  checkPasswordPolicy,
  DEFAULT_PASSWORD_SETTINGS,
  hashPassword,
  MAX_PASSWORD_BYTES,
  needsRehash,
  passwordHashKind,
  passwordSettingsFrom,
  prepareDummyHash,
  verifyDummyPassword,
  verifyPassword,
  type PasswordSettings,
} from "../../src/auth/passwords.ts";
import { ConfigError, loadConfig } from "../../src/config/index.ts";

/** Cheap argon2 parameters: the tests check behaviour, not cost. */
const FAST: PasswordSettings = { minLength: 12, argon2MemoryKib: 64, argon2TimeCost: 1 };

const policy = (password: string, username = "alice", minLength = 12) =>
  checkPasswordPolicy(password, { username, minLength });

describe("password policy", () => {
  test("too short, with a message that says the minimum", () => {
    expect(policy("eleven char")).toEqual({ code: "PASSWORD_TOO_SHORT", message: "Use at least 12 characters." });
    expect(policy("")?.code).toBe("PASSWORD_TOO_SHORT");
  });

  test("exactly the minimum length is accepted; no composition rules", () => {
    expect(policy("twelve chars")).toBeNull();
    expect(policy("lowercaseonly")).toBeNull();
  });

  test("length counts code points, not UTF-16 units or bytes", () => {
    // 11 emoji are 22 UTF-16 units but 11 characters: too short.
    expect(policy("🐱".repeat(11))?.code).toBe("PASSWORD_TOO_SHORT");
    expect(policy("🐱".repeat(12))).toBeNull();
    expect(policy("é".repeat(12))).toBeNull();
  });

  test("at most 1024 bytes of UTF-8, counted before anything else", () => {
    expect(policy("x".repeat(MAX_PASSWORD_BYTES))).toBeNull();
    expect(policy("x".repeat(MAX_PASSWORD_BYTES + 1))?.code).toBe("PASSWORD_TOO_LONG");
    // 342 three-byte characters are 1026 bytes: too long although only 342 characters.
    const multibyte = "€".repeat(342);
    expect(policy(multibyte)).toEqual({
      code: "PASSWORD_TOO_LONG",
      message: "Use at most 1024 bytes (fewer characters when they are not plain ASCII).",
    });
    expect(policy("€".repeat(341))).toBeNull();
  });

  test("common passwords are refused, ignoring case", () => {
    expect(commonPasswordCount()).toBeGreaterThan(10_000);
    expect(isCommonPassword("password")).toBe(true);
    expect(isCommonPassword("PassWord")).toBe(true);
    expect(policy("qwertyuiop123")).toEqual({
      code: "PASSWORD_TOO_COMMON",
      message: "This password is on a list of commonly used passwords; choose another.",
    });
    expect(policy("1Q2W3E4R5T6Y")?.code).toBe("PASSWORD_TOO_COMMON");
    expect(policy("password", "alice", 8)?.code).toBe("PASSWORD_TOO_COMMON");
  });

  test("equal to or containing the username is refused, ignoring case", () => {
    expect(policy("Alice_Wonder", "alice_wonder")?.code).toBe("PASSWORD_CONTAINS_USERNAME");
    expect(policy("my name is ALICE ok")).toEqual({
      code: "PASSWORD_CONTAINS_USERNAME",
      message: "The password must not contain the username.",
    });
    expect(policy("my name is bob okay")).toBeNull();
  });

  test("8 characters when configured; the floor of 8 holds even if a caller asks for less", () => {
    expect(policy("k9#vTq2m", "alice", 8)).toBeNull();
    expect(policy("k9#vTq2", "alice", 8)?.message).toBe("Use at least 8 characters.");
    expect(policy("k9#vTq2", "alice", 4)?.code).toBe("PASSWORD_TOO_SHORT");
  });

  test("checks apply to the NFKC form (what is hashed)", () => {
    // Full-width letters normalise to ASCII: "ＡＬＩＣＥ" contains the username.
    expect(policy("ＡＬＩＣＥ and friends")?.code).toBe("PASSWORD_CONTAINS_USERNAME");
  });
});

describe("password settings from the configuration", () => {
  const load = (env: Record<string, string>) => loadConfig({ argv: [], env, cwd: "/nonexistent-cwd" }).config;

  test("defaults: 12 characters, argon2id m=19456 t=2", () => {
    expect(passwordSettingsFrom(load({}))).toEqual(DEFAULT_PASSWORD_SETTINGS);
    expect(DEFAULT_PASSWORD_SETTINGS).toEqual({ minLength: 12, argon2MemoryKib: 19456, argon2TimeCost: 2 });
  });

  test("8 is allowed, below 8 is refused at load", () => {
    expect(load({ MSS_LOGIN_PASSWORD__MIN_LENGTH: "8" }).password.min_length).toBe(8);
    expect(() => load({ MSS_LOGIN_PASSWORD__MIN_LENGTH: "7" })).toThrow(ConfigError);
    expect(() => load({ MSS_LOGIN_PASSWORD__MIN_LENGTH: "7" })).toThrow(
      "env MSS_LOGIN_PASSWORD__MIN_LENGTH: password.min_length must be an integer 8-256 (characters) (got \"7\")",
    );
  });

  test("argon2 parameters below the safe floor are refused", () => {
    expect(() => load({ MSS_LOGIN_PASSWORD__ARGON2_MEMORY_KIB: "1024" })).toThrow(ConfigError);
    expect(() => load({ MSS_LOGIN_PASSWORD__ARGON2_TIME_COST: "0" })).toThrow(ConfigError);
  });

  test("the other account settings load from the environment", () => {
    const config = load({
      MSS_LOGIN_REGULATION__PROFILE: "original",
      MSS_LOGIN_AUTH__ALLOW_GUEST: "yes",
      MSS_LOGIN_SESSIONS__IDLE_HOURS: "24",
    });
    expect(config.regulation.profile).toBe("original");
    expect(config.auth.allow_guest).toBe(true);
    expect(config.auth.allow_query_token).toBe(false);
    expect(config.sessions.idle_hours).toBe(24);
    expect(() => load({ MSS_LOGIN_REGULATION__PROFILE: "strict" })).toThrow(ConfigError);
  });
});

describe("hashing and verification", () => {
  test("argon2id with the configured parameters, p=1; verifies the right password only", async () => {
    const hash = await hashPassword("a long enough passphrase", FAST);
    expect(hash).toStartWith("$argon2id$v=19$m=64,t=1,p=1$");
    expect(passwordHashKind(hash)).toBe("argon2id");
    expect(await verifyPassword("a long enough passphrase", hash)).toBe(true);
    expect(await verifyPassword("a long enough passphrasf", hash)).toBe(false);
    expect(await verifyPassword("", hash)).toBe(false);
  });

  test("the default parameters produce a hash Bun writes as m=19456,t=2,p=1", async () => {
    const hash = await hashPassword("a long enough passphrase", DEFAULT_PASSWORD_SETTINGS);
    expect(hash).toStartWith("$argon2id$v=19$m=19456,t=2,p=1$");
    expect(needsRehash(hash, DEFAULT_PASSWORD_SETTINGS)).toBe(false);
  });

  test("the same password in two Unicode forms verifies (NFKC)", async () => {
    const precomposed = "caf\u00e9 au lait please";
    const decomposed = "cafe\u0301 au lait please";
    const hash = await hashPassword(precomposed, FAST);
    expect(await verifyPassword(decomposed, hash)).toBe(true);
  });

  test("over-long input is refused before hashing", async () => {
    await expect(hashPassword("x".repeat(MAX_PASSWORD_BYTES + 1), FAST)).rejects.toThrow(RangeError);
    const hash = await hashPassword("a long enough passphrase", FAST);
    expect(await verifyPassword("x".repeat(MAX_PASSWORD_BYTES + 1), hash)).toBe(false);
  });

  test("unknown or malformed hashes verify as false, never throw", async () => {
    expect(passwordHashKind("plaintext")).toBe("unknown");
    expect(await verifyPassword("anything at all", "plaintext")).toBe(false);
    expect(await verifyPassword("anything at all", "$argon2id$v=19$m=64,t=1,p=1$broken")).toBe(false);
    expect(await verifyPassword("anything at all", "$2b$04$tooshort")).toBe(false);
  });
});

describe("imported bcrypt hashes", () => {
  test("$2a$, $2b$ and $2y$ verify, and always need a re-hash", async () => {
    const hash = await Bun.password.hash("Imported-Pa55!", { algorithm: "bcrypt", cost: 4 });
    expect(hash).toStartWith("$2b$04$");
    for (const prefix of ["$2a$", "$2b$", "$2y$"]) {
      const variant = prefix + hash.slice(4);
      expect(passwordHashKind(variant)).toBe("bcrypt");
      expect(await verifyPassword("Imported-Pa55!", variant)).toBe(true);
      expect(await verifyPassword("Imported-Pa55?", variant)).toBe(false);
      expect(needsRehash(variant, DEFAULT_PASSWORD_SETTINGS)).toBe(true);
    }
  });

  test("the original's bcrypt read only 72 bytes: longer passwords still verify", async () => {
    const long = "a-very-long-passphrase-".repeat(5); // 115 bytes
    // What Python's bcrypt (before 5.0) stored: the hash of the first 72 bytes.
    const hash = await Bun.password.hash(long.slice(0, 72), { algorithm: "bcrypt", cost: 4 });
    expect(await verifyPassword(long, hash)).toBe(true);
    expect(await verifyPassword(long.slice(0, 71), hash)).toBe(false);
  });
});

describe("needsRehash", () => {
  test("argon2id with other memory, time or parallelism parameters", async () => {
    const hash = await hashPassword("a long enough passphrase", FAST);
    expect(needsRehash(hash, FAST)).toBe(false);
    expect(needsRehash(hash, { ...FAST, argon2MemoryKib: 128 })).toBe(true);
    expect(needsRehash(hash, { ...FAST, argon2TimeCost: 2 })).toBe(true);
    expect(needsRehash(hash.replace("p=1", "p=4"), FAST)).toBe(true);
    expect(needsRehash(hash.replace("$argon2id$", "$argon2i$"), FAST)).toBe(true);
    expect(needsRehash("garbage", FAST)).toBe(true);
  });

  test("the minimum length does not force a re-hash", async () => {
    const hash = await hashPassword("a long enough passphrase", FAST);
    expect(needsRehash(hash, { ...FAST, minLength: 20 })).toBe(false);
  });
});

describe("unknown users", () => {
  test("the dummy verification answers false, for any input", async () => {
    await prepareDummyHash(FAST);
    expect(await verifyDummyPassword("a long enough passphrase", FAST)).toBe(false);
    expect(await verifyDummyPassword("", FAST)).toBe(false);
    expect(await verifyDummyPassword("x".repeat(5000), FAST)).toBe(false);
  });

  test("it costs about what a real verification costs", async () => {
    const settings: PasswordSettings = { minLength: 12, argon2MemoryKib: 8192, argon2TimeCost: 2 };
    const real = await hashPassword("a long enough passphrase", settings);
    await prepareDummyHash(settings);
    const time = async (run: () => Promise<unknown>) => {
      const start = performance.now();
      for (let i = 0; i < 5; i++) await run();
      return performance.now() - start;
    };
    const realMs = await time(() => verifyPassword("wrong passphrase here", real));
    const dummyMs = await time(() => verifyDummyPassword("wrong passphrase here", settings));
    // Generous bounds: this guards against a dummy that skips the work, not against jitter.
    expect(dummyMs).toBeGreaterThan(realMs * 0.4);
    expect(dummyMs).toBeLessThan(realMs * 2.5);
  });
});

test("the minimum length holds for the password as typed, not only after normalisation (one U+FDFA expands to 18)", () => {
  expect(checkPasswordPolicy("\uFDFA", { username: "alice", minLength: 12 })?.code).toBe("PASSWORD_TOO_SHORT");
  expect(checkPasswordPolicy("㍿㍿㍿㍿", { username: "alice", minLength: 12 })?.code).toBe("PASSWORD_TOO_SHORT");
});
