/**
 * The audit log for administrators (each path also under `/api/mss-login/...`):
 * - `GET /mss-login/api/audit?action=&outcome=&actor=&ip=&since=&until=&before_id=&limit=`:
 *   newest first, `{items, next_before_id}` for the next page;
 * - `GET /mss-login/api/audit/export?format=ndjson|csv&…same filters`: every matching entry, as
 *   a download (streamed in pages);
 * - `GET /mss-login/api/audit/verify`: the chain check, as `mss-login audit verify` does it.
 */
import { Elysia } from "elysia";
import { jsonError } from "../gateway/error-response.ts";
import { bothSpellings, json, type AdminGuard } from "../auth/admin-guard.ts";
import type { AuditFilter, AuditLog, AuditRow } from "./log.ts";

export interface AuditRouteDeps {
  audit: AuditLog;
  guard: AdminGuard;
}

function filterFrom(params: URLSearchParams): AuditFilter | Response {
  const time = (name: string): number | undefined | null => {
    const raw = params.get(name);
    if (raw === null || raw === "") return undefined;
    const value = /^\d+$/.test(raw) ? Number(raw) : Date.parse(raw);
    return Number.isFinite(value) ? value : null;
  };
  const since = time("since");
  const until = time("until");
  if (since === null || until === null) return jsonError(400, "BAD_DATE", "since and until are dates (ISO 8601) or milliseconds since 1970.");
  const outcome = params.get("outcome") ?? undefined;
  if (outcome !== undefined && outcome !== "" && outcome !== "success" && outcome !== "failure" && outcome !== "denied") return jsonError(400, "BAD_OUTCOME", "outcome is success, failure or denied.");
  const text = (name: string) => {
    const value = params.get(name)?.trim();
    return value === undefined || value === "" ? undefined : value.slice(0, 200);
  };
  return {
    ...(text("action") === undefined ? {} : { action: text("action")! }),
    ...(outcome === undefined || outcome === "" ? {} : { outcome }),
    ...(text("actor") === undefined ? {} : { actor: text("actor")! }),
    ...(text("ip") === undefined ? {} : { ip: text("ip")! }),
    ...(since === undefined ? {} : { since }),
    ...(until === undefined ? {} : { until }),
  };
}

function shape(row: AuditRow) {
  let details: unknown = row.details;
  try {
    details = JSON.parse(row.details);
  } catch {
    // kept as text
  }
  return { id: row.id, at: new Date(row.at).toISOString(), actor_id: row.actorId, actor: row.actorName, ip: row.clientIp, user_agent: row.userAgent, action: row.action, target: row.target, outcome: row.outcome, details, hash: row.hash };
}

const CSV_COLUMNS = ["id", "at", "actor", "ip", "action", "target", "outcome", "details", "user_agent", "hash"] as const;

function csvCell(value: unknown): string {
  const text = value === null || value === undefined ? "" : typeof value === "string" ? value : JSON.stringify(value);
  // A leading = + - @ would be read as a formula by a spreadsheet.
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

export function auditRoutes(deps: AuditRouteDeps) {
  const list = async ({ request }: { request: Request }) => {
    const caller = await deps.guard.admin(request, { write: false });
    if (caller instanceof Response) return caller;
    const params = new URL(request.url).searchParams;
    const filter = filterFrom(params);
    if (filter instanceof Response) return filter;
    const limit = Math.min(500, Math.max(1, Number(params.get("limit") ?? "100") || 100));
    const beforeRaw = params.get("before_id");
    const beforeId = beforeRaw === null ? undefined : Number(beforeRaw);
    if (beforeId !== undefined && !Number.isSafeInteger(beforeId)) return jsonError(400, "BAD_CURSOR", "before_id is an entry id.");
    const rows = deps.audit.page({ ...filter, limit: limit + 1, ...(beforeId === undefined ? {} : { beforeId }) });
    const items = rows.slice(0, limit).map(shape);
    return json({ items, next_before_id: rows.length > limit ? items.at(-1)!.id : null });
  };

  const exportAll = async ({ request }: { request: Request }) => {
    const caller = await deps.guard.admin(request, { write: false });
    if (caller instanceof Response) return caller;
    const params = new URL(request.url).searchParams;
    const format = params.get("format") ?? "ndjson";
    if (format !== "ndjson" && format !== "csv") return jsonError(400, "BAD_FORMAT", "format is ndjson or csv.");
    const filter = filterFrom(params);
    if (filter instanceof Response) return filter;
    const encoder = new TextEncoder();
    let beforeId: number | undefined;
    let headerSent = false;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (format === "csv" && !headerSent) {
          headerSent = true;
          controller.enqueue(encoder.encode(`${CSV_COLUMNS.join(",")}\r\n`));
          return;
        }
        const rows = deps.audit.page({ ...filter, limit: 1000, ...(beforeId === undefined ? {} : { beforeId }) });
        if (rows.length === 0) {
          controller.close();
          return;
        }
        beforeId = rows.at(-1)!.id;
        const lines = rows.map(shape).map((item) => (format === "ndjson" ? JSON.stringify(item) : CSV_COLUMNS.map((column) => csvCell(item[column])).join(",")));
        controller.enqueue(encoder.encode(lines.join(format === "csv" ? "\r\n" : "\n") + (format === "csv" ? "\r\n" : "\n")));
      },
    });
    const stamp = new Date().toISOString().slice(0, 19).replaceAll(":", "-");
    return new Response(body, {
      headers: {
        "content-type": format === "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson; charset=utf-8",
        "content-disposition": `attachment; filename="mss-login-audit-${stamp}.${format === "csv" ? "csv" : "ndjson"}"`,
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
      },
    });
  };

  const verify = async ({ request }: { request: Request }) => {
    const caller = await deps.guard.admin(request, { write: false });
    if (caller instanceof Response) return caller;
    const result = deps.audit.verify();
    return json(result.ok ? { intact: true, entries: result.rows, from: result.from, head: result.head } : { intact: false, entries_verified: result.rows, broken_id: result.brokenId, problem: result.problem });
  };

  const [listPath, listApi] = bothSpellings("/mss-login/api/audit");
  const [exportPath, exportApi] = bothSpellings("/mss-login/api/audit/export");
  const [verifyPath, verifyApi] = bothSpellings("/mss-login/api/audit/verify");
  return new Elysia({ name: "audit" }).get(listPath, list).get(listApi, list).get(exportPath, exportAll).get(exportApi, exportAll).get(verifyPath, verify).get(verifyApi, verify);
}
