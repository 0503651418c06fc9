/** Starts the gateway in-process for integration tests, on a random loopback port. */
import { mkdtempSync, rmSync } from "node:fs";
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
