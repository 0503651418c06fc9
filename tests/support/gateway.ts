/** Starts the gateway in-process for integration tests, on a random loopback port. */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startGateway, type RunningGateway } from "../../src/app.ts";
import { loadConfig } from "../../src/config/index.ts";
import { applyMigrations, openDatabase } from "../../src/db/index.ts";
import { createLogger } from "../../src/log.ts";

export interface TestGateway extends RunningGateway {
  dataDir: string;
  /** ws://127.0.0.1:PORT */
  wsUrl: string;
}

export async function startTestGateway(upstreamUrl: string, flags: string[] = [], env: Record<string, string> = {}): Promise<TestGateway> {
  const dataDir = mkdtempSync(join(tmpdir(), "mss-test-"));
  const { config } = loadConfig({
    argv: ["--data-dir", dataDir, "--host", "127.0.0.1", "--port", "0", "--upstream", upstreamUrl, ...flags],
    env,
    cwd: dataDir,
  });
  const database = openDatabase(config.data_dir);
  applyMigrations(database.sqlite);
  const gateway = await startGateway({ config, database, log: createLogger("error") });
  return {
    ...gateway,
    dataDir,
    wsUrl: gateway.url.replace("http://", "ws://"),
    async stop() {
      await gateway.stop();
      database.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Sends raw bytes over TCP and returns everything the server answered (for request targets fetch would normalise). */
export async function rawHttp(port: number, request: string): Promise<string> {
  const net = await import("node:net");
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => socket.write(request));
    let data = "";
    socket.setEncoding("latin1");
    socket.on("data", (chunk) => (data += chunk));
    socket.on("end", () => resolve(data));
    socket.on("error", reject);
  });
}

export function statusOf(rawResponse: string): number {
  return Number(rawResponse.slice(9, 12));
}

export interface SpawnedGateway {
  url: string;
  port: number;
  pid: number;
  dataDir: string;
  /** Everything the process wrote to standard error so far. */
  log(): string;
  stop(): Promise<void>;
}

/**
 * Runs the gateway as its own process (from source, or a compiled binary when `command` says so)
 * and waits for its "gateway listening" line, which carries the port it got.
 */
export async function spawnGateway(
  upstreamUrl: string,
  options: { command?: string[]; cwd?: string; env?: Record<string, string>; flags?: string[] } = {},
): Promise<SpawnedGateway> {
  const dataDir = mkdtempSync(join(tmpdir(), "mss-test-"));
  const command = options.command ?? [process.execPath, join(import.meta.dir, "../../src/main.ts")];
  const child = Bun.spawn(
    [...command, "serve", "--host", "127.0.0.1", "--port", "0", "--upstream", upstreamUrl, "--data-dir", dataDir, ...(options.flags ?? [])],
    { cwd: options.cwd ?? dataDir, env: { PATH: process.env.PATH ?? "", ...options.env }, stdout: "ignore", stderr: "pipe" },
  );
  let stderr = "";
  const decoder = new TextDecoder();
  const reader = child.stderr.getReader();
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start:\n${stderr}`)), 15_000);
    void (async () => {
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
        stderr += decoder.decode(chunk.value, { stream: true });
        const match = /gateway listening url=http:\/\/127\.0\.0\.1:(\d+)/.exec(stderr);
        if (match) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      }
      clearTimeout(timer);
      reject(new Error(`gateway exited before listening:\n${stderr}`));
    })();
  });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    pid: child.pid,
    dataDir,
    log: () => stderr,
    async stop() {
      child.kill("SIGTERM");
      await child.exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Resident memory of a process, now and at its peak (VmHWM), in bytes. */
export function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN) * 1024;
  return { rss: kb("VmRSS"), peak: kb("VmHWM") };
}
