/** The audit log's hash chain (src/audit/log.ts): append, verify, tampering found, pruning that keeps the rest verifiable. */
import { describe, expect, test } from "bun:test";
import { createAuditLog } from "../../src/audit/log.ts";
import { useTempDataDir } from "../support/temp-database.ts";

const temp = useTempDataDir("mss-audit-");

function filled(count: number) {
  const database = temp.open();
  let clock = 1_000;
  const audit = createAuditLog(database.db, () => (clock += 1000));
  for (let i = 0; i < count; i++) audit.append({ action: i % 2 ? "login.failure" : "login.success", outcome: i % 2 ? "failure" : "success", actorName: `user${i}`, clientIp: "203.0.113.5", details: { n: i } });
  return { database, audit };
}

describe("audit chain", () => {
  test("a fresh chain verifies, entry by entry", () => {
    const { audit } = filled(25);
    expect(audit.verify()).toMatchObject({ ok: true, rows: 25, from: 1, head: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(audit.page({ limit: 3 }).map((row) => row.id)).toEqual([25, 24, 23]);
    expect(audit.page({ limit: 100, action: "login.failure" })).toHaveLength(12);
  });

  test("an edited row is found, and named", () => {
    const edited = filled(10);
    edited.database.sqlite.run("update audit_events set actor_name = 'someone else' where id = 4");
    expect(edited.audit.verify()).toMatchObject({ ok: false, brokenId: 4, rows: 3 });
  });

  test("a deleted row is found: the one after it names the gap", () => {
    const deleted = filled(10);
    deleted.database.sqlite.run("delete from audit_events where id = 6");
    expect(deleted.audit.verify()).toMatchObject({ ok: false, brokenId: 7 });
  });

  test("a row whose hash was rewritten too is still found", () => {
    const rehashed = filled(10);
    rehashed.database.sqlite.run("update audit_events set outcome = 'success', hash = 'f' || substr(hash, 2) where id = 5");
    expect(rehashed.audit.verify()).toMatchObject({ ok: false, brokenId: 5 });
  });

  test("pruning old entries keeps the rest verifiable from an anchor; new entries chain on", () => {
    const { audit } = filled(10);
    expect(audit.prune(1_000 + 4 * 1000)).toBe(4);
    expect(audit.verify()).toMatchObject({ ok: true, rows: 6, from: 5 });
    audit.append({ action: "ip.banned", outcome: "success" });
    expect(audit.verify()).toMatchObject({ ok: true, rows: 7, from: 5 });
  });

  test("secrets never reach a row, whatever a caller puts in details", () => {
    const database = temp.open();
    const audit = createAuditLog(database.db);
    audit.append({ action: "login.failure", outcome: "failure", details: { password: "hunter2hunter2", api_token: "mss_abc", totp_code: "123456", reason: "wrong" } });
    const text = JSON.stringify(database.sqlite.query("select * from audit_events").all());
    for (const secret of ["hunter2hunter2", "mss_abc", "123456"]) expect(text).not.toContain(secret);
    expect(text).toContain("wrong");
  });
});
