// `mss-login policy ...`: the route permission table from the shell.
//
//   policy explain --role <owner|admin|power|user|guest|anonymous> <METHOD> <PATH>
//       canonicalises and classifies PATH exactly as the gateway does, and prints the route,
//       the table row that applies, the role's value for its key and the decision
//   policy list
//       the whole table: route id, methods, path, condition, requirement
//
// The database is opened (and migrated, as by every command) only when it exists; otherwise
// the default matrix answers, and the output says which. Exit 0 whatever the decision; 2 on
// bad arguments.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { CONFIG_FLAGS, ensureDataDir, loadConfig, type Config } from "../config/index.ts";
import { DATABASE_FILE_NAME } from "../db/index.ts";
import { COMFY_ROUTES, CUSTOM_ROUTE_FAMILIES, FRONTEND_STATIC_FILES, OWN_NAMESPACE_SEGMENT } from "../gateway/comfy-routes.ts";
import { canonicaliseTarget } from "../gateway/request-target.ts";
import { classifyRoute, routeSpellings, type RouteMatch } from "../gateway/route-table.ts";
import { createGroupsStore } from "../rbac/groups-store.ts";
import { defaultMatrix, roleAllows, ROLE_NAMES } from "../rbac/permissions.ts";
import { allowListEntryFor, decide, type Principal, type Role } from "../rbac/policy.ts";
import { describeRequirement, ROUTE_PERMISSIONS, ruleFor, UNKNOWN_ROUTE_ID, type PermissionRule } from "../rbac/route-permissions.ts";
import { EXIT_FAILURE, EXIT_OK, openAndMigrate, UsageError, type CliIo } from "../main.ts";
import { formatTable, parseArguments, subcommandOf } from "./cli-support.ts";

const SUBCOMMANDS = ["explain", "list"] as const;
type Subcommand = (typeof SUBCOMMANDS)[number];

const ANONYMOUS = "anonymous";
const METHOD_PATTERN = /^[A-Za-z]{1,16}$/;

export async function runPolicyCommand(args: readonly string[], io: CliIo): Promise<number> {
  const subcommand = subcommandOf<Subcommand>("policy", SUBCOMMANDS, args);
  return subcommand === "explain" ? explain(args.slice(1), io) : list(args.slice(1), io);
}

/** Splits positional arguments from `--flag value` pairs (every flag here takes a value). */
function splitPositionals(args: readonly string[]): { positionals: string[]; flags: string[] } {
  const positionals: string[] = [];
  const flags: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? "";
    if (!arg.startsWith("--")) {
      positionals.push(arg);
      continue;
    }
    flags.push(arg);
    const name = arg.includes("=") ? null : arg;
    if (name !== null && (name === "--role" || CONFIG_FLAGS.includes(name)) && args[i + 1] !== undefined) flags.push(args[++i] ?? "");
  }
  return { positionals, flags };
}

function loadQuietly(configArgv: readonly string[], io: CliIo): Config {
  const { config, warnings } = loadConfig({ argv: configArgv, env: io.env, cwd: io.cwd });
  for (const warning of warnings) io.stderr(`warning: ${warning}\n`);
  return config;
}

// ---------------------------------------------------------------------------------------------
// explain

interface RoleValues {
  allows(role: string, key: string): boolean;
  /** Where the values came from, for the output. */
  readonly source: string;
  close(): void;
}

/** The stored matrix when the database exists, else the defaults; null (message printed) on failure. */
function roleValues(config: Config, io: CliIo): RoleValues | null {
  const path = join(config.data_dir, DATABASE_FILE_NAME);
  if (!existsSync(path)) {
    const matrix = defaultMatrix();
    return { allows: (role, key) => roleAllows(matrix, role, key), source: `default matrix: no database yet at ${path}`, close: () => {} };
  }
  for (const warning of ensureDataDir(config.data_dir).warnings) io.stderr(`warning: ${warning}\n`);
  const opened = openAndMigrate(config.data_dir, io);
  if (opened === null) return null;
  const groups = createGroupsStore(opened.database.db);
  return { allows: (role, key) => groups.allows(role, key), source: `stored matrix in ${opened.database.path}`, close: () => opened.database.close() };
}

