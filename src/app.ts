/**
 * Composition root: builds the gateway from its modules and starts Bun.serve. Everything that
 * decides (policy) or remembers (database) is passed in; nothing here is global.
 */
import type { Server } from "bun";
import { chmodSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Elysia } from "elysia";
import type { Config } from "./config/index.ts";
import type { OpenDatabase } from "./db/index.ts";
import { jsonError } from "./gateway/error-response.ts";
import { UPSTREAM_DOWN_MESSAGE } from "./gateway/forward-http.ts";
import { createClientResolver } from "./gateway/client-address.ts";
import { createOriginCheck, isSafeMethod } from "./gateway/origin-check.ts";
import { createPipeline, type AccessDecision, type ClassifiedRequest } from "./gateway/pipeline.ts";
import { describeUpstream } from "./gateway/upstream.ts";
import { createUpstreamUserDirectory } from "./gateway/upstream-users.ts";
import { createTrafficMeter } from "./gateway/traffic.ts";
import { createIpFilter } from "./ipfilter/index.ts";
import { ipFilterRoutes } from "./ipfilter/routes.ts";
import { createAuditLog, type AuditEvent } from "./audit/log.ts";
import { auditRoutes } from "./audit/routes.ts";
import { createNotifier } from "./notify/index.ts";
import { notifyRoutes } from "./notify/routes.ts";
import { RelayRegistry, relayHandlers, type RelayData } from "./gateway/websocket-bridge.ts";
import { healthRoutes } from "./health/health.ts";
import type { Logger } from "./log.ts";
import { decide, type PolicyOptions, type Principal } from "./rbac/policy.ts";
import { createGroupsStore } from "./rbac/groups-store.ts";
import { authenticatedByCookie, type Credential, type Identity } from "./auth/identity.ts";
import { createAuthentication } from "./auth/index.ts";
import { accountRoutes } from "./auth/account-routes.ts";
import { authRoutes, sessionCookie } from "./auth/routes.ts";
import { createAdminGuard } from "./auth/admin-guard.ts";
import { userAdminRoutes } from "./auth/user-admin-routes.ts";
import { adminCredentialRoutes } from "./auth/admin-credential-routes.ts";
import { createGatewaySettings } from "./settings/service.ts";
import { settingsRoutes } from "./settings/routes.ts";
import { passwordResetRoutes } from "./auth/password-reset-routes.ts";
import { groupsRoutes } from "./rbac/groups-routes.ts";
import { createOwnershipStore, normaliseSubfolder, viewTarget } from "./isolation/ownership.ts";
import { createNsfwGuard, type NsfwViewer } from "./nsfw/index.ts";
import { nsfwRoutes } from "./nsfw/routes.ts";
import { getUserById } from "./auth/users.ts";
import { createIsolation, isolationConcerns, type IsolationCaller } from "./isolation/comfy-isolation.ts";
import { carriesGatewayUi, withGatewayUi } from "./ui/comfy-page.ts";
import { uiRoutes } from "./ui/ui-routes.ts";
import { createSocketDirectory, MAX_SOCKETS_PER_USER } from "./isolation/sockets.ts";
import { createSharedWorkflowStore } from "./isolation/shared-workflows.ts";
import { userEnvRoutes, type UpstreamAsUser } from "./isolation/user-env-routes.ts";
import { createModelGrantStore } from "./models/grants.ts";
import { modelRoutes, type UpstreamJson } from "./models/model-routes.ts";
import { createDownloads } from "./downloads/index.ts";
import { deriveKey } from "./auth/secret-key.ts";
import type { ClientInfo } from "./gateway/client-address.ts";
import { VERSION } from "./version.ts";

/** Bun.serve could not take the address (in use, no permission): the caller says so in those words. */
export class ListenError extends Error {
  constructor(cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = "ListenError";
  }
}

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

/** Where the first-run link is also written (owner-only), removed once the owner exists. */
const SETUP_LINK_FILE = "setup-link.txt";

/**
 * ComfyUI routes that take JSON and that its front end calls with `application/json`. ComfyUI
 * parses the body whatever the content type says, so a cross-site form could post one with a
 * "simple" content type and no preflight; with a cookie, those types are refused (bearer tokens
 * are not sent by browsers on their own, so they are exempt). Settings and userdata are not
 * listed: the real front end sends them as text/plain.
 */
const JSON_ONLY_ROUTES = new Set(["prompt", "queue", "history", "interrupt", "free", "jobs.cancel", "jobs.item.cancel"]);

/** The content types a browser sends cross-origin without a preflight (Fetch standard). */
export function isCorsSafelistedContentType(contentType: string | null): boolean {
  const essence = (contentType ?? "").split(";")[0]!.trim().toLowerCase();
  return essence === "" || essence === "text/plain" || essence === "application/x-www-form-urlencoded" || essence === "multipart/form-data";
}

