// The migrations compiled into the binary.
//
// `bun build --compile` cannot read ./drizzle from disk at run time, so every SQL file that
// drizzle-kit generates is imported here as text. After `npx drizzle-kit generate`, add one
// import and one line in EMBEDDED_SQL; tests/unit/db-migrations.test.ts fails until you do.
import journal from "../../drizzle/meta/_journal.json" with { type: "json" };
import sql0000 from "../../drizzle/0000_init.sql" with { type: "text" };
import sql0001 from "../../drizzle/0001_upstream_users.sql" with { type: "text" };
import sql0002 from "../../drizzle/0002_auth.sql" with { type: "text" };
import sql0003 from "../../drizzle/0003_roles.sql" with { type: "text" };
import sql0004 from "../../drizzle/0004_isolation.sql" with { type: "text" };
import sql0005 from "../../drizzle/0005_models.sql" with { type: "text" };
import sql0006 from "../../drizzle/0006_shared_workflows.sql" with { type: "text" };
import sql0007 from "../../drizzle/0007_gateway_settings.sql" with { type: "text" };
import sql0008 from "../../drizzle/0008_nsfw_verdicts.sql" with { type: "text" };
import sql0009 from "../../drizzle/0009_ip_rules.sql" with { type: "text" };
import sql0010 from "../../drizzle/0010_audit_log.sql" with { type: "text" };
import sql0011 from "../../drizzle/0011_notify_and_downloads.sql" with { type: "text" };
import { buildMigrations, type Migration } from "./migration.ts";

/** SQL text by migration tag (the file name without `.sql`). */
export const EMBEDDED_SQL: Readonly<Record<string, string>> = {
  "0000_init": sql0000,
  "0001_upstream_users": sql0001,
  "0002_auth": sql0002,
  "0003_roles": sql0003,
  "0004_isolation": sql0004,
  "0005_models": sql0005,
  "0006_shared_workflows": sql0006,
  "0007_gateway_settings": sql0007,
  "0008_nsfw_verdicts": sql0008,
  "0009_ip_rules": sql0009,
  "0010_audit_log": sql0010,
  "0011_notify_and_downloads": sql0011,
};

/** The journal as embedded, for the consistency test. */
export const EMBEDDED_JOURNAL = journal;

let cached: readonly Migration[] | undefined;

/** All migrations this binary knows, oldest first. Built lazily so a mistake is reported, not thrown at import. */
export function embeddedMigrations(): readonly Migration[] {
  cached ??= buildMigrations(journal, EMBEDDED_SQL);
  return cached;
}
