/**
 * Command line for the fake ComfyUI:
 *
 *   bun tests/fake-comfyui/main.ts --port 8188 [--host 127.0.0.1] [--multi-user]
 *       [--profile v0.3|v0.38] [--execution auto|manual] [--cors-origin ORIGIN]
 *       [--max-upload-size MB] [--step-delay-ms N] [--seed N] [--log-requests]
 *
 * Prints `fake-comfyui listening on http://127.0.0.1:PORT` once ready; stops on SIGINT/SIGTERM.
 */
import { parseArgs } from "node:util";
import type { ExecutionMode, Profile } from "./options.ts";
import { startFakeComfyUI } from "./server.ts";

function fail(message: string): never {
  console.error(`fake-comfyui: ${message}`);
  process.exit(2);
}

function integer(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) fail(`--${name} needs a non-negative integer, got "${value}"`);
  return Number(value);
}

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    port: { type: "string", default: "8188" },
    host: { type: "string", default: "127.0.0.1" },
    "multi-user": { type: "boolean", default: false },
    profile: { type: "string", default: "v0.3" },
    execution: { type: "string", default: "auto" },
    "cors-origin": { type: "string" },
    "max-upload-size": { type: "string" },
    "step-delay-ms": { type: "string" },
    seed: { type: "string" },
    "log-requests": { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
  strict: true,
});

if (values.help) {
  console.log(
    "usage: bun tests/fake-comfyui/main.ts --port 8188 [--host 127.0.0.1] [--multi-user] " +
      "[--profile v0.3|v0.38] [--execution auto|manual] [--cors-origin ORIGIN] [--max-upload-size MB] " +
      "[--step-delay-ms N] [--seed N] [--log-requests]",
  );
  process.exit(0);
}
if (values.profile !== "v0.3" && values.profile !== "v0.38") fail(`--profile must be v0.3 or v0.38`);
if (values.execution !== "auto" && values.execution !== "manual") fail(`--execution must be auto or manual`);
const maxUploadMb = integer(values["max-upload-size"], "max-upload-size");

const fake = await startFakeComfyUI({
  port: integer(values.port, "port") ?? 8188,
  host: values.host,
  multiUser: values["multi-user"],
  profile: values.profile as Profile,
  execution: values.execution as ExecutionMode,
  corsOrigin: values["cors-origin"] ?? null,
  ...(maxUploadMb === undefined ? {} : { maxUploadBytes: maxUploadMb * 1024 * 1024 }),
  ...(values["step-delay-ms"] === undefined ? {} : { stepDelayMs: integer(values["step-delay-ms"], "step-delay-ms") }),
  ...(values.seed === undefined ? {} : { seed: integer(values.seed, "seed") }),
  logRequests: values["log-requests"],
});

console.log(`fake-comfyui listening on ${fake.url}`);

const shutdown = (): void => {
  void fake.stop().then(() => process.exit(0));
};
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