/**
 * ComfyUI's `GET /users` lists every ComfyUI user (every account of the gateway, in multi-user
 * mode); each caller sees only their own. A single-user answer (no `users`) passes unchanged.
 */
function onlyOwnComfyUser(comfyUser: string | null) {
  return async (response: Response): Promise<Response> => {
    if (!response.ok) return response;
    const body = (await response.json().catch(() => null)) as { users?: Record<string, string> } | null;
    const headers = new Headers(response.headers);
    headers.delete("content-length");
    if (body === null) return new Response(null, { status: 502, headers: { "content-type": "application/json" } });
    if (body.users !== undefined) {
      const own = comfyUser !== null && comfyUser in body.users ? { [comfyUser]: body.users[comfyUser]! } : {};
      body.users = own;
    }
    return new Response(JSON.stringify(body), { status: response.status, headers });
  };
}

/**
 * One spelling of a path to the gateway's own routes, for the audit log and what reads it (the
 * notifier): the router also answers `/api/mss-login/x`, `/mss-login/x/` and `//x`, and none of
 * those may record (or announce) differently from `/mss-login/x`.
 */
export function canonicalOwnPath(path: string): string {
  const collapsed = path.replace(/\/{2,}/g, "/").replace(/(.)\/+$/, "$1");
  return collapsed.replace(/^\/api\/mss-login(\/|$)/, "/mss-login$1");
}

/** `/mss-login/...` and `/api/mss-login/...`: the gateway's JSON API (not its pages at the root). */
function isGatewayApi(request: Request): boolean {
  const path = new URL(request.url).pathname;
  return path.startsWith("/mss-login/") || path.startsWith("/api/mss-login/");
}


/** Why an anonymous caller was refused, in words for the person (the code says it for programs). */
const IDENTITY_PROBLEMS: Record<string, string> = {
  expired: "Your session has expired; sign in again.",
  idle: "Your session ended after a period of inactivity; sign in again.",
  revoked: "This session or token was revoked; sign in again.",
  disabled: "This account is disabled.",
  invalid: "The credentials sent are not valid.",
};

/** Bun's own request-body cap sits a little above ours so that our 413 (with a clear body) wins. */
const BODY_CAP_SLACK = 1024 * 1024;

