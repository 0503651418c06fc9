// drizzle-kit configuration: `npx drizzle-kit generate` reads the schema below and writes
// SQL migrations to ./drizzle. After generating, embed the new file in src/db/migrations.ts
// (the compiled binary cannot read ./drizzle at run time; a unit test checks the list).
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "sqlite",
  schema: "./src/db/schema.ts",
  out: "./drizzle",
  breakpoints: true,
});
