/**
 * The server log behind `/internal/logs`, `/internal/logs/raw` and the `logs` WebSocket
 * messages for subscribed sids. It holds every user's prompt activity (spec §2.5).
 */
import type { SocketHub } from "./socket-hub.ts";

export interface LogEntry {
  t: string;
  m: string;
}

const STARTUP_LINES = [
  "Checkpoint files will always be loaded safely.\n",
  "Total VRAM 24106 MB, total RAM 24106 MB\n",
  "pytorch version: 2.6.0+debian\n",
  "Set vram state to: DISABLED\n",
  "Device: cpu\n",
  "Python version: 3.13.5 (main, Aug 10 2026, 12:06:59) [GCC 14.2.0]\n",
  "ComfyUI version: 0.3.64\n",
  "[Prompt Server] web root: /srv/comfy-frontend\n",
  "Starting server\n",
];

/** Python's `datetime.now().isoformat()`: local time, microseconds, no zone. */
function pythonIsoTime(ms: number): string {
  const date = new Date(ms);
  const pad = (n: number, width = 2): string => String(n).padStart(width, "0");
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.` +
    `${pad(date.getMilliseconds(), 3)}000`
  );
}

export class LogStore {
  private entries: LogEntry[] = [];
  private readonly subscribers = new Set<string>();

  constructor(
    private readonly now: () => number,
    private readonly hub: SocketHub,
  ) {
    this.reset();
  }

  reset(): void {
    this.entries = STARTUP_LINES.map((m) => ({ t: pythonIsoTime(this.now()), m }));
    this.subscribers.clear();
  }

  append(message: string): void {
    const entry = { t: pythonIsoTime(this.now()), m: message.endsWith("\n") ? message : message + "\n" };
    this.entries.push(entry);
    for (const sid of this.subscribers) this.hub.sendJson(sid, "logs", { entries: [entry], size: null });
  }

  subscribe(sid: string, enabled: boolean): void {
    if (enabled) this.subscribers.add(sid);
    else this.subscribers.delete(sid);
  }

  /** `/internal/logs`: one string, `"<t> - <m>"` per entry. */
  text(): string {
    return this.entries.map((e) => `${e.t} - ${e.m}`).join("");
  }

  raw(): { entries: LogEntry[]; size: { cols: number; rows: number } } {
    return { entries: [...this.entries], size: { cols: 80, rows: 24 } };
  }
}
