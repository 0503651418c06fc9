/**
 * Server behaviour outside the recordings: control routes, the request log, upload limits,
 * streaming and ranges of big files, method handling, the page, custom-node routes, CORS mode,
 * WebSocket upgrade rules and the command line.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startFakeComfyUI, type FakeComfyUI } from "./server.ts";
import { CollectingSocket, postPrompt, saveGraph, waitFor } from "./test-support.ts";
import { rawExchange } from "./replay/raw-http.ts";

let fake: FakeComfyUI;

beforeAll(async () => {
  fake = await startFakeComfyUI({ multiUser: true, maxUploadBytes: 64 * 1024, users: { "alice_1": "alice" } });
});

afterAll(async () => {
  await fake.stop();
});

describe("control routes", () => {
  test("broadcast and binary frames reach sockets; a sid targets one", async () => {
    const a = await CollectingSocket.open(`${fake.wsUrl}/ws?clientId=a`);
    const b = await CollectingSocket.open(`${fake.wsUrl}/api/ws?clientId=b`);
    try {
      const sent = await fetch(`${fake.url}/__fake/broadcast`, { method: "POST", body: JSON.stringify({ type: "crystools.monitor", data: { cpu: 3 } }) });
      expect(((await sent.json()) as { sent_to: string[] }).sent_to.sort()).toEqual(["a", "b"]);
      await fetch(`${fake.url}/__fake/binary`, { method: "POST", body: JSON.stringify({ sid: "b", event: 3, node_id: "7", text: "hi" }) });
      await fetch(`${fake.url}/__fake/binary`, { method: "POST", body: JSON.stringify({ sid: null, event: 1, image_type: 1 }) });
      await fetch(`${fake.url}/__fake/binary`, { method: "POST", body: JSON.stringify({ sid: "a", event: 4, metadata: { prompt_id: "p1" } }) });
      await waitFor(() => a.binaries().length === 2 && b.binaries().length === 2, "binary frames");
      expect(a.texts("crystools.monitor")[0]?.data).toEqual({ cpu: 3 });
      expect(b.binaries().map((f) => [f.eventType, f.nodeId ?? f.imageType])).toEqual([[3, "7"], [1, 1]]);
      expect(a.binaries().map((f) => f.eventType)).toEqual([1, 4]);
      expect(a.binaries()[1]?.metadata).toMatchObject({ prompt_id: "p1", image_type: "image/png" });
      const bad = await fetch(`${fake.url}/__fake/binary`, { method: "POST", body: JSON.stringify({ event: 9 }) });
      expect(bad.status).toBe(400);
    } finally {
      a.close();
      b.close();
    }
  });

  test("flood sends many messages back to back", async () => {
    const socket = await CollectingSocket.open(`${fake.wsUrl}/ws?clientId=flooded`);
    try {
      const answer = await fetch(`${fake.url}/__fake/flood`, { method: "POST", body: JSON.stringify({ type: "bench.flood", count: 500, bytes: 64 }) });
      expect(await answer.json()).toMatchObject({ count: 500 });
      await waitFor(() => socket.texts("bench.flood").length === 500, "500 flood messages");
      expect(socket.texts("bench.flood").map((m) => m.data.seq)).toEqual(Array.from({ length: 500 }, (_, i) => i));
      expect(String(socket.texts("bench.flood")[0]?.data.pad).length).toBe(64);
    } finally {
      socket.close();
    }
  });

  test("the request log keeps targets byte-exact and headers, and skips /__fake", async () => {
    fake.clearRequests();
    await fetch(`${fake.url}/api/userdata/workflows%2Fx.json`, { headers: { "Comfy-User": "alice_1", Origin: `http://127.0.0.1:${fake.port}` } });
    await fetch(`${fake.url}/api/userdata/workflows%252Fx.json?a=%20b`, { method: "POST", headers: { "Comfy-User": "alice_1" }, body: "{}" });
    await fetch(`${fake.url}/__fake/state`);
    const log = (await (await fetch(`${fake.url}/__fake/requests`)).json()) as { method: string; target: string; headers: Record<string, string>; body: string | null }[];
    expect(log.map((r) => `${r.method} ${r.target}`)).toEqual([
      "GET /api/userdata/workflows%2Fx.json",
      "POST /api/userdata/workflows%252Fx.json?a=%20b",
    ]);
    expect(log[0]?.headers["comfy-user"]).toBe("alice_1");
    expect(log[0]?.headers.origin).toBe(`http://127.0.0.1:${fake.port}`);
    expect(log[1]?.body).toBe("{}");
    await fetch(`${fake.url}/__fake/requests`, { method: "DELETE" });
    expect(fake.requests()).toEqual([]);
  });

  test("the state summary and unknown control routes", async () => {
    const summary = (await (await fetch(`${fake.url}/__fake/state`)).json()) as Record<string, unknown>;
    expect(summary).toMatchObject({ queue_remaining: 0, paused: false, execution_mode: "auto" });
    expect((await fetch(`${fake.url}/__fake/nope`)).status).toBe(404);
  });
});

describe("files", () => {
  test("a big deterministic file streams out of /view, whole and by range", async () => {
    const size = 24 * 1024 * 1024;
    const created = await fetch(`${fake.url}/__fake/file`, { method: "POST", body: JSON.stringify({ type: "output", subfolder: "big", filename: "blob.bin", size }) });
    expect(await created.json()).toEqual({ name: "blob.bin", subfolder: "big", type: "output", size });
    const whole = await fetch(`${fake.url}/api/view?filename=blob.bin&type=output&subfolder=big`);
    expect(whole.headers.get("content-length")).toBe(String(size));
    expect(whole.headers.get("content-type")).toBe("application/octet-stream");
    let total = 0;
    let sampleOk = true;
    const reader = (whole.body as ReadableStream<Uint8Array>).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (value.length > 0 && value[0] !== total % 251) sampleOk = false;
      total += value.length;
    }
    expect(total).toBe(size);
    expect(sampleOk).toBe(true);

    const offset = 10_000_003;
    const part = await fetch(`${fake.url}/api/view?filename=blob.bin&type=output&subfolder=big`, { headers: { Range: `bytes=${offset}-${offset + 9}` } });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe(`bytes ${offset}-${offset + 9}/${size}`);
    expect([...new Uint8Array(await part.arrayBuffer())]).toEqual(Array.from({ length: 10 }, (_, i) => (offset + i) % 251));
    const tail = await fetch(`${fake.url}/api/view?filename=blob.bin&type=output&subfolder=big`, { headers: { Range: "bytes=-5" } });
    expect(tail.headers.get("content-range")).toBe(`bytes ${size - 5}-${size - 1}/${size}`);
    const outside = await fetch(`${fake.url}/api/view?filename=blob.bin&type=output&subfolder=big`, { headers: { Range: `bytes=${size}-` } });
    expect(outside.status).toBe(416);
    const etag = whole.headers.get("etag") as string;
    const cached = await fetch(`${fake.url}/api/view?filename=blob.bin&type=output&subfolder=big`, { headers: { "If-None-Match": etag } });
    expect(cached.status).toBe(304);
  });

  test("bodies above maxUploadBytes get 413, by Content-Length or by counting a stream", async () => {
    const form = new FormData();
    form.append("image", new Blob([new Uint8Array(70 * 1024)], { type: "image/png" }), "big.png");
    const declared = await fetch(`${fake.url}/api/upload/image`, { method: "POST", body: form });
    expect(declared.status).toBe(413);
    expect(await declared.text()).toStartWith("Maximum request body size 65536 exceeded");

    const chunk = new Uint8Array(16 * 1024);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 6) controller.close();
        else {
          sent++;
          controller.enqueue(chunk);
        }
      },
    });
    const streamed = await fetch(`${fake.url}/api/userdata/big.json`, { method: "POST", headers: { "Comfy-User": "alice_1" }, body: stream });
    expect(streamed.status).toBe(413);
    const small = await fetch(`${fake.url}/api/userdata/small.json`, { method: "POST", headers: { "Comfy-User": "alice_1" }, body: "{}" });
    expect(small.status).toBe(200);
  });

  test("uploads rename different content, reuse identical content, and 400 on traversal", async () => {
    const upload = async (content: string, name: string, fields: Record<string, string> = {}): Promise<{ status: number; body: unknown }> => {
      const form = new FormData();
      form.append("image", new Blob([content], { type: "image/png" }), name);
      for (const [k, v] of Object.entries(fields)) form.append(k, v);
      const response = await fetch(`${fake.url}/api/upload/image`, { method: "POST", body: form });
      return { status: response.status, body: response.status === 200 ? await response.json() : await response.text() };
    };
    expect((await upload("one", "dup.png")).body).toEqual({ name: "dup.png", subfolder: "", type: "input" });
    expect((await upload("one", "dup.png")).body).toEqual({ name: "dup.png", subfolder: "", type: "input" });
    expect((await upload("two", "dup.png")).body).toEqual({ name: "dup (1).png", subfolder: "", type: "input" });
    expect((await upload("three", "dup.png")).body).toEqual({ name: "dup (2).png", subfolder: "", type: "input" });
    expect((await upload("two", "dup.png")).body).toEqual({ name: "dup (1).png", subfolder: "", type: "input" });
    expect((await upload("x", "dup.png", { subfolder: "../x" })).status).toBe(400);
    expect((await upload("x", "dup.png", { type: "bogus" })).status).toBe(500);
  });
});

describe("routing and page", () => {
  test("405 for a known path with another method, 405 for unknown non-GET, HEAD and OPTIONS", async () => {
    const wrong = await fetch(`${fake.url}/api/queue`, { method: "DELETE" });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get("allow")).toBe("GET,HEAD,POST");
    const unknown = await fetch(`${fake.url}/api/nothing`, { method: "POST" });
    expect(unknown.status).toBe(405);
    expect(unknown.headers.get("allow")).toBe("GET,HEAD");
    const head = await fetch(`${fake.url}/api/prompt`, { method: "HEAD" });
    expect(head.status).toBe(200);
    const options = await fetch(`${fake.url}/api/anything`, { method: "OPTIONS" });
    expect(options.status).toBe(200);
    expect(options.headers.get("content-type")).toBeNull();
  });

  test("the page has the injection landmarks and revalidation headers", async () => {
    const page = await fetch(`${fake.url}/`);
    const html = await page.text();
    expect(html).toContain("<head>");
    expect(html).toContain('<div id="vue-app"></div>');
    expect(page.headers.get("cache-control")).toBe("no-cache");
    expect(page.headers.get("pragma")).toBe("no-cache");
    expect(page.headers.get("expires")).toBe("0");
    const etag = page.headers.get("etag") as string;
    expect(page.headers.get("last-modified")).toBeString();
    expect((await fetch(`${fake.url}/`, { headers: { "If-None-Match": etag } })).status).toBe(304);
    expect((await fetch(`${fake.url}/api/`)).status).toBe(200);

    const extensions = (await (await fetch(`${fake.url}/api/extensions`)).json()) as string[];
    expect(extensions).toContain("/extensions/demo_node/demo.js");
    const script = await fetch(`${fake.url}/extensions/demo_node/demo.js`);
    expect(script.headers.get("content-type")).toBe("text/javascript");
    expect(script.headers.get("cache-control")).toBe("no-cache");
    expect((await fetch(`${fake.url}/assets/app.js`)).status).toBe(200);
  });

  test("the custom-node routes exist at /x and /api/x", async () => {
    expect(await (await fetch(`${fake.url}/manager/version`)).text()).toBe("V3.37");
    expect((await fetch(`${fake.url}/api/manager/version`)).status).toBe(200);
    const before = fake.summary().manager_reboots;
    expect((await fetch(`${fake.url}/api/manager/reboot`, { method: "POST" })).status).toBe(200);
    expect(fake.summary().manager_reboots).toBe(before + 1);
    expect((await fetch(`${fake.url}/manager/reboot`)).status).toBe(405);
  });
});

describe("WebSocket upgrade", () => {
  test("a foreign Origin on a loopback Host is refused; a missing clientId gets 32 hex", async () => {
    const refused = await rawExchange(
      fake.port,
      `GET /ws?clientId=x HTTP/1.1\r\nHost: 127.0.0.1:${fake.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: http://example.com\r\n\r\n`,
    );
    expect(refused.status).toBe(403);
    const socket = await CollectingSocket.open(`${fake.wsUrl}/ws`);
    expect(String(socket.texts("status")[0]?.data.sid)).toMatch(/^[0-9a-f]{32}$/);
    socket.close();
    const plain = await fetch(`${fake.url}/ws`);
    expect(plain.status).toBe(400);
  });

  test("only the first client message may negotiate feature flags", async () => {
    const socket = await CollectingSocket.open(`${fake.wsUrl}/ws?clientId=late`);
    socket.send({ type: "hello", data: {} });
    socket.send({ type: "feature_flags", data: { supports_preview_metadata: true } });
    await Bun.sleep(50);
    expect(socket.texts("feature_flags")).toEqual([]);
    socket.close();
  });
});

describe("CORS mode and the command line", () => {
  test("--enable-cors-header adds the CORS headers and skips the origin check", async () => {
    const cors = await startFakeComfyUI({ corsOrigin: "https://app.example" });
    try {
      const response = await fetch(`${cors.url}/api/queue`, { headers: { Origin: "http://evil.example" } });
      expect(response.status).toBe(200);
      expect(response.headers.get("access-control-allow-origin")).toBe("https://app.example");
      expect(response.headers.get("access-control-allow-credentials")).toBe("true");
      const preflight = await fetch(`${cors.url}/api/prompt`, { method: "OPTIONS" });
      expect(preflight.status).toBe(200);
      expect(preflight.headers.get("access-control-allow-methods")).toBe("POST, GET, DELETE, PUT, OPTIONS");
    } finally {
      await cors.stop();
    }
  });

  test("main.ts prints its URL and serves", async () => {
    const child = Bun.spawn([process.execPath, `${import.meta.dir}/main.ts`, "--port", "0", "--multi-user", "--profile", "v0.38"], {
      stdout: "pipe",
      stderr: "pipe",
    });
    try {
      const reader = (child.stdout as ReadableStream<Uint8Array>).getReader();
      let text = "";
      while (!text.includes("\n")) {
        const { done, value } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      const match = /^fake-comfyui listening on (http:\/\/127\.0\.0\.1:\d+)\n/.exec(text);
      expect(match).not.toBeNull();
      const users = await fetch(`${match?.[1]}/api/users`);
      expect(await users.json()).toEqual({ storage: "server", users: {} });
      expect((await fetch(`${match?.[1]}/api/jobs`)).status).toBe(200);
    } finally {
      child.kill();
      await child.exited;
    }
  });
});

describe("prompt rules", () => {
  test("the counter moves on rejected prompts but not on bodies that are not JSON", async () => {
    const start = fake.summary().prompt_counter;
    await postPrompt(fake.url, { client_id: "x" });
    await fetch(`${fake.url}/api/prompt`, { method: "POST", body: "not json" });
    const ok = await postPrompt(fake.url, { prompt: saveGraph("count") });
    expect(ok.json.number).toBe(start + 1);
    await fake.waitForIdle();
  });
});
