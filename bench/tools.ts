/** Processes and measuring tools the benchmark drives: wrk, nginx, spawned Bun programs. */
import { spawn, spawnSync, type Subprocess } from "bun";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function have(command: string): boolean {
  return spawnSync(["sh", "-c", `command -v ${command}`]).exitCode === 0;
}

/** nginx and wrk come from Debian; install them when absent (the bench runs as root here). */
export function ensureDebianTools(): void {
  const missing = [have("nginx") ? null : "nginx-light", have("wrk") ? null : "wrk"].filter((p) => p !== null);
  if (missing.length === 0) return;
  console.log(`installing ${missing.join(" ")} with apt-get ...`);
  const update = spawnSync(["apt-get", "update", "-qq"], { stdout: "inherit", stderr: "inherit" });
  const install = spawnSync(["apt-get", "install", "-y", "-qq", ...missing], { stdout: "inherit", stderr: "inherit" });
  if (update.exitCode !== 0 || install.exitCode !== 0) throw new Error(`could not install ${missing.join(" ")}`);
}

export async function freePort(): Promise<number> {
  const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = server.port!;
  await server.stop(true);
  return port;
}

export async function waitFor(url: string, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    try {
      const response = await fetch(url);
      await response.arrayBuffer();
      return;
    } catch {
      await Bun.sleep(5);
    }
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}

export interface WrkResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

function toMs(value: string): number {
  const match = /^([\d.]+)(us|ms|s)$/.exec(value.trim());
  if (!match) return Number.NaN;
  const n = Number(match[1]);
  return match[2] === "us" ? n / 1000 : match[2] === "s" ? n * 1000 : n;
}

export function runWrk(url: string, connections: number, seconds: number, headers: Record<string, string> = {}): WrkResult {
  const headerArgs = Object.entries(headers).flatMap(([name, value]) => ["-H", `${name}: ${value}`]);
  const result = spawnSync(["wrk", "-t2", `-c${connections}`, `-d${seconds}s`, "--latency", ...headerArgs, url]);
  const text = result.stdout.toString();
  if (result.exitCode !== 0) throw new Error(`wrk failed: ${result.stderr.toString()}`);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(text);
  const p50 = /\n\s+50%\s+(\S+)/.exec(text);
  const p99 = /\n\s+99%\s+(\S+)/.exec(text);
  const errors = /Non-2xx or 3xx responses:\s+(\d+)/.exec(text);
  const socketErrors = /Socket errors:.*?(\d+) read, (\d+) write, (\d+) timeout/.exec(text);
  return {
    requestsPerSecond: Number(rps?.[1] ?? Number.NaN),
    p50Ms: toMs(p50?.[1] ?? ""),
    p99Ms: toMs(p99?.[1] ?? ""),
    errors: Number(errors?.[1] ?? 0) + (socketErrors ? Number(socketErrors[1]) + Number(socketErrors[2]) + Number(socketErrors[3]) : 0),
  };
}

/** A plain nginx reverse proxy with upstream keep-alive: what an operator would otherwise deploy. */
export function startNginx(listenPort: number, upstreamPort: number): { stop(): void } {
  const dir = mkdtempSync(join(tmpdir(), "mss-bench-nginx-"));
  const conf = `
worker_processes 1;
daemon off;
error_log ${dir}/error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  client_max_body_size 100m;
  upstream comfy { server 127.0.0.1:${upstreamPort}; keepalive 64; }
  map $http_upgrade $connection_upgrade { default upgrade; '' ''; }
  server {
    listen 127.0.0.1:${listenPort};
    location / {
      proxy_pass http://comfy;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_read_timeout 600s;
    }
  }
}`;
  writeFileSync(join(dir, "nginx.conf"), conf);
  const child = spawn(["nginx", "-p", dir, "-c", join(dir, "nginx.conf")], { stdout: "ignore", stderr: "inherit" });
  return { stop: () => child.kill() };
}

export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  return match ? Number(match[1]) * 1024 : Number.NaN;
}

export type Child = Subprocess<"ignore", "pipe" | "ignore", "inherit">;