function describeRoute(route: RouteMatch): string {
  switch (route.kind) {
    case "comfy":
      return `comfy ${route.routeId} (${route.route === null ? "" : routeSpellings(route.route).join(", ")}): ${route.route?.summary ?? ""}`;
    case "static": {
      const rule = FRONTEND_STATIC_FILES.find((candidate) => candidate.id === route.routeId);
      return `static ${route.routeId}: ${rule?.summary ?? ""}`;
    }
    case "own":
      return `own: the gateway's own route (/${OWN_NAMESPACE_SEGMENT}/..., its login pages)`;
    case "unknown": {
      const family = CUSTOM_ROUTE_FAMILIES.find((candidate) => `custom.${candidate.id}` === route.routeId);
      return family !== undefined ? `unknown to ComfyUI's table, custom-node family ${route.routeId}: ${family.summary}` : "unknown: no table knows this path";
    }
  }
}

function describeParams(params: Readonly<Record<string, string>>): string {
  const entries = Object.entries(params);
  return entries.length === 0 ? "" : entries.map(([name, value]) => `${name}=${JSON.stringify(value)}`).join(" ");
}

function describeRule(rule: PermissionRule): string {
  const methods = rule.methods === "*" ? "any method" : rule.methods.join(",");
  const when = rule.when !== undefined ? `, when ${rule.when.describe}` : "";
  return `${rule.routeId} [${methods}${when}] requires ${describeRequirement(rule.requirement)}`;
}

function explain(args: readonly string[], io: CliIo): number {
  const command = "policy explain";
  const { positionals, flags } = splitPositionals(args);
  const { options, configArgv } = parseArguments(command, ["--role"], flags);
  const roleText = options.get("--role");
  if (typeof roleText !== "string" || roleText === "") throw new UsageError(`${command} needs --role (${[...ROLE_NAMES, ANONYMOUS].join(", ")})`);
  const role = roleText.toLowerCase();
  if (role !== ANONYMOUS && !(ROLE_NAMES as readonly string[]).includes(role)) {
    throw new UsageError(`${command}: unknown role ${JSON.stringify(roleText)} (one of ${[...ROLE_NAMES, ANONYMOUS].join(", ")})`);
  }
  if (positionals.length !== 2) throw new UsageError(`${command} needs a METHOD and a PATH, e.g. ${command} --role user POST /api/prompt`);
  const [methodText = "", rawTarget = ""] = positionals;
  if (!METHOD_PATTERN.test(methodText)) throw new UsageError(`${command}: ${JSON.stringify(methodText)} is not an HTTP method`);
  if (!rawTarget.startsWith("/")) throw new UsageError(`${command}: the path must start with '/' (got ${JSON.stringify(rawTarget)})`);
  const method = methodText.toUpperCase();

  const config = loadQuietly(configArgv, io);
  const lines: [string, string][] = [["request", `${method} ${rawTarget}`]];
  const print = () => io.stdout(`${formatTable(lines.map(([label, text]) => [`${label}:`, text]))}\n`);

  const canonical = canonicaliseTarget(rawTarget);
  if (!canonical.ok) {
    lines.push(["decision", `DENY ${canonical.status} ${canonical.code}: ${canonical.error} (refused before any route is looked up)`]);
    print();
    return EXIT_OK;
  }
  const { target } = canonical;
  const route = classifyRoute(target, method);
  lines.push(["canonical", target.path === target.forwardPath ? target.path : `${target.path} (forwarded as ${target.forwardPath})`]);
  lines.push(["route", describeRoute(route)]);
  const params = describeParams(route.params);
  if (params !== "") lines.push(["params", params]);

  const rule = route.kind === "own" ? undefined : (ruleFor(route.routeId, method, route.params) ?? (route.kind === "unknown" ? ruleFor(UNKNOWN_ROUTE_ID, method, {}) : undefined));
  if (route.kind !== "own") lines.push(["rule", rule === undefined ? "none (a table bug: refused as owner/admin only)" : describeRule(rule)]);
  if (rule?.note !== undefined) lines.push(["note", rule.note]);

  const values = role === ANONYMOUS || route.kind === "own" ? null : roleValues(config, io);
  if (values === null && role !== ANONYMOUS && route.kind !== "own") return EXIT_FAILURE;
  try {
    const requirement = rule?.requirement;
    if (role === ANONYMOUS) {
      lines.push(["role", "anonymous: not signed in"]);
    } else if (values !== null && requirement !== undefined) {
      const privileged = role === "owner" || role === "admin";
      let holds: string;
      if ("permission" in requirement) {
        holds = `${requirement.permission} = ${values.allows(role, requirement.permission)}${privileged ? " (not consulted: owner and admin pass every route)" : ""}`;
      } else if ("adminOnly" in requirement) {
        holds = privileged ? "is owner/admin" : "is not owner/admin";
        if (rule?.routeId === UNKNOWN_ROUTE_ID) {
          const opened = allowListEntryFor(target.path, config.gateway.allowed_unknown_routes);
          holds += opened === null ? "; no gateway.allowed_unknown_routes entry matches" : `; gateway.allowed_unknown_routes entry ${opened} matches`;
        }
      } else {
        holds = "needs no key";
      }
      lines.push(["role", `${role}: ${holds} (${values.source})`]);
    }

    const principal: Principal = role === ANONYMOUS ? { kind: "anonymous" } : { kind: "user", userId: "(explain)", username: "(explain)", role: role as Role };
    const decision = decide(
      principal,
      { kind: route.kind, routeId: route.routeId, method, path: target.path, params: route.params },
      { allowedUnknownRoutes: config.gateway.allowed_unknown_routes, allows: (r, key) => values?.allows(r, key) ?? false },
    );
    if (decision.allow) {
      lines.push(["decision", `ALLOW: ${decision.reason}`]);
      // The gateway checks the method after the policy (pipeline.ts).
      if (route.preflight) lines.push(["then", "204: OPTIONS is answered by the gateway and never forwarded"]);
      else if (!route.methodAllowed) lines.push(["then", `405 METHOD_NOT_ALLOWED: the route takes ${route.allowedMethods.join(", ")}`]);
      else if (route.kind !== "own") lines.push(["then", `forwarded to ComfyUI as ${target.forwardPath}`]);
    } else {
      const redirect = decision.status === 401 ? " (browsers are redirected to /login)" : "";
      lines.push(["decision", `DENY ${decision.status} ${decision.code}: ${decision.reason}${redirect}`]);
    }
    print();
    return EXIT_OK;
  } finally {
    values?.close();
  }
}

