/**
 * `GET /ws` (and `/api/ws`), spec §4.1 and §10.6:
 * - the sid is `?clientId` as given, or 32 fresh hex characters;
 * - the first frame is `status` with the sid; a reconnect of the running prompt's sid while a
 *   node executes also gets `executing {node}` (no prompt_id), before reading anything;
 * - only the first client message may be `feature_flags` (then answered with the server's
 *   flags); everything else from the client is ignored;
 * - sockets with the same sid evict each other (see SocketHub).
 */
import type { WebSocketHandler } from "bun";
import { textResponse } from "./http-responses.ts";
import type { RequestContext } from "./request-context.ts";
import type { SocketData } from "./socket-hub.ts";
import type { FakeState } from "./state.ts";
import { SERVER_HEADER } from "./server-header.ts";

let connectionCounter = 0;

/** The `/ws` route handler: upgrade, or aiohttp's refusal of a plain GET. */
export function upgradeToWebSocket(ctx: RequestContext): Response | undefined {
  const sid = ctx.query.get("clientId") || ctx.state.ids.hex32();
  const data: SocketData = { sid, firstMessageSeen: false, connectionId: ++connectionCounter };
  if (ctx.server.upgrade(ctx.req, { data, headers: { Server: SERVER_HEADER } })) return undefined;
  return textResponse('No WebSocket UPGRADE hdr: None\n Can "Upgrade" only to "WebSocket".', 400);
}

export function webSocketHandler(state: FakeState): WebSocketHandler<SocketData> {
  return {
    open(socket) {
      state.hub.register(socket);
      const { sid } = socket.data;
      state.hub.sendJsonTo(socket, "status", { status: state.queueStatus(), sid });
      if (state.currentClientId === sid && state.lastNodeId !== null) {
        state.hub.sendJsonTo(socket, "executing", { node: state.lastNodeId });
      }
    },
    message(socket, message) {
      if (typeof message !== "string" || socket.data.firstMessageSeen) return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(message);
      } catch {
        return; // a JSON error is logged by the real server and does not count as the first message
      }
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return;
      socket.data.firstMessageSeen = true;
      const { type, data } = parsed as { type?: unknown; data?: unknown };
      if (type !== "feature_flags") return;
      const { sid } = socket.data;
      state.hub.setFeatureFlags(sid, data !== null && typeof data === "object" ? (data as Record<string, unknown>) : {});
      // Sent through the sid table, so an evicted socket gets no answer.
      state.hub.sendJson(sid, "feature_flags", state.serverFeatures());
    },
    close(socket) {
      state.hub.unregister(socket);
    },
    // aiohttp sends no heartbeat of its own and does not time idle sockets out.
    sendPings: false,
    idleTimeout: 0,
    perMessageDeflate: false,
  };
}
