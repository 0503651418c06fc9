/**
 * npm run demo: a fake ComfyUI plus the gateway in front of it, so that someone without a GPU
 * or a ComfyUI install can try the product. Extra arguments go to `mss-login serve`
 * (e.g. `npm run demo -- --port 9000`). The demo keeps its data in a temporary directory.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startFakeComfyUI } from "./fake-comfyui/server.ts";
import { DEFAULT_PASSWORD_SETTINGS } from "../src/auth/passwords.ts";
import { countUsers, createUser } from "../src/auth/users.ts";
import { applyMigrations, openDatabase } from "../src/db/index.ts";

const fake = await startFakeComfyUI({ port: 0, host: "127.0.0.1", multiUser: true, profile: "v0.3", execution: "auto", stepDelayMs: 150 });
const args = process.argv.slice(2);
const ownDataDir = args.includes("--data-dir") ? null : mkdtempSync(join(tmpdir(), "mss-login-demo-"));
const dataDir = ownDataDir === null ? [] : ["--data-dir", ownDataDir];

// A fresh demo gets an owner account with a random password, printed below.
let demoLogin: string | null = null;
if (ownDataDir !== null) {
  const database = openDatabase(ownDataDir);
  applyMigrations(database.sqlite);
  if (countUsers(database.db) === 0) {
    const password = Buffer.from(crypto.getRandomValues(new Uint8Array(12))).toString("base64url");
    await createUser(database.db, { username: "demo", password, role: "owner" }, DEFAULT_PASSWORD_SETTINGS);
    demoLogin = `user "demo", password "${password}"`;
  }
  database.close();
}
const port = args.includes("--port") ? [] : ["--port", "8189"];
// The demo has no accounts yet: keep it on this machine unless told otherwise.
const host = args.includes("--host") ? [] : ["--host", "127.0.0.1"];

const gateway = Bun.spawn([process.execPath, join(import.meta.dir, "../src/main.ts"), "serve", "--upstream", fake.url, ...host, ...port, ...dataDir, ...args], {
  stdout: "inherit",
  stderr: "pipe",
});

// Pass the gateway's log through, and print where to go once it listens.
const decoder = new TextDecoder();
let announced = false;
void (async () => {
  const reader = gateway.stderr.getReader();
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
    const text = decoder.decode(chunk.value, { stream: true });
    process.stderr.write(text);
    const match = /gateway listening url=(\S+)/.exec(text);
    if (match && !announced) {
      announced = true;
      const url = match[1]!.replace("0.0.0.0", "localhost").replace("127.0.0.1", "localhost");
      console.log(`\n  MSS-Login demo is running.\n  Fake ComfyUI (no GPU, scripted runs): ${fake.url}\n  Open the gateway:  ${url}/${demoLogin ? `\n  Sign in with:      ${demoLogin}\n                     (the owner sets up two-factor sign-in first: any authenticator app scans the QR code)` : ""}\n  Gateway status:    ${url}/mss-login/\n  Stop with Ctrl+C.\n`);
    }
  }
})();

const stop = async () => {
  gateway.kill("SIGTERM");
  await gateway.exited;
  await fake.stop();
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
const code = await gateway.exited;
await fake.stop();
process.exit(code);