// ---------------------------------------------------------------------------------------------
// list

/** The paths a table row's route id stands for, as one short text. */
function pathsOf(routeId: string): string {
  const comfy = COMFY_ROUTES.find((route) => route.id === routeId);
  // Served under /api too: marked rather than spelled twice, to keep the table narrow.
  if (comfy !== undefined) return comfy.registration === "prompt-server" ? `${comfy.path} +/api` : comfy.path;
  const rule = FRONTEND_STATIC_FILES.find((candidate) => candidate.id === routeId);
  if (rule !== undefined) {
    if (rule.directory === "") return (rule.names ?? []).map((name) => `/${name}`).join(" ") + (rule.id === "static.index" ? " /" : "");
    return rule.moduleDirectory ? `/${rule.directory}/{module}/**` : `/${rule.directory}/**`;
  }
  const family = CUSTOM_ROUTE_FAMILIES.find((candidate) => `custom.${candidate.id}` === routeId);
  if (family !== undefined) return family.prefixes.map((prefix) => `/${prefix.join("/")}/`).join(" ") + (family.apiMirror ? " +/api" : "");
  if (routeId === UNKNOWN_ROUTE_ID) return "anything else";
  return "?";
}

function list(args: readonly string[], io: CliIo): number {
  const { configArgv } = parseArguments("policy list", [], args);
  const config = loadQuietly(configArgv, io);
  // Notes go below the table, numbered, so that the table stays narrow enough to read.
  const notes: string[] = [];
  const rows = ROUTE_PERMISSIONS.map((rule) => {
    if (rule.note !== undefined) notes.push(`[${notes.length + 1}] ${rule.routeId}: ${rule.note}`);
    return [
      rule.routeId,
      rule.methods === "*" ? "any" : rule.methods.join(","),
      describeRequirement(rule.requirement),
      rule.when?.describe ?? "",
      rule.note !== undefined ? `[${notes.length}]` : "",
      pathsOf(rule.routeId),
    ];
  });
  const allowList = config.gateway.allowed_unknown_routes;
  io.stdout(
    `${formatTable([["ROUTE", "METHODS", "REQUIRES", "WHEN", "NOTE", "PATHS"], ...rows])}\n\n` +
      `${notes.join("\n")}\n\n` +
      "Rows of one route are tried in order; the first that matches applies. +/api: also served under /api.\n" +
      "Owner and admin pass every row. Not signed in: 401 AUTH_REQUIRED. A missing key: 403 with the code shown.\n" +
      `Unknown routes are also open to every role under gateway.allowed_unknown_routes: ${allowList.length === 0 ? "(none)" : allowList.join(" ")}\n`,
  );
  return EXIT_OK;
}
