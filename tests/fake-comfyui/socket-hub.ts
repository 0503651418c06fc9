/**
 * The server's `sockets` dict: one WebSocket per sid, with per-sid client feature flags.
 * The same-sid eviction bug is reproduced on purpose (spec §4.1): registering an existing sid
 * replaces the entry, and closing *any* socket deletes its sid's entry without checking that
 * the entry is still that socket. A newer socket with the same sid then receives nothing.
 */
import type { ServerWebSocket } from "bun";
import { pyJsonDumps } from "./py-json.ts";

export interface SocketData {
  sid: string;
  /** Only the first text message may be a `feature_flags` handshake (finding 11). */
  firstMessageSeen: boolean;
  connectionId: number;
}

export type FakeSocket = ServerWebSocket<SocketData>;

export class SocketHub {
  private readonly bySid = new Map<string, FakeSocket>();
  private readonly flagsBySid = new Map<string, Record<string, unknown>>();
  /** Every open connection, including evicted ones, so that reset/stop can close them. */
  private readonly open = new Set<FakeSocket>();

  register(socket: FakeSocket): void {
    this.bySid.set(socket.data.sid, socket);
    this.flagsBySid.set(socket.data.sid, {});
    this.open.add(socket);
  }

  /** Cleanup on close: `sockets.pop(sid)` with no identity check (the eviction bug). */
  unregister(socket: FakeSocket): void {
    this.bySid.delete(socket.data.sid);
    this.flagsBySid.delete(socket.data.sid);
    this.open.delete(socket);
  }

  setFeatureFlags(sid: string, flags: Record<string, unknown>): void {
    if (this.bySid.has(sid)) this.flagsBySid.set(sid, flags);
  }

  featureFlags(sid: string): Record<string, unknown> {
    return this.flagsBySid.get(sid) ?? {};
  }

  supportsPreviewMetadata(sid: string): boolean {
    return this.featureFlags(sid).supports_preview_metadata === true;
  }

  /** Sids that currently receive messages. */
  sids(): string[] {
    return [...this.bySid.keys()];
  }

  /** `send_sync(type, data, sid)`: to one sid, or to every registered socket when sid is null. */
  sendJson(sid: string | null, type: string, data: unknown): void {
    this.sendRaw(sid, pyJsonDumps({ type, data }));
  }

  sendBinary(sid: string | null, frame: Uint8Array): void {
    this.sendRaw(sid, frame);
  }

  /** Straight to one connection, whether or not it is still registered. */
  sendJsonTo(socket: FakeSocket, type: string, data: unknown): void {
    socket.send(pyJsonDumps({ type, data }));
  }

  private sendRaw(sid: string | null, payload: string | Uint8Array): void {
    const targets = sid === null ? [...this.bySid.values()] : [this.bySid.get(sid)].filter((s) => s !== undefined);
    for (const socket of targets) socket.send(payload);
  }

  closeAll(code = 1001, reason = "fake reset"): void {
    for (const socket of [...this.open]) {
      try {
        socket.close(code, reason);
      } catch {
        // already closing
      }
    }
  }

  openConnections(): number {
    return this.open.size;
  }
}
