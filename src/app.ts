/**
 * Composition root: builds the gateway from its modules and starts Bun.serve. Everything that
 * decides (policy) or remembers (database) is passed in; nothing here is global.
 */
import type { Server } from "bun";
import { Elysia } from "elysia";
import type { Config } from "./config/index.ts";
import type { OpenDatabase } from "./db/index.ts";
import { jsonError } from "./gateway/error-response.ts";
import { UPSTREAM_DOWN_MESSAGE } from "./gateway/forward-http.ts";
import { createClientResolver } from "./gateway/client-address.ts";
import { createOriginCheck } from "./gateway/origin-check.ts";
import { createPipeline, type AccessDecision } from "./gateway/pipeline.ts";
import { describeUpstream } from "./gateway/upstream.ts";
import { createUpstreamUserDirectory } from "./gateway/upstream-users.ts";
import { relayHandlers, type RelayData } from "./gateway/websocket-bridge.ts";
import { healthRoutes } from "./health/health.ts";
import type { Logger } from "./log.ts";
import { decide, type Principal } from "./rbac/policy.ts";
import { VERSION } from "./version.ts";

export interface StartGatewayOptions {
  config: Config;
  database: OpenDatabase;
  log: Logger;
}

export interface RunningGateway {
  url: string;
  port: number;
  stop(): Promise<void>;
}

const ANONYMOUS_KEY = "anonymous";

/** Bun's own request-body cap sits a little above ours so that our 413 (with a clear body) wins. */
const BODY_CAP_SLACK = 1024 * 1024;

export async function startGateway({ config, database, log }: StartGatewayOptions): Promise<RunningGateway> {
  const upstream = describeUpstream(config.upstream.url, {
    connectTimeoutMs: config.upstream.connect_timeout_ms,
    responseTimeoutMs: config.upstream.response_timeout_ms,
    wsOpenTimeoutMs: config.upstream.ws_open_timeout_ms,
  });

  const ownRoutes = new Elysia()
    .use(
      healthRoutes({
        upstream,
        version: VERSION,
        startedAt: Date.now(),
        checkDatabase: () => {
          database.sqlite.query("select 1").get();
        },
      }),
    )
    .onError(({ code }) => {
      if (code === "NOT_FOUND") return jsonError(404, "NOT_FOUND", "No such gateway route.");
      return jsonError(500, "INTERNAL_ERROR", "The gateway failed to handle this request.");
    });

  // Until accounts exist (issue 3) every caller is anonymous, and all anonymous callers share
  // one ComfyUI user that the gateway creates and names.
  const anonymous: Principal = { kind: "anonymous" };
  const upstreamUsers = createUpstreamUserDirectory(database.db, upstream);
  const allowances = new Map<string | null, AccessDecision>();
  /** One decision object per ComfyUI user, so the common path allocates nothing. */
  const allowAs = (comfyUser: string | null): AccessDecision => {
    let allowance = allowances.get(comfyUser);
    if (allowance === undefined) {
      allowance = comfyUser === null ? { allow: true } : { allow: true, upstreamHeaders: { "comfy-user": comfyUser } };
      allowances.set(comfyUser, allowance);
    }
    return allowance;
  };
  const resolveComfyUser = async (): Promise<AccessDecision> => {
    try {
      return allowAs(await upstreamUsers.comfyUserFor(ANONYMOUS_KEY, "mss-anonymous"));
    } catch (error) {
      // Fail closed: without the gateway's own comfy-user, ComfyUI could fall back to a
      // shared "default" user.
      log.warn("cannot resolve the ComfyUI user", { error: error instanceof Error ? error.message : String(error) });
      return { allow: false, status: 502, code: "UPSTREAM_UNAVAILABLE", message: UPSTREAM_DOWN_MESSAGE, title: "ComfyUI is down" };
    }
  };
  const policyOptions = { allowedUnknownRoutes: config.gateway.allowed_unknown_routes };

  const handle = createPipeline({
    upstream,
    maxUploadBytes: config.limits.max_upload_bytes,
    allowedHosts: new Set(config.public_origins.map((origin) => new URL(origin).host.toLowerCase())),
    checkOrigin: createOriginCheck(config.public_origins),
    resolveClient: createClientResolver(config.trusted_proxies),
    authorise: ({ route, path, request, client }) => {
      const decision = decide(anonymous, { kind: route.kind, routeId: route.routeId, method: request.method, path }, policyOptions);
      if (!decision.allow) {
        // Debug only: a flood of refusals must not become a flood of log lines (the audit log samples them).
        if (log.enabled("debug")) log.debug("request denied", { code: decision.code, method: request.method, path, client: client().ip });
        return { allow: false, status: decision.status, code: decision.code, message: decision.reason };
      }
      const known = upstreamUsers.known(ANONYMOUS_KEY);
      return known === undefined ? resolveComfyUser() : allowAs(known);
    },
    handleOwnRoute: (request) => ownRoutes.handle(request),
  });

  const server: Server<RelayData> = Bun.serve<RelayData>({
    hostname: config.listen.host,
    port: config.listen.port,
    maxRequestBodySize: config.limits.max_upload_bytes + BODY_CAP_SLACK,
    // Idle keep-alive connections are closed after a minute (forwarded requests get longer, see
    // the pipeline), so idle sockets cannot pile up until file descriptors run out.
    idleTimeout: 60,
    fetch: handle,
    websocket: relayHandlers,
    error(error) {
      log.error("request failed", { error: error instanceof Error ? error.message : String(error) });
      return jsonError(500, "INTERNAL_ERROR", "The gateway failed to handle this request.");
    },
  });

  const url = `http://${config.listen.host.includes(":") ? `[${config.listen.host}]` : config.listen.host}:${server.port}`;
  log.info("gateway listening", { url, upstream: `${upstream.origin}${upstream.basePath}` });
  const loopbackOnly = ["127.0.0.1", "::1", "localhost"].includes(config.listen.host);
  if (!loopbackOnly && config.public_origins.length === 0) {
    log.warn("public_origins is not set: any Host name is served, which leaves room for DNS rebinding; set it to the address(es) users open", {
      example: "MSS_LOGIN_PUBLIC_ORIGINS=https://comfy.example.com",
    });
  }
  return {
    url,
    port: server.port ?? config.listen.port,
    async stop() {
      await server.stop(true);
      upstream.client?.close();
    },
  };
}
