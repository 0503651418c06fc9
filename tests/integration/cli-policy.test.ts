// `mss-login policy ...` as a child process: explain canonicalises and classifies a path like
// the gateway, reads the role's keys from the stored matrix (or the defaults before the
// database exists) and prints the decision; list prints the whole table.
import { describe, expect, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { applyMigrations, DATABASE_FILE_NAME, openDatabase } from "../../src/db/index.ts";
import { createGroupsStore } from "../../src/rbac/groups-store.ts";
import { cleanEnv, runCommand, tempDirPerTest } from "../support/cli.ts";

const work = tempDirPerTest("mss-cli-policy-").current;

const run = (args: string[]) => runCommand([...args, "--data-dir", work()], { cwd: work(), env: cleanEnv() });

/** The `label:` line of an explain output, without its label. */
function line(stdout: string, label: string): string {
  const found = stdout.split("\n").find((text) => text.startsWith(`${label}:`));
  return found === undefined ? "" : found.slice(label.length + 1).trim();
}

describe("policy explain", () => {
  test("before the database exists: the default matrix, said so, and no database is created", async () => {
    const { stdout, stderr, code } = await run(["policy", "explain", "--role", "guest", "POST", "/api/upload/image"]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    expect(line(stdout, "canonical")).toBe("/api/upload/image");
    expect(line(stdout, "route")).toStartWith("comfy upload.image");
    expect(line(stdout, "rule")).toContain("can_upload (403 UPLOAD_DENIED)");
    expect(line(stdout, "role")).toContain("guest: can_upload = false (default matrix: no database yet");
    expect(line(stdout, "decision")).toStartWith("DENY 403 UPLOAD_DENIED");
    expect(existsSync(join(work(), DATABASE_FILE_NAME))).toBe(false);
  });

  test("with a database: the stored matrix answers", async () => {
    const database = openDatabase(work());
    applyMigrations(database.sqlite);
    createGroupsStore(database.db).update({ user: { can_run: false } }, { callerIsOwner: true });
    database.close();

    const denied = await run(["policy", "explain", "--role", "user", "GET", "/queue"]);
    expect(denied.code).toBe(0);
    expect(line(denied.stdout, "role")).toContain("user: can_run = false (stored matrix in");
    expect(line(denied.stdout, "decision")).toStartWith("DENY 403 RUN_DENIED");

    const allowed = await run(["policy", "explain", "--role", "power", "post", "/api/%70rompt"]);
    expect(allowed.code).toBe(0);
    expect(line(allowed.stdout, "request")).toBe("POST /api/%70rompt");
    expect(line(allowed.stdout, "canonical")).toBe("/api/prompt");
    expect(line(allowed.stdout, "decision")).toBe("ALLOW: the role holds can_run");
    expect(line(allowed.stdout, "then")).toBe("forwarded to ComfyUI as /api/prompt");
  });

  test("workflows, the manager, unknown routes and the operator's allow-list", async () => {
    const workflow = await run(["policy", "explain", "--role", "guest", "POST", "/api/userdata/workflows%2Fa.json"]);
    expect(line(workflow.stdout, "params")).toBe('file="workflows/a.json"');
    expect(line(workflow.stdout, "decision")).toStartWith("DENY 403 WORKFLOW_DENIED");

    const manager = await run(["policy", "explain", "--role", "user", "GET", "/extensions/ComfyUI-Manager/js/a.js"]);
    expect(line(manager.stdout, "rule")).toContain("module is comfyui-manager (any case)");
    expect(line(manager.stdout, "decision")).toStartWith("DENY 403 MANAGER_DENIED");

    const unknown = await run(["policy", "explain", "--role", "power", "GET", "/some-node/api"]);
    expect(line(unknown.stdout, "route")).toStartWith("unknown");
    expect(line(unknown.stdout, "decision")).toStartWith("DENY 403 ROUTE_NOT_ALLOWED");

    writeFileSync(join(work(), "config.json"), JSON.stringify({ gateway: { allowed_unknown_routes: ["/some-node"] } }), { mode: 0o600 });
    const opened = await run(["policy", "explain", "--role", "guest", "GET", "/some-node/api"]);
    expect(line(opened.stdout, "role")).toContain("gateway.allowed_unknown_routes entry /some-node matches");
    expect(line(opened.stdout, "decision")).toStartWith("ALLOW: unknown route opened by gateway.allowed_unknown_routes");

    const admin = await run(["policy", "explain", "--role", "admin", "GET", "/internal/logs"]);
    expect(line(admin.stdout, "decision")).toStartWith("ALLOW: owner and admin pass every route");
  });

  test("anonymous gets the 401; a refused path is a 400 explained; a wrong method is the 405 after the policy", async () => {
    const anonymous = await run(["policy", "explain", "--role", "anonymous", "GET", "/api/prompt"]);
    expect(anonymous.code).toBe(0);
    expect(line(anonymous.stdout, "role")).toBe("anonymous: not signed in");
    expect(line(anonymous.stdout, "decision")).toBe("DENY 401 AUTH_REQUIRED: Sign in to use ComfyUI. (browsers are redirected to /login)");

    const refused = await run(["policy", "explain", "--role", "user", "GET", "/api/..%2fprompt"]);
    expect(refused.code).toBe(0);
    expect(line(refused.stdout, "decision")).toStartWith("DENY 400 BAD_PATH_");

    const wrongMethod = await run(["policy", "explain", "--role", "user", "PUT", "/api/interrupt"]);
    expect(line(wrongMethod.stdout, "then")).toStartWith("405 METHOD_NOT_ALLOWED");
  });

  test("bad arguments: exit 2 with one line", async () => {
    const cases: [string[], string][] = [
      [["policy", "why"], 'error: policy needs a subcommand: explain, list (got "why")\n'],
      [["policy", "explain", "GET", "/x"], "error: policy explain needs --role (owner, admin, power, user, guest, anonymous)\n"],
      [["policy", "explain", "--role", "root", "GET", "/x"], 'error: policy explain: unknown role "root" (one of owner, admin, power, user, guest, anonymous)\n'],
      [["policy", "explain", "--role", "user", "GET"], "error: policy explain needs a METHOD and a PATH, e.g. policy explain --role user POST /api/prompt\n"],
      [["policy", "explain", "--role", "user", "GET", "api/prompt"], "error: policy explain: the path must start with '/' (got \"api/prompt\")\n"],
      [["policy", "explain", "--role", "user", "G-T", "/x"], 'error: policy explain: "G-T" is not an HTTP method\n'],
      [["policy", "explain", "--role", "user", "--frob", "x", "GET", "/x"], "error: policy explain: unknown flag --frob; it takes --role\n"],
    ];
    for (const [args, expected] of cases) {
      const { stdout, stderr, code } = await run(args);
      expect({ args, code, stderr, stdout }).toEqual({ args, code: 2, stderr: expected, stdout: "" });
    }
  });
});

describe("policy list", () => {
  test("prints every row in one table, with its notes and the allow-list", async () => {
    const { stdout, stderr, code } = await run(["policy", "list"]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    const lines = stdout.split("\n");
    expect(lines[0]).toMatch(/^ROUTE\s+METHODS\s+REQUIRES\s+WHEN\s+NOTE\s+PATHS$/);
    const row = (start: string) => lines.find((text) => text.startsWith(`${start} `)) ?? "";
    expect(row("prompt")).toContain("can_run (403 RUN_DENIED)");
    expect(row("prompt")).toContain("/prompt +/api");
    expect(row("custom.comfyui-manager")).toContain("can_access_manager (403 MANAGER_DENIED)");
    expect(row("internal.logs")).toContain("owner/admin only");
    expect(stdout).toContain("POST,PUT,PATCH,DELETE");
    expect(stdout).toContain("gateway.allowed_unknown_routes: (none)");
  });
});
