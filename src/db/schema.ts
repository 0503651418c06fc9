// The whole database schema, as drizzle-kit sees it (drizzle.config.ts points here) and as the
// typed drizzle client is built from (./client.ts).
//
// Pattern: each module owns its tables in its own file and adds ONE line here, e.g.
//   export * from "../auth/tables.ts";
// then runs `npx drizzle-kit generate` and adds the new migration to ./migrations.ts.
// Files re-exported here must only import drizzle-orm (drizzle-kit loads them under Node).
export * from "./tables.ts";
export * from "../gateway/tables.ts";
export * from "../auth/tables.ts";
export * from "../rbac/tables.ts";
export * from "../isolation/tables.ts";
export * from "../models/tables.ts";
export * from "../settings/tables.ts";
export * from "../nsfw/tables.ts";
export * from "../ipfilter/tables.ts";
export * from "../audit/tables.ts";
export * from "../notify/tables.ts";
export * from "../downloads/tables.ts";
