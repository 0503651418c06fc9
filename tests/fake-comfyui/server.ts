/**
 * A faithful fake ComfyUI upstream for the gateway's tests (spec §10). Start one with
 * `startFakeComfyUI()`; it listens on 127.0.0.1 and a free port unless told otherwise.
 *
 * Request flow, as in aiohttp: `/__fake/*` controls first (not recorded, no origin check),
 * then the origin middleware, then the routes in registration order (`/api/x` mirrors, plain
 * routes, `/internal/*`, v0.38 asset routes), then the static catch-all.
 */
import type { Server } from "bun";
import { FakeControls, type BinaryEventSpec, type CreateFileSpec, type StateSummary } from "./fake-controls.ts";
import { HttpFailure, internalServerError, methodNotAllowed } from "./http-responses.ts";
import type { StepReport } from "./manual-stepper.ts";
import { resolveOptions, type ExecutionMode, type FakeComfyUIOptions, type ResolvedOptions } from "./options.ts";
import { corsHeaders, originGate } from "./origin-gate.ts";
import { PromptWorker } from "./prompt-worker.ts";
import type { RequestContext } from "./request-context.ts";
import { addMirrored, addPlain, RouteTable, type RouteSpec } from "./router.ts";
import { ASSET_ROUTES } from "./routes-assets.ts";
import { controlRoutes } from "./routes-control.ts";
import { FILE_ROUTES } from "./routes-files.ts";
import { infoRoutes, NEWER_INFO_ROUTES } from "./routes-info.ts";
import { INTERNAL_ROUTES } from "./routes-internal.ts";
import { JOB_ROUTES } from "./routes-jobs.ts";
import { MANAGER_ROUTES } from "./routes-manager.ts";
import { QUEUE_ROUTES } from "./routes-queue.ts";
import { USER_ROUTES } from "./routes-users.ts";
import { USERDATA_ROUTES } from "./routes-userdata.ts";
import { SERVER_HEADER } from "./server-header.ts";
import type { SocketData } from "./socket-hub.ts";
import { FakeState, type RecordedRequest } from "./state.ts";
import { pyUnquote } from "./virtual-paths.ts";
import { WebRoot } from "./web-root.ts";
import { upgradeToWebSocket, webSocketHandler } from "./websocket.ts";

export type { FakeComfyUIOptions } from "./options.ts";
export type { RecordedRequest } from "./state.ts";
export type { StepReport } from "./manual-stepper.ts";
export type { BinaryEventSpec, CreateFileSpec, StateSummary } from "./fake-controls.ts";

/** Keep the request log bounded for long benchmark runs. */
const MAX_RECORDED_REQUESTS = 20_000;

export interface FakeComfyUI {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** `ws://127.0.0.1:PORT` */
  wsUrl: string;
  port: number;
  options: ResolvedOptions;
  /** Direct access to the stores, for assertions. */
  state: FakeState;
  stop(): Promise<void>;
  /** Empty queue, history, files, users and logs; closes open sockets. */
  reset(): void;
  /** Every request received (except `/__fake/*`), oldest first. */
  requests(): RecordedRequest[];
  clearRequests(): void;
  /** Manual mode: run to the next wait point. */
  step(): Promise<StepReport>;
  /** Resolves when nothing runs and nothing is pending. */
  waitForIdle(timeoutMs?: number): Promise<void>;
  /** Like `POST /interrupt` without a body. */
  interrupt(): void;
  /** Stop taking prompts off the queue (they stay pending) / start again. */
  pause(): void;
  resume(): void;
  /** Switch between auto and manual execution while running. */
  setExecutionMode(mode: ExecutionMode): void;
  /** `send_sync(type, data, sid)`; null broadcasts. Returns the sids reached. */
  broadcast(type: string, data: unknown, sid?: string | null): string[];
  sendBinary(spec: BinaryEventSpec): string[];
  /** `count` messages of `type` with about `bytes` of padding, back to back. */
  flood(type: string, count: number, bytes?: number, sid?: string | null): string[];
  createFile(spec: CreateFileSpec): { name: string; subfolder: string; type: string; size: number };
  summary(): StateSummary;
}

function buildRoutes(options: ResolvedOptions, webRoot: WebRoot): RouteTable {
  const v038 = options.profile === "v0.38";
  const core: RouteSpec[] = [
    { method: "GET", path: "/ws", handler: upgradeToWebSocket },
    ...infoRoutes(webRoot),
    ...QUEUE_ROUTES,
    ...FILE_ROUTES,
    ...USER_ROUTES,
    ...USERDATA_ROUTES,
    ...(v038 ? [...NEWER_INFO_ROUTES, ...JOB_ROUTES] : []),
    ...MANAGER_ROUTES,
  ];
  const table = new RouteTable();
  addMirrored(table, core);
  addPlain(table, INTERNAL_ROUTES);
  if (v038) addPlain(table, ASSET_ROUTES);
  return table;
}