export async function startGateway({ config: loadedConfig, database, log }: StartGatewayOptions): Promise<RunningGateway> {
  // The administrator's run-time settings over the loaded configuration: `config` is the
  // configuration at start; what follows a change without a restart reads settings.current().
  const settings = createGatewaySettings({ db: database.db, config: loadedConfig, log });
  const config = settings.current();
  const upstream = describeUpstream(config.upstream.url, {
    connectTimeoutMs: config.upstream.connect_timeout_ms,
    responseTimeoutMs: config.upstream.response_timeout_ms,
    wsOpenTimeoutMs: config.upstream.ws_open_timeout_ms,
  });

  // Accounts and credentials (step 3 of the request flow).
  const { secret, passwordSettings, sessions, apiTokens, tickets, regulator, resolveIdentity } = await createAuthentication(config, database, log, settings.current);
  // The permission matrix (roles × keys), defaults seeded on first start.
  const groupsStore = createGroupsStore(database.db);
  // The tamper-evident audit log (step 7): security events, chained by hashes.
  const audit = createAuditLog(database.db);
  /** Appends an event; a failing write is logged, never allowed to fail the request. */
  const record = (event: AuditEvent, request?: Request): void => {
    try {
      audit.append({ ...event, ...(request === undefined ? {} : { clientIp: event.clientIp ?? clientOf(request).ip, userAgent: request.headers.get("user-agent") }) });
    } catch (error) {
      log.error("audit: event not recorded", { action: event.action, error: error instanceof Error ? error.message : String(error) });
    }
    notifier.audit(request === undefined ? event : { ...event, clientIp: event.clientIp ?? clientOf(request).ip });
  };
  /** A file as ComfyUI serves it, for the gateway's own reading (the NSFW guard, picture attachments). */
  const fetchView = (file: { filename: string; subfolder: string; type: string }, signal: AbortSignal, method = "GET") =>
    fetch(`${upstream.origin}${upstream.basePath}/api/view?${new URLSearchParams({ filename: file.filename, subfolder: file.subfolder, type: file.type })}`, { method, signal, headers: { "accept-encoding": "identity" } });
  // ntfy notifications, fed by the audit events above, new outputs, start and stop (never awaited by a request).
  const notifier = createNotifier({
    db: database.db,
    key: deriveKey(secret.key, "ntfy-token-encryption"),
    log,
    images: {
      fetchFile: (file, signal) => fetchView(file, signal),
      guard: () => nsfw,
      ownerOf: (file) => {
        const userId = ownership.ownerOfFile(file);
        return userId === null ? null : (getUserById(database.db, userId)?.username ?? null);
      },
    },
  });
  // Allow and deny lists of client addresses (step 2 of the request flow).
  const ipFilter = createIpFilter({
    db: database.db,
    log,
    config: settings.current,
    report: (event) =>
      event.kind === "denied"
        ? record({ action: "ip.denied", outcome: "denied", clientIp: event.ip, target: event.path, details: { reason: event.reason, sampled: "once a minute per address" } })
        : record({ action: "ip.banned", outcome: "success", clientIp: event.ip, target: event.ip, details: { failures: event.failures, hours: event.hours, device_locked: event.deviceLocked } }),
  });
  // Requests per second, so that background work can give way to traffic.
  const traffic = createTrafficMeter();
  // The NSFW guard: classifies outputs as ComfyUI reports them, guards /view and previews.
  const nsfw = createNsfwGuard({
    trafficRate: traffic.rate,
    blocked: (event) => record({ action: "nsfw.blocked", outcome: "denied", actorName: event.username, target: `${event.file.type}/${event.file.subfolder ? `${event.file.subfolder}/` : ""}${event.file.filename}`, details: { detail: event.detail } }),
    db: database.db,
    config: settings.current,
    log,
    sfwCheckOf: (userId) => getUserById(database.db, userId)?.sfwCheck ?? null,
    fetchFile: (file, method, signal) => fetchView(file, signal, method),
  });
  // Who owns which prompt and file in ComfyUI's shared queue, history and folders.
  const ownership = createOwnershipStore(database.db, {
    onNewFile: (file) => {
      nsfw.fileReported(file);
      notifier.fileReported(file);
    },
  });
  // Each user's WebSocket ids (gateway-minted upstream sids) and per-user event filtering.
  const sockets = createSocketDirectory({ ownership });
  // Who may see and use which model (defaults: everything, until an admin narrows a role).
  const modelGrants = createModelGrantStore(database.db);
  // Workflows an admin shared with everyone (shown to each user under workflows/shared/).
  const sharedWorkflows = createSharedWorkflowStore(database.db);
  const isolation = createIsolation({
    ownership,
    sockets,
    models: modelGrants,
    sharedWorkflows,
    maxJsonBytes: Math.min(config.limits.max_upload_bytes, 64 * 1024 * 1024),
    inspectUpload: (head) => nsfw.inspectUploadHead(head),
    log,
  });
  // Ended sessions and spent tickets are deleted now and then (regulation prunes itself).
  const pruneTimer = setInterval(() => {
    const at = Date.now();
    try {
      sessions.prune(at);
      tickets.prune(at);
      ipFilter.store.pruneExpired();
      audit.prune(at - settings.current().audit.retention_days * 86_400_000);
    } catch (error) {
      log.warn("pruning sessions and tickets failed", { error: error instanceof Error ? error.message : String(error) });
    }
  }, 3600_000);
  pruneTimer.unref();
  // Open WebSockets are re-checked every 15 s, and at once after a sign-out or revocation here.
  const relays = new RelayRegistry(15_000);
  const credentialsRevoked = () => {
    resolveIdentity.forget();
    relays.sweep();
  };
  /** Whether the credential behind an open WebSocket still holds (and its use counts as activity). */
  const stillAllowedFor = (credential: Credential) => (): boolean => {
    const at = Date.now();
    switch (credential.kind) {
      case "session":
        if (!sessions.isLive(credential.jti, at)) return false;
        sessions.touch(credential.jti, at);
        return true;
      case "api-token":
        return apiTokens.isLive(credential.tokenId, at);
      case "ticket":
        return (credential.sessionJti === null || sessions.isLive(credential.sessionJti, at)) && (credential.apiTokenId === null || apiTokens.isLive(credential.apiTokenId, at));
    }
  };
  const resolveClient = createClientResolver(config.trusted_proxies, config.client_ip_header);
  /** Client facts of requests handed to the gateway's own routes (Elysia passes the same Request on). */
  const clients = new WeakMap<Request, ClientInfo>();
  const clientOf = (request: Request): ClientInfo => clients.get(request) ?? { ip: "unknown", secure: false, viaProxy: false };

  /** The gateway's own routes see sessions and tokens, never tickets (those are for /ws and /view). */
  const identityForOwnRoute = async (request: Request): Promise<Identity> =>
    resolveIdentity(request, { ticketPurpose: null, search: "", clientIp: clientOf(request).ip, now: Date.now() });

  const mfaKey = deriveKey(secret.key, "mfa-secret-encryption");
  const auth = authRoutes({
    db: database.db,
    sessions,
    tickets,
    regulator,
    passwordSettings,
    mfaKey,
    log,
    resolveIdentity: identityForOwnRoute,
    clientIp: (request) => clientOf(request).ip,
    isSecure: (request) => clientOf(request).secure || request.url.startsWith("https:"),
    credentialsRevoked,
    allowGuest: () => settings.current().auth.allow_guest,
    setupDone: () => rmSync(join(config.data_dir, SETUP_LINK_FILE), { force: true }),
    permissionsOf: (role) => groupsStore.effective(role),
    stepUpSeconds: () => settings.current().sessions.step_up_minutes * 60,
    signInFailed: (request, username) => {
      record({ action: "login.failure", outcome: "failure", target: username.slice(0, 100) }, request);
      ipFilter.signInFailed(clientOf(request), request);
    },
    signInSucceeded: (request, userId, username) => record({ action: "login.success", outcome: "success", actorId: userId, actorName: username }, request),
  });
  const guard = createAdminGuard({ sessions, resolveIdentity: identityForOwnRoute });
  /** ComfyUI's JSON for the gateway's own use (model lists for admins), not on behalf of a user. */
  /** The gateway's own requests to ComfyUI (admin look-ups), bounded by the response timeout. */
  const fetchUpstream = (path: string, init: { method?: string; headers?: Record<string, string> } = {}) =>
    fetch(`${upstream.origin}${upstream.basePath}${path}`, { ...init, signal: upstream.responseTimeoutMs > 0 ? AbortSignal.timeout(upstream.responseTimeoutMs) : null });
  const upstreamJson: UpstreamJson = async (path) => {
    const response = await fetchUpstream(path);
    return { status: response.status, body: await response.json().catch(() => undefined) };
  };
  // Model downloads from CivitAI and Hugging Face into ComfyUI's model folders.
  const downloads = createDownloads({
    db: database.db,
    settings: () => settings.current().downloads,
    apiKeyEncryptionKey: deriveKey(secret.key, "download-api-key-encryption"),
    grants: modelGrants,
    upstreamJson,
    record: (event) => record(event),
    ended: (job, username) => {
      const name = job.filename ?? job.source;
      if (job.status === "completed") notifier.emit("download_completed", { name, folder: job.folder, source: job.source, by: username, bytes: job.bytesDone });
      else if (job.status === "failed") notifier.emit("download_failed", { name, folder: job.folder, source: job.source, by: username, error: job.errorCode ?? "failed" });
    },
    log,
  });
  /** ComfyUI as one gateway user (their own comfy-user), for the admin's user-env actions. */
  const upstreamAsUser: UpstreamAsUser = async (user, path, init = {}) => {
    const comfyUser = await upstreamUsers.comfyUserFor(`user:${user.id}`, `mss_${user.username}`);
    return fetchUpstream(path, { method: init.method ?? "GET", headers: comfyUser === null ? {} : { "comfy-user": comfyUser } });
  };

  const ownRoutes = new Elysia()
    .use(
      healthRoutes({
        upstream,
        version: VERSION,
        startedAt: Date.now(),
        checkDatabase: () => {
          database.sqlite.query("select 1").get();
        },
        nsfw: () => {
          const status = nsfw.status();
          return { state: status.state, workers: status.workers, ready: status.ready, memory_bytes: status.memoryBytes, queued: status.queued.now + status.queued.background + status.scanner.queued };
        },
      }),
    )
    .use(auth.routes)
    .use(
      accountRoutes({
        db: database.db,
        sessions,
        apiTokens,
        resolveIdentity: identityForOwnRoute,
        guard,
        clientIp: (request) => clientOf(request).ip,
        readFields: auth.readFields,
        checkCredentials: auth.checkCredentials,
        credentialsRevoked,
        allows: (role, key) => groupsStore.allows(role, key),
      }),
    )
    .use(
      userAdminRoutes({
        db: database.db,
        guard,
        sessions,
        apiTokens,
        passwordSettings,
        log,
        confirmPassword: auth.confirmPassword,
        sessionCookie: (request, token, maxAge) => sessionCookie(token, maxAge, clientOf(request).secure || request.url.startsWith("https:")),
        credentialsRevoked,
        accountDeleted: (userId) => downloads.accountDeleted(userId),
      }),
    )
    .use(
      passwordResetRoutes({
        db: database.db,
        guard,
        sessions,
        apiTokens,
        tickets,
        regulator,
        passwordSettings,
        mfaKey,
        log,
        clientIp: (request) => clientOf(request).ip,
        confirmPassword: auth.confirmPassword,
        credentialsRevoked,
      }),
    )
    .use(adminCredentialRoutes({ guard, sessions, apiTokens, log, credentialsRevoked }))
    .use(
      settingsRoutes({
        settings,
        guard,
        log,
        changed: (event) => {
          credentialsRevoked();
          record({ action: "settings.changed", outcome: "success", actorId: event.actorId, actorName: event.actorName, details: { keys: event.keys.join(",") } }, event.request);
        },
      }),
    )
    .use(groupsRoutes({ groups: groupsStore, guard, log, changed: () => relays.sweep() }))
    .use(modelRoutes({ db: database.db, grants: modelGrants, guard, allows: (role, key) => groupsStore.allows(role, key), upstreamJson, log }))
    .use(downloads.routes({ guard, allows: (role, key) => groupsStore.allows(role, key) }))
    .use(userEnvRoutes({ db: database.db, guard, sharedWorkflows, upstreamAsUser, log }))
    .use(uiRoutes({ guard }))
    .use(auditRoutes({ audit, guard }))
    .use(notifyRoutes({ notifier, guard, log, usernameOf: (userId) => getUserById(database.db, userId)?.username ?? null }))
    .use(
      ipFilterRoutes({
        store: ipFilter.store,
        guard,
        clientIp: (request) => clientOf(request).ip,
        log,
        replaced: (event) =>
          record({ action: "ip.rules.replaced", outcome: "success", actorId: event.actorId, actorName: event.actorName, details: { allow: event.allow, deny: event.deny, devices: event.devices } }, event.request),
      }),
    )
    .use(
      nsfwRoutes({
        db: database.db,
        nsfw,
        guard,
        files: ownership,
        log,
        maxImageBytes: () => settings.current().nsfw.max_image_bytes,
        viewWaitMs: () => settings.current().nsfw.view_wait_ms,
      }),
    )
    .onError(({ code }) => {
      if (code === "NOT_FOUND") return jsonError(404, "NOT_FOUND", "No such gateway route.");
      return jsonError(500, "INTERNAL_ERROR", "The gateway failed to handle this request.");
    });

  // Each signed-in user has a ComfyUI user of their own, created by the gateway on first use.
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
  const resolveComfyUser = async (principalKey: string, displayName: string): Promise<AccessDecision> => {
    try {
      return allowAs(await upstreamUsers.comfyUserFor(principalKey, displayName));
    } catch (error) {
      // Fail closed: without the gateway's own comfy-user, ComfyUI could fall back to a
      // shared "default" user.
      log.warn("cannot resolve the ComfyUI user", { error: error instanceof Error ? error.message : String(error) });
      return { allow: false, status: 502, code: "UPSTREAM_UNAVAILABLE", message: UPSTREAM_DOWN_MESSAGE, title: "ComfyUI is down" };
    }
  };
  const principalOf = (identity: Identity): Principal =>
    identity.kind === "user" ? { kind: "user", userId: identity.userId, username: identity.username, role: identity.role } : { kind: "anonymous" };
  const policyOptions: PolicyOptions = { allowedUnknownRoutes: config.gateway.allowed_unknown_routes, allows: (role, key) => groupsStore.allows(role, key) };

  /** The NSFW guard's take-over of one `/view` for a checked viewer; null when nothing is checked. */
  function nsfwViewGuard(request: Request, search: string, viewer: NsfwViewer) {
    if (!nsfw.isChecked(viewer)) return null;
    const target = viewTarget(search);
    if (target.kind !== "file") return null; // refused by isolation or by ComfyUI itself
    const subfolder = normaliseSubfolder(target.file.subfolder);
    if (subfolder === null) return null; // ComfyUI refuses a subfolder outside the folder (403)
    return nsfw.guardView(request, viewer.username, { ...target.file, subfolder }, search);
  }

  /** When each (user, address, refusal) was last written to the audit log: once a minute each, so a flood stays small. */
  const deniedRecorded = new Map<string, number>();
  function recordDenial(identity: Extract<Identity, { kind: "user" }>, ip: string, request: Request, code: string, path: string): void {
    const key = `${identity.userId}|${ip}|${code}`;
    const at = Date.now();
    if ((deniedRecorded.get(key) ?? 0) > at - 60_000) return;
    if (deniedRecorded.size > 10_000) deniedRecorded.clear();
    deniedRecorded.set(key, at);
    record({ action: "request.denied", outcome: "denied", actorId: identity.userId, actorName: identity.username, clientIp: ip, target: `${request.method} ${path}`.slice(0, 300), details: { refusal: code, sampled: "once a minute per user, address and refusal" } }, request);
  }

  function decideFor(classified: ClassifiedRequest, identity: Identity): AccessDecision | Promise<AccessDecision> {
    const { route, path, request, client } = classified;
    if (identity.kind === "anonymous") {
      const problem = identity.problem === null ? "Sign in to use ComfyUI." : (IDENTITY_PROBLEMS[identity.problem] ?? "Sign in to use ComfyUI.");
      return { allow: false, status: 401, code: identity.problem === null ? "AUTH_REQUIRED" : `AUTH_${identity.problem.toUpperCase()}`, message: problem, title: "Sign in required", loginRedirect: true };
    }
    if (identity.credential.kind === "session" && request.method === "POST" && JSON_ONLY_ROUTES.has(route.routeId) && isCorsSafelistedContentType(request.headers.get("content-type"))) {
      return { allow: false, status: 415, code: "JSON_REQUIRED", message: "Send this request as application/json." };
    }
    // An API token carries scopes: read (GET, HEAD, the WebSocket), run (everything that
    // changes state) and admin (the account's admin rights); less than its owner may do.
    let principal = principalOf(identity);
    const scopes = identity.credential.kind === "api-token" ? identity.credential.scopes : identity.credential.kind === "ticket" ? identity.credential.scopes : null;
    if (scopes !== null) {
      const reads = request.method === "GET" || request.method === "HEAD";
      if (!scopes.includes(reads ? "read" : "run")) {
        return { allow: false, status: 403, code: "TOKEN_SCOPE", message: `This API token has no "${reads ? "read" : "run"}" scope.` };
      }
      if (principal.kind === "user" && (principal.role === "owner" || principal.role === "admin") && !scopes.includes("admin")) {
        principal = { ...principal, role: "power" };
      }
    }
    const decision = decide(principal, { kind: route.kind, routeId: route.routeId, method: request.method, path, params: route.params }, policyOptions);
    if (!decision.allow) {
      // Debug only: a flood of refusals must not become a flood of log lines (the audit log samples them).
      if (log.enabled("debug")) log.debug("request denied", { code: decision.code, method: request.method, path, client: client().ip });
      recordDenial(identity, client().ip, request, decision.code, path);
      return { allow: false, status: decision.status, code: decision.code, message: decision.reason };
    }
    const principalKey = `user:${identity.userId}`;
    const known = upstreamUsers.known(principalKey);
    // The ComfyUI user's name carries a prefix of the gateway's own: when ComfyUI already has a
    // user of that name (our database was lost), adopting it cannot hand over someone else's.
    const allowed = known === undefined ? resolveComfyUser(principalKey, `mss_${identity.username}`) : allowAs(known);
    // The client's own comfy-user header never reaches ComfyUI; one naming another user is an attempt worth writing down.
    const claimed = request.headers.get("comfy-user");
    if (claimed !== null && known !== undefined && claimed !== known && upstreamUsers.isUpstreamUser(claimed)) {
      log.warn("isolation: refused", { user: identity.username, action: "comfy-user header", claimed });
    }
    if (route.routeId === "users" && request.method === "GET") {
      const onlyCaller = (decision: AccessDecision): AccessDecision => (decision.allow ? { ...decision, filterResponse: onlyOwnComfyUser(decision.upstreamHeaders?.["comfy-user"] ?? null) } : decision);
      return allowed instanceof Promise ? allowed.then(onlyCaller) : onlyCaller(allowed);
    }
    if (principal.kind === "user" && carriesGatewayUi(route.routeId, request.method)) {
      const uiState = { username: identity.username, role: principal.role, isAdmin: principal.role === "owner" || principal.role === "admin", permissions: groupsStore.effective(principal.role) };
      const withUi = (decision: AccessDecision): AccessDecision => withGatewayUi(decision, request, route.routeId, uiState, log);
      return allowed instanceof Promise ? allowed.then(withUi) : withUi(allowed);
    }
    // The account's own role decides the NSFW check (a token's reduced scope does not add one).
    const viewer: NsfwViewer = { userId: identity.userId, username: identity.username, role: identity.role };
    if (!route.websocket) {
      if (route.kind !== "comfy" || principal.kind !== "user") return allowed;
      const viewGuard = route.routeId === "view" && (request.method === "GET" || request.method === "HEAD") ? nsfwViewGuard(request, classified.search, viewer) : null;
      const guarded = (decision: AccessDecision): AccessDecision => (decision.allow && decision.intercept === undefined && viewGuard !== null ? { ...decision, intercept: viewGuard } : decision);
      if (!isolationConcerns(route.routeId, request.method)) return allowed;
      const role = principal.role;
      const caller: IsolationCaller = {
        userId: identity.userId,
        username: identity.username,
        role,
        seesAll: role === "owner" || role === "admin" || groupsStore.allows(role, "can_view_all_comfyui_items"),
        maxPending: settings.current().queue.max_pending[role],
      };
      const around = isolation.forRequest({ request, routeId: route.routeId, method: request.method, params: route.params, path, search: classified.search, caller });
      if (around === null) return viewGuard === null ? allowed : allowed instanceof Promise ? allowed.then(guarded) : guarded(allowed);
      const isolate = (decision: AccessDecision): AccessDecision => {
        if (!decision.allow) return decision;
        const upstreamHeaders = around.headers === undefined ? decision.upstreamHeaders : { ...decision.upstreamHeaders, ...around.headers };
        return "intercept" in around ? { ...decision, upstreamHeaders, intercept: around.intercept } : { ...decision, upstreamHeaders, filterResponse: around.filterResponse };
      };
      return allowed instanceof Promise ? allowed.then(isolate) : isolate(allowed);
    }
    if (!sockets.admit(identity.userId)) {
      return { allow: false, status: 429, code: "TOO_MANY_SOCKETS", message: `You have ${MAX_SOCKETS_PER_USER} connections open already; close some tabs.` };
    }
    // The credential must stay live, and the role must keep its right to the socket (a
    // permission change closes it at the next sweep, which a change made here triggers at once).
    const credentialLive = stillAllowedFor(identity.credential);
    const socketRoute = { kind: route.kind, routeId: route.routeId, method: "GET", path, params: route.params };
    const socketPrincipal = principal;
    const stillAllowed = () => credentialLive() && decide(socketPrincipal, socketRoute, policyOptions).allow;
    const withCheck = (decision: AccessDecision): AccessDecision =>
      decision.allow ? { ...decision, stillAllowed, socketPolicy: sockets.policyFor(identity.userId, new URLSearchParams(classified.search).get("clientId"), nsfw.previewGateFor(viewer)) } : decision;
    return allowed instanceof Promise ? allowed.then(withCheck) : withCheck(allowed);
  }


  /** Sign-ins are recorded by the sign-in code itself (with the name tried); these by the route. */
  const AUDITED_ELSEWHERE = new Set(["/login", "/mss-login/api/login"]);
  /** Their successful writes are recorded with more detail by the module (settings.changed, ip.rules.replaced). */
  const DETAILED_ON_SUCCESS = new Set(["/mss-login/api/settings", "/mss-login/api/ip-lists"]);
  /**
   * Every write to the gateway's own routes (accounts, roles, permissions, tokens, MFA, sessions,
   * settings, IP rules, NSFW tags, logouts) goes to the audit log: who (as they were before the
   * request), the method and path (never the body or the query, where secrets travel), and how
   * it ended.
   */
  async function auditedWrite(request: Request): Promise<Response> {
    const canonicalPath = canonicalOwnPath(new URL(request.url).pathname);
    const elsewhere = AUDITED_ELSEWHERE.has(canonicalPath);
    const actor = elsewhere ? null : await identityForOwnRoute(request).catch(() => null);
    const response = await ownRoutes.handle(request);
    const status = response.status;
    if (!elsewhere && !(status < 400 && DETAILED_ON_SUCCESS.has(canonicalPath))) {
      record(
        {
          action: `${request.method} ${canonicalPath}`.slice(0, 200),
          outcome: status < 400 ? "success" : status === 401 || status === 403 ? "denied" : "failure",
          ...(actor?.kind === "user" ? { actorId: actor.userId, actorName: actor.username } : {}),
          details: { status },
        },
        request,
      );
    }
    return response;
  }

  const handle = createPipeline({
    upstream,
    ipFilter,
    maxUploadBytes: config.limits.max_upload_bytes,
    allowedHosts: new Set(config.public_origins.map((origin) => new URL(origin).host.toLowerCase())),
    checkOrigin: createOriginCheck(config.public_origins, authenticatedByCookie),
    relays,
    resolveClient,
    authorise: (classified) => {
      const { route, search, request, client } = classified;
      const identity = resolveIdentity(request, {
        ticketPurpose: route.websocket ? "ws" : route.routeId === "view" ? "view" : null,
        search,
        clientIp: () => client().ip,
        now: Date.now(),
      });
      // Most requests carry a credential checked within the last second: decided without a tick.
      return identity instanceof Promise ? identity.then((known) => decideFor(classified, known)) : decideFor(classified, identity);
    },
    handleOwnRoute: (request, client) => {
      // The gateway's JSON API (`/mss-login/...`), like ComfyUI's JSON routes, refuses the
      // content types a cross-site form could send when a cookie is what authenticates; its
      // pages at the root (/login, /register, /reset, ...) take forms.
      if (!isSafeMethod(request.method) && isGatewayApi(request) && authenticatedByCookie(request) && isCorsSafelistedContentType(request.headers.get("content-type"))) {
        return jsonError(415, "JSON_REQUIRED", "Send this request as application/json.");
      }
      clients.set(request, client());
      if (isSafeMethod(request.method)) return ownRoutes.handle(request);
      return auditedWrite(request);
    },
  });

  let server: Server<RelayData>;
  try {
    server = Bun.serve<RelayData>({
      hostname: config.listen.host,
      port: config.listen.port,
      maxRequestBodySize: config.limits.max_upload_bytes + BODY_CAP_SLACK,
      // Idle keep-alive connections are closed after a minute (forwarded requests get longer, see
      // the pipeline), so idle sockets cannot pile up until file descriptors run out.
      idleTimeout: 60,
      fetch: (request, bunServer) => {
        traffic.count();
        return handle(request, bunServer);
      },
      websocket: relayHandlers,
      error(error) {
        log.error("request failed", { error: error instanceof Error ? error.message : String(error) });
        return jsonError(500, "INTERNAL_ERROR", "The gateway failed to handle this request.");
      },
    });
  } catch (error) {
    relays.stop();
    clearInterval(pruneTimer);
    await nsfw.close();
    throw new ListenError(error);
  }

  // After listening: loading the model (about half a second per worker) never delays the first answers.
  nsfw.startup();
  // Downloads a previous run left queued or running go on (from their temporary files).
  downloads.start();
  const url = `http://${config.listen.host.includes(":") ? `[${config.listen.host}]` : config.listen.host}:${server.port}`;
  log.info("gateway listening", { url, upstream: `${upstream.origin}${upstream.basePath}` });
  notifier.emit("server_started", { version: VERSION, address: config.public_origins[0] ?? null });
  try {
    const setupLinkFile = join(config.data_dir, SETUP_LINK_FILE);
    const publicBase = config.public_origins[0] ?? url.replace("0.0.0.0", "localhost").replace("[::]", "localhost");
    const setupLink = auth.announceSetupLink(publicBase);
    if (setupLink !== null) {
      // The console, not the log: the link is a credential (single use, 30 minutes). A copy goes
      // to an owner-only file for operators who cannot see the console (a service, a container).
      writeFileSync(setupLinkFile, `${setupLink}\n`, { mode: 0o600 });
      chmodSync(setupLinkFile, 0o600); // `mode` only applies when the file is created

      process.stderr.write(`\n  No accounts yet. Create the owner within 30 minutes at:\n  ${setupLink}\n  (also in ${setupLinkFile}; or run: mss-login user add --username NAME --role owner --password-stdin)\n\n`);
    }
    const loopbackOnly = ["127.0.0.1", "::1", "localhost"].includes(config.listen.host);
    const upstreamHost = new URL(config.upstream.url).hostname.replace(/^\[|\]$/g, "");
    if (!["127.0.0.1", "::1", "localhost"].includes(upstreamHost) && !upstreamHost.startsWith("127.")) {
      // Whoever reaches ComfyUI directly skips every check made here.
      log.warn("ComfyUI is addressed beyond loopback: make sure nothing but the gateway can reach it (start ComfyUI with --listen 127.0.0.1, or firewall its port)", { upstream: config.upstream.url });
    }
    const plainHttp = config.public_origins.filter((origin) => origin.startsWith("http:"));
    if (plainHttp.length > 0 || (!loopbackOnly && config.public_origins.length === 0)) {
      // Cookies and passwords cross the network in clear unless TLS ends in front of the gateway.
      log.warn("serving over plain HTTP: session cookies are not Secure and passwords travel in clear; put TLS in front (a reverse proxy listed in trusted_proxies) and list the https:// address in public_origins", {
        plain_http_origins: plainHttp.join(",") || "(none set)",
      });
    }
    if (!loopbackOnly && config.public_origins.length === 0) {
      log.warn("public_origins is not set: any Host name is served, which leaves room for DNS rebinding; set it to the address(es) users open", {
        example: "MSS_LOGIN_PUBLIC_ORIGINS=https://comfy.example.com",
      });
    }
  } catch (error) {
    // Listening already: do not leave a half-started gateway behind.
    await server.stop(true);
    relays.stop();
    clearInterval(pruneTimer);
    await nsfw.close();
    throw error;
  }
  return {
    url,
    port: server.port ?? config.listen.port,
    async stop() {
      await server.stop(true);
      relays.stop();
      clearInterval(pruneTimer);
      upstream.client?.close();
      await downloads.stop();
      // "Stopping" gets one last attempt (3 s at most), with whatever else is still waiting.
      notifier.emit("server_stopped", { version: VERSION });
      await notifier.stop();
      await nsfw.close();
    },
  };
}
