import { expect, test } from "bun:test";
import { createLogger, isSecretFieldName, redactSecrets, type LogLevel } from "../../src/log.ts";

const AT = new Date("2026-01-31T12:00:00.000Z");

function capture(level: LogLevel) {
  const lines: string[] = [];
  const log = createLogger(level, { write: (line) => lines.push(line), now: () => AT });
  return { log, lines };
}

test("one line per event: time, level, message, key=value fields", () => {
  const { log, lines } = capture("info");
  log.info("gateway listening", { url: "http://0.0.0.0:8189", port: 8189, tls: false, note: "two words" });
  expect(lines).toEqual([
    '2026-01-31T12:00:00.000Z INFO gateway listening url=http://0.0.0.0:8189 port=8189 tls=false note="two words"',
  ]);
});

test("levels below the threshold are dropped", () => {
  const { log, lines } = capture("warn");
  log.debug("d");
  log.info("i");
  log.warn("w");
  log.error("e");
  expect(lines.map((line) => line.split(" ")[1])).toEqual(["WARN", "ERROR"]);
  expect(log.enabled("info")).toBe(false);
  expect(log.enabled("error")).toBe(true);
});

test("secret-named fields are redacted, at any depth", () => {
  const { log, lines } = capture("debug");
  log.info("login", {
    user: "alice",
    password: "hunter2",
    secret_key: "k".repeat(40),
    Authorization: "Bearer abc",
    "api-token": "t0k",
    request: { headers: { cookie: "mss_session=xyz", accept: "*/*" } },
  });
  const line = lines[0] ?? "";
  for (const secret of ["hunter2", "kkkk", "Bearer", "t0k", "xyz"]) expect(line).not.toContain(secret);
  expect(line).toContain("password=<redacted>");
  expect(line).toContain("user=alice");
  expect(line).toContain('\\"accept\\":\\"*/*\\"');
  expect(isSecretFieldName("totp_secret")).toBe(true);
  expect(isSecretFieldName("user_id")).toBe(false);
  expect(redactSecrets([{ token: "x", n: 1 }])).toEqual([{ token: "<redacted>", n: 1 }]);
});

test("user-controlled text cannot forge a second line", () => {
  const { log, lines } = capture("info");
  log.info("bad path\n2026-01-31T12:00:00.000Z ERROR fake", { path: "/x\nERROR forged", "we ird": "v" });
  expect(lines).toHaveLength(1);
  expect(lines[0]).not.toContain("\n");
  expect(lines[0]).toContain('path="/x\\nERROR forged"');
  expect(lines[0]).toContain('"we ird"=v');
});

test("errors are written as name and message; child loggers add context", () => {
  const { log, lines } = capture("info");
  log.child({ component: "db" }).error("failed", { error: new TypeError("boom") });
  expect(lines).toEqual(['2026-01-31T12:00:00.000Z ERROR failed component=db error="TypeError: boom"']);
});

test("credentials inside ordinary values and messages are masked, whatever the field is called", () => {
  const lines: string[] = [];
  const log = createLogger("debug", { write: (line) => lines.push(line), now: () => new Date(0) });
  const token = `mss_${"A".repeat(43)}`;
  log.info(`request with Bearer ${token}`, {
    url: `/api/view?filename=a.png&token=${token}&type=output`,
    link: "http://localhost:8189/setup?ticket=abc123secret",
    header: `Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2lnbmF0dXJl`,
  });
  const line = lines[0]!;
  expect(line).not.toContain(token);
  expect(line).not.toContain("abc123secret");
  expect(line).not.toContain("eyJzdWIiOiJ1MSJ9");
  expect(line).toContain("filename=a.png");
  expect(line).toContain("&type=output");
});