/** Path and query exactly as received (Bun keeps percent-encoding in `req.url`). */
function requestTarget(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  return start === -1 ? "/" : url.slice(start);
}

function finish(response: Response, options: ResolvedOptions): Response {
  if (!response.headers.has("server")) response.headers.set("Server", SERVER_HEADER);
  for (const [name, value] of Object.entries(corsHeaders(options))) response.headers.set(name, value);
  return response;
}

async function dispatch(
  table: RouteTable,
  ctx: RequestContext,
  webRoot: WebRoot,
): Promise<Response | undefined> {
  const method = ctx.req.method;
  const match = table.match(method, ctx.rawPath);
  if (match.kind === "route") {
    ctx.params = match.params;
    return await match.handler(ctx);
  }
  if (match.kind === "method-not-allowed") return methodNotAllowed(match.allowed);
  if (method === "GET" || method === "HEAD") return webRoot.serve(ctx.req, pyUnquote(ctx.rawPath));
  return methodNotAllowed(["GET", "HEAD"]);
}

export async function startFakeComfyUI(input: FakeComfyUIOptions = {}): Promise<FakeComfyUI> {
  const options = resolveOptions(input);
  const state = new FakeState(options);
  const worker = new PromptWorker(state);
  const controls = new FakeControls(state, worker);
  const webRoot = new WebRoot(options.now(), options.customNodeWebDirs);
  const table = buildRoutes(options, webRoot);
  const controlTable = controlRoutes(controls);

  const handle = async (req: Request, server: Server<SocketData>): Promise<Response | undefined> => {
    const target = requestTarget(req.url);
    const queryStart = target.indexOf("?");
    const rawPath = queryStart === -1 ? target : target.slice(0, queryStart);
    const query = new URLSearchParams(queryStart === -1 ? "" : target.slice(queryStart + 1));
    const ctx: RequestContext = { req, server, state, worker, rawPath, query, params: {}, recorded: null };

    if (rawPath.startsWith("/__fake/")) {
      const match = controlTable.match(req.method, rawPath);
      if (match.kind !== "route") return Response.json({ error: `no control route ${req.method} ${rawPath}` }, { status: 404 });
      try {
        return (await match.handler(ctx)) ?? new Response(null, { status: 204 });
      } catch (error) {
        if (error instanceof HttpFailure) return error.response;
        throw error;
      }
    }

    const recorded: RecordedRequest = {
      method: req.method,
      target,
      headers: Object.fromEntries(req.headers),
      body: null,
      bodyBytes: null,
      receivedAt: state.now(),
    };
    state.requests.push(recorded);
    if (state.requests.length > MAX_RECORDED_REQUESTS) state.requests.splice(0, state.requests.length - MAX_RECORDED_REQUESTS);
    ctx.recorded = recorded;
    if (options.logRequests) console.error(`fake-comfyui: ${req.method} ${target}`);

    try {
      const gate = originGate(req, options);
      if (gate !== null) return finish(gate, options);
      const response = await dispatch(table, ctx, webRoot);
      return response === undefined ? undefined : finish(response, options);
    } catch (error) {
      if (error instanceof HttpFailure) return finish(error.response, options);
      console.error("fake-comfyui: handler failed", error);
      return finish(internalServerError(), options);
    }
  };

  const server = Bun.serve<SocketData>({
    port: options.port,
    hostname: options.host,
    // The fake enforces maxUploadBytes itself so that the 413 looks like aiohttp's.
    maxRequestBodySize: Math.max(options.maxUploadBytes * 4, 1024 * 1024 * 1024),
    idleTimeout: 120,
    fetch: handle,
    websocket: webSocketHandler(state),
  });
  worker.start();

  const port = server.port ?? options.port;
  const url = `http://${options.host.includes(":") ? `[${options.host}]` : options.host}:${port}`;
  let stopped = false;
  return {
    url,
    wsUrl: url.replace(/^http/, "ws"),
    port,
    options,
    state,
    async stop() {
      if (stopped) return;
      stopped = true;
      worker.stop();
      await server.stop(true);
      state.files.dispose();
    },
    reset: () => controls.reset(),
    requests: () => [...state.requests],
    clearRequests: () => {
      state.requests.length = 0;
    },
    step: () => worker.step(),
    waitForIdle: (timeoutMs) => worker.waitForIdle(timeoutMs),
    interrupt: () => worker.interrupt(),
    pause: () => worker.setPaused(true),
    resume: () => worker.setPaused(false),
    setExecutionMode: (mode) => worker.setExecutionMode(mode),
    broadcast: (type, data, sid = null) => controls.broadcast(type, data, sid),
    sendBinary: (spec) => controls.sendBinary(spec),
    flood: (type, count, bytes = 64, sid = null) => controls.flood(type, count, bytes, sid),
    createFile: (spec) => controls.createFile(spec),
    summary: () => controls.summary(),
  };
}
