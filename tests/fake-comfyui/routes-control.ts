/**
 * Test control routes under `/__fake/` (spec §10.4). A gateway never forwards this prefix; the
 * fake neither records these requests nor applies the origin check to them.
 *
 *   POST   /__fake/broadcast  {type, data, sid?}          → {sent_to: [sid…]}
 *   POST   /__fake/binary     {sid?, event, …}             → {sent_to: [sid…]}
 *   POST   /__fake/flood      {type, count?, bytes?, sid?, prompt_id?}  → {sent_to, count}  (WS throughput)
 *   POST   /__fake/step                                     → {state, prompt_id, node, next}
 *   POST   /__fake/execution  {mode: "auto"|"manual"}      → {mode}
 *   POST   /__fake/pause, /__fake/resume                    → {paused}  (stop/start taking prompts)
 *   POST   /__fake/interrupt                                → {}   (like nodes.interrupt_processing())
 *   POST   /__fake/wait_idle  {timeout_ms?}                 → {idle: true} or 504
 *   GET    /__fake/requests                                 → [{method, target, headers, body, …}]
 *   DELETE /__fake/requests                                 → {}
 *   GET    /__fake/state                                    → state summary
 *   POST   /__fake/reset                                    → {}
 *   POST   /__fake/file       {type, subfolder?, filename, size? | content?}
 */
import type { FakeControls } from "./fake-controls.ts";
import { jsonResponse } from "./http-responses.ts";
import { readJsonOr, type RequestContext } from "./request-context.ts";
import { RouteTable } from "./router.ts";
import type { FileType } from "./virtual-paths.ts";

function asRecord(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function failure(error: unknown, status = 400): Response {
  return jsonResponse({ error: error instanceof Error ? error.message : String(error) }, status);
}

export function controlRoutes(controls: FakeControls): RouteTable {
  const table = new RouteTable();
  table.add("POST", "/__fake/broadcast", async (ctx: RequestContext) => {
    const body = asRecord(await readJsonOr(ctx, {}));
    if (typeof body.type !== "string") return failure("type must be a string");
    const sid = typeof body.sid === "string" ? body.sid : null;
    return jsonResponse({ sent_to: controls.broadcast(body.type, body.data ?? {}, sid) });
  });
  table.add("POST", "/__fake/flood", async (ctx) => {
    const body = asRecord(await readJsonOr(ctx, {}));
    if (typeof body.type !== "string") return failure("type must be a string");
    const count = typeof body.count === "number" ? Math.max(0, Math.floor(body.count)) : 1000;
    const bytes = typeof body.bytes === "number" ? body.bytes : 64;
    const sid = typeof body.sid === "string" ? body.sid : null;
    const promptId = typeof body.prompt_id === "string" ? body.prompt_id : null;
    return jsonResponse({ sent_to: controls.flood(body.type, count, bytes, sid, promptId), count });
  });
  table.add("POST", "/__fake/binary", async (ctx) => {
    const body = asRecord(await readJsonOr(ctx, {}));
    try {
      return jsonResponse({ sent_to: controls.sendBinary({ ...body, event: Number(body.event) }) });
    } catch (error) {
      return failure(error);
    }
  });
  table.add("POST", "/__fake/step", async (ctx) => {
    if (ctx.worker.executionMode !== "manual") return failure("the fake runs in auto mode; switch it to manual first", 409);
    return jsonResponse(await ctx.worker.step());
  });
  table.add("POST", "/__fake/execution", async (ctx) => {
    const mode = asRecord(await readJsonOr(ctx, {})).mode;
    if (mode !== "auto" && mode !== "manual") return failure('mode must be "auto" or "manual"');
    ctx.worker.setExecutionMode(mode);
    return jsonResponse({ mode });
  });
  table.add("POST", "/__fake/pause", (ctx) => {
    ctx.worker.setPaused(true);
    return jsonResponse({ paused: true });
  });
  table.add("POST", "/__fake/resume", (ctx) => {
    ctx.worker.setPaused(false);
    return jsonResponse({ paused: false });
  });
  table.add("POST", "/__fake/interrupt", (ctx) => {
    ctx.worker.interrupt();
    return jsonResponse({});
  });
  table.add("POST", "/__fake/wait_idle", async (ctx) => {
    const body = asRecord(await readJsonOr(ctx, {}));
    const timeout = typeof body.timeout_ms === "number" ? body.timeout_ms : 10_000;
    try {
      await ctx.worker.waitForIdle(timeout);
      return jsonResponse({ idle: true });
    } catch (error) {
      return failure(error, 504);
    }
  });
  table.add("GET", "/__fake/requests", (ctx) => jsonResponse(ctx.state.requests));
  table.add("DELETE", "/__fake/requests", (ctx) => {
    ctx.state.requests.length = 0;
    return jsonResponse({});
  });
  table.add("GET", "/__fake/state", () => jsonResponse(controls.summary()));
  table.add("POST", "/__fake/reset", () => {
    controls.reset();
    return jsonResponse({});
  });
  table.add("POST", "/__fake/file", async (ctx) => {
    const body = asRecord(await readJsonOr(ctx, {}));
    try {
      return jsonResponse(
        controls.createFile({
          // createFile checks the value; the cast only names what it must be.
          type: body.type as FileType,
          subfolder: typeof body.subfolder === "string" ? body.subfolder : "",
          filename: String(body.filename ?? ""),
          size: typeof body.size === "number" ? body.size : 0,
          ...(typeof body.content === "string" ? { content: body.content } : {}),
        }),
      );
    } catch (error) {
      return failure(error);
    }
  });
  return table;
}
